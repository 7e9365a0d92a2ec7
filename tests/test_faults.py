"""The fault suite: a hostile or broken portal on real loopback sockets, one documented outcome per fault.

Every case runs against raw socket servers that misbehave on purpose and asserts the outcome (result or
exception class), the requests the servers received (no duplicate write, nothing sent to another origin),
that the call finished under a generous bound, and that neither the webhook key nor the token appears in
the exception's text, its traceback, its cause/context chain or any log record of any logger (DEBUG).
A subset also runs through the CLI and checks the exit code and that stdout is JSON or empty.

``python tests/test_faults.py --table`` prints the fault table of docs/guides/reliability-security.md from
:data:`FAULTS`; a test checks that the page holds exactly that table.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import pytest

import opi_bitrix24
from opi_bitrix24 import _core
from opi_bitrix24._cli import EXIT_ERROR, EXIT_OK, main
from opi_bitrix24._errors import (
    AnswerTooLarge,
    DeadlineExceeded,
    RedirectRefused,
    TransportError,
    UnexpectedResponse,
)

KEY = "S3CR3TKEY9"
TOKEN = "T0KSECRET77"
BOUND = 10.0  # seconds: "finished", not a timing assertion

Handler = Callable[[socket.socket, bytes, "Server"], None]


class Server:
    """A loopback TCP server; ``handler(conn, request, server)`` answers each request with raw bytes."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: List[Tuple[str, str, bytes]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while True:
                request = _read_request(conn)
                if request is None:
                    return
                line = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                self.requests.append((line[0], line[1], request.split(b"\r\n\r\n", 1)[1]))
                self.handler(conn, request, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _read_request(conn: socket.socket) -> Optional[bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def answer(status: str, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


OK = answer("200 OK", b'{"result": "ok"}', "Content-Type: application/json")


def send(data: bytes, close: bool = False) -> Handler:
    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        conn.sendall(data)
        if close:
            conn.shutdown(socket.SHUT_RDWR)

    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler (the last one repeats)."""

    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        index = min(len(server.requests), len(handlers)) - 1
        handlers[index](conn, request, server)

    return handler


def reset(conn: socket.socket, request: bytes, server: Server) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def hang(conn: socket.socket, request: bytes, server: Server) -> None:
    server.stop.wait(3)


def trickle(head: bytes, tail: bytes, pause: float = 0.2) -> Handler:
    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        conn.sendall(head)
        for byte in tail:
            if server.stop.wait(pause):
                return
            conn.sendall(bytes([byte]))

    return handler


def redirect_to(target: Callable[[Server], str], status: str = "307 Temporary Redirect") -> Handler:
    def handler(conn: socket.socket, request: bytes, server: Server) -> None:
        conn.sendall(answer(status, b"", f"Location: {target(server)}"))

    return handler


OTHER: Dict[str, Server] = {}  # the "other origin" of the redirect cases, created per test


def other(path: str) -> Callable[[Server], str]:
    return lambda server: OTHER["server"].base + path


def same(path: str) -> Callable[[Server], str]:
    return lambda server: path


def redirect_loop(conn: socket.socket, request: bytes, server: Server) -> None:
    conn.sendall(answer("302 Found", b"", f"Location: /rest/1/{KEY}/loop{len(server.requests)}"))


ECHO = (
    f"<html>500: /rest/1/{KEY}/server.time failed; json: \\/rest\\/1\\/{KEY}\\/; "
    f"encoded: %2Frest%2F1%2F{KEY}%2F; auth={TOKEN}</html>"
).encode()
ECHO_TOKEN = ECHO + f"<p>token: {TOKEN}, {TOKEN!r}, %22{TOKEN}%22</p>".encode()
BOMB = gzip.compress(b"{" + b" " * (8 * 1024 * 1024) + b"}", 9)


class Fault(NamedTuple):
    kind: str
    handler: Handler
    verb: str  # GET (server.time) or POST (a write: tasks.task.add)
    outcome: Any  # an exception class, or the expected result
    requests: int  # requests the portal receives
    settings: Dict[str, Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated
    mode: str = "webhook"  # or "token"
    text: str = ""  # the docs' wording of the outcome


def _faults() -> List[Fault]:
    return [
        Fault("connection refused", send(b""), "POST", TransportError, 0, {}, "webhook", "TransportError"),
        Fault(
            "reset after a write was sent", reset, "POST", TransportError, 1, {}, "token", "TransportError, not re-sent"
        ),
        Fault(
            "closed without an answer (GET)",
            send(b"", close=True),
            "GET",
            TransportError,
            3,
            {"retries": 2},
            "webhook",
            "re-sent (GET), then TransportError",
        ),
        Fault(
            "truncated body",
            send(answer("200 OK", b'{"result": ', "Content-Length: 100"), close=True),
            "POST",
            TransportError,
            1,
            {},
            "webhook",
            "TransportError",
        ),
        Fault(
            "cut inside the headers",
            send(b"HTTP/1.1 200 OK\r\nContent-Type: appl", close=True),
            "POST",
            TransportError,
            1,
            {},
            "token",
            "TransportError (never `{}`)",
        ),
        Fault(
            "empty body on 502 (write)",
            send(answer("502 Bad Gateway", b"")),
            "POST",
            UnexpectedResponse,
            1,
            {},
            "webhook",
            "UnexpectedResponse (never `{}`)",
        ),
        Fault("empty body on 200", send(answer("200 OK", b"")), "GET", {}, 1, {}, "webhook", "`{}` (as before)"),
        Fault(
            "103 Early Hints before the answer",
            send(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK),
            "POST",
            UnexpectedResponse,
            1,
            {},
            "webhook",
            "UnexpectedResponse (status 103)",
        ),
        Fault(
            "503, then the answer",
            sequence(send(answer("503 Service Unavailable", b"busy")), send(OK)),
            "POST",
            {"result": "ok"},
            2,
            {"retries": 1},
            "webhook",
            "re-sent with backoff, the answer",
        ),
        Fault(
            "503 with Retry-After: ²",
            sequence(
                send(answer("503 Service Unavailable", b"", "Retry-After: \u00b2".encode().decode("latin-1"))), send(OK)
            ),
            "GET",
            {"result": "ok"},
            2,
            {"retries": 1},
            "webhook",
            "Retry-After ignored, re-sent, the answer",
        ),
        Fault(
            "503 with Retry-After beyond the deadline",
            send(answer("503 Service Unavailable", b'{"error": "busy"}', "Retry-After: 9")),
            "GET",
            {"error": "busy"},
            1,
            {"retries": 3, "max_backoff": 9, "deadline": 1},
            "webhook",
            "no wait past the deadline: the last answer",
        ),
        Fault(
            "QUERY_LIMIT_EXCEEDED, then the answer",
            sequence(send(answer("429 Too Many Requests", b'{"error": "QUERY_LIMIT_EXCEEDED"}')), send(OK)),
            "POST",
            {"result": "ok"},
            2,
            {"retries": 1},
            "token",
            "re-sent, the answer",
        ),
        Fault(
            "cross-origin redirect of a write",
            redirect_to(other("/x")),
            "POST",
            RedirectRefused,
            1,
            {},
            "token",
            "RedirectRefused naming the new host; nothing sent there",
        ),
        Fault(
            "cross-origin redirect of a GET",
            redirect_to(other(f"/rest/1/{KEY}/server.time")),
            "GET",
            RedirectRefused,
            1,
            {},
            "webhook",
            "RedirectRefused naming the new host; nothing sent there",
        ),
        Fault(
            "same-origin redirect of a GET",
            sequence(redirect_to(same(f"/rest/1/{KEY}/moved")), send(OK)),
            "GET",
            {"result": "ok"},
            2,
            {},
            "webhook",
            "followed (at most 5), the answer",
        ),
        Fault(
            "same-origin redirect of a write",
            redirect_to(same("/moved"), "308 Permanent Redirect"),
            "POST",
            RedirectRefused,
            1,
            {},
            "webhook",
            "RedirectRefused, not re-sent",
        ),
        Fault(
            "redirect loop",
            redirect_loop,
            "GET",
            RedirectRefused,
            6,
            {},
            "webhook",
            "RedirectRefused after 5 redirects",
        ),
        Fault(
            "body trickles one byte at a time",
            trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", b'{"result": "' + b"x" * 27 + b'"}'),
            "POST",
            DeadlineExceeded,
            1,
            {"deadline": 1, "timeout": 5},
            "webhook",
            "DeadlineExceeded at the deadline",
        ),
        Fault(
            "headers trickle one byte at a time",
            trickle(b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
            "GET",
            DeadlineExceeded,
            1,
            {"deadline": 1, "timeout": 5},
            "webhook",
            "DeadlineExceeded at the deadline",
        ),
        Fault(
            "no answer at all (read timeout)",
            hang,
            "POST",
            TransportError,
            1,
            {"timeout": 0.5},
            "webhook",
            "TransportError (read timeout), not re-sent",
        ),
        Fault(
            "answer larger than the cap",
            send(answer("200 OK", b'{"result": "' + b"x" * (2 * 1024 * 1024) + b'"}')),
            "GET",
            AnswerTooLarge,
            1,
            {"max_answer_bytes": 1024 * 1024},
            "webhook",
            "AnswerTooLarge",
        ),
        Fault(
            "gzip bomb",
            send(answer("200 OK", BOMB, "Content-Encoding: gzip")),
            "GET",
            AnswerTooLarge,
            1,
            {"max_answer_bytes": 1024 * 1024},
            "webhook",
            "AnswerTooLarge (reading stops at the cap)",
        ),
        Fault(
            "500 page echoing the key and token",
            send(answer("500 Internal Server Error", ECHO_TOKEN, "Content-Type: text/html")),
            "POST",
            UnexpectedResponse,
            1,
            {},
            "token",
            "UnexpectedResponse, secrets redacted",
        ),
        Fault(
            "malformed response header",
            send(answer("200 OK", b'{"result": "ok"}', "Bad Header Without Colon"), close=True),
            "GET",
            {"result": "ok"},
            1,
            {},
            "token",
            "the answer; urllib3's warning redacted",
        ),
        Fault(
            "JSON nested 100,000 deep",
            send(answer("200 OK", b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}")),
            "GET",
            UnexpectedResponse,
            1,
            {},
            "webhook",
            "UnexpectedResponse",
        ),
        Fault(
            "NaN in the answer",
            send(answer("200 OK", b'{"result": NaN}')),
            "GET",
            UnexpectedResponse,
            1,
            {},
            "webhook",
            "UnexpectedResponse (NaN/Infinity are not JSON)",
        ),
        Fault(
            "lone surrogate in the answer",
            send(answer("200 OK", b'{"result": "\\ud800"}')),
            "GET",
            {"result": "\ud800"},
            1,
            {},
            "webhook",
            "the answer; the CLI prints it \\u-escaped",
        ),
        Fault(
            "HTML instead of JSON",
            send(answer("200 OK", b"<html>hi</html>")),
            "GET",
            UnexpectedResponse,
            1,
            {},
            "webhook",
            "UnexpectedResponse",
        ),
        Fault(
            "JSON that is not an object",
            send(answer("200 OK", b"[1, 2]")),
            "GET",
            UnexpectedResponse,
            1,
            {},
            "webhook",
            "UnexpectedResponse",
        ),
        Fault(
            "garbage status line",
            send(b"HELLO THERE\r\n\r\n", close=True),
            "POST",
            TransportError,
            1,
            {},
            "webhook",
            "TransportError",
        ),
        Fault(
            "TLS expected, plain HTTP answers",
            send(OK, close=True),
            "GET",
            TransportError,
            0,
            {"retries": 0},
            "tls",
            "TransportError (TLS error)",
        ),
    ]


FAULTS = _faults()


def _call(fault: Fault, server: Server) -> Any:
    if fault.mode == "token":
        url, token = server.base, TOKEN
    elif fault.mode == "tls":
        url, token = f"https://127.0.0.1:{server.port}/rest/1/{KEY}/", ""
    else:
        url, token = f"{server.base}/rest/1/{KEY}/", ""
    if fault.verb == "GET":
        return _core.get("server.time", url, token)
    return _core.post("tasks.task.add", url, token, fields={"TITLE": "t"})


def _no_secrets(text: str) -> None:
    assert KEY not in text and TOKEN not in text, text


@pytest.fixture
def servers() -> Any:
    made: List[Server] = []

    def make(handler: Handler) -> Server:
        server = Server(handler)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.mark.parametrize("fault", FAULTS, ids=[f.kind for f in FAULTS])
def test_fault(fault: Fault, servers: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "urllib3.connection", "requests", "opi_bitrix24"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    OTHER["server"] = servers(send(OK))
    server = servers(fault.handler)
    if fault.kind == "connection refused":
        server.close()
        time.sleep(0.05)
    options: Dict[str, Any] = {"backoff": 0.01, "retries": 0, "deadline": 5, **fault.settings}
    started = time.monotonic()
    with opi_bitrix24.settings(**options):
        if isinstance(fault.outcome, type):
            with pytest.raises(fault.outcome) as raised:
                _call(fault, server)
            exc = raised.value
            shown = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            _no_secrets(str(exc) + repr(exc) + shown)
            assert exc.__cause__ is None and exc.__context__ is None
            if isinstance(exc, RedirectRefused):
                assert exc.location in str(exc) and "/x" not in str(exc) and "/rest" not in exc.location
        else:
            assert _call(fault, server) == fault.outcome
    assert time.monotonic() - started < BOUND
    assert len(server.requests) == fault.requests, server.requests
    assert OTHER["server"].requests == []
    if fault.verb == "POST" and fault.requests:
        assert all(method == "POST" for method, _, _ in server.requests)
    for record in caplog.records:
        _no_secrets(caplog.handler.format(record))
    _no_secrets(caplog.text)


@pytest.mark.parametrize(
    "kind", ["truncated body", "503, then the answer", "cross-origin redirect of a write", "gzip bomb"]
)
def test_without_a_deadline_the_outcomes_are_the_same(kind: str, servers: Any) -> None:
    fault = next(f for f in FAULTS if f.kind == kind)
    OTHER["server"] = servers(send(OK))
    server = servers(fault.handler)
    options: Dict[str, Any] = {"backoff": 0.01, "retries": 0, **fault.settings, "deadline": None}
    with opi_bitrix24.settings(**options):
        if isinstance(fault.outcome, type):
            with pytest.raises(fault.outcome):
                _call(fault, server)
        else:
            assert _call(fault, server) == fault.outcome
    assert len(server.requests) == fault.requests
    assert OTHER["server"].requests == []


def test_the_malformed_header_warning_is_logged_and_redacted(servers: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    server = servers(send(answer("200 OK", b'{"result": "ok"}', "Bad Header Without Colon"), close=True))
    assert _core.get("server.time", f"{server.base}/rest/1/{KEY}/", "") == {"result": "ok"}
    assert _core.get("server.time", server.base, TOKEN) == {"result": "ok"}
    warnings = [r for r in caplog.records if "Failed to parse headers" in r.getMessage()]
    assert len(warnings) == 2
    assert "/rest/1/***/" in caplog.text and "auth=***" in caplog.text
    _no_secrets(caplog.text)


def test_the_echo_is_redacted_in_every_spelling(servers: Any) -> None:
    server = servers(send(answer("500 Internal Server Error", ECHO)))
    with pytest.raises(UnexpectedResponse) as raised:
        _core.post("tasks.task.add", server.base, TOKEN, fields={"TITLE": "t"})
    assert raised.value.status == 500
    assert raised.value.snippet.startswith("<html>500: /rest/1/***/server.time failed; json: \\/rest\\/1\\/***\\/")
    with pytest.raises(UnexpectedResponse) as raised:
        _core.post("tasks.task.add", f"{server.base}/rest/1/{KEY}/", "", fields={"TITLE": "t"})
    assert "%2Frest%2F1%2F***%2F" in raised.value.snippet
    assert KEY not in raised.value.snippet


CLI_CASES = [
    ("connection refused", EXIT_ERROR),
    ("cross-origin redirect of a GET", EXIT_ERROR),
    ("NaN in the answer", EXIT_ERROR),
    ("lone surrogate in the answer", EXIT_OK),
    ("empty body on 200", EXIT_OK),
    ("body trickles one byte at a time", EXIT_ERROR),
    ("500 page echoing the key and token", EXIT_ERROR),
    ("gzip bomb", EXIT_ERROR),
]


@pytest.mark.parametrize(("kind", "code"), CLI_CASES, ids=[kind for kind, _ in CLI_CASES])
def test_fault_through_the_cli(kind: str, code: int, servers: Any, capsys: Any) -> None:
    fault = next(f for f in FAULTS if f.kind == kind)
    OTHER["server"] = servers(send(OK))
    server = servers(fault.handler)
    if kind == "connection refused":
        server.close()
    options = {"retries": 0, "deadline": 2, "max_answer_bytes": 1024 * 1024}
    logger = logging.getLogger("opi_bitrix24")
    handlers, level = list(logger.handlers), logger.level
    try:
        with opi_bitrix24.settings(**options):  # type: ignore[arg-type]
            where = (
                ["--url", server.base, "--token", TOKEN]
                if fault.mode == "token"
                else ["--url", f"{server.base}/rest/1/{KEY}/"]
            )
            got = main(["ServerTime", *where, "--debug"])
    finally:  # --debug adds a stderr handler for the process; this test runs main() in-process
        logger.handlers[:] = handlers
        logger.setLevel(level)
    out, err = capsys.readouterr()
    assert got == code
    _no_secrets(out + err)
    if code == EXIT_OK:
        json.loads(out)
        out.encode("utf-8")
    else:
        assert out == ""
        assert len([line for line in err.splitlines() if line.startswith("opi-bitrix24: error:")]) == 1
    assert OTHER["server"].requests == []


def test_sources_setting_restricts_paths_and_urls(servers: Any, tmp_path: Path) -> None:
    from opi_bitrix24 import _convert
    from opi_bitrix24._errors import InvalidArgument

    server = servers(send(answer("200 OK", b'{"ID": 1}')))
    path = tmp_path / "filter.json"
    path.write_text('{"ID": 2}', encoding="utf-8")
    url = f"{server.base}/filter.json"
    assert _convert.collection(url, "filter") == {"ID": 1}
    assert _convert.collection(str(path), "filter") == {"ID": 2}
    with opi_bitrix24.settings(sources="files"):
        assert _convert.collection(str(path), "filter") == {"ID": 2}
        with pytest.raises(InvalidArgument):  # the URL is just text now, and not a structure
            _convert.collection(url, "filter")
        with pytest.raises(InvalidArgument):
            _core.fetch(url, "file")
    with opi_bitrix24.settings(sources="none"):
        with pytest.raises(InvalidArgument):
            _convert.collection(str(path), "filter")
        assert _convert.collection(path, "filter") == {"ID": 2}  # a Path object is not text
        with pytest.raises(InvalidArgument):
            _convert.binary(str(path), "file")
    assert len(server.requests) == 1  # only the unrestricted fetch


def test_url_fetch_carries_no_portal_credentials_and_refuses_redirects(servers: Any) -> None:
    OTHER["server"] = servers(send(OK))
    server = servers(redirect_to(other("/file")))
    with pytest.raises(RedirectRefused):
        _core.fetch(f"{server.base}/file?x=1", "file")
    assert OTHER["server"].requests == []
    plain = servers(send(answer("200 OK", b"data")))
    assert _core.fetch(f"{plain.base}/f", "file") == b"data"
    _, path, body = plain.requests[0]
    assert path == "/f" and body == b""


def test_cli_takes_the_url_and_token_from_the_environment_or_a_file(
    servers: Any, capsys: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    server = servers(send(OK))
    monkeypatch.setenv("OPI_B24_URL", server.base)
    monkeypatch.setenv("OPI_B24_TOKEN", TOKEN)
    assert main(["ServerTime"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"result": "ok"}
    assert server.requests[-1][:2] == ("GET", f"/rest/server.time?auth={TOKEN}")
    token_file = tmp_path / "token"
    token_file.write_text("FILETOKEN99\n", encoding="utf-8")
    monkeypatch.delenv("OPI_B24_TOKEN")
    assert main(["ServerTime", "--token-file", str(token_file)]) == EXIT_OK
    assert server.requests[-1][:2] == ("GET", "/rest/server.time?auth=FILETOKEN99")
    monkeypatch.setenv("OPI_B24_URL", f"{server.base}/rest/1/{KEY}/")
    assert main(["ServerTime"]) == EXIT_OK
    assert server.requests[-1][:2] == ("GET", f"/rest/1/{KEY}/server.time")
    assert main(["ServerTime", "--url", f"{server.base}/rest/7/OTHERKEY1/"]) == EXIT_OK  # the command line wins
    assert server.requests[-1][1] == "/rest/7/OTHERKEY1/server.time"
    capsys.readouterr()
    assert main(["ServerTime", "--token", "x", "--token-file", str(token_file)]) == 2
    assert main(["ServerTime", "--token-file", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "not both" in err and "--token-file: cannot read" in err and "FILETOKEN99" not in err
    monkeypatch.delenv("OPI_B24_URL")
    assert main(["ServerTime"]) == 2
    assert len(server.requests) == 4
    assert main(["--help"]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "$OPI_B24_URL" in shown and "$OPI_B24_TOKEN" in shown and "--token-file" in shown


def table() -> str:
    rows = ["| Fault | Call | Outcome | Requests received |", "|---|---|---|---|"]
    for fault in FAULTS:
        rows.append(f"| {fault.kind} | {fault.verb} | {fault.text} | {fault.requests} |")
    return "\n".join(rows) + "\n"


def test_the_docs_fault_table_is_this_suite() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "guides" / "reliability-security.md"
    assert table() in page.read_text(encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--table"]:
    sys.stdout.write(table())
