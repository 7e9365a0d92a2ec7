"""The OAuth refresh and the API errors: redaction, failures, coalescing, and the pins of issue 18."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qs, quote

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import APIError, OAuthApp, RefreshFailed, call
from opi_bitrix24._core import redact
from opi_bitrix24._errors import api_error

KEY = "s3cretWebhookKey99"
TOKEN = "own/Access+Token=42"
SECRET = "cl1entSecretValue"
REFRESH = "refresh/Token+7=="
APP_ACCESS = "app-access-token-1"

Reply = Tuple[int, Dict[str, str], bytes]


def spellings(secret: str) -> List[str]:
    """The raw, percent-encoded, JSON-escaped and slash-escaped spellings of a secret."""
    return [secret, quote(secret, safe=""), json.dumps(secret)[1:-1], secret.replace("/", "\\/")]


def leaked(error: BaseException, *secrets: str) -> List[str]:
    """Every spelling of a secret found in the message, repr or body of an error."""
    texts = [str(error), repr(error), json.dumps(getattr(error, "body", {}), ensure_ascii=False)]
    return [s for secret in secrets for s in spellings(secret) for text in texts if s in text]


def answer(status: int, payload: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


# --- APIError ------------------------------------------------------------------------------------


def test_api_error_hides_an_echoed_webhook_key_in_every_spelling(portal: Any) -> None:
    echoed = {
        "error": "ERROR_CORE",
        "error_description": f"no method at {portal.webhook}profile (key {KEY})",
        "details": {
            "escaped": portal.webhook.replace("/", "\\/"),
            "encoded": quote(portal.webhook, safe=""),
            KEY: [f"key={KEY}", {"deep": f"%2Frest%2F1%2F{KEY}%2F"}],
        },
    }
    portal.reply(500, echoed)
    with b24.settings(raise_api_errors=True, retries=0), pytest.raises(APIError) as caught:
        call(portal.webhook, "profile")
    error = caught.value
    assert leaked(error, KEY) == []
    assert str(error) == (f"profile: HTTP 500 ERROR_CORE: no method at {portal.base}/rest/1/***/profile (key ***)")
    assert error.body == {
        "error": "ERROR_CORE",
        "error_description": f"no method at {portal.base}/rest/1/***/profile (key ***)",
        "details": {
            "escaped": portal.base.replace("/", "\\/") + "\\/rest\\/1\\/***\\/",
            "encoded": quote(portal.base, safe="") + "%2Frest%2F1%2F***%2F",
            "***": ["key=***", {"deep": "%2Frest%2F1%2F***%2F"}],
        },
    }
    assert repr(error) == f"InternalServerError(status=500, method='profile', body={error.body!r})"
    assert [r["path"] for r in portal.requests] == [f"/rest/1/{KEY}/profile"]


def test_api_error_hides_an_echoed_token_in_every_spelling(portal: Any) -> None:
    portal.reply(
        401,
        {
            "error": "invalid_token",
            "error_description": f"token {TOKEN} / {quote(TOKEN, safe='')} / {json.dumps(TOKEN)[1:-1]}",
            "seen": [TOKEN.replace("/", "\\/"), {TOKEN: f"auth={quote(TOKEN, safe='')}"}],
        },
    )
    with b24.settings(raise_api_errors=True), pytest.raises(APIError) as caught:
        call(portal.base, "profile", token=TOKEN)
    assert leaked(caught.value, TOKEN) == []
    assert caught.value.body == {
        "error": "invalid_token",
        "error_description": "token *** / *** / ***",
        "seen": ["***", {"***": "auth=***"}],
    }
    assert type(caught.value).__name__ == "InvalidToken" and caught.value.status == 401
    assert json.loads(portal.requests[0]["body"]) == {"auth": TOKEN}


def test_api_error_hides_the_oauth_apps_secrets(portal: Any) -> None:
    portal.reply(403, {"error": "ACCESS_DENIED", "error_description": f"{SECRET} {REFRESH} {APP_ACCESS}"})
    app = OAuthApp("app.1", SECRET, REFRESH, APP_ACCESS)
    with b24.settings(raise_api_errors=True, oauth_app=app), pytest.raises(APIError) as caught:
        call(portal.base, "profile", token=APP_ACCESS)
    assert str(caught.value) == "profile: HTTP 403 ACCESS_DENIED: *** *** ***"
    assert leaked(caught.value, SECRET, REFRESH, APP_ACCESS) == []


def test_api_error_redacts_what_bulk_code_hands_it() -> None:
    error = api_error(200, "crm.lead.get", {"error": "NOT_FOUND", "error_description": f"x {TOKEN}"}, [TOKEN])
    assert error.body == {"error": "NOT_FOUND", "error_description": "x ***"}
    assert redact(f"x {TOKEN}", TOKEN) == "x ***"


# --- RefreshFailed --------------------------------------------------------------------------------


class TokenPortal:
    """The `portal` fixture as a portal whose tokens have expired and whose token endpoint is scripted."""

    def __init__(self, portal: Any, token_answer: Any) -> None:
        self.portal = portal
        self.token_answer = token_answer
        self.token_requests: List[Dict[str, List[str]]] = []
        self.lock = threading.Lock()
        portal.handler = self.handle

    def handle(self, seen: Dict[str, Any]) -> Reply:
        if seen["path"] == "/oauth/token/":
            with self.lock:
                self.token_requests.append(parse_qs(seen["query"]))
            reply: Reply = self.token_answer() if callable(self.token_answer) else self.token_answer
            return reply
        return answer(401, {"error": "expired_token", "error_description": "The access token provided has expired."})

    def settings(self, app: OAuthApp) -> Any:
        return b24.settings(oauth_app=app, oauth_url=f"{self.portal.base}/oauth/token/", retries=0)


def refresh_failure(portal: Any, token_answer: Any) -> Tuple[RefreshFailed, OAuthApp, TokenPortal]:
    scripted = TokenPortal(portal, token_answer)
    app = OAuthApp("app.1", SECRET, REFRESH, APP_ACCESS)
    with scripted.settings(app), pytest.raises(RefreshFailed) as caught:
        call(portal.base, "profile", token=APP_ACCESS)
    assert scripted.token_requests == [
        {"grant_type": ["refresh_token"], "client_id": ["app.1"], "client_secret": [SECRET], "refresh_token": [REFRESH]}
    ]
    assert (app.access_token, app.refresh_token) == (APP_ACCESS, REFRESH)  # nothing adopted
    assert leaked(caught.value, SECRET, REFRESH, APP_ACCESS) == []
    return caught.value, app, scripted


def test_refresh_failed_carries_the_endpoints_status_and_method_without_secrets(portal: Any) -> None:
    echo = f"bad secret {SECRET} for {quote(REFRESH, safe='')} ({REFRESH}, {APP_ACCESS})"
    error, _, _ = refresh_failure(portal, answer(401, {"error": "invalid_client", "error_description": echo, "x": 1}))
    assert (error.status, error.method, error.code) == (401, "oauth/token", "refresh_failed")
    assert error.body == {"error": "invalid_client", "error_description": "bad secret *** for *** (***, ***)"}
    assert str(error) == "oauth/token: HTTP 401 invalid_client: bad secret *** for *** (***, ***)"


def test_an_html_token_answer_is_refresh_failed(portal: Any) -> None:
    page = f"<html><body>502 Bad Gateway {SECRET} {REFRESH}</body></html>".encode()
    error, _, _ = refresh_failure(portal, (502, {"Content-Type": "text/html"}, page))
    assert (error.status, error.method, error.error) == (502, "oauth/token", "refresh_failed")
    assert error.error_description.startswith("the token endpoint's answer is not usable: HTTP 502: ")
    assert "502 Bad Gateway *** ***" in error.error_description


NOT_USABLE = "the token endpoint's answer is not usable: HTTP 200: "


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        (b"\x00\xff garbage", NOT_USABLE + "the answer is not JSON: '\\x00\ufffd garbage'"),
        (b"[1, 2]", NOT_USABLE + "the answer is not a JSON object: '[1, 2]'"),
        (b'"text"', NOT_USABLE + "the answer is not a JSON object: '\"text\"'"),
        (b'{"access_token": "x"', NOT_USABLE + 'the answer is not JSON: \'{"access_token": "x"\''),
        (b"", "the token endpoint gave no new token pair"),
    ],
    ids=["binary", "list", "string", "cut", "empty"],
)
def test_a_garbage_token_answer_is_refresh_failed(portal: Any, raw: bytes, description: str) -> None:
    error, _, _ = refresh_failure(portal, (200, {"Content-Type": "application/json"}, raw))
    assert (error.status, error.method, error.error) == (200, "oauth/token", "refresh_failed")
    assert error.error_description == description


def test_an_empty_access_token_with_a_refresh_token_is_refused(portal: Any) -> None:
    error, app, _ = refresh_failure(portal, answer(200, {"access_token": "", "refresh_token": "NEW-refresh-7"}))
    assert (error.status, error.method) == (200, "oauth/token")
    assert error.body == {"error": "refresh_failed", "error_description": "the token endpoint gave no new token pair"}
    assert "NEW-refresh-7" not in repr(app.__dict__)


@pytest.mark.parametrize(
    "pair",
    [{"access_token": "NEW-a"}, {"refresh_token": "NEW-r"}, {"access_token": 5, "refresh_token": "NEW-r"}, {}],
)
def test_a_token_answer_without_a_whole_pair_is_refused(portal: Any, pair: Dict[str, Any]) -> None:
    error, _, _ = refresh_failure(portal, answer(200, pair))
    assert error.error == "refresh_failed" and leaked(error, "NEW-a", "NEW-r") == []


def test_a_token_answer_with_an_error_status_is_refused_even_with_a_pair(portal: Any) -> None:
    error, _, _ = refresh_failure(portal, answer(400, {"access_token": "NEW-a", "refresh_token": "NEW-r"}))
    assert (error.status, error.error) == (400, "refresh_failed")


def test_an_unreachable_token_endpoint_is_refresh_failed_with_status_0(portal: Any) -> None:
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{free.getsockname()[1]}/oauth/token/"
    TokenPortal(portal, answer(500, {}))
    app = OAuthApp("app.1", SECRET, REFRESH, APP_ACCESS)
    with b24.settings(oauth_app=app, oauth_url=dead, retries=0), pytest.raises(RefreshFailed) as caught:
        call(portal.base, "profile", token=APP_ACCESS)
    assert (caught.value.status, caught.value.method, caught.value.error) == (0, "oauth/token", "refresh_failed")
    assert caught.value.error_description.startswith("the token endpoint failed: GET ")
    assert leaked(caught.value, SECRET, REFRESH, APP_ACCESS) == []


def test_a_failing_token_endpoint_is_asked_once_for_all_waiting_threads(portal: Any) -> None:
    threads = 8
    all_expired = threading.Event()
    expired = []
    scripted: TokenPortal

    def token_answer() -> Reply:
        all_expired.wait(60)  # every thread has had its expired_token answer and waits for this refresh
        return 503, {"Content-Type": "text/html"}, b"<html>busy</html>"

    scripted = TokenPortal(portal, token_answer)
    base_handle = scripted.handle

    def handle(seen: Dict[str, Any]) -> Reply:
        reply = base_handle(seen)
        if seen["path"] != "/oauth/token/":
            with scripted.lock:
                expired.append(1)
                if len(expired) == threads:
                    all_expired.set()
        return reply

    portal.handler = handle
    app = OAuthApp("app.1", SECRET, REFRESH, APP_ACCESS)
    errors: List[BaseException] = []

    def work() -> None:
        with scripted.settings(app):
            try:
                call(portal.base, "profile", token=APP_ACCESS)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertions
                errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all_expired.is_set() and len(scripted.token_requests) == 1
    assert [(type(e).__name__, e.status, e.method, e.error) for e in errors] == [  # type: ignore[attr-defined]
        ("RefreshFailed", 503, "oauth/token", "refresh_failed")
    ] * threads
    assert all(leaked(e, SECRET, REFRESH, APP_ACCESS) == [] for e in errors)
    # a later call (not one that waited for that refresh) asks again
    all_expired.set()
    with scripted.settings(app), pytest.raises(RefreshFailed):
        call(portal.base, "profile", token=APP_ACCESS)
    assert len(scripted.token_requests) == 2


# --- pins: the app's token never replaces a caller's own one ---------------------------------------


def test_a_callers_own_token_is_not_replaced_by_the_apps(portal: Any) -> None:
    app = OAuthApp("app.1", SECRET, REFRESH, APP_ACCESS)
    with b24.settings(oauth_app=app):
        call(portal.base, "profile", token="another-users-token")
        call(portal.base, "profile", token=APP_ACCESS)
    assert [json.loads(r["body"])["auth"] for r in portal.requests] == ["another-users-token", APP_ACCESS]
    assert b24._auth.current(app, "another-users-token") == "another-users-token"


def test_a_replaced_token_is_swapped_for_the_new_one_after_a_refresh(portal: Any) -> None:
    pair = {"access_token": "NEW-access-2", "refresh_token": "NEW-refresh-2", "expires_in": 3600}
    state = {"expired": True}

    def handle(seen: Dict[str, Any]) -> Reply:
        if seen["path"] == "/oauth/token/":
            return answer(200, pair)
        auth = json.loads(seen["body"])["auth"]
        if auth == APP_ACCESS and state["expired"]:
            return answer(401, {"error": "expired_token", "error_description": "expired"})
        return answer(200, {"result": auth})

    portal.handler = handle
    saved: List[Dict[str, Any]] = []
    app = OAuthApp("app.1", SECRET, REFRESH, APP_ACCESS, on_refresh=saved.append)
    with b24.settings(oauth_app=app, oauth_url=f"{portal.base}/oauth/token/"):
        assert call(portal.base, "profile", token=APP_ACCESS) == {"result": "NEW-access-2"}
        assert call(portal.base, "profile", token=APP_ACCESS) == {"result": "NEW-access-2"}
        assert call(portal.base, "profile", token="user-2") == {"result": "user-2"}
    sent = [json.loads(r["body"])["auth"] for r in portal.requests if r["path"] == "/rest/profile"]
    assert sent == [APP_ACCESS, "NEW-access-2", "NEW-access-2", "user-2"]
    assert saved == [pair]
