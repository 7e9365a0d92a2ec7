"""Bulk work beyond OPI: any method, batches, every page (additions; OPI functions are unchanged).

- :func:`call`: any REST method, with the URL/token normalisation, transport, settings and errors of
  the OPI functions (a JSON body, like OPI's ``PostWithBody``).
- :func:`batch`: many commands, sent 50 per ``batch`` request; ``$result[key]`` references work inside
  a chunk of 50. :func:`deferred` / :func:`command` turn any OPI function call into a command.
- :func:`iterate`: every row of a list method, lazily; the fast mode (``order ID``, ``>ID`` filter,
  ``start=-1``) chains 50 pages in one batch request. :func:`all_pages` does it for an OPI list
  function (``all_pages(get_leads_list, url, {"STATUS_ID": "NEW"})``).

**One set of rules, two drivers.** Every rule of bulk work (chunks of 50 and their accounting, the
classic and fast page loops and their guards, the split export, pacing by operating time, progress) is
written once, as a *flow*: a generator that never touches a socket, never sleeps and never starts a
thread. A flow yields

- :class:`Exchange` ``(verb, api_method, url, token, fields)``: one request through the core (bucket,
  operating time, refresh, retries, deadline); it is sent back ``(HTTP status, parsed answer)`` or has
  the request's exception thrown in;
- :class:`Parallel` ``((Exchange, ...))``: requests that may be in flight together (never more than
  ``concurrency``); sent back one outcome per request, in order: its ``(status, answer)`` or the
  exception it ended with (a driver that throws the first error in order instead is also understood);
- :class:`Wait` ``(seconds, why)``: pacing by operating time (the flow asks again afterwards);
- :class:`Do` ``(function, args)``: a state operation (recording the commands' ``time`` blocks);
- :class:`Rows` ``(rows)``: rows for the consumer (iterate's flows only), in order; sent back ``None``.
  The flow goes on only when the consumer asks for more, so nothing is fetched ahead of the reader.

and returns its result (``call``: the answer; ``batch``: the result blocks). The blocking entry points
(:func:`call`, :func:`call_many`, :func:`batch`, :func:`iterate`, :func:`all_pages`) run their flow with
:func:`_drive` in the calling thread (``Parallel`` on the package's pool, each job in a copy of the
caller's context, :func:`_carry`); the async ones (:func:`acall`, :func:`acall_many`, :func:`abatch`,
:func:`aiterate`, :func:`aall_pages`) run the same flow with :func:`_adrive`, which has the async driver
(:mod:`opi_bitrix24._async`) perform each effect.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import re
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    cast,
)
from urllib.parse import quote_plus

from . import _core, _pace, _pool, _progress
from ._convert import SKIP
from ._errors import APIError, InvalidArgument, UnexpectedResponse, api_error
from ._flow import Do, Exchange, Parallel, Wait

__all__ = [
    "Command",
    "aall_pages",
    "abatch",
    "acall",
    "acall_many",
    "aiterate",
    "all_pages",
    "batch",
    "build_query",
    "call",
    "call_many",
    "command",
    "deferred",
    "iterate",
]

#: The platform's cap on commands per batch request.
BATCH_SIZE = 50
#: Rows per page of a list method.
PAGE = 50
#: What to do when a portal has no ``batch`` method (the error names batch, which the caller never called).
NO_BATCH = (
    "this portal has no batch method, which batch(), iterate() and all_pages() use: page one request at a "
    "time with iterate(url, method, params, use_batch=False), and send updates one by one with the OPI "
    "functions (or call())"
)
#: The longest single pause of a flow waiting for operating time before it asks again (an answer in
#: flight may free room sooner; the blocking driver also wakes as soon as one is settled).
POLL = 0.05

_T = TypeVar("_T")


class Command(NamedTuple):
    """One batch command: the REST method and its parameters (what the OPI function would send)."""

    method: str
    params: Dict[str, Any]


class _Recorded(Command):
    """A command recorded from an OPI function (:func:`deferred`, :func:`command`): its values are the
    caller's data, never references to other commands."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Command(method={self.method!r}, params={self.params!r})"


# --- flows: the effects and the blocking driver --------------------------------------------------


class Rows(NamedTuple):
    """Rows for the consumer of a flow, in order (iterate's flows); the driver sends back ``None``."""

    rows: List[Any]


#: A bulk flow: yields the effects of :mod:`._flow` (Exchange, Parallel, Wait, Do) and :class:`Rows`,
#: returns its result.
Flow = Generator[Any, Any, _T]


def _perform(effect: Any) -> Any:
    """The blocking driver of bulk flows: perform one effect in the calling thread."""
    if isinstance(effect, Exchange):
        return _core._exchange(effect.verb, effect.api_method, effect.url, effect.token, effect.fields)
    if isinstance(effect, Parallel):
        jobs = [_carry(functools.partial(_outcome, item)) for item in effect.exchanges]
        return list(_pool.ordered(jobs, len(jobs)))
    if isinstance(effect, Wait):
        _pace.pause(effect.seconds)  # wakes early when an answer frees operating time
        return None
    if isinstance(effect, Do):
        return effect.function(*effect.args)
    raise TypeError(f"not an effect of a bulk flow: {effect!r}")


def _outcome(effect: Any) -> Any:
    """One job of a :class:`Parallel`: the effect's value, or the exception it ended with."""
    try:
        return _perform(effect)
    except Exception as error:  # noqa: BLE001 - the flow raises it at its turn
        return error


def _drive(flow: Flow[_T]) -> Generator[Any, None, _T]:
    """Run a flow in the calling thread: perform its effects, hand out the rows of each :class:`Rows`
    (lazily: the flow goes on when the consumer asks for more) and return the flow's value."""
    sending: Any = None
    error: Optional[Exception] = None
    try:
        while True:
            try:
                item = flow.send(sending) if error is None else flow.throw(error)
            except StopIteration as stop:
                return cast(_T, stop.value)
            sending, error = None, None
            if isinstance(item, Rows):
                yield from item.rows
                continue
            try:
                sending = _perform(item)
            except Exception as caught:  # noqa: BLE001 - thrown into the flow, as the effect's outcome
                error = caught
    finally:
        flow.close()


def _run(flow: Flow[_T]) -> _T:
    """Run a flow that hands out no rows (call, call_many, batch) to its value."""
    driving = _drive(flow)
    while True:
        try:
            next(driving)
        except StopIteration as stop:
            return cast(_T, stop.value)


# --- any method -----------------------------------------------------------------------------------


def call(url: str, method: str, params: Optional[Mapping[str, Any]] = None, token: str = "") -> Dict[str, Any]:
    """Call any REST ``method`` with ``params`` as a JSON body; returns the portal's JSON answer.

    Same URL/token handling, settings, retries and secret handling as the OPI functions; error bodies
    are returned (or raised as :class:`APIError` with ``raise_api_errors=True``).
    """
    return _run(_call_flow(url, _method_name(method), _params(params), token))


def _call_flow(url: str, name: str, fields: Dict[str, Any], token: str) -> Flow[Dict[str, Any]]:
    interceptor = _core._interceptor.get()
    if interceptor is not None:  # inside deferred(): the call is noted, not sent
        return interceptor("POST", name, url, token, fields)
    status, data = yield Exchange("POST", name, url, token, fields)
    if "error" in data and _core.current_settings().raise_api_errors:
        from ._limits import typed_error

        raise typed_error(status, name, _core.endpoint_url(url, token, name)[0], data, token)
    return cast(Dict[str, Any], data)


def call_many(
    url: str, method: str, params: Iterable[Optional[Mapping[str, Any]]], token: str = ""
) -> List[Dict[str, Any]]:
    """Call ``method`` once per parameter set, sent 50 calls per ``batch`` request; the answers in order.

    ``call_many(url, "crm.deal.update", [{"id": 1, "fields": {...}}, {"id": 2, "fields": {...}}])``.
    Each answer has the shape :func:`call` returns: ``{"result": ..., "time": {...}}`` (with ``total``
    and ``next`` for a list method), or the portal's error for that call, ``{"error": ...,
    "error_description": ...}``; one call's error never stops the others. Batch requests go out
    several at a time (``concurrency``) and are paced by operating time (``operating_budget``). Text the
    portal would read as a reference to another command (``$result[...]``) and values a batch command
    cannot carry (``None``, empty lists) are refused before anything is sent. An error answer of a
    batch request itself raises :class:`APIError`.
    """
    return _run(_call_many_flow(url, _many(method, params), token))


def _many(method: str, params: Iterable[Optional[Mapping[str, Any]]]) -> List[Command]:
    """call_many's commands: one per parameter set, each the caller's data (never a reference)."""
    name = _method_name(method)
    if isinstance(params, (str, bytes, Mapping)):
        raise InvalidArgument("params", "must be a list of parameter sets (mappings), one per call")
    commands = [Command(name, _params(one)) for one in params]
    for index, cmd in enumerate(commands):  # each call is the caller's data: never a reference to another
        _no_references(cmd.params, "params", f"params[{index}]")
    return commands


def _call_many_flow(url: str, commands: List[Command], token: str) -> Flow[List[Dict[str, Any]]]:
    out = yield from _batch_flow(url, commands, token, False)
    answers: List[Dict[str, Any]] = []
    for index in range(len(commands)):
        if index in out["result"]:
            answer: Dict[str, Any] = {"result": out["result"][index]}
            for part, field in (("result_total", "total"), ("result_next", "next"), ("result_time", "time")):
                if index in out[part]:
                    answer[field] = out[part][index]
        else:
            error = out["result_error"].get(index)
            answer = dict(error) if isinstance(error, Mapping) else {"error": "NOT_ANSWERED", "error_description": ""}
        answers.append(answer)
    return answers


def _method_name(method: Any) -> str:
    name = "" if method is None else str(method).strip()
    if not name or not re.fullmatch(r"[A-Za-z0-9_.]+", name):
        raise InvalidArgument("method", "must be a REST method name such as crm.lead.list")
    return name


def _params(params: Any) -> Dict[str, Any]:
    if params is None or params == "":
        return {}
    if isinstance(params, str):
        from . import _convert

        params = _convert.collection(params, "params")
    if not isinstance(params, Mapping):
        raise InvalidArgument("params", "must be a mapping (or JSON object text)")
    return {str(k): v for k, v in params.items() if v is not SKIP}


# --- requests: pacing, sending, answers -----------------------------------------------------------


class _Request(NamedTuple):
    """One bulk request: a page of a list method (no ``chunk``) or a batch request of ``chunk``'s commands."""

    method: str  # the REST method sent: the list method, or "batch"
    fields: Dict[str, Any]
    chunk: Optional[List[Tuple[Any, str, Command]]] = None

    def counts(self) -> Dict[str, int]:
        """The commands per method it asks the portal to run (what pacing reserves time for)."""
        if self.chunk is None:
            return {self.method: 1}
        counts: Dict[str, int] = {}
        for _, _, cmd in self.chunk:
            counts[cmd.method] = counts.get(cmd.method, 0) + 1
        return counts


def _batch_request(chunk: List[Tuple[Any, str, Command]], halt: bool) -> _Request:
    cmd = {wire: _wire(c, f"commands[{key}]") for key, wire, c in chunk}
    return _Request("batch", {"halt": 1 if halt else 0, "cmd": cmd}, chunk)


def _admit(url: str, token: str, requests: Sequence[_Request]) -> Flow[List[_pace.Reservation]]:
    """Reservations of operating time (``operating_budget``) for the first requests whose commands fit
    it now: at least one, after waiting (each method's budget is kept with the requests in flight)."""
    config = _core.current_settings()
    budget = config.operating_budget
    if budget is None:
        return [[] for _ in requests]
    address = _core.endpoint_url(url, token, "batch")[0]
    give_up = _pace.clock() + max(budget[1] * 2, config.operating_wait)
    while True:
        taken: List[_pace.Reservation] = []
        wait = 0.0
        for request in requests:
            reservation, wait = _pace.try_admit(address, request.counts(), budget, give_up)
            if reservation is None:
                break
            taken.append(reservation)
        if taken:
            return taken
        yield Wait(min(wait, POLL), "operating time")


def _send(url: str, token: str, requests: Sequence[_Request]) -> Flow[List[Any]]:
    """Send the first of ``requests`` that fit the operating-time budget (at least one), together when
    more than one; one outcome per request sent, in order: a page's answer, a batch request's inner
    answer (``result``, ``result_error``, ... with the portal's error texts cleaned of secrets), or the
    exception it ended with, returned (the caller raises it at its turn, after the rows before it)."""
    reservations = yield from _admit(url, token, requests)
    sent = list(requests[: len(reservations)])
    blocks: List[Dict[str, List[Any]]] = [{} for _ in sent]
    try:
        effects = [Exchange("POST", r.method, url, token, r.fields) for r in sent]
        if len(effects) == 1:
            try:
                outcomes: List[Any] = [(yield effects[0])]
            except Exception as error:  # noqa: BLE001 - the caller raises it at its turn
                outcomes = [error]
        else:
            outcomes = list((yield Parallel(tuple(effects))))
        answers: List[Any] = []
        times: List[Tuple[str, Any]] = []
        for request, outcome, block in zip(sent, outcomes, blocks):
            answers.append(_answer(url, token, request, outcome, block, times))
        if times:
            yield Do(_note_times, (_core.endpoint_url(url, token, "batch")[0], times))
        return answers
    finally:
        for reservation, block in zip(reservations, blocks):
            if reservation:
                _pace.settle(reservation, block)


def _answer(
    url: str, token: str, request: _Request, outcome: Any, blocks: Dict[str, List[Any]], times: List[Tuple[str, Any]]
) -> Any:
    """What one request's outcome means: its answer, or the exception to raise (an error answer always
    raises: batch and iterate never return part of a job). ``blocks`` gets the ``time`` blocks to settle
    the pacing reservation with, ``times`` each batch command's ``(method, time block)``."""
    if isinstance(outcome, BaseException):
        return outcome
    status, data = outcome
    method = request.method
    if "error" in data:
        from ._limits import typed_error

        if method == "batch" and str(data.get("error")).upper() in ("ERROR_METHOD_NOT_FOUND", "METHOD_NOT_FOUND"):
            data = dict(data, error_description=NO_BATCH)
        address = _core.endpoint_url(url, token, method)[0]
        return typed_error(status, method, address, _clean(data, url, token), token)
    if request.chunk is None:
        blocks[method.strip().lower()] = [data.get("time")]
        return data
    inner = data.get("result")
    if not isinstance(inner, Mapping):
        return APIError(200, "batch", {"error": "UNEXPECTED_ANSWER", "error_description": "no result block"})
    noted = inner.get("result_time")
    if isinstance(noted, Mapping):
        for _, wire, c in request.chunk:
            times.append((c.method, noted.get(wire)))
            blocks.setdefault(c.method.strip().lower(), []).append(noted.get(wire))
    answer = dict(inner)
    if isinstance(answer.get("result_error"), Mapping):
        answer["result_error"] = _clean(answer["result_error"], url, token)
    return answer


def _note_times(address: str, times: List[Tuple[str, Any]]) -> None:
    """Record each batch command's ``time`` block for its method (the operating-time accounting)."""
    from . import _limits

    for method, block in times:
        _limits.note_time(address, method, block)


def _single(url: str, token: str, request: _Request) -> Flow[Dict[str, Any]]:
    """One request (paced); its answer, or its error raised."""
    (answer,) = yield from _send(url, token, [request])
    if isinstance(answer, BaseException):
        raise answer
    return cast(Dict[str, Any], answer)


def _secrets(url: str, token: str) -> Tuple[str, ...]:
    """The webhook key in ``url`` and the token: what no bulk error may show."""
    address = _core.endpoint_url(url, token, "batch")[0]
    return tuple(s for s in (token,) if s) + _core._url_secrets(address)


def _clean(value: Any, url: str, token: str) -> Any:
    """``value`` (an answer body, or part of one) with every secret removed by :func:`_core.redact`."""
    secrets = _secrets(url, token)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _core.redact(item, *secrets)
        if isinstance(item, Mapping):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        return item

    return walk(value)


def _carry(function: Callable[..., _T]) -> Callable[..., _T]:
    """``function`` run in a copy of the caller's context, taken now: the settings of a ``with settings()``
    block (and the other context the package keeps) reach a worker thread. Every thread or pool task the
    package starts goes through this; each run gets its own copy, so tasks may run side by side.
    Callers' own pools do the same with ``pool.submit(contextvars.copy_context().run, fn, *args)``.
    """
    context = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> _T:
        return context.copy().run(function, *args, **kwargs)

    return run


# --- PHP http_build_query -------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    try:
        converted = _core._json_default(value)
    except TypeError:
        converted = value
    return str(converted)


def build_query(params: Mapping[str, Any], prefix: str = "") -> str:
    """Encode nested parameters the way PHP's ``http_build_query`` does (``filter%5B%3EID%5D=5``).

    Mappings and lists become ``key[sub]`` / ``key[0]``; ``True``/``False`` become ``1``/``0``;
    ``None`` and empty containers are left out (as PHP does); spaces are ``+``.
    """
    parts: List[str] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None or value is SKIP:
            continue
        if isinstance(value, Mapping):
            inner = build_query(value, name)
        elif isinstance(value, (list, tuple, set, frozenset)):
            inner = build_query({str(i): item for i, item in enumerate(value)}, name)
        else:
            parts.append(quote_plus(name) + "=" + quote_plus(_scalar(value)))
            continue
        if inner:
            parts.append(inner)
    return "&".join(parts)


def _refuse(parameter: str, path: str, problem: str) -> InvalidArgument:
    return InvalidArgument(parameter, f"{path} {problem}")


def _key_text(key: Any, parameter: str, path: str, top: bool) -> str:
    """A parameter key as PHP's ``parse_str`` will read it back, or :class:`InvalidArgument`."""
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise _refuse(parameter, path, f"has the key {key!r}: keys must be text or whole numbers")
    text = str(key)
    if not text or "[" in text or "]" in text:
        raise _refuse(parameter, path, f"has the key {text!r}: an empty key or one with [ or ] changes the structure")
    if top and (any(c in text for c in ". ") or text != text.strip()):
        raise _refuse(parameter, path, f"has the key {text!r}: the portal reads . and spaces in a name as _")
    return text


def _strict_query(params: Mapping[str, Any], parameter: str, path: str) -> str:
    """:func:`build_query` for a batch command, refusing what it cannot carry instead of dropping it.

    ``None`` and empty lists/mappings would vanish (``{"@ID": []}`` would widen a filter to everything),
    and keys that collide as text or hold ``[``, ``]`` (``.`` or a space at the top) would change the
    structure: each is an :class:`InvalidArgument` naming its path (``params.filter.@ID``).
    """
    parts: List[str] = []

    def walk(value: Mapping[Any, Any], prefix: str, where: str) -> None:
        names: Dict[str, Any] = {}
        for key, item in value.items():
            text = _key_text(key, parameter, where, not prefix)
            if text in names:
                raise _refuse(parameter, where, f"has the keys {names[text]!r} and {key!r}: one key on the wire")
            names[text] = key
            name = f"{prefix}[{text}]" if prefix else text
            here = f"{where}.{text}"
            if item is None or item is SKIP:
                raise _refuse(parameter, here, "is None, which a batch command cannot carry; leave the key out")
            listed = isinstance(item, (list, tuple, set, frozenset))
            if listed or isinstance(item, Mapping):
                if not item:
                    raise _refuse(
                        parameter,
                        here,
                        f"is an empty {'list' if listed else 'mapping'}, which a batch command cannot carry (the "
                        "portal would not see the key: an empty filter value would select everything); leave the key "
                        "out or give a value",
                    )
                walk(dict(enumerate(item)) if listed else item, name, here)
            else:
                parts.append(quote_plus(name) + "=" + quote_plus(_scalar(item)))

    walk(params, "", path)
    return "&".join(parts)


# --- deferred commands ----------------------------------------------------------------------------

_recorder: contextvars.ContextVar[Optional[List[Command]]] = contextvars.ContextVar(
    "opi_bitrix24_deferred", default=None
)
_last_target: contextvars.ContextVar[Optional[Tuple[Any, Any]]] = contextvars.ContextVar(
    "opi_bitrix24_target", default=None
)


def recording() -> Optional[List[Command]]:
    """The command list of the innermost :func:`deferred` block, or None (the core sends)."""
    return _recorder.get()


def record(commands: List[Command], api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Dict[str, Any]:
    """Called by the core instead of sending: note the command; the function gets an empty answer."""
    _core.endpoint_url(url, token, api_method)  # the same argument checks as a real call
    commands.append(_Recorded(api_method, {k: v for k, v in fields.items() if v is not SKIP}))
    _last_target.set((url, token))
    return {}


@contextlib.contextmanager
def deferred() -> Iterator[List[Command]]:
    """Inside the block, OPI functions (and :func:`call`) record their request instead of sending it.

    ``with deferred() as cmds: get_task(url, 42); update_lead(url, 7, {"TITLE": "x"})`` then
    ``batch(url, cmds)``. Functions whose result needs a second request (uploads) cannot be deferred.
    """
    commands: List[Command] = []

    def note(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Dict[str, Any]:
        return record(commands, api_method, url, token, fields)

    marker = _recorder.set(commands)
    try:
        with _core.intercepting(note):  # the core's interception point: calls are noted, not sent
            yield commands
    finally:
        _recorder.reset(marker)


def command(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Command:
    """The batch command an OPI function call would send: ``command(get_task, url, 42)``."""
    with deferred() as commands:
        function(*args, **kwargs)
    if len(commands) != 1:
        raise InvalidArgument("function", f"makes {len(commands)} requests, not one; it cannot be a batch command")
    return commands[0]


# --- batch ----------------------------------------------------------------------------------------

Commands = Union[Mapping[str, Any], Sequence[Any]]
#: Every reference spelling the portal fills after parsing a command (``$result[k]``, ``$next[k]``,
#: ``$total[k]``, ``$time[k]``, ``$error[k]``, any letter case; the ``$result_next`` family too).
_REFERENCE = re.compile(r"\$(?:result|next|total|time|error)(?:_(?:error|total|next|time))?\[([^\]]*)\]", re.I)
_PARTS = ("result", "result_error", "result_total", "result_next", "result_time")


def _normalise(commands: Commands) -> List[Tuple[Any, str, Command]]:
    """``[(user key, wire key, command)]`` in order; wire keys are never all-numeric."""
    out: List[Tuple[Any, str, Command]] = []
    if isinstance(commands, Mapping):
        for key, value in commands.items():
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise InvalidArgument(
                    "commands",
                    f"key {key!r}: use text of letters, digits and _ that starts with a letter (not a number)",
                )
            out.append((key, key, _command(value, key)))
    else:
        for index, value in enumerate(commands):
            out.append((index, f"k{index}", _command(value, str(index))))
    return out


def _command(value: Any, where: str) -> Command:
    if isinstance(value, Command):
        made = Command(_method_name(value.method), _params(value.params))
        if isinstance(value, _Recorded):
            _no_references(made.params, "commands", f"commands[{where}]")
        return made
    if isinstance(value, str):
        return Command(_method_name(value), {})
    if isinstance(value, (tuple, list)) and len(value) in (1, 2):
        return Command(_method_name(value[0]), _params(value[1] if len(value) == 2 else None))
    raise InvalidArgument("commands", f"command {where}: give (method, params)")


def _references(value: Any, path: str = "") -> Iterator[Tuple[str, str, str]]:
    """``(path, spelling, referred key)`` of every reference spelling in the values (and keys)."""
    if isinstance(value, str):
        for match in _REFERENCE.finditer(value):
            yield path, match.group(0), match.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _references(str(key), path)
            yield from _references(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            yield from _references(item, f"{path}[{index}]")


def _no_references(params: Mapping[str, Any], parameter: str, path: str) -> None:
    """Refuse the caller's data that the portal would read as a reference to another command's answer."""
    for where, spelling, _ in _references(params, path):
        raise InvalidArgument(
            parameter,
            f"{where} holds {spelling!r}, which the portal would replace with another command's answer; "
            "send this value with call(), or chain commands with (method, params) pairs in batch()",
        )


def _chunks(items: List[Tuple[Any, str, Command]]) -> List[List[Tuple[Any, str, Command]]]:
    chunks = [items[i : i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
    every = {wire for _, wire, _ in items}
    for chunk in chunks:
        earlier: set[str] = set()
        for _, wire, cmd in chunk:
            for _path, _spelling, ref in _references(cmd.params):
                if ref in earlier:
                    continue
                if ref in every:
                    raise InvalidArgument(
                        "commands",
                        f"command {wire} refers to $result[{ref}], which is not an earlier command of the same "
                        f"batch request of {BATCH_SIZE}; reorder the commands or split the job",
                    )
                raise InvalidArgument("commands", f"command {wire} refers to $result[{ref}], an unknown command")
            earlier.add(wire)
    return chunks


def _wire(cmd: Command, where: str = "commands") -> str:
    query = _strict_query(cmd.params, "commands", where)
    return cmd.method + ("?" + query if query else "")


_Progress = _progress.Task
_quiet = _progress.quiet  # the CLI's --quiet


#: The ``error`` of the marker that :func:`batch` puts in ``result_error`` for a command the portal
#: answered in neither ``result`` nor ``result_error`` (after ``halt``), or never got (a chunk
#: not sent after ``halt``).
NOT_ANSWERED = "NOT_ANSWERED"


def batch(url: str, commands: Commands, token: str = "", halt: bool = False) -> Dict[str, Any]:
    """Run many commands, 50 per ``batch`` request, in order.

    ``commands``: a mapping ``{key: (method, params)}`` or a list of ``(method, params)`` (or
    :class:`Command` values from :func:`deferred` / :func:`command`). A parameter value may refer to
    an earlier command of the same chunk of 50 as ``$result[key][field]`` (list input: keys ``k0``,
    ``k1``, ...); a reference across a chunk boundary is refused before anything is sent, and so is a
    value the batch encoding cannot carry (``None``, an empty list or mapping), a key that would change
    on the wire, and reference text inside a command recorded from an OPI function.

    Returns ``{"result": {...}, "result_error": {...}, "result_total": {...}, "result_next": {...},
    "result_time": {...}}`` keyed by your keys (list positions for a list), in command order. Every
    command is in ``result`` or ``result_error``: one the portal answered in neither, or that was never
    sent, has ``{"error": "NOT_ANSWERED", ...}``. With ``halt=True`` no further chunk is sent after one
    that had an error. An error answer of the batch request itself raises :class:`APIError`; with
    ``raise_api_errors=True`` the first failed (or unanswered) command raises its typed
    :class:`APIError` once its chunk is done, and no further chunk is sent.
    """
    return _run(_batch_flow(url, commands, token, halt))


def _batch_flow(url: str, commands: Commands, token: str, halt: bool) -> Flow[Dict[str, Any]]:
    items = _normalise(commands)
    chunks = _chunks(items)
    for user_key, _, cmd in items:
        _wire(cmd, f"commands[{user_key}]")  # everything is encodable before anything is sent
    out: Dict[str, Any] = {part: {} for part in _PARTS}
    raising = _core.current_settings().raise_api_errors
    progress = _Progress("batch", len(items))
    # chunks are independent (references never cross them): several in flight at once, unless halt or
    # raise_api_errors must see one chunk's errors before the next is sent
    workers = 1 if halt or raising else _core.current_settings().concurrency
    try:
        number = 0
        while number < len(chunks):
            requests = [_batch_request(chunk, halt) for chunk in chunks[number : number + workers]]
            for answer in (yield from _send(url, token, requests)):
                if isinstance(answer, BaseException):
                    raise answer
                chunk = chunks[number]
                number += 1
                failed = _account(chunk, answer, out, "the portal answered it in neither result nor result_error")
                progress.add(len(chunk))
                if failed is not None and raising:
                    raise _command_error(failed, out, items)
                if halt and out["result_error"]:
                    for later in chunks[number:]:
                        _account(later, {}, out, "not sent: an earlier command failed and halt is on")
                    return out
    finally:
        progress.close()
    return out


def _account(
    chunk: List[Tuple[Any, str, Command]], answer: Mapping[str, Any], out: Dict[str, Any], missing: str
) -> Optional[Tuple[Any, Command]]:
    """Copy one chunk's answer into ``out`` under the caller's keys; a command in neither ``result`` nor
    ``result_error`` gets the :data:`NOT_ANSWERED` marker. Returns the first failed ``(key, command)``."""
    failed: Optional[Tuple[Any, Command]] = None
    for user_key, wire, cmd in chunk:
        for part in _PARTS:
            values = answer.get(part)
            if isinstance(values, Mapping) and wire in values:
                out[part][user_key] = values[wire]
        if user_key not in out["result"] and user_key not in out["result_error"]:
            out["result_error"][user_key] = {"error": NOT_ANSWERED, "error_description": missing}
        if user_key in out["result_error"] and failed is None:
            failed = (user_key, cmd)
    return failed


def _command_error(failed: Tuple[Any, Command], out: Mapping[str, Any], items: Sequence[Any]) -> APIError:
    key, cmd = failed
    body = out["result_error"][key]
    error = api_error(200, cmd.method, dict(body) if isinstance(body, Mapping) else {"error": str(body)})
    done = len(out["result"])
    error.args = (f"{error.args[0]} (batch command {key!r}; {done} of {len(items)} commands succeeded)",)
    return error


# --- every page -----------------------------------------------------------------------------------


class Shape(NamedTuple):
    """Where a list method's rows are and how its ID is named (row field, filter/order field)."""

    rows: str  # "" = the result is the list; else the key of the list inside the result
    row_id: str
    filter_id: str
    fast: bool  # the method accepts order/filter >ID/start=-1


#: Explicit per-method rules; methods not listed are treated as a bare list with ``ID`` and paged
#: the classic way (``start``/``next``) unless ``fast=True`` is asked for.
SHAPES: Dict[str, Shape] = {
    "tasks.task.list": Shape("tasks", "id", "ID", True),
    "crm.item.list": Shape("items", "id", "id", True),
    "crm.lead.list": Shape("", "ID", "ID", True),
    "crm.deal.list": Shape("", "ID", "ID", True),
    "crm.contact.list": Shape("", "ID", "ID", True),
    "crm.company.list": Shape("", "ID", "ID", True),
    "crm.activity.list": Shape("", "ID", "ID", True),
    "crm.product.list": Shape("", "ID", "ID", True),
    "user.get": Shape("", "ID", "ID", False),
    "department.get": Shape("", "ID", "ID", False),
    "disk.folder.getchildren": Shape("", "ID", "ID", False),
    "disk.storage.getchildren": Shape("", "ID", "ID", False),
    "disk.storage.getlist": Shape("", "ID", "ID", False),
    "calendar.event.get": Shape("", "ID", "ID", False),
    "task.commentitem.getlist": Shape("", "ID", "ID", False),
    "timeman.timecontrol.reports.get": Shape("", "ID", "ID", False),
    "im.dialog.messages.get": Shape("messages", "id", "ID", False),
    "crm.timeline.comment.list": Shape("", "ID", "ID", True),
}


def _shape(method: str) -> Shape:
    return SHAPES.get(method.lower(), Shape("", "ID", "ID", False))


def _rows(method: str, shape: Shape, result: Any) -> List[Any]:
    rows = result.get(shape.rows) if shape.rows and isinstance(result, Mapping) else result
    if isinstance(rows, Mapping):
        rows = list(rows.values())
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise APIError(200, method, {"error": "UNEXPECTED_ANSWER", "error_description": "the result is not a list"})
    return rows


def iterate(
    url: str,
    method: str,
    params: Optional[Mapping[str, Any]] = None,
    token: str = "",
    fast: Optional[bool] = None,
    use_batch: bool = True,
) -> Iterator[Any]:
    """Yield every row of a list method, lazily, page by page; an error on any page raises.

    ``fast``: ``True`` pages by ID (``order ID ASC``, filter ``>ID``, ``start=-1``, no COUNT on the
    portal) — 50 pages chained in one batch request with ``$result`` references; ``False`` pages with
    ``start``/``next`` (the remaining pages 50 per batch request once ``total`` is known); ``None``
    (default) picks fast for the methods in :data:`SHAPES` that support it when ``params`` has no
    ``order`` or ``start`` of its own. ``use_batch=False`` sends one request per page.
    """
    return _drive(_iterate_flow(url, method, params, token, fast, use_batch))


def _iterate_flow(
    url: str, method: str, params: Optional[Mapping[str, Any]], token: str, fast: Optional[bool], use_batch: bool
) -> Flow[None]:
    """iterate's flow, its arguments checked now (before anything is sent); the rows come as :class:`Rows`."""
    name = _method_name(method)
    fields = _params(params)
    _strict_query(fields, "params", "params")  # pages go out as batch commands: nothing may be dropped
    _no_references(fields, "params", "params")
    shape = _shape(name)
    if fast is None:
        fast = shape.fast and "order" not in fields and "start" not in fields
    if not fast:
        return _classic(url, name, fields, token, shape, use_batch)
    if use_batch and _core.current_settings().concurrency > 1 and _splittable(fields, shape):
        return _fast_parts(url, name, fields, token, shape)
    return _fast_chain(url, name, fields, token, shape, use_batch)


class _Seen:
    """The IDs yielded so far: each row once, and each row with its ID (every loop ends)."""

    def __init__(self, method: str, shape: Shape) -> None:
        self.method = method
        self.shape = shape
        self.ids: set[str] = set()

    def check(self, rows: List[Any], where: str) -> None:
        for row in rows:
            if not isinstance(row, Mapping) or self.shape.row_id not in row:
                raise _paging_error(
                    self.method,
                    f"a row of {where} has no {self.shape.row_id!r} field (iterate needs it to yield each row once)",
                    str(row)[:120],
                )
            ident = str(row[self.shape.row_id])
            if ident in self.ids:
                raise _paging_error(
                    self.method,
                    f"{where} repeats {self.shape.row_id} {ident}, already yielded ({len(self.ids)} rows so far); "
                    "the portal does not page as asked, so the loop stops instead of repeating rows",
                    f"{len(rows)} rows",
                )
            self.ids.add(ident)


def _paging_error(method: str, problem: str, seen: str) -> UnexpectedResponse:
    """The error of a page that cannot be right (the portal answered HTTP 200)."""
    return UnexpectedResponse(200, _core.redact(seen), f"{method}: {problem}")


def _next_of(answer: Mapping[str, Any]) -> Optional[int]:
    value = answer.get("next")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_next(method: str, start: int, rows: List[Any], following: Optional[int]) -> None:
    """A page that says ``next`` must have rows and point forward."""
    if following is None:
        return
    if not rows:
        raise _paging_error(method, f"the page at start={start} is empty but says next={following}", "0 rows")
    if following <= start:
        raise _paging_error(
            method, f"the page at start={start} says next={following}, which does not go forward", f"{len(rows)} rows"
        )


def _first_start(fields: Dict[str, Any]) -> int:
    value = fields.pop("start", 0)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise InvalidArgument("params", f"params.start must be a whole number, not {value!r}") from None


def _classic(url: str, method: str, fields: Dict[str, Any], token: str, shape: Shape, use_batch: bool) -> Flow[None]:
    start = _first_start(fields)
    seen = _Seen(method, shape)
    first = yield from _single(url, token, _Request(method, dict(fields, start=start)))
    rows = _rows(method, shape, first.get("result"))
    seen.check(rows, f"the page at start={start}")
    total = first.get("total")
    progress = _Progress(method, total if isinstance(total, int) else None)
    try:
        yield Rows(rows)
        progress.add(len(rows))
        following = _next_of(first)
        _check_next(method, start, rows, following)
        if not use_batch or not isinstance(total, int) or isinstance(total, bool):
            while following is not None:
                start = following
                page = yield from _single(url, token, _Request(method, dict(fields, start=start)))
                rows = _rows(method, shape, page.get("result"))
                seen.check(rows, f"the page at start={start}")
                yield Rows(rows)
                progress.add(len(rows))
                following = _next_of(page)
                _check_next(method, start, rows, following)
            return
        if following is None:
            return
        # one batch request of pages per group, never past what total says; the first group alone (a
        # portal whose paging is wrong shows it there, before more is asked), then up to concurrency
        # groups in flight, read in order (at most that many answers held); a page's error raises when
        # its turn comes, after the rows of the pages before it
        groups = _groups(following, total)
        queued: Deque[Tuple[List[Tuple[int, str, Command]], _Request]] = collections.deque()
        width = 1
        while True:
            while len(queued) < width:
                group = next(groups, None)
                if group is None:
                    break
                chunk = _classic_chunk(method, fields, group)
                queued.append((chunk, _batch_request(chunk, False)))
            if not queued:
                return
            for answer in (yield from _send(url, token, [request for _, request in queued])):
                chunk = queued.popleft()[0]
                if isinstance(answer, BaseException):
                    raise answer
                for offset, page_rows, page_next in _classic_read(method, shape, chunk, answer):
                    seen.check(page_rows, f"the page at start={offset}")
                    yield Rows(page_rows)
                    progress.add(len(page_rows))
                    _check_next(method, offset, page_rows, page_next)
                    if page_next is None:
                        return  # the last page
                    if page_next != offset + PAGE:
                        raise _paging_error(
                            method, f"the page at start={offset} says next={page_next}, not {offset + PAGE}", ""
                        )
            width = _core.current_settings().concurrency
    finally:
        progress.close()


def _groups(begin: int, total: int) -> Iterator[List[int]]:
    """The offsets of the pages left, 50 per group; the next group starts where the previous one ends
    (its last page must say so: checked as it is read)."""
    offset = begin
    while True:
        group = [offset + i * PAGE for i in range(BATCH_SIZE) if offset + i * PAGE < total]
        if not group:
            return
        yield group
        offset = group[-1] + PAGE


def _classic_chunk(method: str, fields: Dict[str, Any], offsets: List[int]) -> List[Tuple[int, str, Command]]:
    return [(offset, f"s{offset}", Command(method, dict(fields, start=offset))) for offset in offsets]


def _classic_read(
    method: str, shape: Shape, chunk: List[Tuple[int, str, Command]], answer: Mapping[str, Any]
) -> Iterator[Tuple[int, List[Any], Optional[int]]]:
    """The pages of one answered batch request: ``(offset, rows, next)`` in order; a failed or unanswered
    page raises when it is reached."""
    for offset, wire, _cmd in chunk:
        result = _page_result(method, answer, wire, f"start={offset}")
        nexts = answer.get("result_next")
        page_next = nexts.get(wire) if isinstance(nexts, Mapping) else None
        yield offset, _rows(method, shape, result), page_next if isinstance(page_next, int) else None


def _page_result(method: str, answer: Mapping[str, Any], wire: str, where: str) -> Any:
    """A batched page's result; its error raises (typed), and so does a page answered in neither part."""
    errors = answer.get("result_error")
    if isinstance(errors, Mapping) and wire in errors:
        body = errors[wire]
        raise api_error(200, method, dict(body) if isinstance(body, Mapping) else {"error": str(body)})
    results = answer.get("result")
    if not isinstance(results, Mapping) or wire not in results:
        raise APIError(
            200, method, {"error": "MISSING_PAGE", "error_description": f"no answer for the page at {where}"}
        )
    return results[wire]


def _id_bound(fields: Dict[str, Any], shape: Shape) -> Tuple[Dict[str, Any], Any, int]:
    """The caller's filter without its ``>ID`` bound, the bound as given and as a whole number (fields
    lose ``filter`` and ``start``: the fast loop sets them on each page)."""
    user_filter = dict(fields.pop("filter", None) or {})
    fields.pop("start", None)
    key = ">" + shape.filter_id
    bound = user_filter.pop(key, 0)
    last = _whole(bound)
    if last is None:
        raise InvalidArgument("params", f"params.filter.{key} must be a whole number to page by ID, not {bound!r}")
    return user_filter, bound, last


def _fast_chain(url: str, method: str, fields: Dict[str, Any], token: str, shape: Shape, use_batch: bool) -> Flow[None]:
    user_filter, bound, last = _id_bound(fields, shape)
    seen = _Seen(method, shape)
    progress = _Progress(method)
    sent: Any = bound  # what the next page's filter carries: the last row's ID as the portal gave it
    try:
        while True:
            if use_batch:  # 50 pages chained in one batch request (each page's >ID: the previous page's last row)
                chunk = _chain(method, fields, user_filter, shape, sent, BATCH_SIZE)
                answer = yield from _single(url, token, _batch_request(chunk, False))
                pages: Iterator[List[Any]] = (
                    _rows(method, shape, _page_result(method, answer, wire, wire)) for _, wire, _cmd in chunk
                )
            else:
                params = _fast_params(fields, user_filter, shape, sent)
                page = yield from _single(url, token, _Request(method, params))
                pages = iter([_rows(method, shape, page.get("result"))])
            for rows in pages:
                where = f"the page after {shape.row_id} {last}"
                last = _after(method, shape, rows, last)
                seen.check(rows, where)
                yield Rows(rows)
                progress.add(len(rows))
                if len(rows) < PAGE:
                    return  # the end; later pages referred to a row that does not exist and are dropped
                sent = rows[-1][shape.row_id]
    finally:
        progress.close()


def _whole(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _after(method: str, shape: Shape, rows: List[Any], last: int) -> int:
    """The last ID of a fast page, each ID after the one before (a portal ignoring ``>ID`` stops here)."""
    for row in rows:
        value = row.get(shape.row_id) if isinstance(row, Mapping) else None
        ident = _whole(value)
        if ident is None:
            raise _paging_error(
                method, f"a row after {shape.row_id} {last} has no whole-number {shape.row_id!r}", str(row)[:120]
            )
        if ident <= last:
            raise _paging_error(
                method,
                f"asked for rows with {shape.row_id} > {last} in ascending order, got {shape.row_id} {ident}; "
                "the portal ignores the filter, so the loop stops instead of repeating rows",
                f"{len(rows)} rows",
            )
        last = ident
    return last


def _fast_params(fields: Dict[str, Any], user_filter: Dict[str, Any], shape: Shape, after: Any) -> Dict[str, Any]:
    order = {shape.filter_id: "ASC"}
    return dict(fields, order=order, filter=dict(user_filter, **{">" + shape.filter_id: after}), start=-1)


def _chain(
    method: str, fields: Dict[str, Any], user_filter: Dict[str, Any], shape: Shape, after: Any, count: int
) -> List[Tuple[Any, str, Command]]:
    """``count`` pages chained in one batch request: the first after ``after``, each next one after the
    previous page's last row (a ``$result`` reference the portal fills)."""
    path = f"[{shape.rows}]" if shape.rows else ""
    chunk: List[Tuple[Any, str, Command]] = [
        (0, "p0", Command(method, _fast_params(fields, user_filter, shape, after)))
    ]
    for i in range(1, count):
        ref = f"$result[p{i - 1}]{path}[{PAGE - 1}][{shape.row_id}]"
        chunk.append((i, f"p{i}", Command(method, _fast_params(fields, user_filter, shape, ref))))
    return chunk


PART = PAGE * BATCH_SIZE


def _splittable(fields: Mapping[str, Any], shape: Shape) -> bool:
    """An export can run as ID-range parts when its own ID bounds are whole numbers (or absent)."""
    user_filter = fields.get("filter") or {}
    if not isinstance(user_filter, Mapping):
        return False
    for op in (">", "<="):
        key = op + shape.filter_id
        if key in user_filter and _whole(user_filter[key]) is None:
            return False
    return True


def _fast_parts(url: str, method: str, fields: Dict[str, Any], token: str, shape: Shape) -> Flow[None]:
    """The fast export with several requests in flight (``concurrency``), rows in ID order, each once.

    The first batch request chains 49 pages as the one-chain export does, and asks in its last command
    for the highest ID that matches (``order ID DESC``, ``start=-1``); an export that ends within those
    pages sends nothing more. Past them, the range up to that ID is cut into parts of :data:`PART` IDs,
    each read as a chain of pages inside its range (``>ID`` and ``<=ID`` added to the caller's filter,
    which only narrows it); the last part has no upper bound, so rows added meanwhile are read too.
    Parts are disjoint and each checks that its IDs ascend inside its range, so each row comes once; at
    most ``concurrency`` parts are read ahead of the consumer (the next request of each in flight
    together), so memory stays bounded. A part's error raises after the rows of the parts before it
    and its own rows read before the error.
    """
    user_filter, bound, last = _id_bound(fields, shape)
    lower_key, upper_key = ">" + shape.filter_id, "<=" + shape.filter_id
    chain = BATCH_SIZE - 1
    chunk = _chain(method, fields, user_filter, shape, bound, chain)
    highest = dict(fields, order={shape.filter_id: "DESC"}, filter=dict(user_filter, **{lower_key: bound}), start=-1)
    chunk.append((chain, "top", Command(method, highest)))
    progress = _Progress(method)
    try:
        answer = yield from _single(url, token, _batch_request(chunk, False))
        for _, wire, _cmd in chunk[:chain]:
            rows = _rows(method, shape, _page_result(method, answer, wire, wire))
            last = _after(method, shape, rows, last)
            yield Rows(rows)
            progress.add(len(rows))
            if len(rows) < PAGE:
                return  # a small export: this one batch request
        top_rows = _rows(method, shape, _page_result(method, answer, "top", "the highest ID"))
        top = _whole(top_rows[0].get(shape.row_id)) if top_rows and isinstance(top_rows[0], Mapping) else last
        if top is None:
            raise _paging_error(method, f"the highest {shape.row_id} has no whole number", str(top_rows[0])[:120])
        top = max(top, last)
        ceiling = _whole(user_filter.pop(upper_key)) if upper_key in user_filter else None
        # parts of PART IDs while more is left than one batch request reads with the page that sees the end
        bounds: List[Tuple[int, Optional[int]]] = []
        start = last
        while top - start > PART - PAGE:
            bounds.append((start, start + PART))
            start += PART
        bounds.append((start, ceiling))  # the rest, and rows added meanwhile
        # made as they are needed (a part read and handed out is let go: memory stays bounded)
        upcoming: Iterator[_Part] = (_Part(method, fields, user_filter, shape, a, b, top) for a, b in bounds)
        active: Deque[_Part] = collections.deque()
        concurrency = _core.current_settings().concurrency
        while True:
            while len(active) < concurrency:
                part = next(upcoming, None)
                if part is None:
                    break
                active.append(part)
            if not active:
                return
            if active[0].done:
                part = active.popleft()
                yield Rows(part.rows)  # the rows before a failing page come first, as in the one-chain export
                progress.add(len(part.rows))
                if part.error is not None:
                    raise part.error
                continue
            reading = [p for p in active if not p.done]
            for part, answer in zip(reading, (yield from _send(url, token, [p.request() for p in reading]))):
                part.take(answer)
                if part.error is not None:  # the export stops at this part: later ones are not needed
                    while active[-1] is not part:
                        active.pop()
                    upcoming = iter(())
                    break
    finally:
        progress.close()


class _Part:
    """One ID range of a split export (``after < ID <= upper``; no upper bound: None), read in ID order by
    chained pages, one batch request at a time: its rows, whether it is done, and the error that stopped
    it (a failed page or request, a row out of order or beyond the part)."""

    def __init__(
        self,
        method: str,
        fields: Dict[str, Any],
        user_filter: Dict[str, Any],
        shape: Shape,
        after: int,
        upper: Optional[int],
        top: int,
    ) -> None:
        self.method, self.fields, self.shape, self.upper, self.top = method, fields, shape, upper, top
        self.filter = dict(user_filter, **{"<=" + shape.filter_id: upper}) if upper is not None else dict(user_filter)
        self.last = after
        self.sent: Any = after  # what the next page's filter carries: the last row's ID as the portal gave it
        self.rows: List[Any] = []
        self.done = False
        self.error: Optional[BaseException] = None
        self.chunk: List[Tuple[Any, str, Command]] = []

    def request(self) -> _Request:
        """The next batch request: as many pages as the range can hold with dense IDs, and one more to see
        the end when the range reaches past the highest ID known; 50 when rows were added past it."""
        upper, top, last = self.upper, self.top, self.last
        reach = top if upper is None else min(upper, top)
        count = -(-(reach - last) // PAGE) + (1 if upper is None or upper > top else 0)
        count = BATCH_SIZE if last >= top else max(1, min(BATCH_SIZE, count))
        self.chunk = _chain(self.method, self.fields, self.filter, self.shape, self.sent, count)
        return _batch_request(self.chunk, False)

    def take(self, answer: Any) -> None:
        """Read the answer of :meth:`request`: the end of the range, or where the next request starts."""
        method, shape, upper = self.method, self.shape, self.upper
        try:
            if isinstance(answer, BaseException):
                raise answer
            for _, wire, _cmd in self.chunk:
                rows = _rows(method, shape, _page_result(method, answer, wire, wire))
                self.last = _after(method, shape, rows, self.last)
                if upper is not None and self.last > upper:
                    raise _paging_error(
                        method, f"asked for rows with {shape.row_id} <= {upper}, got {shape.row_id} {self.last}", ""
                    )
                self.rows.extend(rows)
                if len(rows) < PAGE or (upper is not None and self.last >= upper):
                    self.done = True  # the end of the range; later pages of the chain are dropped
                    return
                self.sent = rows[-1][shape.row_id]
        except Exception as error:  # noqa: BLE001 - handed to the consumer after the rows before it
            self.error, self.done = error, True


def all_pages(function: Callable[..., Any], *args: Any, fast: Optional[bool] = None, **kwargs: Any) -> List[Any]:
    """Every row an OPI list function would page through: ``all_pages(get_deals_list, url, {...})``.

    The function's first page request is recorded (not sent) and handed to :func:`iterate` with the
    same URL and token; the answer is the list of all rows (an error on any page raises).
    """
    url, method, params, token = _list_request(function, args, kwargs)
    return list(iterate(url, method, params, token, fast=fast))


def _list_request(
    function: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> Tuple[Any, str, Dict[str, Any], str]:
    """The first page request an OPI list function would send: ``(url, method, params, token)``."""
    with deferred() as commands:
        function(*args, **kwargs)
        target = _last_target.get()
    if len(commands) != 1 or target is None:
        raise InvalidArgument("function", "is not a one-request list function")
    cmd = commands[0]
    url, token = target
    params = dict(cmd.params)
    auth_free = {k: v for k, v in params.items() if k != "start"}
    if params.get("start") not in (None, 0, "0", ""):
        auth_free["start"] = params["start"]
    return url, cmd.method, auth_free, "" if token is None or token is SKIP else str(token)


# --- async entry points: the same flows, driven on an event loop -----------------------------------


async def acall(url: str, method: str, params: Optional[Mapping[str, Any]] = None, token: str = "") -> Dict[str, Any]:
    """:func:`call`, awaitable: the same request and answer, through the async driver."""
    return await _arun(_call_flow(url, _method_name(method), _params(params), token))


async def acall_many(
    url: str, method: str, params: Iterable[Optional[Mapping[str, Any]]], token: str = ""
) -> List[Dict[str, Any]]:
    """:func:`call_many`, awaitable: up to ``concurrency`` batch requests in flight as tasks."""
    return await _arun(_call_many_flow(url, _many(method, params), token))


async def abatch(url: str, commands: Commands, token: str = "", halt: bool = False) -> Dict[str, Any]:
    """:func:`batch`, awaitable: the same chunks, accounting and errors."""
    return await _arun(_batch_flow(url, commands, token, halt))


def aiterate(
    url: str,
    method: str,
    params: Optional[Mapping[str, Any]] = None,
    token: str = "",
    fast: Optional[bool] = None,
    use_batch: bool = True,
) -> AsyncIterator[Any]:
    """:func:`iterate` as an async iterator (``async for row in aiterate(...)``): the same pages and guards;
    the arguments are checked at the call, the pages fetched as the loop asks for rows."""
    return _adrive(_iterate_flow(url, method, params, token, fast, use_batch))


async def aall_pages(function: Callable[..., Any], *args: Any, fast: Optional[bool] = None, **kwargs: Any) -> List[Any]:
    """:func:`all_pages`, awaitable: the OPI list function's first request is recorded (nothing is sent
    while recording), then every page is read by :func:`aiterate`."""
    url, method, params, token = _list_request(function, args, kwargs)
    return [row async for row in aiterate(url, method, params, token, fast=fast)]


def _aperform(effect: Any) -> Awaitable[Any]:
    """Perform one effect with the async driver (:mod:`opi_bitrix24._async`, the ``async`` extra; imported
    on first use, so the blocking entry points never import the async library)."""
    from . import _async

    return _async.perform(effect)


async def _adrive(flow: Flow[Any]) -> AsyncIterator[Any]:
    """Run a flow on the running event loop: each effect performed by the async driver, the rows of each
    :class:`Rows` handed out as the consumer asks; a cancelled task closes the flow (its reservations of
    operating time are settled, its progress closed) and the cancellation goes on."""
    sending: Any = None
    error: Optional[Exception] = None
    try:
        while True:
            try:
                item = flow.send(sending) if error is None else flow.throw(error)
            except StopIteration:
                return
            sending, error = None, None
            if isinstance(item, Rows):
                for row in item.rows:
                    yield row
                continue
            try:
                sending = await _aperform(item)
            except Exception as caught:  # noqa: BLE001 - thrown into the flow, as the effect's outcome
                error = caught
    finally:
        flow.close()


async def _arun(flow: Flow[_T]) -> _T:
    """Run a flow that hands out no rows (call, call_many, batch) on the running event loop to its value."""
    value: List[_T] = []
    async for _ in _adrive(_keep(flow, value)):
        pass
    return value[0]


def _keep(flow: Flow[_T], value: List[_T]) -> Flow[None]:
    value.append((yield from flow))
