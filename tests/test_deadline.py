"""The deadline bounds the whole call: limiter waits, the operating-time pause, the refresh and its repeat.

Loopback servers that misbehave on purpose (``tests/test_faults.py``'s raw socket server). Each test
asserts the outcome and the requests every server received; waits are recorded, not timed, where the
code lets a test replace the sleep (``_deadline._sleep``).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any, List

import pytest
from test_faults import KEY, OK, TOKEN, Server, answer, send

import opi_bitrix24
from opi_bitrix24 import _core, _deadline, _limits
from opi_bitrix24._auth import OAuthApp
from opi_bitrix24._errors import DeadlineExceeded


@pytest.fixture
def servers() -> Any:
    made: List[Server] = []

    def make(handler: Any) -> Server:
        server = Server(handler)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def slept(monkeypatch: Any) -> List[float]:
    """Every wait the call makes under its deadline, recorded instead of slept."""
    waits: List[float] = []
    monkeypatch.setattr(_deadline, "_sleep", waits.append)
    _limits.reset()
    yield waits
    _limits.reset()


def later(data: bytes, pause: float) -> Any:
    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        if not server.stop.wait(pause):
            conn.sendall(data)

    return handler


def json_answer(status: str, body: Any) -> bytes:
    return answer(status, json.dumps(body).encode(), "Content-Type: application/json")


# --- the _deadline API ----------------------------------------------------------------------------


def test_no_deadline_outside_a_call(slept: List[float]) -> None:
    assert _deadline.remaining() is None and _deadline.at() is None and _deadline.seconds() is None
    _deadline.check()
    _deadline.sleep(7.5)
    assert slept == [7.5]


def test_sleep_never_passes_the_deadline(slept: List[float]) -> None:
    with _deadline.scope(30):
        left = _deadline.remaining()
        assert left is not None and 29 < left <= 30 and _deadline.seconds() == 30
        _deadline.sleep(2.5)
        with pytest.raises(DeadlineExceeded) as raised:
            _deadline.sleep(31, "the rate limiter")
    assert slept == [2.5]  # the wait that cannot fit is not slept at all
    assert str(raised.value) == "the rate limiter: a wait of 31 s would pass the deadline of 30 s"
    assert _deadline.remaining() is None


def test_a_nested_scope_never_extends_the_enclosing_one() -> None:
    with _deadline.scope(5):
        outer = _deadline.at()
        with _deadline.scope(60):
            assert _deadline.at() == outer and _deadline.seconds() == 5
        with _deadline.scope(None):
            assert _deadline.at() == outer
        with _deadline.scope(0.5):
            inner = _deadline.at()
            assert inner is not None and outer is not None and inner < outer and _deadline.seconds() == 0.5
        assert _deadline.at() == outer
    assert _deadline.at() is None


def test_check_raises_once_the_deadline_has_passed() -> None:
    with _deadline.scope(0.01):
        time.sleep(0.02)
        assert _deadline.remaining() == 0.0
        with pytest.raises(DeadlineExceeded, match=r"refresh: the deadline of 0\.01 s has passed"):
            _deadline.check("refresh")


# --- nested work of a call ------------------------------------------------------------------------


def test_a_limiter_wait_that_cannot_fit_raises_at_once_and_gives_its_slot_back(
    servers: Any, slept: List[float]
) -> None:
    server = servers(send(OK))
    hook = f"{server.base}/rest/1/{KEY}/"
    with opi_bitrix24.settings(rate_limit=(0.5, 1), deadline=1, retries=0):
        assert _core.get("server.time", hook, "") == {"result": "ok"}
        with pytest.raises(DeadlineExceeded) as raised:
            _core.get("server.time", hook, "")  # the bucket wants 2 s: more than the call has
        assert slept == []
        with opi_bitrix24.settings(deadline=10):
            assert _core.get("server.time", hook, "") == {"result": "ok"}
    assert "the rate limiter: a wait of" in str(raised.value) and KEY not in str(raised.value)
    assert len(slept) == 1 and 1.5 < slept[0] <= 2.0  # one slot ahead (the refused call gave its slot back)
    assert [path for _, path, _ in server.requests] == [f"/rest/1/{KEY}/server.time"] * 2


def test_a_limiter_wait_that_fits_is_waited(servers: Any, slept: List[float]) -> None:
    server = servers(send(OK))
    hook = f"{server.base}/rest/1/{KEY}/"
    with opi_bitrix24.settings(rate_limit=(2.0, 1), deadline=1, retries=0):
        assert _core.get("server.time", hook, "") == {"result": "ok"}
        assert _core.get("server.time", hook, "") == {"result": "ok"}
    assert len(slept) == 1 and 0.4 < slept[0] <= 0.5
    assert len(server.requests) == 2


def test_the_operating_time_pause_is_bounded_by_the_deadline(servers: Any, slept: List[float]) -> None:
    near = {"result": "ok", "time": {"operating": 470, "operating_reset_at": time.time() + 3}}
    server = servers(send(json_answer("200 OK", near)))
    hook = f"{server.base}/rest/1/{KEY}/"
    with opi_bitrix24.settings(rate_limit=None, operating_wait=60, deadline=1):
        assert _core.post("crm.lead.list", hook, "")["result"] == "ok"
        with pytest.raises(DeadlineExceeded, match="the operating-time pause: a wait of"):
            _core.post("crm.lead.list", hook, "")
    assert slept == [] and len(server.requests) == 1
    with opi_bitrix24.settings(rate_limit=None, operating_wait=60, deadline=10):
        assert _core.post("crm.lead.list", hook, "")["result"] == "ok"  # it fits: waited, then sent
    assert len(slept) == 1 and 2 < slept[0] <= 3 and len(server.requests) == 2


def test_a_wait_after_operation_time_limit_past_the_deadline_returns_that_answer(
    servers: Any, slept: List[float]
) -> None:
    blocked = {"error": "OPERATION_TIME_LIMIT", "time": {"operating": 481, "operating_reset_at": time.time() + 3}}
    server = servers(send(json_answer("429 Too Many Requests", blocked)))
    hook = f"{server.base}/rest/1/{KEY}/"
    with opi_bitrix24.settings(rate_limit=None, operating_wait=60, deadline=1):
        assert _core.post("crm.lead.list", hook, "") == blocked
    assert slept == [] and len(server.requests) == 1


def test_the_refresh_and_its_repeat_share_the_call_deadline(servers: Any, slept: List[float]) -> None:
    pair = {"access_token": "NEWACCESS1", "refresh_token": "NEWREFRESH1", "expires_in": 3600}
    token_endpoint = servers(later(json_answer("200 OK", pair), 0.7))
    portal = servers(later(json_answer("401 Unauthorized", {"error": "expired_token"}), 0.7))
    app = OAuthApp("app.1", "CLIENTSECRET1", "REFRESHTOKEN1", TOKEN)
    options: Any = {"oauth_app": app, "oauth_url": f"{token_endpoint.base}/oauth/token/", "deadline": 1}
    with opi_bitrix24.settings(**options, retries=0), pytest.raises(DeadlineExceeded) as raised:
        _core.get("server.time", portal.base, TOKEN)
    # 0.7 s for the portal's answer leave 0.3 s for the token endpoint, which answers after 0.7 s:
    # the call ends at its deadline; the repeat is never sent and the old pair stays.
    assert len(portal.requests) == 1 and len(token_endpoint.requests) == 1
    assert app.access_token == TOKEN and app.refresh_token == "REFRESHTOKEN1"
    assert TOKEN not in str(raised.value) and "REFRESHTOKEN1" not in str(raised.value)
