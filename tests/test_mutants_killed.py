"""Tests for mutants that survived `python tools/mutate.py --suite all --seed 1 --count 200` (issue 13).

Each test names the mutant it kills (file, line and change as the tool printed them on the tree it ran on).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import opi_bitrix24 as b24
from opi_bitrix24._bulk import iterate


def test_a_burst_of_one_request_is_a_valid_rate_limit() -> None:
    # _core.py:171 | rate_limit[1] >= 1 -> rate_limit[1] >= 2
    with b24.settings(rate_limit=(2.0, 1)) as config:
        assert config.rate_limit == (2.0, 1)
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.configure(rate_limit=(2.0, 0))
    assert raised.value.parameter == "rate_limit"


@pytest.mark.parametrize(
    "api_method",
    ["crm.lead.list", "crm.deal.list", "crm.contact.list", "crm.company.list", "crm.activity.list", "crm.product.list"],
)
def test_crm_lists_page_by_id_in_one_batch_chain(portal: Any, api_method: str) -> None:
    # _bulk.py:363 | "ID" -> 'ID_x' (the crm.product.list shape: rows are the bare list, paged by ID)
    rows = [{"ID": str(i)} for i in range(1, 31)]
    portal.reply(payload={"result": {"result": {"p0": rows}, "result_error": [], "result_time": {}}, "time": {}})
    assert list(iterate(portal.webhook, api_method)) == rows
    cmd = json.loads(portal.requests[0]["body"])["cmd"]
    assert cmd["p0"] == f"{api_method}?order%5BID%5D=ASC&filter%5B%3EID%5D=0&start=-1"
    assert cmd["p1"] == f"{api_method}?order%5BID%5D=ASC&filter%5B%3EID%5D=%24result%5Bp0%5D%5B49%5D%5BID%5D&start=-1"


def test_the_socket_of_a_response_is_found_when_urllib3_has_released_its_connection() -> None:
    # _core.py:531 | "raw" -> 'raw_x' (the fallback path: response.raw._fp.fp.raw._sock)
    from types import SimpleNamespace

    from opi_bitrix24 import _sync

    sock = object()
    released = SimpleNamespace(
        raw=SimpleNamespace(_connection=None, _fp=SimpleNamespace(fp=SimpleNamespace(raw=SimpleNamespace(_sock=sock))))
    )
    assert _sync._socket_of(released) is sock
    pooled = SimpleNamespace(raw=SimpleNamespace(_connection=SimpleNamespace(sock=sock)))
    assert _sync._socket_of(pooled) is sock
    assert _sync._socket_of(SimpleNamespace()) is None


def test_the_errors_module_exports_exactly_its_public_exceptions() -> None:
    # _errors.py:29 | "InvalidToken" -> 'InvalidToken_x' (``from opi_bitrix24._errors import *`` would miss it)
    from opi_bitrix24 import _errors

    public = {name for name, value in vars(_errors).items() if isinstance(value, type) and not name.startswith("_")}
    public = {name for name in public if issubclass(getattr(_errors, name), Exception)}
    assert sorted(_errors.__all__) == sorted(public)
    assert all(getattr(b24, name) is getattr(_errors, name) for name in _errors.__all__)


@pytest.mark.parametrize(
    "module", sorted(m for m in ("_bulk", "_convert", "_core", "_errors", "_limits", "_stream", "_auth"))
)
def test_every_name_in_a_modules_all_is_defined(module: str) -> None:
    # _stream.py:25 | "PLACEHOLDER" -> 'PLACEHOLDER_x' (a name in __all__ that the module does not define)
    import importlib

    loaded = importlib.import_module(f"opi_bitrix24.{module}")
    assert [name for name in loaded.__all__ if not hasattr(loaded, name)] == []


def test_the_cli_overview_ends_with_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    # _cli.py:73 | "Exit codes: 0 done (API error bodies too), 2 usage error... -> '..._x'
    from opi_bitrix24 import _cli

    assert _cli.main(["--help"]) == 0
    assert capsys.readouterr().out.endswith(
        "\nExit codes: 0 done (API error bodies too), 2 usage error, 3 API error body (with --fail-on-api-error),"
        " 99 transport/unexpected error, 141 output pipe closed.\n"
    )


def test_a_block_whose_reset_has_passed_needs_no_wait() -> None:
    # _limits.py:128 | 0.0 -> 1.0 (a reset time in the past means no wait at all, not a second)
    import time

    from opi_bitrix24 import _limits

    _limits.reset()
    try:
        _limits.note_time(
            "https://a.bitrix24.test/rest/",
            "tasks.task.list",
            {"operating": 481, "operating_reset_at": time.time() - 5},
        )
        assert _limits.blocked_wait("https://a.bitrix24.test/rest/", "tasks.task.list", 60) == 0.0
    finally:
        _limits.reset()


def test_a_refresh_retires_the_current_token_it_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    # _auth.py:78 | app.access_token != stale -> app.access_token == stale
    from opi_bitrix24 import _auth, _flow, _sync

    answer = _flow.Reply(200, {}, b'{"access_token": "NEW-access", "refresh_token": "NEW-refresh"}')

    def perform(effect: _flow.Effect) -> Any:  # the token endpoint answers without a socket
        return answer if isinstance(effect, _flow.Send) else _sync.perform(effect)

    app = _auth.OAuthApp("id", "secret", "old-refresh", access_token="current-access")
    assert _flow.drive(_flow.refresh(app, "stale-access"), perform) == "NEW-access"
    assert app.retired == {"stale-access", "current-access"}
    assert _auth.current(app, "current-access") == "NEW-access"


def test_the_version_is_a_normalised_pep_440_version() -> None:
    # __init__.py:11 | "0.1.0" -> '0.1.0_x' (pyproject.toml takes the version from __version__, so it must be valid)
    from packaging.version import Version

    assert str(Version(b24.__version__)) == b24.__version__


def test_each_attempt_is_logged_at_debug_level(portal: Any, caplog: pytest.LogCaptureFixture) -> None:
    # _core.py:658 | "%s %s (attempt %d)" -> '%s %s (attempt %d)_x'
    import logging

    portal.reply(payload={"result": True})
    with caplog.at_level(logging.DEBUG, logger="opi_bitrix24"):
        b24.call(portal.webhook, "server.time")
    attempts = [r.getMessage() for r in caplog.records if "(attempt" in r.getMessage()]
    assert len(attempts) == 1 and attempts[0].startswith("POST ") and attempts[0].endswith("/server.time (attempt 1)")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://portal.test:443/x", "https://portal.test"),
        ("http://portal.test:80/x", "http://portal.test"),
        ("https://portal.test/x", "https://portal.test"),
        ("https://portal.test:8443/x", "https://portal.test:8443"),
    ],
)
def test_a_refused_redirect_names_the_origin_without_its_default_port(url: str, shown: str) -> None:
    # _core.py:515 | port in (None, default) -> port not in (None, default)
    from opi_bitrix24 import _flow

    assert _flow.shown_origin(url) == shown


def test_a_secret_holding_a_slash_is_hidden_in_its_json_escaped_spelling() -> None:
    # _core.py:339 | secret.replace("/", "\\/") -> secret.replace('\\/', '/')
    from opi_bitrix24 import _core

    assert _core.redact('{"link": "a\\/b\\/cdef"}', "a/b/cdef") == '{"link": "***"}'


def test_a_streamed_body_sends_exactly_the_usual_headers(portal: Any, tmp_path: Any) -> None:
    # _core.py:647 | "Content-Length" -> 'Content-Length_x' (requests also sizes the body by len(): the
    # header must be the real one, once, and no stray header may go out)
    sample = tmp_path / "a.bin"
    sample.write_bytes(b"\x00\x01" * 5000)
    portal.reply(200, {"result": {"ID": 5}})
    b24.upload_file_to_storage(portal.webhook, "a.bin", str(sample), 3)
    sent = portal.requests[-1]["headers"]
    assert sent["content-length"] == str(len(portal.requests[-1]["body"]))
    assert sorted(sent) == sorted(
        ["host", "user-agent", "accept-encoding", "accept", "connection", "content-type", "content-length"]
    )


def _call_against_one_raw_answer(raw: bytes) -> Any:
    """``call(server.time)`` against a loopback server that reads one request and answers ``raw`` bytes."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            conn.sendall(raw)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        return b24.call(f"http://127.0.0.1:{listener.getsockname()[1]}/rest/1/k3y/", "server.time")
    finally:
        worker.join(10)
        listener.close()


def test_a_truncated_answer_says_the_connection_closed_before_it_was_complete() -> None:
    # _core.py:754 | "the connection closed before the answer was complete" -> '..._x'
    with pytest.raises(b24.TransportError) as raised:
        _call_against_one_raw_answer(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"result": '
        )
    assert str(raised.value).endswith(": the connection closed before the answer was complete")


def test_a_batch_shows_its_progress_as_batch(portal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # _bulk.py:308 | "batch" -> 'batch_x' (the label of batch()'s progress line on a terminal)
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    portal.reply(payload={"result": {"result": {"k0": "2026"}, "result_error": [], "result_time": {}}, "time": {}})
    b24.batch(portal.webhook, [("server.time", {})])
    assert terminal.getvalue().startswith("\rbatch: 1/1 (")


def test_an_empty_chunked_answer_is_complete_not_cut() -> None:
    # _core.py:604 | headers_in.get("transfer-encoding", "") -> headers_in.get('', 'transfer-encoding')
    # (a chunked answer with no bytes ended properly: OPI's empty result, not a cut connection)
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert _call_against_one_raw_answer(raw) == {}


def test_a_malformed_batch_command_is_refused_naming_commands() -> None:
    # _bulk.py:212 | "commands" -> 'commands_x'
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.batch("https://portal.test/rest/1/k3y/", [("server.time", {}, "extra")])
    assert raised.value.parameter == "commands"


def test_insufficient_scope_raises_its_own_error_when_asked(portal: Any) -> None:
    # _errors.py:127 | "insufficient_scope" -> 'insufficient_scope_x'
    portal.reply(403, {"error": "insufficient_scope", "error_description": "The request requires higher privileges"})
    with b24.settings(raise_api_errors=True), pytest.raises(b24.InsufficientScope) as raised:
        b24.call(portal.webhook, "crm.deal.list")
    assert raised.value.error == "insufficient_scope"


def test_a_write_is_re_sent_after_a_connect_timeout(portal: Any) -> None:
    # _core.py:455 | True -> False (a connect timeout means the request never left: safe to re-send a write)
    import requests

    class FirstConnectTimesOut(requests.Session):
        calls = 0

        def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            FirstConnectTimesOut.calls += 1
            if FirstConnectTimesOut.calls == 1:
                raise requests.exceptions.ConnectTimeout("connect timed out")
            return super().request(*args, **kwargs)

    portal.reply(payload={"result": 7})
    with b24.settings(session=FirstConnectTimesOut(), backoff=0):
        assert b24.call(portal.webhook, "tasks.task.add", {"fields": {"TITLE": "x"}}) == {"result": 7}
    assert FirstConnectTimesOut.calls == 2 and len(portal.requests) == 1


@pytest.mark.parametrize("start", [0, "0", "", 100, "100"])
def test_all_pages_starts_from_the_top_for_a_zero_start_given_as_text(
    monkeypatch: pytest.MonkeyPatch, start: Any
) -> None:
    # _bulk.py:513 | "0" -> '0_x' (the CLI gives --start as text: "0" is the first page, not an offset to keep)
    from opi_bitrix24 import _bulk

    seen: list = []
    monkeypatch.setattr(_bulk, "iterate", lambda url, method, params, token, fast: seen.append(params) or iter([]))
    _bulk.all_pages(b24.get_deals_list, "https://portal.test/rest/1/k3y/", {"STAGE_ID": "NEW"}, start)
    assert len(seen) == 1 and seen[0].get("start") == ("100" if start in (100, "100") else None)
