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
from opi_bitrix24 import _core, _deadline, _limits, _sync
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


# --- the transport: no thread per call, one watchdog ----------------------------------------------


def trickle_headers(conn: socket.socket, request: bytes, server: Server) -> None:
    """Headers one byte every 50 ms (each read is well under the socket timeout), for ever."""
    head = b"HTTP/1.1 200 OK\r\nX-Filler: " + b"x" * 100000
    with server.lock:
        server.open += 1
    try:
        for byte in head:
            if server.stop.wait(0.05):
                return
            conn.sendall(bytes([byte]))
    except OSError:  # the client shut its socket down
        pass
    finally:
        with server.lock:
            server.open -= 1


def _request_threads() -> List[Any]:
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("opi-bitrix24") and t.name != "opi-bitrix24-deadline"]


def test_200_calls_past_their_deadline_leave_no_thread_and_no_socket(servers: Any) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    server = servers(trickle_headers)
    server.lock, server.open = threading.Lock(), 0  # type: ignore[attr-defined]
    server.sock.listen(256)  # room for every connection at once
    hook = f"{server.base}/rest/1/{KEY}/"
    before = threading.active_count()

    def call(_: int) -> Any:
        with opi_bitrix24.settings(deadline=1, timeout=5, retries=0, rate_limit=None):
            try:
                _core.get("server.time", hook, "")
            except DeadlineExceeded as exc:
                return exc
        return None

    with ThreadPoolExecutor(max_workers=200) as pool:
        outcomes = list(pool.map(call, range(200)))
        ended = time.monotonic()
    assert all(isinstance(outcome, DeadlineExceeded) for outcome in outcomes)
    assert 0 < len(server.requests) <= 200  # how many were sent before the deadline depends on the machine
    while time.monotonic() < ended + 1.0 and server.open:  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert server.open == 0  # type: ignore[attr-defined] # every socket closed within a second
    assert _request_threads() == [] and _deadline.in_flight() == 0
    assert threading.active_count() <= before + 1  # at most the one watchdog thread


def test_a_call_runs_in_the_calling_thread(servers: Any) -> None:
    import threading

    seen: List[str] = []

    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        seen.append(",".join(sorted(t.name for t in _request_threads())))
        conn.sendall(OK)

    server = servers(handler)
    with opi_bitrix24.settings(deadline=5):
        assert _core.get("server.time", f"{server.base}/rest/1/{KEY}/", "") == {"result": "ok"}
    assert seen == [""] and threading.current_thread().name == "MainThread"


def test_the_watchdog_stops_a_body_trickling_on_a_reused_connection(servers: Any) -> None:
    from test_faults import sequence, trickle

    slow = trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", b'{"result": "' + b"x" * 27 + b'"}', 0.1)
    server = servers(sequence(send(OK), slow, send(OK)))
    hook = f"{server.base}/rest/1/{KEY}/"
    with opi_bitrix24.settings(deadline=1, timeout=5, retries=0):
        assert _core.post("tasks.task.add", hook, "") == {"result": "ok"}
        with pytest.raises(DeadlineExceeded):
            _core.post("tasks.task.add", hook, "")  # the same keep-alive connection
        assert _core.post("tasks.task.add", hook, "") == {"result": "ok"}  # a fresh one: the pool is sound
    assert len(server.requests) == 3 and _deadline.in_flight() == 0


def test_a_redirect_body_is_never_read(servers: Any) -> None:
    from test_faults import sequence

    def endless_redirect(conn: socket.socket, request: bytes, server: Server) -> None:
        conn.sendall(answer("302 Found", b"", f"Location: /rest/1/{KEY}/moved", "Transfer-Encoding: chunked"))
        while not server.stop.wait(0.05):  # chunks for ever: a client reading the body never gets past it
            conn.sendall(b"1\r\nx\r\n")

    server = servers(sequence(endless_redirect, send(OK)))
    with opi_bitrix24.settings(deadline=2, retries=0):
        assert _core.get("server.time", f"{server.base}/rest/1/{KEY}/", "") == {"result": "ok"}
    assert [path for _, path, _ in server.requests] == [f"/rest/1/{KEY}/server.time", f"/rest/1/{KEY}/moved"]


# --- cookies --------------------------------------------------------------------------------------


def cookie_setter(name: str) -> Any:
    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        conn.sendall(answer("200 OK", b'{"result": "ok"}', f"Set-Cookie: sid={name}; Path=/"))

    return handler


def _cookie(request: bytes) -> str:
    for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"cookie":
            return value.strip().decode()
    return ""


def test_cookies_never_cross_origins_another_port_included(servers: Any) -> None:
    seen: List[str] = []

    def recording(name: str) -> Any:
        inner = cookie_setter(name)

        def handler(conn: socket.socket, request: bytes, server: Server) -> None:
            seen.append(f"{name}:{_cookie(request)}")
            inner(conn, request, server)

        return handler

    first, second = servers(recording("A")), servers(recording("B"))
    with opi_bitrix24.settings(retries=0):
        _core.get("server.time", f"{first.base}/rest/1/{KEY}/", "")
        _core.get("server.time", f"{second.base}/rest/1/{KEY}/", "")  # same host, another port
        _core.get("server.time", f"{first.base}/rest/1/{KEY}/", "")
        _core.get("server.time", f"{second.base}/rest/1/{KEY}/", "")
        _core.get("server.time", f"http://localhost:{first.port}/rest/1/{KEY}/", "")  # another host name
    # each origin gets back only the cookie it set itself
    assert seen == ["A:", "B:", "A:sid=A", "B:sid=B", "A:"]


def test_a_connection_stopped_at_the_deadline_is_closed_not_pooled(servers: Any) -> None:
    from test_faults import trickle

    server = servers(
        trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", b'{"result": "' + b"x" * 27 + b'"}', 0.1)
    )
    with opi_bitrix24.settings(deadline=0.5, timeout=5, retries=0), pytest.raises(DeadlineExceeded):
        _core.get("server.time", f"{server.base}/rest/1/{KEY}/", "")  # stopped while the body trickles
    session = _sync._session(_core.current_settings())
    pools = session.get_adapter(server.base).poolmanager.pools  # type: ignore[attr-defined]
    kept = [
        conn
        for pool in (pools[key] for key in pools.keys())
        if pool.port == server.port
        for conn in list(pool.pool.queue)
        if conn is not None
    ]
    assert kept and all(conn.sock is None for conn in kept)  # the pool holds no shut-down socket


@pytest.mark.parametrize("own_session", [False, True], ids=["default session", "own session"])
def test_the_watchdog_stops_a_request_through_a_proxy(servers: Any, own_session: bool) -> None:
    import requests

    closed: List[float] = []

    def slow_proxy(conn: socket.socket, request: bytes, server: Server) -> None:
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Filler: " + b"x" * 60:  # 3 s of headers, then it gives up
                if server.stop.wait(0.05):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            closed.append(time.monotonic())

    proxy = servers(slow_proxy)
    options: Any = {"proxies": {"http": proxy.base}, "deadline": 1, "timeout": 5, "retries": 0}
    if own_session:
        options["session"] = requests.Session()
    started = time.monotonic()
    with opi_bitrix24.settings(**options), pytest.raises(DeadlineExceeded):
        _core.get("server.time", f"http://127.0.0.1:9/rest/1/{KEY}/", "")  # port 9: only the proxy is asked
    ended = time.monotonic()
    assert [path for _, path, _ in proxy.requests] == [f"http://127.0.0.1:9/rest/1/{KEY}/server.time"]
    while not closed and time.monotonic() < ended + 1.0:
        time.sleep(0.05)
    assert closed and closed[0] - started < 2.5  # the proxy saw the socket closed a second after the deadline
    assert _deadline.in_flight() == 0


def test_a_call_starting_during_another_threads_refresh_is_not_held_by_it() -> None:
    import threading

    from opi_bitrix24 import _auth

    app = OAuthApp("app.1", "CLIENTSECRET1", "REFRESHTOKEN1", TOKEN)
    got: List[str] = []
    app.lock.acquire()  # another thread's refresh, its token request still in flight
    try:

        def read() -> None:
            got.append(_auth.current(app, TOKEN))  # it sends the token it has
            got.extend(_auth.secrets(app))  # the redaction of an error path does not wait either

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(2)
        assert not reader.is_alive() and got[0] == TOKEN and "CLIENTSECRET1" in got
    finally:
        app.lock.release()
