"""In-process conformance runner: every case in conformance/cases, replayed from its vcrpy cassette.

Arguments are handed to the function as the text a CLI user types (as oint hands them to OPI), so the
wire requests are the ones the external runner checks against the CLI; a native-value case (``args_native``)
hands typed values (0, True, datetime, bytes, Decimal, lists and dicts) as they are, as a Python caller does.

Matching is strict where OPI is (issue 13): on top of the suite's matchers (method, path, query as a set,
JSON body as a value), the scheme, host and port of every request are those of the cassette (the case names
them: the portal URL, or an endpoint setting such as OPI_BITRIX24_OAUTH_URL), the query fields come in the
recorded order, and JSON bodies keep the recorded key order (compared as lists of pairs, recursively).
Transport-policy cases run under this package's policy (``opi-bitrix24``, as their cassettes are written),
with ``backoff=0``; an exchange whose connection is dropped is raised by ``DroppingSession``.

Every case runs through both drivers (issue 22): ``sync`` calls the module-level function, ``async`` awaits
the same function as a method of ``opi_bitrix24.AsyncPortal(url, token)`` (snake_case or Russian, as the
case names it) inside ``asyncio.run``, replayed from the same cassette under the same matchers (vcrpy
patches aiohttp too; ``AiohttpDrops`` plays a dropped connection and counts the requests). The CLI's own
cases (``cli-only``) run once: the CLI is blocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import time
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3
import vcr
from vcr.request import Request

import opi_bitrix24
from opi_bitrix24 import _cli
from opi_bitrix24._table import find
from opi_bitrix24_conformance.runner.cases import (
    PACKAGE_POLICY,
    Case,
    cassette_env,
    cli_text,
    expand,
    expected_result,
    json_diff,
    load_cases,
    multipart_header_problem,
    native_value,
    under_policy,
)
from opi_bitrix24_conformance.runner.cassettes import cassette_path
from opi_bitrix24_conformance.runner.recording import replay_vcr

CASES = load_cases()
AsyncPortal: Any = getattr(opi_bitrix24, "AsyncPortal", None)
NO_ASYNC = "opi_bitrix24.AsyncPortal has not landed yet (issue 22 item 2, helper aio)"
DRIVEN = [(case, "sync") for case in CASES] + [(case, "async") for case in CASES if "cli-only" not in case.tags]
STRICT = [
    "scheme",
    "host",
    "port",
    "ordered_query",
    "ordered_json_body",
    "multipart_content_type",
    "json_content_type",
]


def _raw_body(request: Request) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return b"".join(bytes(chunk) for chunk in body)  # a streamed body: re-iterable chunks of bytes


def _pairs(body: bytes) -> Any:
    """The JSON body with every object as a list of (key, value) pairs: key order counts; None if not JSON."""
    if not body or body.startswith(b"--"):  # empty, or multipart (part order is checked by json_body)
        return None
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=list, parse_float=Decimal)
    except ValueError:
        return None


def ordered_json_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: JSON bodies with the same keys in the same order (OPI sends auth, then AddField order)."""
    left, right = _pairs(_raw_body(r1)), _pairs(_raw_body(r2))
    if left != right:
        raise AssertionError(f"JSON body key order or content differs: {left!r} != {right!r}")


def ordered_query(r1: Request, r2: Request) -> None:
    """vcrpy matcher: the query fields in the same order (vcrpy's own ``query`` matcher sorts them)."""
    left, right = (parse_qsl(urlsplit(r.uri).query, keep_blank_values=True) for r in (r1, r2))
    if left != right:
        raise AssertionError(f"query order or content differs: {left!r} != {right!r}")


class DroppingSession(requests.Session):
    """A session that plays the case's ``drop`` exchanges (the server closes the connection without an
    answer: nothing a cassette can hold) as the error requests raises for one, and hands every other
    request to vcrpy. It checks the method and path of a dropped request and counts every request."""

    def __init__(self, exchanges: List[Dict[str, Any]]) -> None:
        super().__init__()
        self._plan = list(exchanges)
        self.sent = 0

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        expected = self._plan.pop(0) if self._plan else None
        self.sent += 1
        if expected is not None and expected["response"].get("drop"):
            want = expected["request"]
            assert (method, urlsplit(str(url)).path) == (want["method"], want["path"]), f"{method} {url}"
            reason = http.client.RemoteDisconnected("Remote end closed connection without response")
            raise requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", reason))
        return super().request(method, url, *args, **kwargs)


class AiohttpDrops:
    """The async driver's ``DroppingSession``: inside a cassette (vcrpy has patched aiohttp's
    ``ClientSession._request``), each request is counted and first announced to the session's trace
    configs as sent (``on_request_headers_sent``, as aiohttp does once the request is on the wire); a
    ``drop`` exchange then raises what aiohttp raises when the server closes without an answer, every
    other one is played by vcrpy."""

    def __init__(self, exchanges: List[Dict[str, Any]]) -> None:
        self._plan = list(exchanges)
        self.sent = 0
        self.rest: List[str] = []  # the paths of REST calls it sent

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import aiohttp

        played = aiohttp.ClientSession._request
        dropper = self

        async def request(session: Any, method: str, url: Any, **kwargs: Any) -> Any:
            expected = dropper._plan.pop(0) if dropper._plan else None
            dropper.sent += 1
            if "/rest/" in urlsplit(str(url)).path:
                dropper.rest.append(urlsplit(str(url)).path)
            for trace in getattr(session, "_trace_configs", ()):
                context = trace.trace_config_ctx(trace_request_ctx=kwargs.get("trace_request_ctx"))
                sent = aiohttp.TraceRequestHeadersSentParams(method, url, kwargs.get("headers") or {})
                await trace.on_request_headers_sent.send(session, context, sent)
            if expected is not None and expected["response"].get("drop"):
                want = expected["request"]
                assert (method, urlsplit(str(url)).path) == (want["method"], want["path"]), f"{method} {url}"
                raise aiohttp.ServerDisconnectedError()
            return await played(session, method, url, **kwargs)

        aiohttp.ClientSession._request = request  # type: ignore[method-assign]
        try:
            yield
        finally:
            aiohttp.ClientSession._request = played  # type: ignore[method-assign]


def multipart_content_type(r1: Request, r2: Request) -> None:
    """vcrpy matcher: a multipart body comes with ``multipart/form-data`` and the boundary it uses."""
    for request in (r1, r2):
        body = _raw_body(request)
        if body.startswith(b"--"):
            problem = multipart_header_problem(str(request.headers.get("Content-Type", "")), body)
            if problem:
                raise AssertionError(problem)


def json_content_type(r1: Request, r2: Request) -> None:
    """vcrpy matcher: a JSON body comes with ``Content-Type: application/json`` (any parameters), as OPI sends it."""
    for request in (r1, r2):
        body = _raw_body(request)
        if body[:1] in (b"{", b"["):
            media = str(request.headers.get("Content-Type", "")).partition(";")[0].strip().lower()
            if media != "application/json":
                raise AssertionError(f"a JSON body sent as {media or 'no Content-Type'!r}")


def strict_vcr() -> vcr.VCR:
    recorder = replay_vcr()
    recorder.register_matcher("ordered_json_body", ordered_json_body)
    recorder.register_matcher("ordered_query", ordered_query)
    recorder.register_matcher("multipart_content_type", multipart_content_type)
    recorder.register_matcher("json_content_type", json_content_type)
    recorder.match_on = (*recorder.match_on, *STRICT)
    return recorder


@pytest.mark.parametrize(("case", "driver"), DRIVEN, ids=[f"{driver}:{case.full_id}" for case, driver in DRIVEN])
def test_case(
    case: Case, driver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if driver == "async" and AsyncPortal is None:
        pytest.skip(NO_ASYNC)
    case = under_policy(case, PACKAGE_POLICY)  # a transport-policy case as this package must pass it
    method = find(case.method)
    assert method is not None, f"{case.method} is not in the method table"
    if case.via:
        assert find(case.via) is method, f"{case.via!r} does not name {case.method}"
    russian = case.via is not None and unicodedata.normalize("NFKC", case.via) == method.ru
    name = method.ru if russian else method.python
    func = getattr(opi_bitrix24, name) if driver == "sync" else _awaited(method, name, russian)
    env = cassette_env()
    for var, value in expand(case.env, env).items():
        monkeypatch.setenv(var, value)
    if "TZ" in case.env:  # a case pinned in a zone (OPI's machine-dependent date rules): local time follows TZ
        time.tzset()
    try:
        _run_case(case, method, func, russian, env, tmp_path, capsys, driver)
    finally:
        monkeypatch.undo()
        time.tzset()


def _awaited(method: Any, name: str, russian: bool) -> Callable[..., Any]:
    """The OPI function as the async driver runs it: ``AsyncPortal(url, token).<name>(...)`` awaited in a
    fresh event loop. A function with both ``url`` and ``token`` takes them from the portal; one without
    them (an OAuth link, a structure, a message block) is called with every argument, as on ``Portal``."""
    by_python = {p.python: (p.ru if russian else p.python) for p in method.params}
    bound = {"url", "token"} <= set(by_python)

    def call(**kwargs: Any) -> Any:
        address: Tuple[Any, ...] = ()
        if bound:
            if by_python["url"] not in kwargs:
                return AsyncPortal()  # the URL is the portal's: missing, Python's own check refuses it
            address = (kwargs.pop(by_python["url"]), kwargs.pop(by_python["token"], ""))
        portal = AsyncPortal(*address) if address else AsyncPortal("")
        bound_method = getattr(portal, name)
        awaitable = bound_method(**kwargs)  # a wrong argument is refused here, before any loop runs

        async def run() -> Any:
            async with portal:
                return await awaitable

        return asyncio.run(run())

    return call


def _run_case(
    case: Case,
    method: Any,
    func: Any,
    russian: bool,
    env: Dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    driver: str,
) -> None:
    kwargs, unknown = {}, []
    native = case.args_native is not None  # typed values, passed as they are (else CLI text, as oint does)
    given = case.args_native if case.args_native is not None else case.args
    for option, value in given.items():
        param = method.param_by_cli(option)
        if param is None:
            unknown.append(option)
            continue
        expanded = expand(value, env)
        kwargs[param.ru if russian else param.python] = native_value(expanded) if native else cli_text(expanded)

    cassette = cassette_path(case) if case.http else tmp_path / "no-request.yaml"
    if case.http:
        assert cassette.exists(), (
            f"missing cassette {cassette}: run python -m opi_bitrix24_conformance.runner.cassettes"
        )
    error = case.expect.get("error")
    session = DroppingSession(expand(case.http, env))
    dropper = AiohttpDrops(expand(case.http, env))
    with (
        strict_vcr().use_cassette(str(cassette)) as played,
        dropper.installed() if driver == "async" else contextlib.nullcontext(),
        opi_bitrix24.settings(session=session, backoff=0),
    ):
        if "cli-only" in case.tags:  # the CLI's own reading of option text: run its entry point in-process
            out = tmp_path / "result.json"
            argv = [case.via or case.method]
            for option, value in case.args.items():
                argv += [f"--{option}", cli_text(expand(value, env))]
            code = _cli.main([*argv, "--out", str(out)])
            if error is None:
                assert code == 0, capsys.readouterr().err
                result = json.loads(out.read_text(encoding="utf-8"))
                diff = json_diff(expected_result(case, env), result)
                assert diff is None, diff
            else:  # the CLI's reading refuses the call: a usage error (exit 2) naming the option
                assert error["kind"] == "usage" and code == 2, (code, capsys.readouterr().err)
                stderr = capsys.readouterr().err
                assert f"--{error['parameter']}" in stderr if error.get("parameter") else stderr, stderr
        elif error is None:
            result = func(**kwargs)
            assert json_diff(expected_result(case, env), result) is None, json_diff(expected_result(case, env), result)
        elif error["kind"] == "usage" and any(
            p.required and p.cli not in given and p.cli == error.get("parameter") for p in method.params
        ):
            with pytest.raises(TypeError):  # Python's own check of a missing required argument
                func(**kwargs)
        elif unknown:
            assert error["kind"] == "usage" and error.get("parameter") in unknown
            with pytest.raises(TypeError):
                func(**kwargs, **{option: "x" for option in unknown})
        elif error["kind"] == "usage":
            with pytest.raises(opi_bitrix24.InvalidArgument) as raised:
                func(**kwargs)
            if error.get("parameter"):
                param = method.param_by_python(raised.value.parameter)
                assert param is not None and param.cli == error["parameter"], raised.value
        else:
            with pytest.raises((opi_bitrix24.TransportError, opi_bitrix24.UnexpectedResponse)):
                func(**kwargs)
    recorded = [x for x in case.http if not x["response"].get("drop")]
    assert played.play_count == len(recorded), f"{played.play_count} of {len(recorded)} exchanges played"
    sent = session.sent + (dropper.sent if driver == "async" else 0)
    assert sent == len(case.http), f"{sent} requests sent, {len(case.http)} expected"
    if driver == "async":  # every REST call through aiohttp (a fetched argument or the OAuth server may not be)
        rest = [x for x in case.http if "/rest/" in x["request"]["path"]]
        assert len(dropper.rest) == len(rest), f"{len(dropper.rest)} of {len(rest)} REST calls sent by aiohttp"
    if recorded:
        assert played.all_played


def test_strict_matchers_reject_reordered_requests() -> None:
    recorded = Request("POST", "https://portal.test/rest/x.json?a=1&b=2", b'{"auth": "t", "x": {"p": 1, "q": 2}}', {})
    same = Request("POST", "https://portal.test/rest/x.json?a=1&b=2", b'{"auth":"t","x":{"p":1,"q":2}}', {})
    ordered_query(recorded, same)
    ordered_json_body(recorded, same)
    with pytest.raises(AssertionError):
        ordered_query(recorded, Request("POST", "https://portal.test/rest/x.json?b=2&a=1", b"", {}))
    for body in (b'{"x": {"p": 1, "q": 2}, "auth": "t"}', b'{"auth": "t", "x": {"q": 2, "p": 1}}'):
        with pytest.raises(AssertionError):
            ordered_json_body(recorded, Request("POST", recorded.uri, body, {}))
    assert set(STRICT) <= set(strict_vcr().match_on)


def test_native_values_map_tagged_objects_to_python_types() -> None:
    import datetime

    from opi_bitrix24_conformance.runner.cases import NATIVE_SKIP, _check_native

    given = {"n": 0, "b": False, "l": [1, {"$bytes": "AAE="}], "m": {"k": {"$decimal": "1.50"}}}
    assert native_value(given) == {"n": 0, "b": False, "l": [1, b"\x00\x01"], "m": {"k": Decimal("1.50")}}
    assert native_value({"$date": "2024-03-01T10:00:00.250000"}) == datetime.datetime(2024, 3, 1, 10, 0, 0, 250000)
    assert type(native_value({"$date": "2024-03-01"})) is datetime.date
    for bad in ({"$date": "2024-03-01T10:00:00+03:00"}, {"$path": "x"}, {"$bytes": "AA", "x": 1}, {"$bytes": "!"}):
        with pytest.raises(ValueError):
            native_value(bad)
    native = [case for case in CASES if case.args_native is not None]
    assert native and all("native" in case.tags and not case.args for case in native)
    plain = CASES[0]
    with pytest.raises(ValueError):  # the tag goes with args_native
        _check_native(Case(**{**plain.__dict__, "tags": [*plain.tags, "native"]}))
    assert "in-process" in NATIVE_SKIP
