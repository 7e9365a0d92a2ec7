"""The sans-IO flows (opi_bitrix24._flow): effects, the generic driver loop, the deadline's fit test."""

from __future__ import annotations

from typing import Any, List

import pytest

from opi_bitrix24 import _deadline, _flow
from opi_bitrix24._errors import DeadlineExceeded
from opi_bitrix24._flow import Acquire, Do, Effect, Flow, Release, Wait


def _sample() -> Flow[str]:
    got = yield Do(len, ("abc",))
    yield Wait(0.5, "a test")
    try:
        yield Do(int, ("not a number",))
    except ValueError as exc:
        return f"{got}:{type(exc).__name__}"
    return "unreachable"


def test_drive_sends_results_back_throws_exceptions_in_and_returns_the_value() -> None:
    seen: List[Effect] = []

    def perform(effect: Effect) -> Any:
        seen.append(effect)
        if isinstance(effect, Do):
            return effect.function(*effect.args)
        return None

    assert _flow.drive(_sample(), perform) == "3:ValueError"
    assert seen == [Do(len, ("abc",)), Wait(0.5, "a test"), Do(int, ("not a number",))]


def test_a_flow_cleans_up_with_effects_when_an_effect_fails() -> None:
    def locked() -> Flow[int]:
        taken = yield Acquire("app", 1.0)
        assert taken is True
        try:
            yield Wait(1.0, "work")
        except KeyboardInterrupt:
            yield Release("app")
            raise
        return 1

    seen: List[Effect] = []

    def perform(effect: Effect) -> Any:
        seen.append(effect)
        if isinstance(effect, Wait):
            raise KeyboardInterrupt
        return True if isinstance(effect, Acquire) else None

    with pytest.raises(KeyboardInterrupt):
        _flow.drive(locked(), perform)
    assert seen == [Acquire("app", 1.0), Wait(1.0, "work"), Release("app")]


def test_effects_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Wait(1.0, "x").seconds = 2.0  # type: ignore[misc]


def test_fits_says_whether_a_wait_ends_before_the_deadline(monkeypatch: Any) -> None:
    now = [100.0]
    monkeypatch.setattr(_deadline, "clock", lambda: now[0])
    assert _deadline.fits(1e9)  # no deadline
    with _deadline.scope(10.0):
        assert _deadline.fits(9.999) and not _deadline.fits(10.0) and _deadline.fits(-1.0)
        error = _deadline.too_long(12.0, "the rate limiter")
        assert isinstance(error, DeadlineExceeded)
        assert str(error) == "the rate limiter: a wait of 12 s would pass the deadline of 10 s"
        now[0] = 115.0
        assert not _deadline.fits(0.0)


def test_an_exchange_is_state_operations_and_one_send_without_any_io() -> None:
    import opi_bitrix24 as b24
    from opi_bitrix24 import _limits
    from opi_bitrix24._flow import Reply, Send

    seen: List[Any] = []

    def perform(effect: Effect) -> Any:
        seen.append(effect)
        if isinstance(effect, Send):
            return Reply(200, {}, b'{"result": {"ID": 1}}')
        if isinstance(effect, Do):
            return effect.function(*effect.args)
        raise AssertionError(effect)

    _limits.reset()
    try:
        with b24.settings(rate_limit=(2.0, 50), operating_wait=5.0):
            answer = _flow.drive(_flow.exchange("POST", "profile", "https://b24.example/rest/1/k3y/", "", {}), perform)
    finally:
        _limits.reset()
    assert answer == (200, {"result": {"ID": 1}})
    names = [getattr(e.function, "__name__", "") if isinstance(e, Do) else type(e).__name__ for e in seen]
    assert names == ["operating_due", "take", "Send", "note_time"]
    sent = seen[2]
    assert (sent.verb, sent.url, sent.body, dict(sent.headers)) == (
        "POST",
        "https://b24.example/rest/1/k3y/profile",
        None,
        {"Accept": "application/json"},
    )


def test_send_retries_a_503_after_a_wait_and_maps_a_connect_failure() -> None:
    import opi_bitrix24 as b24
    from opi_bitrix24._errors import TransportError
    from opi_bitrix24._flow import Failure, Reply, Send

    outcomes: List[Any] = [
        Reply(503, {"Retry-After": "2"}, b""),
        Failure("connect", False, "[Errno 111] Connection refused"),
        Reply(200, {}, b'{"result": true}'),
    ]
    seen: List[Any] = []

    def perform(effect: Effect) -> Any:
        seen.append(effect)
        return outcomes.pop(0) if isinstance(effect, Send) else None

    with b24.settings(retries=3, backoff=0.0, max_backoff=30.0):
        reply, _ = _flow.drive(_flow.send("POST", "https://b24.example/rest/1/k3y/x", b"{}", ()), perform)
    assert reply.status == 200
    assert [type(e).__name__ for e in seen] == ["Send", "Wait", "Send", "Send"]
    assert seen[1].seconds == 2.0  # Retry-After, within max_backoff
    refused = [Failure("connect_timeout", False, "timed out")] * 2
    with b24.settings(retries=1, backoff=0.0), pytest.raises(TransportError) as caught:
        _flow.drive(_flow.send("POST", "https://b24.example/rest/1/k3y/x", b"{}", ()), lambda e: refused.pop())
    assert str(caught.value) == "POST https://b24.example/rest/1/***/x failed: connect timeout: timed out"


def test_the_two_step_upload_is_one_flow_with_the_blocking_functions_rule() -> None:
    import opi_bitrix24 as b24
    from opi_bitrix24._flow import Reply, Send

    first = b'{"result": {"field": "file", "uploadUrl": " https://b24.example/upload/?token=up1oadT0ken "}}'
    replies = [Reply(200, {}, first), Reply(200, {}, b'{"result": {"ID": 9}}')]
    sent: List[Any] = []

    def perform(effect: Effect) -> Any:
        if isinstance(effect, Send):
            sent.append(effect)
            return replies.pop(0)
        return effect.function(*effect.args) if isinstance(effect, Do) else None

    with b24.settings(rate_limit=None):
        flow = _flow.upload_to_folder("https://b24.example/rest/1/k3y/", "", {"id": "7"}, "a.txt", b"data")
        assert _flow.drive(flow, perform) == {"result": {"ID": 9}}
    assert [(s.verb, s.url) for s in sent] == [
        ("GET", "https://b24.example/rest/1/k3y/disk.folder.uploadFile?id=7"),
        ("POST", "https://b24.example/upload/?token=up1oadT0ken"),
    ]
    body = b"".join(sent[1].body)
    assert b'name="file"; filename="a.txt"\r\n\r\ndata\r\n' in body
    assert _flow.upload_target({"result": {"field": "f", "uploadUrl": ""}}) is None
    assert _flow.upload_target({"error": "ACCESS_DENIED"}) is None
    refused = [Reply(200, {}, b'{"error": "ACCESS_DENIED"}')]
    with b24.settings(rate_limit=None):
        flow = _flow.upload_to_folder("https://b24.example/rest/1/k3y/", "", {"id": "7"}, "a.txt", b"data")
        answer = _flow.drive(flow, lambda e: refused.pop() if isinstance(e, Send) else perform(e))
    assert answer == {"error": "ACCESS_DENIED"}
