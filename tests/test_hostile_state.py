"""Hostile kinds for the refresh, the API errors and the rate bucket (the state's paths).

Each kind runs under the harness of tests/hostile.py (secrets, repeats and its wall-time budget checked).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, List, Optional
from urllib.parse import quote

from hostile import CLIENT_ID, CLIENT_SECRET, KEY, REFRESH, TOKEN, Answer, Call, Check, Raw, kind

import opi_bitrix24 as b24
from opi_bitrix24 import _state
from opi_bitrix24._auth import OAuthApp
from opi_bitrix24._errors import APIError, RefreshFailed

EXPIRED: Answer = (401, {"error": "expired_token", "error_description": "The access token provided has expired."})


def _refresh_fails(h: Check, token_answer: Any) -> RefreshFailed:
    """One call with an expired token against a token endpoint answering ``token_answer``: its RefreshFailed."""

    def handler(call: Call) -> Any:
        return token_answer if call.method == "oauth/token" else EXPIRED

    portal = h.portal(handler)
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, REFRESH, TOKEN)
    with b24.settings(oauth_app=app, oauth_url=portal.oauth_url, retries=0), h.raises(RefreshFailed) as caught:
        h.api.post("crm.lead.get", portal.base, TOKEN, id=1)
    assert [c.method for c in portal.calls] == ["crm.lead.get", "oauth/token"]  # asked once, not repeated
    assert portal.calls[1].params == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH,
    }
    assert (app.access_token, app.refresh_token) == (TOKEN, REFRESH)  # nothing adopted
    error: RefreshFailed = caught.value
    assert error.method == "oauth/token" and error.code == "refresh_failed"
    return error


@kind("refresh", "the token endpoint answers garbage bytes", "RefreshFailed (HTTP 200, refresh_failed); no repeat")
def test_refresh_garbage(h: Check) -> None:
    error = _refresh_fails(h, Raw(200, b"\x00\x9f<<not json at all"))
    assert (error.status, error.error) == (200, "refresh_failed")
    assert error.error_description.startswith("the token endpoint's answer is not usable: HTTP 200: the answer is not")


@kind(
    "refresh",
    "the token endpoint answers an HTML page echoing the client secret and refresh token",
    "RefreshFailed (HTTP 502) without the secrets",
)
def test_refresh_html(h: Check) -> None:
    page = f"<html><h1>502</h1><p>{CLIENT_SECRET} {quote(REFRESH)} {REFRESH}</p></html>".encode()
    error = _refresh_fails(h, Raw(502, page, {"Content-Type": "text/html"}))
    assert (error.status, error.error) == (502, "refresh_failed")
    assert "<html><h1>502</h1><p>*** *** ***</p></html>" in error.error_description


@kind(
    "refresh",
    "a token answer with an empty access_token but a new refresh token",
    "RefreshFailed; the pair is not taken, the new refresh token not shown",
)
def test_refresh_empty_access(h: Check) -> None:
    error = _refresh_fails(h, (200, {"access_token": "", "refresh_token": REFRESH + "x", "expires_in": 3600}))
    assert error.body == {"error": "refresh_failed", "error_description": "the token endpoint gave no new token pair"}
    h.output(repr(error))


@kind(
    "refresh",
    "the token endpoint fails while 8 tasks on one event loop wait for the same refresh",
    "asked once; every task gets RefreshFailed (HTTP 503)",
    budget=10,
    drivers=("async",),
)
def test_refresh_failing_endpoint_with_waiting_tasks(h: Check) -> None:
    import asyncio

    from hostile import AsyncApi

    h.allow_repeats("8 tasks make the same call, each answered expired_token")
    assert isinstance(h.api, AsyncApi)
    api = h.api
    tasks = 8
    expired = threading.Semaphore(0)

    def handler(call: Call) -> Any:
        if call.method == "oauth/token":
            for _ in range(tasks):  # every task has had its expired_token answer and waits for this refresh
                expired.acquire(timeout=8)
            return Raw(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
        expired.release()
        return EXPIRED

    portal = h.portal(handler)
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, REFRESH, TOKEN)

    async def all_at_once() -> List[BaseException]:
        client = api.open(portal.base, TOKEN)
        calls = [client.call("profile") for _ in range(tasks)]
        return [e for e in await asyncio.gather(*calls, return_exceptions=True) if isinstance(e, BaseException)]

    with b24.settings(oauth_app=app, oauth_url=portal.oauth_url, retries=0, rate_limit=None):
        errors = api.run(all_at_once())
    assert len(portal.rest_calls("oauth/token")) == 1
    assert len(portal.rest_calls("profile")) == tasks
    assert [(type(e).__name__, getattr(e, "status", None)) for e in errors] == [("RefreshFailed", 503)] * tasks
    assert asyncio.all_tasks(api.loop) == set()  # nothing left waiting on the loop
    h.output(*[repr(e) for e in errors], *[str(e) for e in errors])


@kind(
    "refresh",
    "the token endpoint fails while 8 threads wait for the same refresh",
    "asked once; every thread gets RefreshFailed (HTTP 503)",
    budget=10,
    drivers=("sync",),
)
def test_refresh_failing_endpoint_with_waiting_threads(h: Check) -> None:
    h.allow_repeats("8 threads make the same call, each answered expired_token")
    threads = 8
    expired = threading.Semaphore(0)

    def handler(call: Call) -> Any:
        if call.method == "oauth/token":
            for _ in range(threads):  # every thread has had its expired_token answer and waits for this refresh
                expired.acquire(timeout=8)
            return Raw(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
        expired.release()
        return EXPIRED

    portal = h.portal(handler)
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, REFRESH, TOKEN)
    errors: List[BaseException] = []

    def work() -> None:
        with b24.settings(oauth_app=app, oauth_url=portal.oauth_url, retries=0, rate_limit=None):
            try:
                h.api.post("profile", portal.base, TOKEN)
            except BaseException as exc:  # noqa: BLE001 - checked below
                errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(portal.rest_calls("oauth/token")) == 1
    assert len(portal.rest_calls("profile")) == threads
    assert [(type(e).__name__, getattr(e, "status", None)) for e in errors] == [("RefreshFailed", 503)] * threads
    h.output(*[repr(e) for e in errors], *[str(e) for e in errors])


@kind(
    "errors",
    "an API error echoing the webhook key raw, JSON-escaped and percent-encoded, in text and keys",
    "APIError: message, repr and body without the key",
)
def test_api_error_echoing_the_key(h: Check) -> None:
    def echo(call: Call) -> Optional[Answer]:
        hook = f"/rest/1/{KEY}/crm.lead.get"
        body = {
            "error": "ERROR_CORE",
            "error_description": f"bad call {hook} with key {KEY}",
            "debug": {"escaped": hook.replace("/", "\\/"), "encoded": quote(hook, safe=""), KEY: [KEY]},
        }
        return 500, body

    portal = h.portal(echo)
    with b24.settings(raise_api_errors=True, retries=0), h.raises(APIError) as caught:
        h.api.post("crm.lead.get", portal.webhook, "", id=1)
    error = caught.value
    assert str(error) == "crm.lead.get: HTTP 500 ERROR_CORE: bad call /rest/1/***/crm.lead.get with key ***"
    assert error.body["debug"] == {
        "escaped": "\\/rest\\/1\\/***\\/crm.lead.get",
        "encoded": "%2Frest%2F1%2F***%2Fcrm.lead.get",
        "***": ["***"],
    }
    h.output(repr(error), json.dumps(error.body))


@kind(
    "errors",
    "an API error echoing the token, the refresh token and the client secret",
    "APIError without any of them",
)
def test_api_error_echoing_the_tokens(h: Check) -> None:
    def echo(call: Call) -> Optional[Answer]:
        return 403, {"error": "ACCESS_DENIED", "error_description": f"{TOKEN} {quote(REFRESH)} {CLIENT_SECRET}"}

    portal = h.portal(echo)
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, REFRESH, TOKEN)
    with b24.settings(raise_api_errors=True, oauth_app=app), h.raises(APIError) as caught:
        h.api.post("crm.lead.get", portal.base, TOKEN, id=1)
    assert str(caught.value) == "crm.lead.get: HTTP 403 ACCESS_DENIED: *** *** ***"
    assert json.loads(portal.requests[0].body) == {"auth": TOKEN, "id": 1}
    h.output(repr(caught.value), json.dumps(caught.value.body))


@kind(
    "limiter",
    "one portal reached by two spellings of its address with two rate limits",
    "one bucket; the stricter limit holds both",
)
def test_one_bucket_per_origin(h: Check) -> None:
    portal, warm = h.portal(), h.portal()
    port = portal.base.rsplit(":", 1)[1]
    other = f"HTTP://127.0.0.1:{port}/rest/1/{KEY}"  # the same origin, spelt otherwise
    h.api.post("profile", warm.webhook, "")  # the client's first call (its session, imports) is not timed
    done: List[float] = []
    with b24.settings(rate_limit=(50.0, 3)):
        h.api.post("crm.lead.get", portal.webhook, "", id=1)
    done.append(time.monotonic())
    with b24.settings(rate_limit=(5.0, 3)):
        h.api.post("crm.lead.get", other, "", id=2)  # room for 2 kept: no wait
        h.api.post("crm.lead.get", other, "", id=3)  # full: it waits for 1/5 s at the stricter rate
    with b24.settings(rate_limit=(50.0, 3)):
        h.api.post("crm.lead.get", portal.webhook, "", id=4)  # held to 5/s while the bucket holds requests
    done.append(time.monotonic())
    # Whatever the machine's delays (they only make waits longer): 3 requests at 5/s with 2 slots of room
    # cannot end sooner than 1/5 s after the first of them began.
    assert done[1] - done[0] >= 0.2, done
    origin = f"http://127.0.0.1:{port}"
    assert list(_state._memory._buckets) == [origin]  # one bucket for both spellings
    assert _state._memory._buckets[origin][2:] == (5.0, 3)  # and the stricter limit holds it
    assert [c.params["id"] for c in portal.rest_calls()] == [1, 2, 3, 4]
