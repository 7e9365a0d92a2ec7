"""The fault suite of tests/test_faults.py through the async driver (issue 22 item 3).

The same raw loopback servers misbehave the same way (``FAULTS``: its handlers, settings and expected
outcomes are imported, not copied), and the same call is awaited through ``AsyncPortal``: a GET fault
is ``await portal.server_time()`` (the OPI function ServerTime, sent as GET), a POST fault is
``await portal.call("tasks.task.add", {"fields": {"TITLE": "t"}})``, the request tests/test_faults.py
sends. Each must end as it does on the blocking driver: the same result or exception class, the same
number of requests received (no duplicate write, nothing sent to the other origin), no secret in the
exception's text, repr, traceback or chain, nor in any log record of any logger at DEBUG (aiohttp's and
asyncio's included), within the same generous bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from typing import Any, Dict, List

import pytest
from test_faults import BOUND, ECHO, FAULTS, KEY, OK, OTHER, TOKEN, Fault, Server, answer, send

import opi_bitrix24
from opi_bitrix24._errors import RedirectRefused, TransportError, UnexpectedResponse

AsyncPortal: Any = getattr(opi_bitrix24, "AsyncPortal", None)
pytestmark = pytest.mark.skipif(
    AsyncPortal is None, reason="opi_bitrix24.AsyncPortal has not landed yet (issue 22 item 2, helper aio)"
)
LOGGERS = ("aiohttp", "aiohttp.client", "aiohttp.internal", "aiohttp.access", "asyncio", "opi_bitrix24")
#: Where aiohttp reads a hostile answer otherwise than http.client does (COMPATIBILITY.md T17): the outcome
#: asserted for the async driver instead of the blocking one's.
ASYNC_OUTCOMES: Dict[str, Any] = {
    "103 Early Hints before the answer": {"result": "ok"},  # the interim answer is skipped, the final one read
    "malformed response header": TransportError,  # a header line without a colon is refused, not skipped
}


def _address(fault: Fault, server: Server) -> Dict[str, str]:
    if fault.mode == "token":
        return {"url": server.base, "token": TOKEN}
    if fault.mode == "tls":
        return {"url": f"https://127.0.0.1:{server.port}/rest/1/{KEY}/", "token": ""}
    return {"url": f"{server.base}/rest/1/{KEY}/", "token": ""}


async def _call(fault: Fault, server: Server) -> Any:
    async with AsyncPortal(**_address(fault, server)) as portal:
        if fault.verb == "GET":
            return await portal.server_time()
        return await portal.call("tasks.task.add", {"fields": {"TITLE": "t"}})


def _no_secrets(text: str) -> None:
    assert KEY not in text and TOKEN not in text, text


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


@pytest.mark.parametrize("fault", FAULTS, ids=[f.kind for f in FAULTS])
def test_fault(fault: Fault, servers: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    OTHER["server"] = servers(send(OK))
    server = servers(fault.handler)
    if fault.kind == "connection refused":
        server.close()
        time.sleep(0.05)
    options: Dict[str, Any] = {"backoff": 0.01, "retries": 0, "deadline": 5, **fault.settings}
    outcome = ASYNC_OUTCOMES.get(fault.kind, fault.outcome)
    started = time.monotonic()
    with opi_bitrix24.settings(**options):
        if isinstance(outcome, type):
            with pytest.raises(outcome) as raised:
                asyncio.run(_call(fault, server))
            exc = raised.value
            shown = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            _no_secrets(str(exc) + repr(exc) + shown)
            assert exc.__cause__ is None and exc.__context__ is None
            if isinstance(exc, RedirectRefused):
                assert exc.location in str(exc) and "/x" not in str(exc) and "/rest" not in exc.location
        else:
            assert asyncio.run(_call(fault, server)) == outcome
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
                asyncio.run(_call(fault, server))
        else:
            assert asyncio.run(_call(fault, server)) == fault.outcome
    assert len(server.requests) == fault.requests
    assert OTHER["server"].requests == []


def test_the_echo_is_redacted_in_every_spelling(servers: Any) -> None:
    server = servers(send(answer("500 Internal Server Error", ECHO)))

    async def write(url: str, token: str) -> Any:
        async with AsyncPortal(url, token) as portal:
            return await portal.call("tasks.task.add", {"fields": {"TITLE": "t"}})

    with pytest.raises(UnexpectedResponse) as raised:
        asyncio.run(write(server.base, TOKEN))
    assert raised.value.status == 500
    assert raised.value.snippet.startswith("<html>500: /rest/1/***/server.time failed; json: \\/rest\\/1\\/***\\/")
    with pytest.raises(UnexpectedResponse) as raised:
        asyncio.run(write(f"{server.base}/rest/1/{KEY}/", ""))
    assert "%2Frest%2F1%2F***%2F" in raised.value.snippet
    assert KEY not in raised.value.snippet


def test_every_fault_of_the_blocking_suite_is_here() -> None:
    import test_faults

    assert FAULTS is test_faults.FAULTS and len(FAULTS) >= 30, len(FAULTS)
    assert {f.verb for f in FAULTS} == {"GET", "POST"} and {f.mode for f in FAULTS} >= {"webhook", "token", "tls"}
