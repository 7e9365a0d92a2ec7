"""The async driver (opi_bitrix24._async) performs each effect of a sans-IO flow, against a raw loopback server.

The flows here are small hand-written generators: what the driver must do with each effect (the bytes it
sends, what it reads, how it fails, how a cancellation leaves the connection, the locks and the flow) is
shown without the request core's own flows.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import gzip
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Generator, List, Optional, Tuple

import pytest

pytest.importorskip("aiohttp")

from opi_bitrix24 import _async, _stream
from opi_bitrix24._flow import Acquire, Do, Exchange, Failure, Parallel, Release, Reply, Send, Wait

SECRET = "s3cretWebhookKey99"


class RawServer:
    """A loopback server seeing raw bytes: records each request as sent and each connection's end.

    ``answer(head, body, conn)`` returns the raw answer bytes, or None after handling the socket itself.
    """

    def __init__(self, answer: Optional[Callable[[bytes, bytes, socket.socket], Optional[bytes]]] = None) -> None:
        self.requests: List[Tuple[bytes, bytes]] = []
        self.closed = threading.Event()
        self.ended = 0
        self.answer = answer or (lambda head, body, conn: ok(b'{"result":true}'))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                chunked = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    if name.strip().lower() == b"transfer-encoding":
                        chunked = True
                if chunked:  # recorded as it came; the tests that stream check it is not chunked
                    while not buffer.endswith(b"0\r\n\r\n"):
                        data = conn.recv(65536)
                        if not data:
                            return
                        buffer += data
                    body, buffer = buffer, b""
                else:
                    while len(buffer) < length:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buffer += data
                    body, buffer = buffer[:length], buffer[length:]
                self.requests.append((head + b"\r\n\r\n", body))
                answer = self.answer(head, body, conn)
                if answer is None:
                    return
                conn.sendall(answer)
        except OSError:
            pass
        finally:
            self.ended += 1
            self.closed.set()
            conn.close()

    def close(self) -> None:
        self.sock.close()


def ok(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def stall(head: bytes, body: bytes, conn: socket.socket) -> None:
    """Headers and part of the body, then nothing until the client hangs up."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{")
    conn.settimeout(10)
    try:
        while conn.recv(1024):
            pass
    except OSError:
        pass


@pytest.fixture
def server() -> Any:
    made = RawServer()
    yield made
    made.close()


def send(url: str, body: Any = None, verb: str = "POST", **changes: Any) -> Send:
    fields: Dict[str, Any] = {
        "verb": verb,
        "url": url,
        "body": body,
        "headers": {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
        if body is not None
        else {"Accept": "application/json"},
        "timeout": (5.0, 5.0),
        "deadline_at": None,
        "max_bytes": 2**20,
        "skip_body": frozenset({301, 302, 303, 307, 308}),
        "verify": True,
        "proxies": None,
    }
    fields.update(changes)
    return Send(**fields)


def one(effect: Any) -> Generator[Any, Any, Any]:
    """A flow of one effect: returns what the driver sent back."""
    answer = yield effect
    return answer


def run(coroutine: Any) -> Any:
    async def main() -> Any:
        try:
            return await coroutine
        finally:
            await _async.aclose()

    return asyncio.run(main())


# --- Send ---------------------------------------------------------------------------------------------


def test_send_writes_exactly_our_bytes_and_headers(server: RawServer) -> None:
    body = '{"TITLE":"Привет","ID":[1,2]}'.encode()
    url = f"{server.base}/rest/1/{SECRET}/crm.deal.add?x=%5B1%2C2%5D&y=a%20b"
    reply = run(_async.arun(one(send(url, body))))
    assert reply == Reply(200, reply.headers, b'{"result":true}', False)
    head, sent = server.requests[0]
    lines = head.decode().split("\r\n")
    # the URL as written (never re-quoted), requests' header set and order, our body byte for byte
    assert lines[0] == f"POST /rest/1/{SECRET}/crm.deal.add?x=%5B1%2C2%5D&y=a%20b HTTP/1.1"
    from opi_bitrix24 import __version__

    assert lines[1:-2] == [
        f"Host: 127.0.0.1:{server.port}",
        f"User-Agent: opi-bitrix24/{__version__}",
        "Accept-Encoding: gzip, deflate",
        "Accept: application/json",
        "Connection: keep-alive",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
    ]
    assert sent == body
    assert reply.headers["content-type"] == "application/json"  # case-insensitive


def test_get_without_body_and_post_without_body(server: RawServer) -> None:
    async def both() -> None:
        await _async.arun(one(send(f"{server.base}/a", verb="GET")))
        await _async.arun(one(send(f"{server.base}/b", verb="POST")))

    run(both())
    get_head = server.requests[0][0].decode()
    post_head = server.requests[1][0].decode()
    assert "content-length" not in get_head.lower() and "content-type" not in get_head.lower()
    assert "Content-Length: 0\r\n" in post_head and "content-type" not in post_head.lower()


def test_streamed_body_is_read_off_the_loop_thread_with_our_length(server: RawServer) -> None:
    readers: List[str] = []

    class Tracked(_stream.StreamedBody):
        def __iter__(self) -> Any:
            for chunk in super().__iter__():
                readers.append(threading.current_thread().name)
                yield chunk

    body = Tracked([b"--b\r\n", b"x" * 100000, b"\r\n--b--\r\n"])
    loop_thread: List[str] = []

    async def go() -> Any:
        loop_thread.append(threading.current_thread().name)
        return await _async.arun(one(send(f"{server.base}/up", body, headers={"Content-Type": "multipart/form-data"})))

    assert run(go()).status == 200
    head, sent = server.requests[0]
    assert sent == b"--b\r\n" + b"x" * 100000 + b"\r\n--b--\r\n"
    assert f"Content-Length: {len(body)}\r\n".encode() in head and b"chunked" not in head.lower()
    assert readers and loop_thread[0] not in readers


def test_redirect_is_not_followed_and_its_body_not_read(server: RawServer) -> None:
    server.answer = lambda head, body, conn: (
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 100000\r\n\r\n" + b"z" * 10
    )
    reply = run(_async.arun(one(send(f"{server.base}/rest/1/{SECRET}/x", b"{}"))))
    assert (reply.status, reply.headers["Location"], reply.content) == (302, "/elsewhere", b"")
    assert len(server.requests) == 1
    assert server.closed.wait(2)  # dropped with its unread body, not kept for the next request


def test_gzip_answer_is_decoded_and_a_bomb_stopped_at_the_cap(server: RawServer) -> None:
    small = gzip.compress(b'{"result":"' + b"a" * 5000 + b'"}')
    bomb = gzip.compress(b"0" * (64 * 2**20), 9)
    answers = [ok(small, extra=b"Content-Encoding: gzip\r\n"), ok(bomb, extra=b"Content-Encoding: gzip\r\n")]
    server.answer = lambda head, body, conn: answers.pop(0)

    async def both() -> Tuple[Any, Any]:
        first = await _async.arun(one(send(f"{server.base}/a", verb="GET")))
        second = await _async.arun(one(send(f"{server.base}/b", verb="GET", max_bytes=2**20)))
        return first, second

    first, second = run(both())
    assert first.content == b'{"result":"' + b"a" * 5000 + b'"}'
    assert second == Failure("too_large", True, second.detail, 200)
    assert "1048576" in second.detail


def test_plain_answer_over_the_cap(server: RawServer) -> None:
    server.answer = lambda head, body, conn: ok(b"x" * 5000)
    assert run(_async.arun(one(send(server.base, verb="GET", max_bytes=4999)))).kind == "too_large"
    assert run(_async.arun(one(send(server.base, verb="GET", max_bytes=5000)))).content == b"x" * 5000


def test_cut_answer_and_cut_body(server: RawServer) -> None:
    answers = [b"HTTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"]

    def answer(head: bytes, body: bytes, conn: socket.socket) -> None:
        conn.sendall(answers.pop(0))
        conn.shutdown(socket.SHUT_WR)

    server.answer = answer
    empty = run(_async.arun(one(send(server.base, verb="GET"))))
    assert (empty.status, empty.content, empty.cut) == (200, b"", True)
    broken = run(_async.arun(one(send(server.base, verb="GET"))))
    assert (broken.kind, broken.left) == ("connection", True)
    assert broken.detail == "the connection closed before the answer was complete"


def test_refused_connection_never_left() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    failure = run(_async.arun(one(send(f"http://127.0.0.1:{port}/rest/1/{SECRET}/x", b"{}"))))
    assert (failure.kind, failure.left) == ("connect", False)
    # worded as the blocking driver words it (the flow shows it in the TransportError)
    assert failure.detail == f"[Errno {errno.ECONNREFUSED}] {os.strerror(errno.ECONNREFUSED)}"


def test_read_timeout_and_deadline(server: RawServer) -> None:
    server.answer = stall
    started = time.monotonic()
    failure = run(_async.arun(one(send(server.base, verb="GET", timeout=(5.0, 0.3)))))
    assert (failure.kind, failure.left, failure.detail) == ("read_timeout", True, "timed out")
    assert time.monotonic() - started < 3
    started = time.monotonic()
    failure = run(_async.arun(one(send(server.base, verb="GET", deadline_at=time.monotonic() + 0.4))))
    took = time.monotonic() - started
    assert (failure.kind, failure.left) == ("deadline", True)
    assert 0.3 < took < 2.5, took
    late = run(_async.arun(one(send(server.base, verb="GET", deadline_at=time.monotonic() - 1))))
    assert (late.kind, late.left) == ("deadline", False)


def test_tls_failure_is_tls() -> None:
    trustme = pytest.importorskip("trustme")
    import ssl

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            pass
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    failure = run(_async.arun(one(send(f"https://127.0.0.1:{port}/x", verb="GET"))))
    listener.close()
    assert failure.kind == "tls"
    assert failure.detail.startswith("certificate verify failed")


def test_verify_with_a_ca_bundle(tmp_path: Any) -> None:
    trustme = pytest.importorskip("trustme")
    import ssl

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        tls = context.wrap_socket(conn, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            data += tls.recv(4096)
        tls.sendall(ok(b'{"result":1}'))
        tls.close()

    threading.Thread(target=serve, daemon=True).start()
    reply = run(_async.arun(one(send(f"https://127.0.0.1:{port}/x", verb="GET", verify=str(bundle)))))
    listener.close()
    assert (reply.status, reply.content) == (200, b'{"result":1}')


# --- cancellation -------------------------------------------------------------------------------------


def test_cancelled_request_closes_its_connection_and_runs_the_flows_finally(server: RawServer) -> None:
    server.answer = stall
    events: List[str] = []

    def flow() -> Generator[Any, Any, Any]:
        taken = yield Acquire("app", 1.0)
        assert taken
        try:
            yield send(server.base, verb="GET")
        except BaseException as exc:
            events.append(type(exc).__name__)
            yield Do(events.append, ("refunded",))  # a clean-up effect is still performed
            raise
        finally:
            events.append("finally")

    async def go() -> bool:
        task = asyncio.ensure_future(_async.arun(flow()))
        while not server.requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the lock the flow held (it never released it) is free again
        return await _async.arun(one(Acquire("app", 0.1)))

    assert run(go()) is True
    assert events == ["CancelledError", "refunded", "finally"]
    assert server.closed.wait(2), "the server never saw the connection closed"


def test_a_flow_that_swallows_the_cancellation_is_still_cancelled(server: RawServer) -> None:
    server.answer = stall

    def flow() -> Generator[Any, Any, Any]:
        try:
            yield send(server.base, verb="GET")
        except asyncio.CancelledError:
            return "swallowed"

    async def go() -> None:
        task = asyncio.ensure_future(_async.arun(flow()))
        while not server.requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(go())


def test_wait_for_timeout_around_arun_leaves_nothing(server: RawServer) -> None:
    server.answer = stall

    async def go() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(_async.arun(one(send(server.base, verb="GET"))), 0.3)

    run(go())
    assert server.closed.wait(2)


# --- the other effects --------------------------------------------------------------------------------


def test_effect_exception_is_thrown_into_the_flow() -> None:
    def boom() -> None:
        raise KeyError("x")

    def flow() -> Generator[Any, Any, Any]:
        try:
            yield Do(boom)
        except KeyError:
            return "caught"
        return "not thrown"

    assert run(_async.arun(flow())) == "caught"


def test_wait_sleeps() -> None:
    started = time.monotonic()
    run(_async.arun(one(Wait(0.2, "test"))))
    assert time.monotonic() - started >= 0.19


def test_do_inline_for_memory_and_in_a_thread_for_shared_stores(tmp_path: Any) -> None:
    from opi_bitrix24 import settings

    where: List[bool] = []
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="")

    def note() -> str:
        where.append(threading.current_thread() is threading.main_thread())
        return marker.get()

    async def go() -> List[str]:
        marker.set("seen")
        first = await _async.arun(one(Do(note)))
        with settings(state=f"sqlite:///{tmp_path / 'state.db'}"):
            second = await _async.arun(one(Do(note)))
        return [first, second]

    assert run(go()) == ["seen", "seen"]  # the context reaches the worker thread
    assert where == [True, False]


def test_acquire_times_out_then_is_taken_after_release() -> None:
    async def go() -> List[Any]:
        holder_in = asyncio.Event()
        let_go = asyncio.Event()

        def holder() -> Generator[Any, Any, Any]:
            yield Acquire(("app", 1), None)
            yield Do(holder_in.set)
            yield Wait(0.3, "hold")
            yield Release(("app", 1))
            return "released"

        first = asyncio.ensure_future(_async.arun(holder()))
        await holder_in.wait()
        timed_out = await _async.arun(one(Acquire(("app", 1), 0.05)))
        waited = await _async.arun(one(Acquire(("app", 1), 5.0)))  # taken once the holder releases it
        let_go.set()
        return [timed_out, waited, await first]

    assert run(go()) == [False, True, "released"]


def test_parallel_runs_at_most_concurrency_and_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from opi_bitrix24 import _flow, settings

    running = [0]
    peak = [0]

    def fake_exchange(verb: str, api_method: str, url: Any, token: Any, fields: Any) -> Generator[Any, Any, Any]:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        try:
            yield Wait(0.02 * (5 - int(fields["n"]) % 5), "vary the finishing order")
            if fields["n"] == 3:
                raise ValueError("three")
            return 200, {"result": fields["n"]}
        finally:
            running[0] -= 1

    monkeypatch.setattr(_flow, "exchange", fake_exchange, raising=False)
    exchanges = tuple(Exchange("POST", "m", "https://x.example/rest/1/k/", "", {"n": n}) for n in range(10))

    async def go() -> Any:
        with settings(concurrency=3):
            return await _async.arun(one(Parallel(exchanges)))

    results = run(go())
    assert peak[0] == 3
    assert [r if isinstance(r, tuple) else repr(r) for r in results] == [
        (200, {"result": n}) if n != 3 else "ValueError('three')" for n in range(10)
    ]


# --- import cost and logs -----------------------------------------------------------------------------


def test_importing_the_package_or_the_driver_does_not_import_aiohttp() -> None:
    code = "import sys, opi_bitrix24, opi_bitrix24._async; print('aiohttp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_async_librarys_loggers_get_our_redaction(server: RawServer, caplog: pytest.LogCaptureFixture) -> None:
    run(_async.arun(one(send(f"{server.base}/rest/1/{SECRET}/x", b"{}"))))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("aiohttp.client").debug("request to %s", f"{server.base}/rest/1/{SECRET}/x")
        logging.getLogger("asyncio").warning("Unclosed connection to %s?auth=tok3nvalue1", server.base)
    assert caplog.records
    assert SECRET not in caplog.text and "tok3nvalue1" not in caplog.text


def test_the_library_benchmark_runs() -> None:
    """benchmarks/async_client.py (the library choice) works: a tiny run, or its skip without httpx."""
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "async_client.py"
    done = subprocess.run(
        [sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if done.stdout.startswith("skipped:"):
        assert "httpx" in done.stdout
        return
    lines = done.stdout.splitlines()
    assert "| measure | httpx | aiohttp | aiohttp / httpx |" in lines
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in lines if line.startswith("| ")}
    assert rows["redirect not followed"] == ["yes", "yes |"]
    assert rows["its loggers write the URL with the key"][1] == "no |"


def test_cookies_go_back_to_their_origin_only(server: RawServer) -> None:
    other = RawServer()
    answers = [ok(b"{}", extra=b"Set-Cookie: sid=A1; Path=/\r\n"), ok(b"{}")]
    server.answer = lambda head, body, conn: answers.pop(0)

    async def go() -> None:
        await _async.arun(one(send(f"{server.base}/a", verb="GET")))
        await _async.arun(one(send(f"{other.base}/b", verb="GET")))  # the same host, another port
        await _async.arun(one(send(f"{server.base}/c", verb="GET")))

    run(go())
    other.close()
    assert b"cookie" not in other.requests[0][0].lower()
    assert b"\r\nCookie: sid=A1\r\n" in server.requests[1][0]


def test_proxies_from_the_setting_and_the_environment(server: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain-HTTP proxy gets the request in absolute form: from Send.proxies, else from $HTTP_PROXY
    (``NO_PROXY`` honoured), as requests does."""
    target = "http://portal.invalid/rest/1/k3y/server.time"

    async def go() -> None:
        await _async.arun(one(send(target, verb="GET", proxies={"http": server.base})))
        monkeypatch.setenv("HTTP_PROXY", server.base)
        await _async.arun(one(send(target, verb="GET")))
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        direct = f"http://127.0.0.1:{closed.getsockname()[1]}/rest/1/k3y/server.time"
        closed.close()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        failure = await _async.arun(one(send(direct, verb="GET")))  # not through the proxy: refused there
        assert failure.kind == "connect"

    run(go())
    lines = [head.split(b"\r\n")[0] for head, _ in server.requests]
    assert lines == [f"GET {target} HTTP/1.1".encode()] * 2
