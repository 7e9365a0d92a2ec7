"""The async surface (opi_bitrix24.AsyncPortal): the same requests, answers, errors and settings as the sync path.

- every requesting function, with the arguments of its first conformance case, puts on the wire through
  AsyncPortal exactly what the sync function puts there (request line, headers, body) and returns the same;
- the Russian names work, with OPI's Russian parameter names and Russian errors;
- bad input raises InvalidArgument before anything is sent; error answers are returned as OPI does;
- secrets stay out of exceptions and every logger (aiohttp's and asyncio's included);
- cancellation leaves no open connection and no bucket slot; the deadline holds; settings stay per portal;
- a file argument is read in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import pytest

pytest.importorskip("aiohttp")

import opi_bitrix24
from opi_bitrix24 import AsyncPortal, Portal, _async
from opi_bitrix24._table import Method, methods
from opi_bitrix24_conformance.runner.cases import environment, expand, load_cases

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cretWebhookKey99"


def run(coroutine: Awaitable[Any]) -> Any:
    async def main() -> Any:
        try:
            return await coroutine
        finally:
            await _async.aclose()

    return asyncio.run(main())


def _binds(method: Method) -> bool:
    names = [p.python for p in method.params]
    return "url" in names and "token" in names


# --- the surface ------------------------------------------------------------------------------------


def test_async_portal_has_every_method_of_portal_as_a_coroutine() -> None:
    table = methods()
    for m in table:
        for name in (m.python, m.ru):
            sync, made = getattr(Portal, name), getattr(AsyncPortal, name)
            assert inspect.iscoroutinefunction(made), name
            assert inspect.signature(made) == inspect.signature(sync), name
            assert (made.__doc__ or "").splitlines()[0] == (sync.__doc__ or "").splitlines()[0]


def test_async_portal_is_exported_lazily_and_imports_no_async_library() -> None:
    code = (
        "import sys, opi_bitrix24\n"
        "assert 'opi_bitrix24._aportal' not in sys.modules\n"
        "p = opi_bitrix24.AsyncPortal('https://b24.example/rest/1/key/')\n"
        "assert 'opi_bitrix24._aportal' in sys.modules\n"
        "print('aiohttp' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "False"
    assert "AsyncPortal" in opi_bitrix24.__all__


def test_repr_shows_no_webhook_key_and_a_misspelt_setting_fails_at_once() -> None:
    shown = repr(AsyncPortal(f"https://b24.example/rest/1/{SECRET}/", "t0kenValue", timeout=5))
    assert shown == "AsyncPortal(https://b24.example, settings=['timeout'])"
    with pytest.raises(TypeError, match="did you mean timeout"):
        AsyncPortal("https://b24.example/rest/1/key/", timout=5)  # type: ignore[call-arg]


# --- on the wire: the same as the sync function ------------------------------------------------------


def _first_case_args() -> Dict[str, Dict[str, Any]]:
    first: Dict[str, Dict[str, Any]] = {}
    for case in load_cases():
        if case.via is None and not case.env:
            first.setdefault(case.method, case.args)
    return first


ARGS = _first_case_args()
REQUESTING = [m for m in methods() if _binds(m) and m.name in ARGS]


def _seen(portal: Any) -> List[Tuple[str, str, str, bytes, Dict[str, str]]]:
    out = []
    for request in portal.requests:
        body = request["body"]
        headers = dict(request["headers"])
        boundary = re.search(r"boundary=([^;\s]+)", headers.get("content-type", ""))
        if boundary:  # a random multipart boundary is not a difference
            body = body.replace(boundary.group(1).encode(), b"BOUNDARY")
            headers["content-type"] = headers["content-type"].replace(boundary.group(1), "BOUNDARY")
        out.append((request["method"], request["path"], request["query"], body, headers))
    portal.requests.clear()
    return out


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("returned", call())
    except opi_bitrix24.OPIError as exc:
        return ("raised", type(exc).__name__, str(exc))


async def _aoutcome(call: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return ("returned", await call())
    except opi_bitrix24.OPIError as exc:
        return ("raised", type(exc).__name__, str(exc))


def test_every_requesting_function_has_a_case_to_compare_with() -> None:
    assert len(REQUESTING) >= 160


def test_async_portal_sends_and_returns_what_the_function_does(portal: Any) -> None:
    env = environment("http", f"127.0.0.1:{portal.port}", SECRET, "T0KEN")
    plans = []
    for method in REQUESTING:
        args = expand(ARGS[method.name], env)
        kwargs: Dict[str, Any] = {}
        for option, value in args.items():
            param = method.param_by_cli(option)
            assert param is not None, option
            kwargs[param.python] = value
        url, token = kwargs.pop("url"), kwargs.pop("token", "")
        portal.handler = lambda seen: (200, {"Content-Type": "application/json"}, b'{"result":{"ID":7}}')
        by_function = _outcome(lambda: method.func(url=url, token=token, **kwargs))  # noqa: B023
        plans.append((method, url, token, kwargs, by_function, _seen(portal)))

    async def through_async() -> List[Any]:
        found = []
        for method, url, token, kwargs, _, _ in plans:
            async with AsyncPortal(url, token) as made:
                english = await _aoutcome(lambda: getattr(made, method.python)(**kwargs))  # noqa: B023
                sent = _seen(portal)
                ru = {method.param_by_python(n).ru: v for n, v in kwargs.items()}  # type: ignore[union-attr]
                russian = await _aoutcome(lambda: getattr(made, method.ru)(**ru))  # noqa: B023
                found.append((english, sent, russian, _seen(portal)))
        return found

    found = run(through_async())
    for (method, _, _, _, by_function, sent_by_function), (english, sent, russian, sent_ru) in zip(plans, found):
        assert sent_by_function, f"{method.name}: the function sent nothing"
        assert sent == sent_by_function, method.name
        assert sent_ru == sent_by_function, method.name
        assert english == by_function == russian, method.name


def test_functions_that_send_nothing_and_the_two_step_upload(portal: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"payload " * 1000)

    def answer(seen: Dict[str, Any]) -> Tuple[int, Dict[str, str], bytes]:
        if seen["path"].endswith("disk.folder.uploadFile"):
            upload = f'{{"result":{{"field":"file","uploadUrl":"{portal.base}/upload/here?x=1"}}}}'
            return 200, {"Content-Type": "application/json"}, upload.encode()
        return 200, {"Content-Type": "application/json"}, b'{"result":{"ID":9}}'

    portal.handler = answer
    sync = Portal(portal.webhook)
    expected = (sync.upload_file_to_folder("r.txt", str(path), 5), sync.get_chat_structure(True))
    sent_by_sync = _seen(portal)

    async def go() -> Any:
        async with AsyncPortal(portal.webhook) as made:
            return (
                await made.upload_file_to_folder("r.txt", str(path), 5),
                await made.ПолучитьСтруктуруЧата(Пустая=True),
            )

    assert run(go()) == expected
    assert _seen(portal) == sent_by_sync
    assert [request[1] for request in sent_by_sync] == [f"/rest/1/{SECRET}/disk.folder.uploadFile", "/upload/here"]


# --- errors ---------------------------------------------------------------------------------------------


def test_error_answers_are_returned_as_opi_does(portal: Any) -> None:
    error = {"error": "ERROR_CORE", "error_description": "Task not found"}
    portal.reply(400, error)
    assert run(AsyncPortal(portal.webhook).get_task(5)) == error


def test_bad_input_raises_before_anything_is_sent(portal: Any) -> None:
    made = AsyncPortal(portal.webhook)
    with pytest.raises(opi_bitrix24.InvalidArgument, match="fields_structure") as english:
        run(made.create_task("{not json"))
    with pytest.raises(opi_bitrix24.InvalidArgument) as russian:
        run(made.СоздатьЗадачу("{not json"))
    with pytest.raises(opi_bitrix24.InvalidArgument) as sync_english:
        opi_bitrix24.create_task(portal.webhook, "{not json")
    with pytest.raises(opi_bitrix24.InvalidArgument) as sync_russian:
        opi_bitrix24.СоздатьЗадачу(portal.webhook, "{not json")
    assert str(english.value) == str(sync_english.value)
    assert str(russian.value) == str(sync_russian.value)
    assert str(russian.value).startswith("СтруктураПолей: ")
    with pytest.raises(opi_bitrix24.InvalidArgument, match="url"):
        run(AsyncPortal("   ").get_users([1]))
    assert portal.requests == []


def test_secrets_stay_out_of_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}/rest/1/{SECRET}/"
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(opi_bitrix24.TransportError) as failed:
            run(AsyncPortal(url, retries=0).get_users([1]))
        with pytest.raises(opi_bitrix24.TransportError):
            run(AsyncPortal(f"http://127.0.0.1:{port}", "t0kenS3cretValue", retries=0).get_users([1]))
    assert SECRET not in str(failed.value) and "127.0.0.1" in str(failed.value)
    text = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert SECRET not in text and "t0kenS3cretValue" not in text


# --- cancellation, deadline, settings -----------------------------------------------------------------


class Stalling:
    """A server that reads a request, answers part of the headers' promise, then waits for the hang-up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.arrived = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(4096)
            if not piece:
                return
            data += piece
        self.arrived.set()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        conn.settimeout(20)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        self.closed.set()
        conn.close()

    def close(self) -> None:
        self.sock.close()


def test_cancelled_call_closes_its_connection() -> None:
    server = Stalling()

    async def go() -> None:
        made = AsyncPortal(f"http://127.0.0.1:{server.port}/rest/1/{SECRET}/")
        task = asyncio.ensure_future(made.get_users([1]))
        while not server.arrived.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(go())
    assert server.closed.wait(3), "the connection of the cancelled call stayed open"
    server.close()


def test_the_deadline_holds() -> None:
    server = Stalling()
    started = time.monotonic()
    with pytest.raises(opi_bitrix24.DeadlineExceeded):
        run(AsyncPortal(f"http://127.0.0.1:{server.port}/rest/1/{SECRET}/", deadline=0.5).get_users([1]))
    assert time.monotonic() - started < 2.5
    assert server.closed.wait(3)
    server.close()


def test_cancelled_wait_for_the_bucket_gives_its_slot_back(portal: Any) -> None:
    from opi_bitrix24 import _limits, _state

    origin = _state.origin(portal.webhook)

    async def go() -> float:
        made = AsyncPortal(portal.webhook, rate_limit=(0.5, 1))
        await made.get_users([1])  # takes the only slot of the burst
        task = asyncio.ensure_future(made.get_users([2]))  # waits ~2 s for the next one
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the cancelled call's slot was refunded: the next take waits for one slot, not two
        return float(_limits.take(origin, 0.5, 1))

    _limits.reset()
    wait = run(go())
    assert len(portal.requests) == 1
    assert 1.0 < wait <= 2.0, wait
    _limits.reset()


def test_settings_are_per_portal_even_at_once_on_one_loop(portal: Any) -> None:
    error = {"error": "ERROR_CORE", "error_description": "no"}
    portal.handler = lambda seen: (
        400,
        {"Content-Type": "application/json"},
        b'{"error":"ERROR_CORE","error_description":"no"}',
    )

    async def go() -> List[Any]:
        strict = AsyncPortal(portal.webhook, raise_api_errors=True)
        lenient = AsyncPortal(portal.webhook)
        return await asyncio.gather(strict.get_task(1), lenient.get_task(1), return_exceptions=True)

    strict, lenient = run(go())
    assert isinstance(strict, opi_bitrix24.APIError)
    assert lenient == error
    assert opi_bitrix24.current_settings().raise_api_errors is False


def test_a_file_argument_is_read_off_the_event_loop(portal: Any, tmp_path: Path) -> None:
    from opi_bitrix24 import _stream

    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG" + b"\0" * 5000)
    opened: List[bool] = []
    original = _stream.FileSource.open.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, where: str, name: str) -> Any:
        opened.append(threading.current_thread() is threading.main_thread())
        return original(cls, where, name)

    sync = Portal(portal.webhook).upload_file_to_storage("a.png", str(path), 3)
    sent_by_sync = _seen(portal)
    _stream.FileSource.open = classmethod(spy)  # type: ignore[method-assign, assignment]
    try:
        made = run(AsyncPortal(portal.webhook).upload_file_to_storage("a.png", str(path), 3))
    finally:
        _stream.FileSource.open = classmethod(original)  # type: ignore[method-assign, assignment]
    assert made == sync
    assert _seen(portal) == sent_by_sync
    assert opened == [False]


def test_async_with_closes_the_loops_client(portal: Any) -> None:
    async def go() -> Tuple[bool, bool]:
        async with AsyncPortal(portal.webhook) as first, AsyncPortal(portal.webhook) as second:
            await first.get_users([1])
            await second.get_users([2])
        loop = asyncio.get_running_loop()
        closed_after = loop not in _async._clients
        return closed_after, True

    assert run(go()) == (True, True)


def test_a_function_that_reworks_the_answer_gets_the_real_one(portal: Any) -> None:
    fields = {
        "result": {
            "ID": {"TYPE": "integer", "USE_IN_FILTER": True},
            "NAME": {"TYPE": "string", "USE_IN_FILTER": True},
            "SIZE": {"TYPE": "integer", "USE_IN_FILTER": False},
        }
    }
    portal.reply(200, fields)
    portal.reply(200, fields)
    sync = Portal(portal.webhook).get_folder_filter_structure()
    made = run(AsyncPortal(portal.webhook).get_folder_filter_structure())
    assert made == sync == {"ID": "integer", "NAME": "string"}
    assert [r["path"] for r in portal.requests] == [f"/rest/1/{SECRET}/disk.folder.getfields"] * 2  # one each


def test_cancelled_while_connecting_gives_the_bucket_slot_back(portal: Any) -> None:
    """A TLS handshake that never ends: the request never leaves; cancelled there, its slot is refunded."""
    from opi_bitrix24 import _limits, _state

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: List[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/rest/1/{SECRET}/"
    origin = _state.origin(url)

    async def go() -> float:
        task = asyncio.ensure_future(AsyncPortal(url, rate_limit=(0.5, 1)).get_users([1]))
        while not held:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return float(_limits.take(origin, 0.5, 1))  # the refunded slot: room at once

    _limits.reset()
    try:
        assert run(go()) == 0.0
    finally:
        _limits.reset()
        listener.close()
        for sock in held:
            sock.close()


def test_concurrent_calls_on_one_loop_share_one_refresh(portal: Any) -> None:
    """Eight calls meet expired_token together: one token request (the asyncio lock coalesces), eight repeats."""
    import json

    from opi_bitrix24 import OAuthApp

    pair = {"access_token": "NEW-access-2", "refresh_token": "NEW-refresh-2", "expires_in": 3600}
    token_requests: List[str] = []

    def handle(seen: Dict[str, Any]) -> Tuple[int, Dict[str, str], bytes]:
        if seen["path"] == "/oauth/token/":
            token_requests.append(seen["query"])
            time.sleep(0.2)  # long enough for every call to be waiting for it
            return 200, {"Content-Type": "application/json"}, json.dumps(pair).encode()
        if "auth=old-access" in seen["query"]:
            return 401, {"Content-Type": "application/json"}, b'{"error":"expired_token","error_description":"x"}'
        return 200, {"Content-Type": "application/json"}, b'{"result":"ok"}'

    portal.handler = handle
    app = OAuthApp("app.1", "cl1entSecretValue", "old-refresh", "old-access")

    async def go() -> List[Any]:
        made = AsyncPortal(portal.base, "old-access", oauth_app=app, oauth_url=f"{portal.base}/oauth/token/")
        return list(await asyncio.gather(*(made.server_time() for _ in range(8))))

    assert run(go()) == [{"result": "ok"}] * 8
    assert len(token_requests) == 1
    repeats = [r["query"] for r in portal.requests if r["path"] == "/rest/server.time"]
    assert sorted(repeats) == ["auth=NEW-access-2"] * 8 + ["auth=old-access"] * 8


def test_a_call_cancelled_during_the_refresh_leaves_the_lock_free(portal: Any) -> None:
    import json

    from opi_bitrix24 import OAuthApp

    pair = {"access_token": "NEW-access-2", "refresh_token": "NEW-refresh-2", "expires_in": 3600}
    slow = threading.Event()
    slow.set()

    def handle(seen: Dict[str, Any]) -> Tuple[int, Dict[str, str], bytes]:
        if seen["path"] == "/oauth/token/":
            if slow.is_set():
                slow.clear()
                time.sleep(3)  # the first token request hangs: its call is cancelled meanwhile
            return 200, {"Content-Type": "application/json"}, json.dumps(pair).encode()
        if "auth=old-access" in seen["query"]:
            return 401, {"Content-Type": "application/json"}, b'{"error":"expired_token","error_description":"x"}'
        return 200, {"Content-Type": "application/json"}, b'{"result":"ok"}'

    portal.handler = handle
    app = OAuthApp("app.1", "cl1entSecretValue", "old-refresh", "old-access")

    async def go() -> Tuple[Any, float]:
        made = AsyncPortal(portal.base, "old-access", oauth_app=app, oauth_url=f"{portal.base}/oauth/token/")
        first = asyncio.ensure_future(made.server_time())
        while not any(r["path"] == "/oauth/token/" for r in portal.requests):
            await asyncio.sleep(0.01)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        started = time.monotonic()
        second = await made.server_time()  # takes the refresh lock at once: nobody holds it
        return second, time.monotonic() - started

    second, took = run(go())
    assert second == {"result": "ok"}
    assert took < 2.0, took


def test_bulk_methods_send_and_return_what_portal_does(portal: Any) -> None:
    pages = [
        {"result": [{"ID": "1"}, {"ID": "2"}], "next": 2, "total": 3},
        {"result": [{"ID": "3"}], "total": 3},
    ]

    def handle(seen: Dict[str, Any]) -> Tuple[int, Dict[str, str], bytes]:
        import json

        if seen["path"].endswith("/batch"):
            body = json.loads(seen["body"])
            result = {key: {"ok": key} for key in body["cmd"]}
            answer = {"result": {"result": result, "result_error": [], "result_total": [], "result_next": []}}
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        if seen["path"].endswith("/crm.lead.list"):
            start = json.loads(seen["body"]).get("start", 0)
            return 200, {"Content-Type": "application/json"}, json.dumps(pages[1 if start else 0]).encode()
        return 200, {"Content-Type": "application/json"}, b'{"result":{"ID":"5"}}'

    portal.handler = handle
    sync = Portal(portal.webhook)
    commands = {"a": ("crm.lead.get", {"id": 1}), "b": ("crm.lead.get", {"id": 2})}
    expected = (
        sync.call("crm.lead.get", {"id": 5}),
        sync.call_many("crm.lead.get", [{"id": 1}, {"id": 2}]),
        sync.batch(commands),
        list(sync.iterate("crm.lead.list", use_batch=False, fast=False)),
    )
    sent_by_sync = _seen(portal)

    async def go() -> Any:
        async with AsyncPortal(portal.webhook) as made:
            return (
                await made.call("crm.lead.get", {"id": 5}),
                await made.call_many("crm.lead.get", [{"id": 1}, {"id": 2}]),
                await made.batch(commands),
                [row async for row in made.iterate("crm.lead.list", use_batch=False, fast=False)],
            )

    assert run(go()) == expected
    assert _seen(portal) == sent_by_sync
    assert expected[3] == [{"ID": "1"}, {"ID": "2"}, {"ID": "3"}]
