"""The rate bucket per portal origin and the operating-time accounting (in-process state)."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any, Iterator, List

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import Portal, _deadline, _flow, _limits, _state, _sync, call
from tests.simportal import SimPortal


def acquire(address: str, limit: Any) -> float:
    """The rate limiter's flow alone, run by the blocking driver: the seconds it waited."""
    return _sync.run(_flow.acquire(address, limit))


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[float]]:
    """A stopped clock for the bucket; the waits it asks for are recorded instead of slept."""
    _limits.reset()
    now = [1000.0]
    slept: List[float] = []
    monkeypatch.setattr(_state, "clock", lambda: now[0])
    monkeypatch.setattr(_deadline, "_sleep", slept.append)
    yield slept
    _limits.reset()


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("https://B24.example/rest/1/key/", "https://b24.example:443"),
        ("b24.example", "https://b24.example:443"),
        ("HTTPS://b24.example:443/rest/", "https://b24.example:443"),
        ("http://b24.example/rest/", "http://b24.example:80"),
        ("http://b24.example:80", "http://b24.example:80"),
        ("https://b24.example:8443/rest/", "https://b24.example:8443"),
        ("http://127.0.0.1:5000/rest/1/k/profile", "http://127.0.0.1:5000"),
        ("http://[::1]:8080/rest/", "http://[::1]:8080"),
    ],
)
def test_the_bucket_key_is_the_portal_origin(address: str, key: str) -> None:
    assert _state.origin(address) == key


def test_rate_limit_50_per_second_burst_10_is_that_bucket(frozen: List[float], portal: Any) -> None:
    with b24.settings(rate_limit=(50.0, 10)):
        for _ in range(12):
            call(portal.webhook, "profile")
    # 9 at once (one slot of the burst kept free), then one every 1/50 s: the clock stands still here
    assert frozen == [pytest.approx(0.02), pytest.approx(0.04), pytest.approx(0.06)]
    assert len(portal.requests) == 12


def test_spellings_of_one_origin_share_one_bucket(frozen: List[float]) -> None:
    spellings = ["https://b24.example/rest/1/k/", "https://B24.EXAMPLE:443/rest/", "b24.example", "https://b24.example"]
    for index in range(9):
        assert acquire(spellings[index % 4], (2.0, 10)) == 0.0
    assert acquire("HTTPS://b24.example:443", (2.0, 10)) == 0.5
    # other origins have buckets of their own
    assert acquire("http://b24.example", (2.0, 10)) == 0.0
    assert acquire("https://b24.example:8443", (2.0, 10)) == 0.0
    assert acquire("https://other.example", (2.0, 10)) == 0.0
    assert frozen == [0.5]


def test_the_strictest_limit_among_the_users_of_a_bucket_wins(frozen: List[float], monkeypatch: Any) -> None:
    for _ in range(5):
        assert acquire("https://b24.example", (50.0, 10)) == 0.0
    # a Portal configured slower joins the same bucket: 5 requests in it, its burst of 4 keeps 3 slots
    assert acquire("https://b24.example/rest/", (5.0, 4)) == pytest.approx((5 + 1 - 3) / 5)
    # the faster user is held to the stricter limit while the bucket holds requests
    assert acquire("https://b24.example", (50.0, 10)) == pytest.approx((6 + 1 - 3) / 5)
    # once the bucket has drained, the next request's limit is the bucket's again
    monkeypatch.setattr(_state, "clock", lambda: 1000.0 + 60)
    for _ in range(9):
        assert acquire("https://b24.example", (50.0, 10)) == 0.0


def test_two_portals_with_different_limits_share_the_portals_bucket() -> None:
    _limits.reset()
    # the portal allows 2/s, burst 3 (a request may reach it up to 1/2 s late without harm)
    with SimPortal(records=10, rate=2.0, burst=3) as sim:
        port = sim.base.rsplit(":", 1)[1]
        fast = Portal(sim.webhook, rate_limit=(2.0, 3), retries=0)
        other = Portal(f"HTTP://127.0.0.1:{port}/rest/1/{sim.webhook.split('/')[-2]}", rate_limit=(20.0, 10), retries=0)
        answers: List[Any] = []

        def work(portal: Portal) -> None:
            for _ in range(3):
                answers.append(portal.call("profile"))

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, p)) for p in (fast, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sim.stats["requests"] == 6 and sim.stats["503"] == 0
        assert [a["result"]["ID"] for a in answers] == ["1"] * 6
        assert list(_state._memory._buckets) == [f"http://127.0.0.1:{port}"]  # one bucket
    _limits.reset()


# --- operating time -------------------------------------------------------------------------------


@pytest.mark.parametrize(("operating", "paused"), [(432.0, True), (431.999, False), (480.0, True), (0.0, False)])
def test_the_operating_pause_starts_at_exactly_90_percent_of_480_s(portal: Any, operating: float, paused: bool) -> None:
    _limits.reset()
    slept: List[float] = []
    reset_at = time.time() + 300
    portal.reply(200, {"result": 1, "time": {"operating": operating, "operating_reset_at": reset_at}})
    portal.reply(200, {"result": 2})
    try:
        with b24.settings(operating_wait=5.0):
            original = _deadline._sleep
            _deadline._sleep = slept.append
            try:
                assert call(portal.webhook, "tasks.task.list") == {
                    "result": 1,
                    "time": {"operating": operating, "operating_reset_at": reset_at},
                }
                assert call(portal.webhook, "tasks.task.list") == {"result": 2}
            finally:
                _deadline._sleep = original
        assert slept == ([5.0] if paused else [])
        assert _limits.OPERATING_THRESHOLD == _limits.OPERATING_BUDGET * _limits.OPERATING_MARGIN == 432.0
    finally:
        _limits.reset()


def test_operating_time_of_one_window_keeps_the_largest_figure() -> None:
    _limits.reset()
    try:
        address = "https://b24.example/rest/"
        _limits.note_time(address, "crm.lead.list", {"operating": 440, "operating_reset_at": 5000})
        _limits.note_time("https://B24.example:443/", "CRM.lead.list ", {"operating": 12, "operating_reset_at": 5000})
        assert _limits.operating_state(address, "crm.lead.list") == (440.0, 5000.0)
        # a later window starts over
        _limits.note_time(address, "crm.lead.list", {"operating": 3, "operating_reset_at": 5600})
        assert _limits.operating_state(address, "crm.lead.list") == (3.0, 5600.0)
        # a late answer of the older window changes nothing
        _limits.note_time(address, "crm.lead.list", {"operating": 470, "operating_reset_at": 5000})
        assert _limits.operating_state(address, "crm.lead.list") == (3.0, 5600.0)
        # a boolean is not a number of seconds
        _limits.note_time(address, "crm.deal.list", {"operating": True, "operating_reset_at": 5600})
        assert _limits.operating_state(address, "crm.deal.list") is None
    finally:
        _limits.reset()


def test_a_wait_that_overran_takes_a_new_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    _limits.reset()
    now = [1000.0]
    slept: List[float] = []
    overruns = [0.3]  # the first wait ends 0.3 s late (a busy machine); the next one on time

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds + (overruns.pop(0) if overruns else 0.0)

    monkeypatch.setattr(_state, "clock", lambda: now[0])
    monkeypatch.setattr(_deadline, "_sleep", sleep)
    try:
        assert acquire("https://b24.example", (2.0, 2)) == 0.0
        # one slot in the bucket (burst 2 keeps one free): 0.5 s; woken 0.3 s late (more than half a slot's
        # 0.5 s) it would reach the portal with the next request: a new slot, 0.2 s more
        assert acquire("https://b24.example", (2.0, 2)) == pytest.approx(0.7)
        assert slept == [0.5, pytest.approx(0.2)]
        # three slots taken: 2 in the bucket when it woke, 1.6 drained in 0.8 s, plus the new one
        assert _state._memory._buckets["https://b24.example:443"][0] == pytest.approx(2 - 1.6 + 1)
    finally:
        _limits.reset()
