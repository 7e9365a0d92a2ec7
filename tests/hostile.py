"""The hostile-portal harness: a loopback Bitrix24 portal that misbehaves on purpose, and the registry of
the hostile "kinds" it is tried with (docs/hostile.md lists them; tests/test_hostile.py keeps the two equal).

Add a kind in ``tests/test_hostile_<area>.py`` (it is also a pytest test)::

    from hostile import Call, Check, kind
    from opi_bitrix24 import _bulk
    from opi_bitrix24._errors import InvalidArgument

    @kind("batch", "an empty list in a filter", outcome="InvalidArgument naming params.filter.@ID; nothing sent")
    def test_empty_list_in_a_filter(h: Check) -> None:
        portal = h.portal()                              # a well-behaved portal with 120 leads
        with h.raises(InvalidArgument) as caught:        # the error's text is checked for secrets too
            list(_bulk.iterate(portal.webhook, "crm.lead.list", {"filter": {"@ID": []}}))
        assert "params.filter.@ID" in str(caught.value)
        assert portal.requests == []                     # what the portal received, exactly

    def hostile_list(call: Call) -> Optional[Answer]:    # misbehave for some calls, None = behave
        if call.method == "crm.lead.list":
            return 200, {"result": [{"ID": "1"}] * 50, "total": 100, "next": 50}
        return None

    portal = h.portal(hostile_list)

What every kind gets for free (checked after the kind's own asserts; any failure fails the kind):

- **secrets**: the portal's webhook key (:data:`KEY`), token (:data:`TOKEN`), refresh token and client
  secret — raw, percent-encoded, JSON-escaped or base64 — appear in nothing the kind's code printed to
  stdout/stderr, logged (the ``opi_bitrix24`` loggers at DEBUG), raised inside ``h.raises`` or handed to
  ``h.output(...)``;
- **no duplicates**: no portal received the same REST call twice (the same method and text as the client
  sent it, batch commands counted one by one, before references are filled; ``h.allow_repeats()`` for a
  kind where repeating is the point, e.g. retries);
  ``h.once(rows)`` asserts each row's ID once;
- **wall time**: the kind finished within its ``budget`` seconds (default 5; measured and shown).

**Both drivers.** A kind calls the library through ``h.api`` (:class:`Api`): ``post``/``get`` (one REST
call), ``call``, ``batch``, ``iterate``, ``all_pages`` and ``portal(url, token, **settings)``. Each kind runs
once per driver (a pytest test per driver): ``sync`` is the blocking functions and ``Portal``; ``async`` is
``AsyncPortal``, its coroutines and async iterators driven to completion on an event loop of the kind's own
(rows come out of ``iterate`` one by one, as they do from the blocking iterator, so rows yielded before an
error are kept the same way). A kind about something only one driver has (the CLI, a caller's
``requests.Session``, threads) says so: ``@kind(..., drivers=("sync",))``.

The portal (:class:`HostilePortal`) records every request (``.requests``: :class:`Seen`) and every REST call
(``.calls``: :class:`Call`, batch commands included, after reference filling). It follows Bitrix's batch
semantics: each command's query is parsed first (PHP ``parse_str``), then ``$result``, ``$next``,
``$total``, ``$time`` and ``$error`` references (any case) are filled in any value; up to 50 commands;
``halt`` stops at the first error and leaves the rest unanswered; empty parts come back as ``[]``.
A handler answers ``(status, body)``, :data:`UNANSWERED` (a batch command in neither part) or a
:class:`Raw` answer (bytes, delays, trickled head: transport hostility).

``python tests/hostile.py --table`` runs every kind on each of its drivers and prints the table (area,
kind, outcome, driver, requests the portals received, wall time, pass/FAIL; exit 1 if one fails);
``--docs`` also writes it into docs/hostile.md (do that after adding a kind: tests/test_hostile.py compares
the two); ``--list`` prints the registered kinds and their drivers without running them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import http.server
import importlib
import io
import json
import logging
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union
from urllib.parse import parse_qsl, quote

from conftest import LoopbackServer

#: The secrets every hostile portal uses; none may reach any output.
KEY = "hostKEYw3bh00kQ9"
TOKEN = "hostTOKacc355Z7"
REFRESH = "hostREFr3fr35hX2"
CLIENT_SECRET = "hostCLIENTs3cr3tV5"
SECRETS = (KEY, TOKEN, REFRESH, CLIENT_SECRET)
CLIENT_ID = "app.hostile"

PAGE = 50
Answer = Tuple[int, Dict[str, Any]]


class _Unanswered:
    def __repr__(self) -> str:
        return "UNANSWERED"


#: A handler's answer for a batch command that the portal answers in neither ``result`` nor ``result_error``.
UNANSWERED: Any = _Unanswered()


@dataclasses.dataclass
class Raw:
    """A raw HTTP answer: ``head_delay`` seconds before anything, then the head and body written
    ``trickle`` seconds per byte (0 = at once)."""

    status: int = 200
    body: bytes = b""
    headers: Dict[str, str] = dataclasses.field(default_factory=lambda: {"Content-Type": "application/json"})
    head_delay: float = 0.0
    trickle: float = 0.0


Reply = Union[Answer, Raw, _Unanswered, None]
Handler = Callable[["Call"], Reply]


@dataclasses.dataclass
class Seen:
    """One HTTP request as received."""

    verb: str
    path: str
    query: str
    headers: Dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def commands(self) -> Dict[str, str]:
        """A batch request's ``cmd`` (``{key: "method?query"}``)."""
        return dict(self.json()["cmd"])


@dataclasses.dataclass
class Call:
    """One REST call the portal runs: a request, or one command of a batch (``key`` set)."""

    method: str
    params: Dict[str, Any]
    key: Optional[str] = None  # the batch command's key; None for a request of its own
    auth: str = ""  # the webhook key or token it came with
    sent: str = ""  # what the client sent: the command's text, or the request's query and body

    @property
    def filter(self) -> Dict[str, Any]:
        value = self.params.get("filter") or {}
        return value if isinstance(value, dict) else {}

    @property
    def start(self) -> int:
        try:
            return int(self.params.get("start", 0) or 0)
        except (TypeError, ValueError):
            return 0


# --- PHP's parse_str and Bitrix's batch references ------------------------------------------------


def parse_str(query: str) -> Dict[str, Any]:
    """PHP ``parse_str``: ``a[b][]=1`` → ``{"a": {"b": {"0": "1"}}}``; in a top-level name ``.`` and
    space become ``_``; a later duplicate wins."""
    out: Dict[str, Any] = {}
    for given, value in parse_qsl(query, keep_blank_values=True):
        head, bracket, tail = given.lstrip(" ").partition("[")
        segments = re.match(r"((?:\[[^\]]*\])*)", "[" + tail).group(1) if bracket else ""  # type: ignore[union-attr]
        if bracket and not segments:
            head = head + "_" + tail  # an unclosed [ is a plain character of the name, as _
            segments = ""
        head = head.replace(".", "_").replace(" ", "_")
        keys = [head] + re.findall(r"\[([^\]]*)\]", segments)
        node: Dict[str, Any] = out
        for i, step in enumerate(keys):
            key = step
            if key == "":
                numeric = [int(k) for k in node if str(k).lstrip("-").isdigit()]
                key = str(max(numeric) + 1 if numeric else 0)
            if i == len(keys) - 1:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = node[key] = {}
                node = child
    return out


REFERENCE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\]]*\])+)", re.IGNORECASE)


def fill_references(value: Any, pools: Dict[str, Dict[str, Any]]) -> Any:
    """Fill every ``$result/$next/$total/$time/$error[...]`` reference (any case) in the values, as Bitrix
    does after parsing a command; an unresolvable one becomes empty text; a value that is exactly one
    reference becomes the referred value itself."""
    if isinstance(value, dict):
        return {k: fill_references(v, pools) for k, v in value.items()}
    if not isinstance(value, str) or "$" not in value:
        return value

    def lookup(match: re.Match[str]) -> Any:
        node: Any = pools[match.group(1).lower()]
        for step in re.findall(r"\[([^\]]*)\]", match.group(2)):
            if isinstance(node, dict) and step in node:
                node = node[step]
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            else:
                return ""
        return node

    whole = REFERENCE.fullmatch(value)
    if whole:
        return lookup(whole)

    def text(match: re.Match[str]) -> str:
        found = lookup(match)
        return found if isinstance(found, str) else json.dumps(found) if isinstance(found, (dict, list)) else str(found)

    return REFERENCE.sub(text, value)


# --- an honest data set (hostile handlers wrap it) ------------------------------------------------


def listing(rows: Sequence[Dict[str, Any]], call: Call, id_field: str = "ID", wrap: str = "") -> Answer:
    """An honest list answer: filter ``>ID``/``>=ID``/``<ID``/``@ID``/exact fields, order by ID, 50 per page,
    ``start=-1`` without ``total``/``next``."""
    selected = list(rows)
    for key, value in call.filter.items():
        bare = key.lstrip("<>=!@")
        op = key[: len(key) - len(bare)]
        if op == "@":
            values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            wanted = {str(v) for v in values}
            selected = [r for r in selected if str(r.get(bare)) in wanted]
        elif op in (">", ">=", "<", "<="):
            bound = int(value) if str(value).strip().lstrip("-").isdigit() else 0
            keep = {">": (1,), ">=": (0, 1), "<": (-1,), "<=": (-1, 0)}[op]
            selected = [r for r in selected if (int(r[id_field]) > bound) - (int(r[id_field]) < bound) in keep]
        else:
            selected = [r for r in selected if str(r.get(bare)) == str(value)]
    order = call.params.get("order") or {}
    if isinstance(order, dict) and any(str(v).upper() == "DESC" for v in order.values()):
        selected.reverse()
    start = call.start
    if start < 0:
        page = selected[:PAGE]
        return 200, {"result": {wrap: page} if wrap else page, "total": 0}
    page = selected[start : start + PAGE]
    answer: Dict[str, Any] = {"result": {wrap: page} if wrap else page, "total": len(selected)}
    if start + PAGE < len(selected):
        answer["next"] = start + PAGE
    return 200, answer


def leads(count: int) -> List[Dict[str, Any]]:
    statuses = ("NEW", "IN_PROCESS")
    return [{"ID": str(i), "TITLE": f"Lead {i}", "STATUS_ID": statuses[i % 2]} for i in range(1, count + 1)]


# --- the portal -----------------------------------------------------------------------------------


class HostilePortal:
    """A loopback portal (127.0.0.1, an ephemeral port). ``handler(call)`` answers first; ``None`` from it
    (or no handler) means the honest answer from :attr:`leads` (``crm.lead.list/get/update``, ``profile``)."""

    def __init__(self, handler: Optional[Handler] = None, records: int = 120) -> None:
        self.handler = handler
        self.leads = leads(records)
        self.requests: List[Seen] = []
        self.calls: List[Call] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.access_token, self.refresh_token = TOKEN, REFRESH
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, path, query, headers, body, time.monotonic())
                with portal.lock:
                    portal.requests.append(seen)
                answer = portal._answer(seen)
                if isinstance(answer, Raw):
                    self._raw(answer)
                    return
                status, payload = answer
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _raw(self, raw: Raw) -> None:
                if raw.head_delay and portal.closing.wait(raw.head_delay):
                    return
                head = f"HTTP/1.1 {raw.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in raw.headers.items())
                if "content-length" not in {k.lower() for k in raw.headers}:
                    head += f"Content-Length: {len(raw.body)}\r\n"
                data = (head + "\r\n").encode("latin-1") + raw.body
                try:
                    if not raw.trickle:
                        self.wfile.write(data)
                        return
                    for i in range(len(data)):
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        if portal.closing.wait(raw.trickle):
                            return
                except OSError:
                    pass
                finally:
                    self.close_connection = True

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = LoopbackServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.webhook = f"{self.base}/rest/1/{KEY}/"
        self.oauth_url = f"{self.base}/oauth/token/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- dispatch ---------------------------------------------------------------------------------

    def _answer(self, seen: Seen) -> Union[Answer, Raw]:
        if seen.path.rstrip("/") == "/oauth/token":
            call = Call("oauth/token", parse_str(seen.query))
            self._note(call)
            return self._reply(call, self._token)
        params: Dict[str, Any] = parse_str(seen.query)
        if seen.body:
            try:
                decoded = json.loads(seen.body)
            except ValueError:
                decoded = parse_str(seen.body.decode("utf-8", "replace"))
            if isinstance(decoded, dict):
                params.update(decoded)
        match = re.fullmatch(r"/rest/(?:1/([^/]+)/)?([A-Za-z0-9_.]+)", seen.path)
        if not match:
            return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
        key, method = match.groups()
        auth = key if key is not None else str(params.pop("auth", ""))
        if key is not None and key != KEY:
            return 401, {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
        if method.lower() == "batch":
            batch_call = Call("batch", params, auth=auth)
            self._note(batch_call)
            custom = self.handler(batch_call) if self.handler else None
            if custom is not None and not isinstance(custom, _Unanswered):
                return custom
            return self._batch(params, auth)
        call = Call(method, params, auth=auth, sent=seen.query + " " + seen.body.decode("utf-8", "replace"))
        self._note(call)
        answer = self._reply(call, self._honest)
        return answer

    def _note(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def _reply(self, call: Call, fallback: Callable[[Call], Answer]) -> Union[Answer, Raw]:
        custom = self.handler(call) if self.handler else None
        if isinstance(custom, _Unanswered):
            return 200, {"result": None}
        if custom is not None:
            return custom
        return fallback(call)

    def _honest(self, call: Call) -> Answer:
        if call.key is None and call.auth not in (KEY, self.access_token):
            return 401, {"error": "invalid_token", "error_description": "The access token provided is invalid."}
        method = call.method.lower()
        if method == "crm.lead.list":
            return listing(self.leads, call)
        if method in ("crm.lead.get", "crm.lead.update"):
            index = int(str(call.params.get("id") or call.params.get("ID") or 0) or 0) - 1
            if not 0 <= index < len(self.leads):
                return 400, {"error": "NOT_FOUND", "error_description": "Not found"}
            if method == "crm.lead.update":
                fields = call.params.get("fields") or {}
                if isinstance(fields, dict):
                    self.leads[index].update(fields)
                return 200, {"result": True}
            return 200, {"result": self.leads[index]}
        if method == "profile":
            return 200, {"result": {"ID": "1", "ADMIN": True}}
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def _token(self, call: Call) -> Answer:
        params = call.params
        if params.get("client_id") != CLIENT_ID or params.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client", "error_description": "Invalid client"}
        if params.get("refresh_token") != self.refresh_token:
            return 400, {"error": "invalid_grant", "error_description": "The refresh token is invalid"}
        self.access_token, self.refresh_token = TOKEN + "n", REFRESH + "n"
        return 200, {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": 3600}

    def _batch(self, params: Dict[str, Any], auth: str) -> Answer:
        commands = params.get("cmd") or {}
        if not isinstance(commands, dict):
            return 400, {"error": "INVALID_ARG_VALUE", "error_description": "cmd must be an object"}
        halt = str(params.get("halt", "0")).lower() in ("1", "true", "y")
        pools: Dict[str, Dict[str, Any]] = {p: {} for p in ("result", "error", "total", "next", "time")}
        for index, (key, text) in enumerate(commands.items()):
            if index >= 50:
                pools["error"][key] = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length"}
                continue
            method, _, query = str(text).partition("?")
            sub = fill_references(parse_str(query), pools)  # parsed first, then references are filled
            call = Call(method, sub, key=str(key), auth=auth, sent=str(text))
            self._note(call)
            if method.lower() == "batch":
                answer: Reply = (400, {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "No"})
            else:
                answer = self.handler(call) if self.handler else None
                answer = self._honest(call) if answer is None else answer
            if isinstance(answer, _Unanswered) or isinstance(answer, Raw):
                continue
            _status, body = answer
            if "error" in body:
                pools["error"][key] = {"error": body["error"], "error_description": body.get("error_description", "")}
                if halt:
                    break
                continue
            pools["result"][key] = body.get("result")
            for part in ("total", "next", "time"):
                if part in body:
                    pools[part][key] = body[part]
        names = {"result": "result", "error": "result_error", "total": "result_total", "next": "result_next"}
        names["time"] = "result_time"
        listed = bool(commands) and all(str(k).isdigit() for k in commands)
        result = {
            names[p]: (list(v.values()) if (listed or not v) else v) for p, v in pools.items()
        }  # PHP arrays: empty is [], numeric keys a list
        return 200, {"result": result, "time": {"start": time.time()}}

    # --- what it received ---------------------------------------------------------------------------

    def rest_calls(self, method: Optional[str] = None) -> List[Call]:
        """The REST calls run (batch commands one by one, the batch requests themselves left out)."""
        return [c for c in self.calls if c.method != "batch" and (method is None or c.method == method)]


# --- the registry and the per-kind checks ---------------------------------------------------------


@dataclasses.dataclass
class Kind:
    area: str
    title: str
    outcome: str
    budget: float
    function: Callable[[Check], None]
    name: str
    module: str
    drivers: Tuple[str, ...] = ("sync", "async")


KINDS: Dict[Tuple[str, str], Kind] = {}
AREAS = (
    "batch",
    "iterate",
    "all_pages",
    "refresh",
    "limiter",
    "deadline",
    "transport",
    "recording",
    "scan",
    "cli",
    "errors",
)


DRIVERS = ("sync", "async")
#: why an async run is skipped (only while ``opi_bitrix24.AsyncPortal`` is missing)
NO_ASYNC = "opi_bitrix24.AsyncPortal has not landed yet (issue 22 item 2, helper aio)"


def kind(
    area: str, title: str, outcome: str, budget: float = 5.0, drivers: Tuple[str, ...] = DRIVERS
) -> Callable[[Callable[[Check], None]], Any]:
    """Register a hostile kind; the decorated function takes a :class:`Check` and becomes a pytest test,
    run once per driver in ``drivers``."""
    assert drivers and set(drivers) <= set(DRIVERS), drivers

    def register(function: Callable[[Check], None]) -> Any:
        spec = Kind(area, title, outcome, budget, function, function.__name__, function.__module__, tuple(drivers))
        KINDS[(spec.module, spec.name)] = spec

        def test(driver: str) -> None:
            if driver == "async" and not async_available():
                import pytest

                pytest.skip(NO_ASYNC)
            result = run(spec, driver)
            if result.failure is not None:
                raise result.failure

        import pytest

        test.__name__ = test.__qualname__ = function.__name__
        test.__module__ = function.__module__
        test.__doc__ = f"[hostile {area}] {title}"
        test.kind = spec  # type: ignore[attr-defined]
        test.pytestmark = [pytest.mark.parametrize("driver", spec.drivers)]  # type: ignore[attr-defined]
        return test

    return register


def async_available() -> bool:
    import opi_bitrix24

    return hasattr(opi_bitrix24, "AsyncPortal")


# --- the library as a kind calls it, through either driver ----------------------------------------


class Api:
    """The calls a kind makes, the same on both drivers (see the module's docstring)."""

    driver = "sync"

    def post(self, api_method: str, url: str, token: str = "", **fields: Any) -> Any:
        """One REST call (POST, fields as the JSON body): the portal's answer."""
        from opi_bitrix24 import _core

        return _core.post(api_method, url, token, **fields)

    def get(self, api_method: str, url: str, token: str = "", **fields: Any) -> Any:
        """One REST call sent as GET (``server.time``: the OPI function ServerTime)."""
        from opi_bitrix24 import _core

        return _core.get(api_method, url, token, **fields)

    def batch(self, url: str, commands: Any, token: str = "", halt: bool = False) -> Any:
        from opi_bitrix24 import _bulk

        return _bulk.batch(url, commands, token, halt)

    def iterate(
        self,
        url: str,
        method: str,
        params: Any = None,
        token: str = "",
        fast: Optional[bool] = None,
        use_batch: bool = True,
    ) -> Iterator[Any]:
        from opi_bitrix24 import _bulk

        return _bulk.iterate(url, method, params, token, fast=fast, use_batch=use_batch)

    def all_pages(self, function: Callable[..., Any], url: str, *args: Any, **kwargs: Any) -> List[Any]:
        """Every row of an OPI list function (``function`` is the module-level one, e.g. ``get_leads_list``)."""
        from opi_bitrix24 import _bulk

        return _bulk.all_pages(function, url, *args, **kwargs)

    def portal(self, url: str, token: str = "", **settings: Any) -> Any:
        """``Portal(url, token, **settings)``: its methods called as written (``.batch(...)``, ``.call(...)``)."""
        import opi_bitrix24

        return opi_bitrix24.Portal(url, token, **settings)

    def close(self) -> None:
        pass


class AsyncApi(Api):
    """The same calls through ``AsyncPortal``, each awaited to completion on the kind's own event loop."""

    driver = "async"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.opened: List[Any] = []

    def run(self, awaitable: Any) -> Any:
        """Await anything on the kind's loop (for a kind about tasks: several calls at once)."""
        return self.loop.run_until_complete(awaitable)  # the task runs in a copy of the caller's context

    _run = run

    def open(self, url: str, token: str = "", **settings: Any) -> Any:
        """A plain ``AsyncPortal`` (closed after the kind), for coroutines handed to :meth:`run`."""
        return self._open(url, token, **settings)

    def _open(self, url: str, token: str = "", **settings: Any) -> Any:
        import opi_bitrix24

        made = opi_bitrix24.AsyncPortal(url, token, **settings)  # type: ignore[attr-defined]
        self.opened.append(made)
        return made

    def post(self, api_method: str, url: str, token: str = "", **fields: Any) -> Any:
        return self._run(self._open(url, token).call(api_method, fields))

    def get(self, api_method: str, url: str, token: str = "", **fields: Any) -> Any:
        if api_method != "server.time" or fields:
            raise NotImplementedError(f"the async surface sends {api_method} as POST (use h.api.post)")
        return self._run(self._open(url, token).server_time())

    def batch(self, url: str, commands: Any, token: str = "", halt: bool = False) -> Any:
        return self._run(self._open(url, token).batch(commands, halt))

    def iterate(
        self,
        url: str,
        method: str,
        params: Any = None,
        token: str = "",
        fast: Optional[bool] = None,
        use_batch: bool = True,
    ) -> Iterator[Any]:
        return self._rows(self._open(url, token).iterate(method, params, fast=fast, use_batch=use_batch))

    def _rows(self, rows: Any) -> Iterator[Any]:
        try:
            while True:
                try:
                    row = self._run(rows.__anext__())
                except StopAsyncIteration:
                    return
                yield row
        finally:
            closing = getattr(rows, "aclose", None)
            if closing is not None and not self.loop.is_closed():
                self._run(closing())

    def all_pages(self, function: Callable[..., Any], url: str, *args: Any, **kwargs: Any) -> List[Any]:
        return list(self._run(self._open(url).all_pages(function, *args, **kwargs)))

    def portal(self, url: str, token: str = "", **settings: Any) -> Any:
        return _Blocking(self, self._open(url, token, **settings))

    def close(self) -> None:
        for made in self.opened:
            self._run(made.__aexit__(None, None, None))
        self.opened.clear()
        self._run(self.loop.shutdown_asyncgens())
        self.loop.close()


class _Blocking:
    """An ``AsyncPortal`` whose coroutine methods return their result and whose ``iterate`` yields rows."""

    def __init__(self, api: AsyncApi, portal: Any) -> None:
        self._api, self._portal = api, portal

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._portal, name)
        if name == "iterate":
            return lambda *args, **kwargs: self._api._rows(attribute(*args, **kwargs))
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._api._run(attribute(*args, **kwargs))


def secret_spellings(secret: str) -> List[str]:
    raw = secret.encode()
    return sorted(
        {
            secret,
            quote(secret, safe=""),
            json.dumps(secret)[1:-1],
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            raw.hex(),
        }
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is still checked by its args
            self.lines.append(f"{record.msg!r} {record.args!r}")


class Check:
    """What a kind works with: portals, the outputs checked for secrets, row and repeat checks."""

    def __init__(self, spec: Kind, driver: str = "sync") -> None:
        self.spec = spec
        self.driver = driver
        self._api: Optional[Api] = None
        self.portals: List[HostilePortal] = []
        self.outputs: List[str] = []
        self.repeats_allowed = ""
        self.secrets: List[str] = list(SECRETS)

    @property
    def api(self) -> Api:
        """The library through this run's driver (made on first use, closed after the kind)."""
        if self._api is None:
            self._api = AsyncApi() if self.driver == "async" else Api()
        return self._api

    def close_api(self) -> None:
        if self._api is not None:
            api, self._api = self._api, None
            api.close()

    def portal(self, handler: Optional[Handler] = None, records: int = 120) -> HostilePortal:
        made = HostilePortal(handler, records)
        self.portals.append(made)
        return made

    def output(self, *values: Any) -> None:
        """Hand anything the user would see (a value, an exception, CLI output) to the secret check."""
        for value in values:
            if isinstance(value, BaseException):
                self.outputs += [str(value), repr(value), repr(getattr(value, "body", ""))]
            else:
                self.outputs.append(value if isinstance(value, str) else repr(value))

    @contextlib.contextmanager
    def raises(self, expected: Type[BaseException]) -> Iterator[Any]:
        """Like ``pytest.raises``; the exception (message, repr, ``.body``) goes to the secret check."""

        class Caught:
            value: BaseException

        caught = Caught()
        try:
            yield caught
        except expected as exc:
            caught.value = exc
            self.output(exc)
        else:
            raise AssertionError(f"{expected.__name__} was not raised")

    def allow_repeats(self, reason: str) -> None:
        self.repeats_allowed = reason

    def once(self, rows: Sequence[Any], key: str = "ID") -> List[str]:
        """Each row's ``key`` exactly once; returns the IDs in order."""
        ids = [str(row[key]) for row in rows]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        assert not repeated, f"rows yielded more than once: {repeated[:10]}"
        return ids

    def _finish(self) -> None:
        for text in self.outputs:
            for secret in self.secrets:
                for spelling in secret_spellings(secret):
                    if spelling in text:
                        shown = text.replace(spelling, "<SECRET>")[:300]
                        where = f"a secret ({secret[:4]}..., as {spelling[:4]}...)"
                        raise AssertionError(f"{where} in the output: {shown!r}")
        if self.repeats_allowed:
            return
        for portal in self.portals:
            seen: Dict[str, int] = {}
            for call in portal.calls:
                if call.method == "batch":
                    continue
                fingerprint = call.method + " " + call.sent  # as the client sent it (before references)
                seen[fingerprint] = seen.get(fingerprint, 0) + 1
            repeated = [f for f, n in seen.items() if n > 1]
            assert not repeated, f"the portal received the same call more than once: {repeated[:3]}"


@dataclasses.dataclass
class Result:
    spec: Kind
    seconds: float
    failure: Optional[BaseException]
    requests: int
    driver: str = "sync"


def run(spec: Kind, driver: str = "sync") -> Result:
    """Run one kind on one driver with its checks; never raises (the failure is in the result)."""
    import opi_bitrix24 as b24
    from opi_bitrix24 import _limits

    check = Check(spec, driver)
    logs = _Collect()
    logger = logging.getLogger("opi_bitrix24")
    level = logger.level
    logger.addHandler(logs)
    logger.setLevel(logging.DEBUG)
    stdout, stderr = io.StringIO(), io.StringIO()
    failure: Optional[BaseException] = None
    _limits.reset()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            with b24.settings(rate_limit=None, backoff=0, retries=2, deadline=None):
                spec.function(check)
    except BaseException as exc:  # noqa: BLE001 - reported as the kind's failure
        failure = exc
    seconds = time.perf_counter() - started
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            check.close_api()  # the clients' connections close before the portals do
    except BaseException as exc:  # noqa: BLE001 - a client that cannot close is a failure too
        failure = failure or exc
    for portal in check.portals:
        portal.close()
    logger.removeHandler(logs)
    logger.setLevel(level)
    _limits.reset()
    check.outputs += [stdout.getvalue(), stderr.getvalue(), *logs.lines]
    if failure is None:
        try:
            check._finish()
            assert seconds <= spec.budget, f"took {seconds:.2f} s, over its budget of {spec.budget} s"
        except AssertionError as exc:
            failure = exc
    return Result(spec, seconds, failure, sum(len(p.requests) for p in check.portals), driver)


# --- the table --------------------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent


def load() -> List[Kind]:
    """Import every tests/test_hostile_*.py; the registered kinds, by area (in :data:`AREAS` order), then
    file and definition order."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    if str(TESTS.parent) not in sys.path:
        sys.path.insert(0, str(TESTS.parent))
    for path in sorted(TESTS.glob("test_hostile_*.py")):
        importlib.import_module(path.stem)
    order = {area: i for i, area in enumerate(AREAS)}
    return sorted(KINDS.values(), key=lambda k: (order.get(k.area, len(order)), k.area))  # stable: file order


def table(results: Optional[Sequence[Result]] = None, kinds: Sequence[Kind] = ()) -> str:
    lines = ["| area | kind | outcome | driver | requests | wall time | result |", "|---|---|---|---|---|---|---|"]
    if results is None:
        lines = ["| area | kind | outcome | drivers |", "|---|---|---|---|"]
        lines += [f"| {k.area} | {k.title} | {k.outcome} | {', '.join(k.drivers)} |" for k in kinds]
        return "\n".join(lines)
    for r in results:
        verdict = "pass" if r.failure is None else "FAIL: " + (str(r.failure) or repr(r.failure)).splitlines()[0][:120]
        lines.append(
            f"| {r.spec.area} | {r.spec.title} | {r.spec.outcome} | {r.driver} | {r.requests} | {r.seconds:.2f} s "
            f"| {verdict} |"
        )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    kinds = load()
    if "--list" in args:
        print(table(None, kinds))
        return 0
    if "--table" not in args and "--docs" not in args:
        print("usage: python tests/hostile.py --table | --docs | --list", file=sys.stderr)
        return 2
    sys.path.insert(0, str(TESTS.parent))
    import opi_bitrix24 as b24

    b24.configure(rate_limit=None)
    drivers = [d for d in DRIVERS if d == "sync" or async_available()]
    results = [run(k, driver) for k in kinds for driver in k.drivers if driver in drivers]
    text = table(results)
    print(text)
    failed = sum(1 for r in results if r.failure is not None)
    print(f"\n{len(results) - failed} passed, {failed} failed")
    if len(drivers) < len(DRIVERS):
        print(f"async runs left out: {NO_ASYNC}")
    if "--docs" in args and not failed:
        doc = TESTS.parent / "docs" / "hostile.md"
        head, _, rest = doc.read_text(encoding="utf-8").partition(MARK)
        _, _, tail = rest.partition(MARK)
        doc.write_text(f"{head}{MARK}\n{text}\n{MARK}{tail}", encoding="utf-8")
        print(f"wrote the table into {doc.relative_to(TESTS.parent)}")
    return 1 if failed else 0


MARK = "<!-- hostile-table -->"


__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DRIVERS",
    "KEY",
    "REFRESH",
    "SECRETS",
    "TOKEN",
    "UNANSWERED",
    "Answer",
    "Api",
    "AsyncApi",
    "Call",
    "Check",
    "HostilePortal",
    "Kind",
    "Raw",
    "Seen",
    "fill_references",
    "kind",
    "leads",
    "listing",
    "parse_str",
    "run",
]


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS))
    import hostile as registry  # the kinds register in the module their files import, not in __main__

    sys.exit(registry.main())
