"""The request core: URL/auth normalisation, wire encoding, parsing, retries, TLS, settings, secrets."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import ssl
import threading
import time
from typing import Any

import pytest
import requests

import opi_bitrix24
from opi_bitrix24 import InvalidArgument, TransportError, UnexpectedResponse, get_users, server_time
from opi_bitrix24._core import endpoint_url, redact

KEY = "s3cretWebhookKey99"


# --- normalisation (OPI NormalizeAuth) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "token", "expected_url", "expected_params"),
    [
        ("https://b24.example.ru/rest/1/abc/", "", "https://b24.example.ru/rest/1/abc/im.user.list.get", {}),
        ("https://b24.example.ru/rest/1/abc", "", "https://b24.example.ru/rest/1/abc/im.user.list.get", {}),
        ("b24.example.ru", "T", "https://b24.example.ru/rest/im.user.list.get", {"auth": "T"}),
        ("https://b24.example.ru/", "T", "https://b24.example.ru/rest/im.user.list.get", {"auth": "T"}),
        ("b24.example.ru/rest/", "T", "https://b24.example.ru/rest/im.user.list.get", {"auth": "T"}),
        ("b24.example.ru/rest", "T", "https://b24.example.ru/rest/im.user.list.get", {"auth": "T"}),
        ("  www.b24.example.ru  ", "T", "https://b24.example.ru/rest/im.user.list.get", {"auth": "T"}),
        ("b24.example.ru:8443", "T", "https://b24.example.ru:8443/rest/im.user.list.get", {"auth": "T"}),
        ("b24.example.ru", "   ", "https://b24.example.ru/im.user.list.get", {}),
    ],
)
def test_endpoint_url_follows_opi(url: str, token: str, expected_url: str, expected_params: dict[str, Any]) -> None:
    assert endpoint_url(url, token, "im.user.list.get") == (expected_url, expected_params)


def test_auth_is_the_first_parameter() -> None:
    _, params = endpoint_url("b24.example.ru", "T", "x")
    params["ID"] = [1]
    assert list(params) == ["auth", "ID"]


def test_deviation_explicit_http_is_honoured() -> None:
    # OPI strips the scheme and always uses HTTPS; an explicit http:// is kept here.
    assert endpoint_url("http://127.0.0.1:8080/rest/1/k/", "", "m")[0] == "http://127.0.0.1:8080/rest/1/k/m"
    assert endpoint_url("HTTPS://b24.example.ru", "T", "m")[0] == "https://b24.example.ru/rest/m"


def test_deviation_www_only_dropped_at_the_start_of_the_host() -> None:
    # OPI deletes "www." anywhere, which changes hosts such as shop.www.example.ru.
    assert endpoint_url("https://shop.www.example.ru", "T", "m")[0] == "https://shop.www.example.ru/rest/m"


@pytest.mark.parametrize(
    ("url", "token", "parameter"),
    [
        ("", "", "url"),
        (None, "", "url"),
        ("   ", "T", "url"),
        ("https:///rest/1/k/", "", "url"),
        ("https://b24.example.ru/rest/1/key/", "T", "token"),
    ],
)
def test_bad_addresses_are_refused(url: Any, token: str, parameter: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        endpoint_url(url, token, "m")
    assert raised.value.parameter == parameter
    assert "key" not in str(raised.value) or parameter != "token"


def test_redact_hides_the_webhook_key_and_given_secrets() -> None:
    text = "POST https://b24.example.ru/rest/7/abcDEF123/im.user.list.get auth=tok123"
    assert redact(text, "tok123") == "POST https://b24.example.ru/rest/7/***/im.user.list.get auth=***"


# --- the wire ---------------------------------------------------------------------------------------


def test_post_sends_compact_utf8_json_with_charset(portal: Any) -> None:
    portal.reply(payload={"result": {"ok": "да"}})
    assert get_users(portal.webhook, ["Пётр", 2]) == {"result": {"ok": "да"}}
    seen = portal.requests[0]
    assert seen["method"] == "POST"
    assert seen["path"] == f"/rest/1/{KEY}/im.user.list.get"
    assert seen["query"] == ""
    assert seen["headers"]["content-type"] == "application/json; charset=utf-8"
    assert seen["body"] == '{"ID": ["Пётр", 2]}'.encode()


def test_token_mode_puts_auth_first_in_the_body(portal: Any) -> None:
    get_users(portal.base, 5, "tok-1")
    assert portal.requests[0]["path"] == "/rest/im.user.list.get"
    assert list(portal.json_body()) == ["auth", "ID"]
    assert portal.json_body() == {"auth": "tok-1", "ID": [5]}


def test_get_sends_auth_in_the_query_and_no_body(portal: Any) -> None:
    server_time(portal.base, "a b/c+d&é")
    seen = portal.requests[0]
    assert (seen["method"], seen["path"], seen["body"]) == ("GET", "/rest/server.time", b"")
    assert seen["query"] == "auth=a%20b%2Fc%2Bd%26%C3%A9"
    assert "content-type" not in seen["headers"]


def test_webhook_get_has_no_query(portal: Any) -> None:
    server_time(portal.webhook)
    assert portal.requests[0]["query"] == ""


def test_key_order_of_the_answer_is_kept(portal: Any) -> None:
    portal.reply(raw=b'{"z": 1, "a": {"y": 2, "b": 3}, "m": [3, 1]}')
    result = server_time(portal.webhook)
    assert list(result) == ["z", "a", "m"] and list(result["a"]) == ["y", "b"]


def test_api_error_status_returns_the_body(portal: Any) -> None:
    portal.reply(401, {"error": "expired_token", "error_description": "The access token provided has expired."})
    assert server_time(portal.base, "T")["error"] == "expired_token"


def test_empty_answer_is_an_empty_result(portal: Any) -> None:
    portal.reply(raw=b"")
    assert server_time(portal.webhook) == {}


@pytest.mark.parametrize("payload", [b"<html>Bad gateway</html>", b'{"result": tru', b"\xff\xfe"])
def test_non_json_answer_raises_with_status_and_snippet(portal: Any, payload: bytes) -> None:
    portal.reply(502, raw=payload, headers={"Content-Type": "text/html"})
    with pytest.raises(UnexpectedResponse) as raised:
        server_time(portal.webhook)
    assert raised.value.status == 502
    assert KEY not in str(raised.value)


def test_snippet_of_a_bad_answer_has_no_secret(portal: Any) -> None:
    portal.reply(200, raw=f"oops {portal.webhook} token=tok-secret-9".encode())
    with pytest.raises(UnexpectedResponse) as raised:
        server_time(portal.base, "tok-secret-9")
    assert "tok-secret-9" not in str(raised.value)
    assert KEY not in str(raised.value)


def test_a_json_answer_that_is_not_an_object_raises(portal: Any) -> None:
    portal.reply(raw=b"[1, 2]")
    with pytest.raises(UnexpectedResponse):
        server_time(portal.webhook)


def test_gzip_answers_are_decoded(portal: Any) -> None:
    import gzip

    portal.reply(
        raw=gzip.compress(b'{"result": "z"}'), headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert server_time(portal.webhook) == {"result": "z"}


# --- retries ----------------------------------------------------------------------------------------


def test_query_limit_is_retried_then_the_answer_returned(portal: Any) -> None:
    portal.reply(503, {"error": "QUERY_LIMIT_EXCEEDED"})
    portal.reply(200, {"result": 1})
    assert get_users(portal.webhook, 1) == {"result": 1}
    assert len(portal.requests) == 2
    assert portal.requests[0]["body"] == portal.requests[1]["body"]


def test_retries_are_bounded_and_the_last_body_returned(portal: Any) -> None:
    portal.default = (503, {"Content-Type": "application/json"}, b'{"error": "QUERY_LIMIT_EXCEEDED"}')
    with opi_bitrix24.settings(retries=3):
        assert get_users(portal.webhook, 1) == {"error": "QUERY_LIMIT_EXCEEDED"}
    assert len(portal.requests) == 4


def test_query_limit_error_under_another_status_is_retried(portal: Any) -> None:
    portal.reply(429, {"error": "QUERY_LIMIT_EXCEEDED"})
    portal.reply(200, {"result": 2})
    assert get_users(portal.webhook, 1) == {"result": 2}


@pytest.mark.parametrize("status", [500, 502, 429, 400])
def test_deviation_other_errors_are_not_resent(portal: Any, status: int) -> None:
    # OPI re-sends any 5xx five times at once; a POST that reached the server may have acted, so no re-send.
    portal.reply(status, {"error": "ERROR_CORE"})
    assert get_users(portal.webhook, 1) == {"error": "ERROR_CORE"}
    assert len(portal.requests) == 1


def test_retry_after_and_backoff_are_waited(portal: Any) -> None:
    portal.reply(
        503, {"error": "QUERY_LIMIT_EXCEEDED"}, headers={"Content-Type": "application/json", "Retry-After": "1"}
    )
    portal.reply(200, {"result": 1})
    started = time.monotonic()
    with opi_bitrix24.settings(backoff=0.0, max_backoff=5):
        get_users(portal.webhook, 1)
    assert time.monotonic() - started >= 0.9


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_retried_then_raises_without_secrets() -> None:
    attempts: list[str] = []

    class Counting(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            attempts.append(args[0])
            return super().request(*args, **kwargs)

    url = f"http://127.0.0.1:{_closed_port()}/rest/1/{KEY}/"
    with opi_bitrix24.settings(session=Counting(), retries=2, backoff=0), pytest.raises(TransportError) as raised:
        get_users(url, 1)
    assert len(attempts) == 3
    assert KEY not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_read_timeout_of_a_post_is_not_resent() -> None:
    """A POST that timed out may have been executed: it is not sent again."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/rest/1/{KEY}/"
    try:
        with opi_bitrix24.settings(timeout=(2, 0.3), retries=3, backoff=0), pytest.raises(TransportError) as raised:
            get_users(url, 1)
        time.sleep(0.1)
        assert len(accepted) == 1
        assert "read timeout" in str(raised.value)
        assert KEY not in str(raised.value)
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


# --- TLS ----------------------------------------------------------------------------------------------


@pytest.fixture
def tls_portal(portal: Any, tmp_path: Any) -> Any:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    portal.httpd.socket = context.wrap_socket(portal.httpd.socket, server_side=True)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    portal.ca_bundle = str(bundle)
    portal.host = f"127.0.0.1:{portal.port}"
    return portal


def test_deviation_tls_certificates_are_verified(tls_portal: Any) -> None:
    # OPI accepts any certificate; an untrusted one is refused here before anything is sent.
    with opi_bitrix24.settings(retries=0), pytest.raises(TransportError) as raised:
        server_time(tls_portal.host, "tok-abc-123")
    assert "TLS" in str(raised.value)
    assert tls_portal.requests == []
    assert "tok-abc-123" not in str(raised.value)


def test_a_ca_bundle_setting_is_used_and_scheme_less_means_https(tls_portal: Any) -> None:
    with opi_bitrix24.settings(verify=tls_portal.ca_bundle):
        assert server_time(tls_portal.host, "T") == {"result": True}
    assert tls_portal.requests[0]["query"] == "auth=T"


def test_verification_can_be_switched_off_explicitly(tls_portal: Any) -> None:
    with opi_bitrix24.settings(verify=False):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert server_time(tls_portal.host, "T") == {"result": True}


# --- settings -------------------------------------------------------------------------------------------


def test_settings_are_scoped_to_the_block() -> None:
    before = opi_bitrix24.current_settings()
    with opi_bitrix24.settings(timeout=3.0) as inside:
        assert opi_bitrix24.current_settings() is inside and inside.timeout == 3.0
    assert opi_bitrix24.current_settings() is before


def test_configure_changes_the_global_settings() -> None:
    original = opi_bitrix24.current_settings()
    try:
        assert opi_bitrix24.configure(retries=5).retries == 5
        assert opi_bitrix24.current_settings().retries == 5
    finally:
        opi_bitrix24.configure(**{f: getattr(original, f) for f in ("retries",)})


@pytest.mark.parametrize(
    "change",
    [{"timeout": 0}, {"timeout": float("inf")}, {"retries": -1}, {"retries": 99}, {"backoff": -1}, {"timeout": None}],
)
def test_bad_settings_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        opi_bitrix24.configure(**change)


def test_a_caller_supplied_session_is_used(portal: Any) -> None:
    session = requests.Session()
    session.headers["X-Caller"] = "mine"
    with opi_bitrix24.settings(session=session):
        server_time(portal.webhook)
    assert portal.requests[0]["headers"]["x-caller"] == "mine"


def test_the_default_session_reuses_connections(portal: Any) -> None:
    ports = []
    original = portal.httpd.RequestHandlerClass.setup

    def setup(handler: Any) -> None:
        ports.append(handler.client_address[1])
        original(handler)

    portal.httpd.RequestHandlerClass.setup = setup
    try:
        for _ in range(3):
            server_time(portal.webhook)
    finally:
        portal.httpd.RequestHandlerClass.setup = original
    assert len(set(ports)) == 1


def test_debug_log_never_shows_secrets(portal: Any, caplog: Any) -> None:
    portal.reply(503, {"error": "QUERY_LIMIT_EXCEEDED"})
    with caplog.at_level(logging.DEBUG):  # every logger, urllib3's request lines included
        get_users(portal.webhook, 1)
        get_users(portal.base, 1, "tok-very-secret")
        server_time(portal.base, "tok-very-secret")
    text = caplog.text
    assert "urllib3" in text
    assert "im.user.list.get" in text
    assert KEY not in text and "tok-very-secret" not in text


def test_fetching_a_url_argument_uses_the_settings(portal: Any) -> None:
    portal.reply(raw=json.dumps([7, 8]).encode())
    from opi_bitrix24 import _convert

    assert _convert.collection(f"{portal.base}/list.json", "fields") == [7, 8]


def test_default_timeout_is_finite() -> None:
    timeout = opi_bitrix24.Settings().timeout
    assert isinstance(timeout, tuple) and all(0 < t <= 120 for t in timeout)


def test_iso_dates_in_answers_stay_text(portal: Any) -> None:
    portal.reply(payload={"result": "2026-01-06T14:19:18+00:00", "time": {"start": 1767709158.64109}})
    result = server_time(portal.webhook)
    assert result["result"] == "2026-01-06T14:19:18+00:00"
    assert result["time"]["start"] == 1767709158.64109


def test_settings_are_immutable_and_replace_checks_names() -> None:
    current = opi_bitrix24.Settings()
    with pytest.raises(AttributeError):
        current.retries = 5  # type: ignore[misc]
    with pytest.raises(TypeError, match="unknown settings: retry"):
        current.replace(retry=1)
    assert current.replace(retries=1).retries == 1 and current.retries == 3
    assert "session" not in repr(current)


def test_python_values_inside_structures_are_sent_as_json(portal: Any) -> None:
    import datetime as dt
    from decimal import Decimal

    from opi_bitrix24 import _core

    _core.post(
        "x.y",
        portal.webhook,
        "",
        filter={
            "D": dt.datetime(2026, 1, 2, 3, 4, 5),
            "d": dt.date(2026, 1, 2),
            "n": Decimal("1.50"),
            "i": Decimal(3),
            "t": (1, 2),
        },
    )
    assert portal.json_body() == {
        "filter": {"D": "2026-01-02T03:04:05", "d": "2026-01-02T00:00:00", "n": 1.5, "i": 3, "t": [1, 2]}
    }
    with pytest.raises(InvalidArgument) as raised:
        _core.post("x.y", portal.webhook, "", ok=1, filter={"x": object()})
    assert raised.value.parameter == "filter"
    assert len(portal.requests) == 1


def test_oauth_calls_send_their_fields_in_order_and_hide_secrets(portal: Any, caplog: Any) -> None:
    portal.reply(400, {"error": "invalid_grant"})
    with opi_bitrix24.settings(oauth_url=f"{portal.base}/oauth/token/"), caplog.at_level(logging.DEBUG):
        assert opi_bitrix24.refresh_token("local.1", "cl1ent-s3cret", "refr3sh-t0ken") == {"error": "invalid_grant"}
    seen = portal.requests[0]
    assert (seen["method"], seen["path"], seen["body"]) == ("GET", "/oauth/token/", b"")
    assert (
        seen["query"]
        == "grant_type=refresh_token&client_id=local.1&client_secret=cl1ent-s3cret&refresh_token=refr3sh-t0ken"
    )
    assert "cl1ent-s3cret" not in caplog.text and "refr3sh-t0ken" not in caplog.text


def test_oauth_url_setting_beats_the_environment(portal: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("OPI_BITRIX24_OAUTH_URL", f"http://127.0.0.1:{_closed_port()}/nowhere/")
    with opi_bitrix24.settings(oauth_url=f"{portal.base}/oauth/token/"):
        opi_bitrix24.get_token("local.1", "s", "c0de-abc")
    assert portal.requests[0]["path"] == "/oauth/token/"
    with opi_bitrix24.settings(retries=0), pytest.raises(TransportError) as raised:
        opi_bitrix24.get_token("local.1", "s3cret-xyz", "c0de-abc")
    assert "s3cret-xyz" not in str(raised.value) and "c0de-abc" not in str(raised.value)


def test_the_default_oauth_endpoint_is_bitrix_info(monkeypatch: Any) -> None:
    from opi_bitrix24 import _core

    monkeypatch.delenv("OPI_BITRIX24_OAUTH_URL", raising=False)
    sent: list[str] = []

    class Recording(requests.Session):
        def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            sent.append(url)
            raise requests.exceptions.ConnectionError("offline")

    with opi_bitrix24.settings(session=Recording(), retries=0), pytest.raises(TransportError):
        opi_bitrix24.get_token("local.1", "s", "c")
    assert sent == [f"{_core.OAUTH_URL}?grant_type=authorization_code&client_id=local.1&client_secret=s&code=c"]
    assert _core.OAUTH_URL == "https://oauth.bitrix.info/oauth/token/"


def test_upload_sends_one_multipart_file_part_without_auth(portal: Any) -> None:
    from opi_bitrix24 import _core
    from opi_bitrix24_conformance.runner.cases import parse_multipart

    portal.reply(payload={"result": {"ID": 7}})
    content = b"\x89PNG\r\n--not-a-boundary\r\n\x00"
    assert _core.upload(f" {portal.base}/upload/?token=disk%7Cabc ", "file", 'Отчёт "1".png', content) == {
        "result": {"ID": 7}
    }
    seen = portal.requests[0]
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/upload/", "token=disk%7Cabc")
    assert seen["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert seen["headers"]["content-type"].split("=", 1)[1] in seen["body"].decode("latin-1")
    parts = parse_multipart(seen["body"])
    assert [(p["field"], p["filename"], p["content"], p["content_type"]) for p in parts] == [
        ("file", "Отчёт %221%22.png", content, "")
    ]
    assert b"auth" not in seen["body"]


# --- the default session keeps requests' trust_env behaviour (proxies, no_proxy, .netrc) ----------------

_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def test_the_environment_is_looked_up_again_when_it_changes(monkeypatch: Any) -> None:
    from test_faults import OK, Server, send

    portal, proxy = Server(send(OK)), Server(send(OK))
    for name in (*_PROXY_VARIABLES, "no_proxy", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    hook = f"{portal.base}/rest/1/key1/"
    try:
        with opi_bitrix24.settings(retries=0):
            opi_bitrix24.server_time(hook)
            monkeypatch.setenv("http_proxy", proxy.base)
            opi_bitrix24.server_time(hook)  # through the proxy now
            monkeypatch.setenv("no_proxy", "127.0.0.1")
            opi_bitrix24.server_time(hook)  # not for this host
            monkeypatch.delenv("no_proxy")
            opi_bitrix24.server_time(hook)  # through the proxy again
            monkeypatch.delenv("http_proxy")
            opi_bitrix24.server_time(hook)
    finally:
        portal.close()
        proxy.close()
    assert [path for _, path, _ in portal.requests] == ["/rest/1/key1/server.time"] * 3
    assert [path for _, path, _ in proxy.requests] == [f"{hook}server.time"] * 2  # the absolute form: a proxy


def test_netrc_credentials_are_sent_as_requests_sends_them(monkeypatch: Any, tmp_path: Any) -> None:
    import base64

    from test_faults import Server, answer

    seen: list[bytes] = []

    def handler(conn: socket.socket, request: bytes, server: Any) -> None:
        seen.append(request)
        conn.sendall(answer("200 OK", b'{"result": "ok"}'))

    portal = Server(handler)
    for name in (*_PROXY_VARIABLES, "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user1 password pass1\n", encoding="utf-8")
    try:
        monkeypatch.setenv("NETRC", str(tmp_path / "missing"))
        opi_bitrix24.server_time(f"{portal.base}/rest/1/key1/")
        monkeypatch.setenv("NETRC", str(netrc))
        opi_bitrix24.server_time(f"{portal.base}/rest/1/key1/")
    finally:
        portal.close()
    expected = b"Authorization: Basic " + base64.b64encode(b"user1:pass1")
    assert [expected in request for request in seen] == [False, True]


# --- layering (issue 22 item 0) -------------------------------------------------------------------------


def _relative_imports(module: Any) -> set[str]:
    import ast
    from pathlib import Path

    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module] if node.module else [alias.name for alias in node.names])
    return found


def test_the_core_imports_neither_the_batch_layer_nor_the_package_root() -> None:
    from opi_bitrix24 import _core, _deadline, _errors, _http, _redact, _version

    assert not {"_bulk", "__version__"} & _relative_imports(_core)
    assert _relative_imports(_deadline) == {"_errors"} and _relative_imports(_http) == {"_deadline"}
    assert _relative_imports(_version) == set() and _relative_imports(_redact) == set()
    assert "_core" not in _relative_imports(_errors)  # the error classes redact through the leaf module


def test_the_interception_point_takes_a_call_instead_of_sending_it() -> None:
    from opi_bitrix24 import _core

    seen: list[tuple[Any, ...]] = []

    def take(verb: str, api_method: str, url: Any, token: Any, fields: Any) -> dict[str, Any]:
        seen.append((verb, api_method, url, token, dict(fields)))
        return {"result": "taken"}

    with _core.intercepting(take):
        assert get_users("http://127.0.0.1:9/rest/1/key1/", [1, 10]) == {"result": "taken"}  # port 9: nothing listens
    assert seen == [("POST", "im.user.list.get", "http://127.0.0.1:9/rest/1/key1/", "", {"ID": [1, 10]})]
    assert _core._interceptor.get() is None


# --- plan: the call an OPI function would make (the async driver runs it) --------------------------


def test_plan_gives_the_one_call_an_opi_function_would_make_and_sends_nothing(portal: Any) -> None:
    from opi_bitrix24 import _core

    planned = _core.plan(get_users, portal.webhook, [1, "2"])
    assert planned == _core.Call("POST", "im.user.list.get", portal.webhook, "", {"ID": [1, "2"]})
    assert portal.requests == []
    planned = _core.plan(server_time, "b24.example.ru", token="T0KEN")
    assert planned == _core.Call("GET", "server.time", "b24.example.ru", "T0KEN", {})


def test_a_planned_call_run_by_the_flow_answers_as_the_function_does(portal: Any) -> None:
    from opi_bitrix24 import _core, _deadline, _flow, _sync

    portal.reply(payload={"result": [{"id": 1}]})
    portal.reply(payload={"result": [{"id": 1}]})
    planned = _core.plan(get_users, portal.webhook, [1])
    assert isinstance(planned, _core.Call)
    with _deadline.scope(60):
        via_plan = _sync.run(_flow.call(planned.verb, planned.api_method, planned.url, planned.token, planned.fields))
    assert via_plan == get_users(portal.webhook, [1]) == {"result": [{"id": 1}]}
    assert [r["body"] for r in portal.requests] == [b'{"ID": [1]}', b'{"ID": [1]}']


def test_plan_of_a_function_that_sends_nothing_is_done_with_its_value() -> None:
    from opi_bitrix24 import _core, get_tasks_filter_structure

    planned = _core.plan(get_tasks_filter_structure, True)
    assert isinstance(planned, _core.Done)
    assert planned.value == get_tasks_filter_structure(True)


def test_plan_refuses_a_two_request_function_and_passes_on_bad_arguments(tmp_path: Any, portal: Any) -> None:
    from opi_bitrix24 import _core, upload_file_to_folder

    with pytest.raises(InvalidArgument) as caught:
        _core.plan(upload_file_to_folder, portal.webhook, "a.txt", b"data", 7)
    assert caught.value.parameter == "function" and "upload_file_to_folder" in str(caught.value)
    with pytest.raises(InvalidArgument) as bad:
        _core.plan(get_users, "", [1])
    assert bad.value.parameter == "url"
    assert portal.requests == []


# --- the blocking driver's mapping of requests' failures ------------------------------------------


def test_the_driver_maps_a_refused_connection_to_a_connect_failure_that_never_left() -> None:
    from opi_bitrix24 import _flow, _sync

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    effect = _flow.Send(
        "POST", f"http://127.0.0.1:{port}/x", b"{}", {}, (2.0, 2.0), None, 1024, _flow.REDIRECTS, True, None
    )
    outcome = _sync.perform(effect)
    assert isinstance(outcome, _flow.Failure)
    assert (outcome.kind, outcome.left) == ("connect", False)
    past = dataclasses.replace(effect, deadline_at=time.monotonic() - 1)  # an attempt that starts too late
    assert _sync.perform(past) == _flow.Failure("deadline", True, "the deadline has passed")


def test_the_driver_reads_no_redirect_body_and_stops_at_the_cap(portal: Any) -> None:
    from opi_bitrix24 import _flow, _sync

    def send(url: str, cap: int = 4096) -> Any:
        return _sync.perform(_flow.Send("GET", url, None, {}, (5.0, 5.0), None, cap, _flow.REDIRECTS, True, None))

    portal.reply(302, raw=b"the body of a redirect", headers={"Location": "/elsewhere"})
    moved = send(portal.base + "/a")
    assert isinstance(moved, _flow.Reply)
    assert (moved.status, moved.content, moved.headers["location"]) == (302, b"", "/elsewhere")
    portal.reply(200, raw=b"x" * 5000)
    assert send(portal.base + "/b") == _flow.Failure("too_large", True, "", 200)
    portal.reply(200, raw=b'{"result": 1}')
    answer = send(portal.base + "/c")
    assert isinstance(answer, _flow.Reply)
    assert (answer.status, answer.content, answer.cut) == (200, b'{"result": 1}', False)
