"""Hostile kinds for the request core: the deadline of the whole call, the transport, cookies.

Each kind runs under the harness of tests/hostile.py (secrets, repeats and its wall-time budget checked).
The deadline kinds set ``deadline`` themselves (the harness runs without one).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional

from hostile import CLIENT_ID, CLIENT_SECRET, KEY, REFRESH, TOKEN, Answer, Call, Check, HostilePortal, Raw, kind

import opi_bitrix24 as b24
from opi_bitrix24 import _deadline
from opi_bitrix24._auth import OAuthApp
from opi_bitrix24._errors import DeadlineExceeded


def _request_threads() -> List[threading.Thread]:
    """Threads of the package other than its one watchdog (there should be none)."""
    return [t for t in threading.enumerate() if t.name.startswith("opi-bitrix24") and t.name != "opi-bitrix24-deadline"]


def _serving(portal: HostilePortal) -> int:
    """The portal's connection threads still alive (each holds one socket of a call)."""
    targets = [getattr(t, "_target", None) for t in threading.enumerate()]  # ThreadingMixIn's per-request threads
    return sum(1 for f in targets if getattr(f, "__self__", None) is portal.httpd and f.__name__ != "serve_forever")


@kind("deadline", "a rate-limiter wait longer than what the call has left", "DeadlineExceeded at once; not sent")
def test_limiter_wait_past_the_deadline(h: Check) -> None:
    portal = h.portal()
    with b24.settings(rate_limit=(0.5, 1), deadline=1):
        assert h.api.post("crm.lead.get", portal.webhook, "", id=1)["result"]["ID"] == "1"
        started = time.monotonic()
        with h.raises(DeadlineExceeded) as caught:
            h.api.post("crm.lead.get", portal.webhook, "", id=2)  # the bucket wants 2 s
        assert time.monotonic() - started < 0.5  # not slept (the wait could not fit)
    assert "the rate limiter" in str(caught.value)
    assert [c.params for c in portal.rest_calls()] == [{"id": 1}]


@kind("deadline", "an operating-time pause longer than the deadline", "DeadlineExceeded at once; not sent", budget=3)
def test_operating_pause_past_the_deadline(h: Check) -> None:
    def near_block(call: Call) -> Optional[Answer]:
        return 200, {"result": {"ID": "1"}, "time": {"operating": 470, "operating_reset_at": time.time() + 3}}

    portal = h.portal(near_block)
    with b24.settings(operating_wait=60, deadline=1):
        h.api.post("crm.lead.get", portal.webhook, "", id=1)
        with h.raises(DeadlineExceeded) as caught:
            h.api.post("crm.lead.get", portal.webhook, "", id=2)
    assert "the operating-time pause" in str(caught.value)
    assert [c.params for c in portal.rest_calls()] == [{"id": 1}]


@kind("deadline", "a refresh and its repeat that would end past the deadline", "DeadlineExceeded; no repeat sent")
def test_refresh_and_repeat_past_the_deadline(h: Check) -> None:
    def slow(call: Call) -> Any:
        if call.method == "oauth/token":
            pair = {"access_token": TOKEN + "n", "refresh_token": REFRESH + "n", "expires_in": 3600}
            return Raw(200, json.dumps(pair).encode(), head_delay=0.7)
        return Raw(401, json.dumps({"error": "expired_token"}).encode(), head_delay=0.7)

    portal = h.portal(slow)
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, REFRESH, TOKEN)
    with b24.settings(oauth_app=app, oauth_url=portal.oauth_url, deadline=1), h.raises(DeadlineExceeded):
        h.api.post("crm.lead.get", portal.base, TOKEN, id=1)
    # 0.7 s for the portal's answer leave 0.3 s for the token endpoint, which needs 0.7 s
    assert [c.method for c in portal.calls] == ["crm.lead.get", "oauth/token"]
    assert app.access_token == TOKEN and app.refresh_token == REFRESH


@kind(
    "deadline",
    "200 calls while the portal trickles its headers, one byte under the socket timeout",
    "DeadlineExceeded each; no thread, no socket left a second after the deadline",
    budget=8,
    drivers=("sync",),
)
def test_200_trickling_calls(h: Check) -> None:
    head = {"Content-Type": "application/json", "X-Filler": "x" * 5000}
    portal = h.portal(lambda call: Raw(200, b"{}", headers=head, trickle=0.05))
    portal.httpd.socket.listen(256)  # room for every connection at once
    h.allow_repeats("200 identical calls are the point")
    before = threading.active_count()

    def call(_: int) -> Any:
        with b24.settings(deadline=1, timeout=5, retries=0):
            try:
                return h.api.get("server.time", portal.webhook, "")
            except DeadlineExceeded as exc:
                return exc

    with ThreadPoolExecutor(max_workers=200) as pool:
        outcomes = list(pool.map(call, range(200)))
    ended = time.monotonic()
    assert all(isinstance(outcome, DeadlineExceeded) for outcome in outcomes), outcomes[:3]
    h.output(*outcomes[:3])
    while _serving(portal) and time.monotonic() < ended + 1.0:
        time.sleep(0.05)
    assert _serving(portal) == 0  # the portal saw every connection closed
    assert 0 < len(portal.requests) <= 200
    assert _request_threads() == [] and _deadline.in_flight() == 0
    assert threading.active_count() <= before + 1  # at most the one watchdog


@kind(
    "deadline",
    "200 tasks on one event loop while the portal trickles its headers, one byte under the socket timeout",
    "DeadlineExceeded each; no task, no socket left a second after the deadline",
    budget=8,
    drivers=("async",),
)
def test_200_trickling_tasks(h: Check) -> None:
    import asyncio

    from hostile import AsyncApi

    head = {"Content-Type": "application/json", "X-Filler": "x" * 5000}
    portal = h.portal(lambda call: Raw(200, b"{}", headers=head, trickle=0.05))
    portal.httpd.socket.listen(256)  # room for every connection at once
    h.allow_repeats("200 identical calls are the point")
    assert isinstance(h.api, AsyncApi)
    api = h.api

    async def all_at_once() -> List[Any]:
        client = api.open(portal.webhook)
        return list(await asyncio.gather(*(client.server_time() for _ in range(200)), return_exceptions=True))

    with b24.settings(deadline=1, timeout=5, retries=0):
        outcomes = api.run(all_at_once())
    ended = time.monotonic()
    assert all(isinstance(outcome, DeadlineExceeded) for outcome in outcomes), outcomes[:3]
    h.output(*outcomes[:3])
    while _serving(portal) and time.monotonic() < ended + 1.0:
        time.sleep(0.05)
    assert _serving(portal) == 0  # the portal saw every connection closed
    assert 0 < len(portal.requests) <= 200
    assert asyncio.all_tasks(api.loop) == set() and _request_threads() == []


@kind(
    "deadline",
    "headers trickle, the caller's own requests.Session",
    "DeadlineExceeded at the deadline; no thread left",
    drivers=("sync",),
)
def test_trickle_with_the_callers_session(h: Check) -> None:
    import requests

    portal = h.portal(lambda call: Raw(200, b"{}", headers={"X-Filler": "x" * 5000}, trickle=0.05))
    own = requests.Session()
    own.get(portal.base + "/warm")  # a pool created before the package first sees the session
    with b24.settings(session=own, deadline=1, timeout=5, retries=0), h.raises(DeadlineExceeded):
        h.api.get("server.time", portal.webhook, "")
    assert [s.path for s in portal.requests] == ["/warm", f"/rest/1/{KEY}/server.time"]
    assert _request_threads() == [] and _deadline.in_flight() == 0


@kind("deadline", "a same-origin redirect whose body trickles", "followed at once: its body is never read")
def test_redirect_body_trickles(h: Check) -> None:
    def moved(call: Call) -> Any:
        if call.method == "server.time":
            body = b"x" * 2000  # 20 s at 10 ms a byte
            return Raw(302, body, headers={"Location": f"/rest/1/{KEY}/server.moved"}, trickle=0.01)
        return 200, {"result": "moved"}

    portal = h.portal(moved)
    with b24.settings(deadline=4, retries=0):
        assert h.api.get("server.time", portal.webhook, "") == {"result": "moved"}
    assert [c.method for c in portal.calls] == ["server.time", "server.moved"]


@kind("transport", "a portal's cookie and another port of the same host", "never sent there (cookies per origin)")
def test_cookie_across_ports(h: Check) -> None:
    def sets_cookie(call: Call) -> Any:
        return Raw(
            200, b'{"result": "ok"}', headers={"Content-Type": "application/json", "Set-Cookie": "sid=A1; Path=/"}
        )

    first, second = h.portal(sets_cookie), h.portal()
    h.api.get("server.time", first.webhook, "")
    h.api.post("profile", second.webhook, "")  # 127.0.0.1, another port
    h.api.post("crm.lead.get", first.webhook, "", id=1)
    assert "cookie" not in second.requests[0].headers
    assert first.requests[1].headers.get("cookie") == "sid=A1"  # its own origin still gets it
