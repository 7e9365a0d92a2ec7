"""The rules of a call, written once as sans-IO flows (issue 22; ARCHITECTURE.md "one core, two drivers").

A *flow* is a generator that never touches a socket, never sleeps, never takes a thread lock and never
starts a thread. It *yields effects* (what it needs done) and is *sent back* what the effect produced;
its return value is the flow's result. A driver performs the effects: :mod:`._sync` with ``requests``
in the calling thread, the async driver on an event loop. The exception an effect raised is thrown into
the flow at its ``yield`` (so a flow's ``try``/``except`` sees it and can still yield clean-up effects).

The effects (frozen dataclasses):

- :class:`Send` -> :class:`Reply` or :class:`Failure`: one HTTP request, no redirect followed, the whole
  decoded body read up to ``max_bytes``.
- :class:`Wait` -> ``None``: sleep; the flow has already checked that the wait fits the deadline.
- :class:`Do` -> the function's result: a state operation (bucket, operating time, token pair, the
  store's lock) -- ``function(*args)``.
- :class:`Acquire` -> ``True``/``False`` (timed out), :class:`Release` -> ``None``: the coalescing
  lock of one OAuth app's refresh. A driver also releases what a flow still holds when it is closed.
- :class:`Exchange` -> ``(HTTP status, parsed answer)``: one whole call (limits, refresh, repeats) under
  its own deadline; :class:`Parallel` -> a list, in order, of such pairs or of the exception each raised
  (bulk flows only).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Generator,
    Hashable,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)
from urllib.parse import urljoin, urlsplit

from . import _auth, _deadline, _limits, _state, _stream
from ._errors import (
    AnswerTooLarge,
    DeadlineExceeded,
    OPIError,
    RedirectRefused,
    StateUnavailable,
    TransportError,
    UnexpectedResponse,
)
from ._redact import _url_secrets, redact
from ._settings import Result, Settings, current_settings
from ._stream import StreamedBody
from ._wire import _fields, _json_body, _query_string, endpoint_url

__all__ = [
    "Acquire",
    "Do",
    "Effect",
    "Exchange",
    "Failure",
    "Flow",
    "Outcome",
    "Parallel",
    "Release",
    "Reply",
    "Send",
    "Unsent",
    "Wait",
    "acquire",
    "call",
    "drive",
    "exchange",
    "fetch",
    "oauth_exchange",
    "operating_pause",
    "parse",
    "refresh",
    "send",
    "upload",
    "upload_target",
    "upload_to_folder",
]

T = TypeVar("T")

#: A request body: nothing, bytes, or a re-iterable body of byte chunks whose ``len()`` is its exact length.
Body = Union[None, bytes, StreamedBody]

#: The kinds of :class:`Failure`.
FAILURE_KINDS = ("connect", "tls", "connect_timeout", "read_timeout", "connection", "too_large", "deadline")


@dataclass(frozen=True)
class Send:
    """Send one request (never following a redirect) and read its whole decoded answer.

    ``timeout`` is ``(connect, read)`` seconds as configured: the driver caps both by what is left before
    ``deadline_at`` (:func:`time.monotonic`'s clock; ``None``: no deadline), which bounds the whole attempt
    (the blocking driver: capped socket timeouts and the watchdog; the async one: a timeout around it).
    The body of an answer whose status is in ``skip_body`` and that carries a ``Location`` header (a
    redirect, followed or refused by the flow) is never read: ``content`` is ``b""``. A decoded body
    larger than ``max_bytes`` stops the reading: :class:`Failure` ``too_large``.
    """

    verb: str
    url: str
    body: Body
    headers: Mapping[str, str]
    timeout: Tuple[float, float]
    deadline_at: Optional[float]
    max_bytes: int
    skip_body: FrozenSet[int]
    verify: Union[bool, str]
    proxies: Optional[Mapping[str, str]]


@dataclass(frozen=True)
class Reply:
    """The answer to a :class:`Send`: status, headers (a case-insensitive mapping), the decoded body.

    ``cut``: the body is empty although the answer had neither a ``Content-Length`` nor chunked transfer
    encoding (and its status is not 204/304): the connection closed before the answer was complete.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    cut: bool = False


@dataclass(frozen=True)
class Failure:
    """A :class:`Send` that got no usable answer.

    ``kind``: ``connect`` (the connection was never made), ``tls``, ``connect_timeout``, ``read_timeout``,
    ``connection`` (any other transport failure), ``too_large`` (the answer passed ``max_bytes``; ``status``
    is its status), ``deadline`` (the attempt was still running at ``deadline_at``). ``left``: False only
    when the request certainly never left (``connect``, ``connect_timeout``): then even a write may be
    sent again. ``detail``: the library's text, innermost cause first; the flow redacts it, not the driver.
    """

    kind: str
    left: bool
    detail: str
    status: int = 0


@dataclass(frozen=True)
class Wait:
    """Sleep ``seconds`` (``why`` says what for, for logs and errors). The flow checked that it fits."""

    seconds: float
    why: str


@dataclass(frozen=True)
class Do:
    """A state operation: ``function(*args)``; its result is sent back, its exception thrown into the flow.

    Blocking driver: called directly. Async driver: inline for the in-memory store, in a worker thread
    for SQLite and Redis (the context copied).
    """

    function: Callable[..., Any]
    args: Tuple[Any, ...] = ()


@dataclass(frozen=True)
class Acquire:
    """Take the coalescing lock named ``key`` (one per OAuth app), waiting at most ``timeout`` s (None: no limit).

    Sent back True when taken, False when the wait timed out. A ``threading.Lock`` in the blocking
    driver, an ``asyncio.Lock`` per event loop in the async one.
    """

    key: Hashable
    timeout: Optional[float]


@dataclass(frozen=True)
class Release:
    """Release the lock named ``key`` taken by :class:`Acquire` in the same flow."""

    key: Hashable


@dataclass(frozen=True)
class Exchange:
    """One whole call of a REST method (``_flow.exchange`` with its own deadline), for bulk flows.

    Sent back ``(HTTP status, parsed answer)``; its exception is thrown into the flow.
    """

    verb: str
    api_method: str
    url: Any
    token: Any
    fields: Mapping[str, Any] = field(default_factory=dict)


class Unsent(BaseException):
    """Thrown into a flow at its :class:`Send` by a driver interrupted before the request left (a task
    cancelled while connecting): the flow gives back what it took for that request (its rate-bucket slot).

    :func:`send` sets ``never`` (no attempt of this send reached the portal) on its way out. The driver
    raises its own interruption afterwards, whatever the flow raises.
    """

    never = True


@dataclass(frozen=True)
class Parallel:
    """Several :class:`Exchange` effects, up to ``Settings.concurrency`` in flight at once.

    Sent back a list in the order of ``exchanges``: each item the ``(status, answer)`` pair, or the
    exception that exchange raised (the flow decides what a failure means for the others).
    """

    exchanges: Tuple[Exchange, ...]


Effect = Union[Send, Wait, Do, Acquire, Release, Exchange, Parallel]

#: What a :class:`Send` produces.
Outcome = Union[Reply, Failure]

#: A flow: yields effects, is sent what each produced, returns ``T``.
Flow = Generator[Effect, Any, T]

#: What a :class:`Parallel` produces: one item per exchange.
ParallelResult = List[Union[Tuple[int, Dict[str, Any]], BaseException]]


def drive(flow: Flow[T], perform: Callable[[Effect], Any]) -> T:
    """Run ``flow`` to its end, performing each effect with ``perform`` (a blocking driver's loop).

    What ``perform`` returns is sent into the flow; what it raises is thrown into the flow at its
    ``yield``. The flow's return value is returned, its exception raised.
    """
    value: Any = None
    error: Optional[BaseException] = None
    try:
        while True:
            try:
                if error is None:
                    effect = flow.send(value)
                else:
                    thrown, error = error, None
                    effect = flow.throw(thrown)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                value = perform(effect)
            except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
                value, error = None, exc
    finally:
        flow.close()


# --- small flows ----------------------------------------------------------------------------------

log = logging.getLogger("opi_bitrix24")

JSON = "application/json; charset=utf-8"
#: Answers that are redirects: followed (same origin, GET) or refused; their bodies are never read.
REDIRECTS: FrozenSet[int] = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 5
OAUTH_URL = "https://oauth.bitrix.info/oauth/token/"


def wait(seconds: float, why: str) -> Flow[None]:
    """Wait ``seconds`` if that fits the deadline, else raise :class:`DeadlineExceeded` at once."""
    if not _deadline.fits(seconds):
        raise _deadline.too_long(seconds, why) from None
    if seconds > 0:
        yield Wait(seconds, why)


def holding(key: Hashable, timeout: Optional[float], body: Flow[T]) -> Flow[Tuple[bool, Optional[T]]]:
    """Run ``body`` holding the coalescing lock ``key``: ``(False, None)`` when the lock was not taken in time.

    The lock is released on every way out of ``body`` but the flow's close (the driver then releases it).
    """
    taken = yield Acquire(key, timeout)
    if not taken:
        body.close()
        return False, None
    try:
        value = yield from body
    except GeneratorExit:
        raise
    except BaseException:
        yield Release(key)
        raise
    yield Release(key)
    return True, value


# --- the limits -----------------------------------------------------------------------------------


def acquire(address: str, limit: Optional[Tuple[float, int]]) -> Flow[float]:
    """Wait for room in the rate bucket of the portal's origin; returns the seconds waited.

    The slot is counted when it is taken (first come, first served). A request must reach the portal when
    its wait ends: if the wait overran by more than half a slot's time (a busy machine did not wake the
    process in time), it would arrive together with the requests planned after it, so it takes a new slot
    and waits again (the overrun slot stays counted: the bucket errs on the safe side). A wait that
    cannot fit the deadline gives its slot back and raises :class:`DeadlineExceeded`.
    """
    if limit is None:
        return 0.0
    origin = _state.origin(address)
    rate, burst = float(limit[0]), int(limit[1])
    waited = 0.0
    for _ in range(_limits.RETAKES):
        delay: float = yield Do(_limits.take, (origin, rate, burst))
        if delay <= 0:
            break
        planned = _state.clock() + delay
        if not _deadline.fits(delay):
            yield Do(_limits.refund, (origin,))
            raise _deadline.too_long(delay, "the rate limiter")
        try:
            yield Wait(delay, "the rate limiter")
        except GeneratorExit:
            raise
        except BaseException:  # interrupted or cancelled before the request left: the slot goes back
            yield Do(_limits.refund, (origin,))
            raise
        waited += delay
        if _state.clock() - planned <= _limits.LATE_SHARE / rate:
            break
    return waited


def operating_pause(address: str, api_method: str, bound: float) -> Flow[float]:
    """Before a call: wait (up to ``bound`` s) when the method has used 90 % of its operating time or more."""
    due: Optional[Tuple[float, float]] = yield Do(_limits.operating_due, (address, api_method, bound))
    if due is None:
        return 0.0
    delay, reset_at = due
    yield from wait(delay, "the operating-time pause")
    yield Do(_limits.clear_operating, (address, api_method, reset_at))
    return delay


# --- the transport's decisions --------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]{1,9}")


def backoff(config: Settings, attempt: int, retry_after: Optional[str] = None) -> float:
    """The wait before sending again: ``backoff * 2**attempt`` with jitter, capped at ``max_backoff``.

    A ``Retry-After`` header is honoured up to the cap.
    """
    delay = min(config.max_backoff, config.backoff * (2**attempt))
    if delay:
        delay *= 0.5 + random.random() / 2
    # Only plain ASCII seconds count; dates, "²", negative or huge values are ignored.
    if retry_after and _DIGITS.fullmatch(retry_after.strip()):
        delay = max(delay, min(float(retry_after.strip()), config.max_backoff))
    return float(delay)


def query_limited(reply: Reply) -> bool:
    """HTTP 503, or an error answer saying ``QUERY_LIMIT_EXCEEDED``: safe to send again after a wait."""
    if reply.status == 503:
        return True
    if reply.status < 400 or b"QUERY_LIMIT_EXCEEDED" not in reply.content[:512]:
        return False
    try:
        return bool(json.loads(reply.content).get("error") == "QUERY_LIMIT_EXCEEDED")
    except (ValueError, AttributeError, RecursionError):
        return False


def origin(url: str) -> Tuple[str, str, Optional[int]]:
    """``(scheme, host, port)`` of a URL, lower-cased, the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def shown_origin(url: str) -> str:
    """A URL's origin as it may be shown (the default port dropped, redacted)."""
    scheme, host, port = origin(url)
    default = {"http": 80, "https": 443}.get(scheme)
    text = f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")
    return redact(text)[:200]


_LABELS = {
    "tls": "TLS error",
    "connect_timeout": "connect timeout",
    "read_timeout": "read timeout",
    "connect": "connection error",
    "connection": "connection error",
}


def describe(failure: Failure, secrets: Tuple[str, ...]) -> str:
    """A transport failure as shown in messages: its kind and the library's text, redacted."""
    label = _LABELS.get(failure.kind, failure.kind)
    return f"{label}: {redact(failure.detail, *secrets)[:200]}"


def timeouts(config: Settings) -> Tuple[float, float]:
    """``(connect, read)`` seconds as configured (a driver caps both by what is left of the deadline)."""
    if isinstance(config.timeout, tuple):
        connect, read = config.timeout if len(config.timeout) == 2 else (config.timeout[0], config.timeout[0])
        return float(connect), float(read)
    return float(config.timeout), float(config.timeout)


def send(
    verb: str,
    url: str,
    body: Body,
    secrets: Tuple[str, ...],
    content_type: str = JSON,
    config: Optional[Settings] = None,
) -> Flow[Tuple[Reply, Tuple[str, ...]]]:
    """Send one request under the settings; ``(the final reply, every secret to hide in what it shows)``.

    ``body`` is ``None``, ``bytes`` or a re-iterable body of byte chunks with an exact ``len()``. The
    deadline in force (:mod:`._deadline`) covers connecting, sending, every byte of the answer, retries
    and their waits; ``max_answer_bytes`` bounds the decoded answer; redirects are followed only for GET
    and only within the origin (at most 5), never read; safe retries: HTTP 503 or ``QUERY_LIMIT_EXCEEDED``
    (``Retry-After`` honoured), a connection that certainly never left, any transport failure for GET.
    Every exception is raised without cause or context.
    """
    config = config or current_settings()
    secrets = tuple(s for s in secrets if s) + _url_secrets(url)
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
        if not isinstance(body, (bytes, bytearray)) and hasattr(body, "__len__"):
            headers["Content-Length"] = str(len(body))
    shown = redact(url.split("?", 1)[0], *secrets)
    deadline = _deadline.at()
    limit = _deadline.seconds()
    connect_read = timeouts(config)
    attempt = 0
    redirects = 0
    reached = False  # an attempt reached the portal (or may have)
    failure: Optional[OPIError] = None
    while True:
        if deadline is not None and _deadline.clock() >= deadline:
            failure = DeadlineExceeded(f"{verb} {shown}: no complete answer within the deadline of {limit:g} s")
            break
        log.debug("%s %s (attempt %d)", verb, shown, attempt + 1)
        try:
            outcome: Outcome = yield Send(
                verb,
                url,
                body,
                headers,
                connect_read,
                deadline,
                config.max_answer_bytes,
                REDIRECTS,
                config.verify,
                config.proxies,
            )
        except Unsent as unsent:
            unsent.never = not reached
            raise
        reached = reached or isinstance(outcome, Reply) or outcome.left
        if isinstance(outcome, Failure):
            if outcome.kind == "deadline":
                failure = DeadlineExceeded(f"{verb} {shown}: no complete answer within the deadline of {limit:g} s")
                break
            if outcome.kind == "too_large":
                cap = config.max_answer_bytes
                failure = AnswerTooLarge(outcome.status, "", f"the answer is larger than {cap} bytes")
                break
            retry = verb == "GET" or not outcome.left
            if retry and attempt < config.retries:
                delay = backoff(config, attempt)
                if not _deadline.fits(delay):
                    failure = TransportError(f"{verb} {shown} failed: {describe(outcome, secrets)}")
                    break
                if delay > 0:
                    yield Wait(delay, f"{verb} {shown}: the wait before sending again")
                attempt += 1
                continue
            failure = TransportError(f"{verb} {shown} failed: {describe(outcome, secrets)}")
            break
        status = outcome.status
        log.debug("%s %s answered HTTP %d", verb, shown, status)
        if 100 <= status < 200:
            failure = UnexpectedResponse(status, "", "an interim (1xx) answer came instead of the final answer")
            break
        location = outcome.headers.get("Location") if status in REDIRECTS else None
        if location:
            target = urljoin(url, location.strip())
            if verb != "GET" or origin(target) != origin(url) or redirects >= MAX_REDIRECTS:
                why = (
                    "too many redirects"
                    if redirects >= MAX_REDIRECTS and origin(target) == origin(url)
                    else f"the portal redirects to {shown_origin(target)}"
                )
                failure = RedirectRefused(
                    f"{verb} {shown}: {why} (HTTP {status}); nothing was sent there. "
                    "If the portal has moved, use its new address.",
                    shown_origin(target),
                )
                break
            url = target
            secrets = secrets + _url_secrets(url)
            shown = redact(url.split("?", 1)[0], *secrets)
            redirects += 1
            continue
        if outcome.cut:
            failure = TransportError(f"{verb} {shown} failed: the connection closed before the answer was complete")
            break
        if query_limited(outcome) and attempt < config.retries:
            delay = backoff(config, attempt, outcome.headers.get("Retry-After"))
            if _deadline.fits(delay):
                log.debug("retrying after HTTP %d", status)
                if delay > 0:
                    yield Wait(delay, f"{verb} {shown}: the wait before sending again")
                attempt += 1
                continue
        return outcome, secrets
    raise failure from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(reply: Reply, secrets: Tuple[str, ...]) -> Result:
    """The answer as a JSON object (error bodies included); :class:`UnexpectedResponse` for anything else.

    An empty answer is ``{}`` (an error status with an empty body raises). Not a flow: no effect is needed.
    """
    raw = reply.content
    status = reply.status
    failure: Optional[UnexpectedResponse] = None
    if not raw.strip():
        if status >= 400:
            raise UnexpectedResponse(status, "", "the error answer is empty")
        return {}
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except RecursionError:
        failure = UnexpectedResponse(status, _snippet(raw, secrets), "the answer is nested too deeply")
    except (UnicodeDecodeError, ValueError):
        failure = UnexpectedResponse(status, _snippet(raw, secrets))
    else:
        if not isinstance(data, dict):
            failure = UnexpectedResponse(status, _snippet(raw, secrets), "the answer is not a JSON object")
    if failure is not None:
        raise failure from None
    return data  # type: ignore[no-any-return]


def _snippet(raw: bytes, secrets: Tuple[str, ...]) -> str:
    text = raw[:4096].decode("utf-8", errors="replace")
    return redact(text, *secrets)[:200]


# --- a call ---------------------------------------------------------------------------------------


def exchange(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Flow[Tuple[int, Result]]:
    """One call of ``api_method`` with the limits applied; ``(HTTP status, parsed answer)``.

    NormalizeAuth and the encoding (GET: the query string; POST: the JSON body), then the additions
    beyond OPI, all driven by the settings: the operating-time pause and the portal's rate bucket before
    each send, operating-time accounting after the answer, one wait-and-repeat on ``OPERATION_TIME_LIMIT``
    within ``operating_wait``, one refresh-and-repeat on ``expired_token`` with ``oauth_app``. The caller
    holds the deadline's scope.
    """
    config = current_settings()
    address, params = endpoint_url(url, token, api_method)
    params = _fields(params, fields)
    app = config.oauth_app
    seen: Optional[int] = None
    if app is not None and "auth" in params:
        params["auth"], seen = yield Do(_auth.begin, (app, params["auth"]))
    refreshed = waited = False
    while True:
        secrets = tuple(s for s in (params.get("auth"),) if isinstance(s, str))
        yield from operating_pause(address, api_method, config.operating_wait)
        yield from acquire(address, config.rate_limit)
        try:
            if verb == "GET":
                target = address
                if params:
                    target += ("&" if "?" in address else "?") + _query_string(params)
                reply, shown = yield from send("GET", target, None, secrets, config=config)
            else:
                body = _json_body(params) if params else None
                reply, shown = yield from send("POST", address, body, secrets, config=config)
        except Unsent as unsent:  # interrupted before the request left: its bucket slot goes back
            if unsent.never and config.rate_limit is not None:
                yield Do(_limits.refund, (_state.origin(address),))
            raise
        data = parse(reply, shown)
        yield Do(_limits.note_time, (address, api_method, data.get("time")))
        error = data.get("error")
        if error == "expired_token" and app is not None and "auth" in params and not refreshed:
            params["auth"] = yield from refresh(app, str(params["auth"]), seen)
            refreshed = True
            continue
        if error == "OPERATION_TIME_LIMIT" and not waited:
            pause = yield Do(_limits.blocked_wait, (address, api_method, config.operating_wait))
            if pause is not None and _deadline.fits(pause):  # a wait past the deadline: this answer
                yield from wait(pause, f"{verb} {api_method}: the operating-time wait")
                waited = True
                continue
        return reply.status, data


def call(verb: str, api_method: str, url: Any, token: Any, fields: Mapping[str, Any]) -> Flow[Result]:
    """:func:`exchange`, the answer only; a typed :class:`APIError` for an error answer with ``raise_api_errors``."""
    status, data = yield from exchange(verb, api_method, url, token, fields)
    if "error" in data and current_settings().raise_api_errors:
        address = endpoint_url(url, token, api_method)[0]
        error: OPIError = yield Do(_limits.typed_error, (status, api_method, address, data, token))
        raise error
    return data


# --- the OAuth token endpoint and the refresh -----------------------------------------------------


def oauth_exchange(fields: Mapping[str, Any]) -> Flow[Tuple[int, Result]]:
    """GET the OAuth token endpoint with ``fields`` in the query, in order; ``(status, parsed answer)``.

    Not a portal call: no NormalizeAuth, no limits. ``client_secret``, ``code`` and ``refresh_token`` are
    kept out of logs and messages.
    """
    address = current_settings().oauth_url or os.environ.get("OPI_BITRIX24_OAUTH_URL") or OAUTH_URL
    params = _fields({}, fields)
    secrets = tuple(str(params[k]) for k in ("client_secret", "code", "refresh_token") if k in params)
    address += ("&" if "?" in address else "?") + _query_string(params)
    reply, shown = yield from send("GET", address, None, secrets)
    return reply.status, parse(reply, shown)


class _Unsaved(Exception):
    """A refresh the portal did (the old refresh token is spent) whose new pair the store did not take."""

    def __init__(self, answer: Dict[str, Any], error: StateUnavailable) -> None:
        self.answer = answer
        self.error = error


def refresh(app: _auth.OAuthApp, stale: str, seen: Optional[int] = None) -> Flow[str]:
    """Get a new token pair after ``expired_token`` for ``stale``; returns the new access token.

    Coalesced: calls that saw the same expired token wait for the app's lock (:class:`Acquire`), and only
    the first one asks the token endpoint (refresh tokens rotate, so a second refresh would fail). With a
    shared state backend the refresh runs under the store's lock (with a time-to-live): after taking it the
    stored pair is read again -- another process may have refreshed already -- and the new pair is stored
    before it is used. A failed refresh raises :class:`RefreshFailed` (redacted); the calls that were
    waiting for it (``seen``: the app's refresh count when the call chose its token) get the same failure
    without asking the endpoint again. ``on_refresh`` gets the new pair, once.
    """
    if seen is None:
        seen = _auth.seen(app)
    left = _deadline.remaining()
    taken, outcome = yield from holding(app, left, _refresh_locked(app, stale, seen))
    if not taken or outcome is None:  # another call is refreshing and the deadline came first
        raise DeadlineExceeded(f"waiting for the token refresh: the deadline of {_deadline.seconds():g} s has passed")
    access, answer = outcome
    callback = app.on_refresh
    if callback is not None and answer:
        callback(dict(answer))
    return access


def _refresh_locked(app: _auth.OAuthApp, stale: str, seen: int) -> Flow[Tuple[str, Optional[Dict[str, Any]]]]:
    """The refresh under the app's lock: ``(access token, the endpoint's answer or None)``."""
    renewed = _auth.fresh_copy(app, stale)
    if renewed is not None:
        return renewed, None  # another call refreshed while we waited
    failure = _auth.failed_meanwhile(app, seen)
    if failure is not None:
        raise failure  # that refresh failed: so does ours
    store = _state.current()
    if store.shared:
        try:
            answer: Dict[str, Any] = yield from _refresh_shared(app, store, stale)
        except _Unsaved as unsaved:  # refreshed, but the store failed: the caller still gets the pair
            if app.on_refresh is not None:
                app.on_refresh(dict(unsaved.answer))
            raise unsaved.error from None
    else:
        answer = yield from _ask(app, app.refresh_token, stale)
        _auth.adopt(app, answer["access_token"], answer["refresh_token"], stale)
    return app.access_token, answer


def _refresh_shared(app: _auth.OAuthApp, store: _state.State, stale: str) -> Flow[Dict[str, Any]]:
    """The refresh under the store's lock; ``{}`` when another process had refreshed already.

    If the store fails after the portal has given the new pair, the pair is kept in this process and
    handed to ``on_refresh``, then :class:`StateUnavailable` is raised (the caller may persist it).
    """
    key = _auth.store_key(app)
    ttl = float(getattr(store, "lock_ttl", 30.0))
    owner: Optional[str] = yield Do(store.lock, (key, ttl))
    while owner is None:
        yield from wait(float(getattr(store, "poll", 0.05)), "waiting for another worker's token refresh")
        owner = yield Do(store.lock, (key, ttl))
    try:
        answer = yield from _refresh_in_store(app, store, key, stale)
    except GeneratorExit:
        raise
    except BaseException:
        yield from _unlock(store, key, owner)
        raise
    yield from _unlock(store, key, owner)
    return answer


def _unlock(store: _state.State, key: str, owner: str) -> Flow[None]:
    try:
        yield Do(store.unlock, (key, owner))
    except StateUnavailable:  # the store is down: the lock expires by itself after its time-to-live
        pass


def _refresh_in_store(app: _auth.OAuthApp, store: _state.State, key: str, stale: str) -> Flow[Dict[str, Any]]:
    stored: Optional[Tuple[str, str, float]] = yield Do(store.load_pair, (key,))
    if stored is not None and _auth.stored_pair_usable(app, stored, stale):
        _auth.adopt(app, stored[0], stored[1], stale)  # another worker refreshed: use its pair
        return {}
    refresh_token = stored[1] if stored is not None and stored[1] else app.refresh_token
    answer = yield from _ask(app, refresh_token, stale)
    try:  # stored before use
        yield Do(store.save_pair, (key, answer["access_token"], answer["refresh_token"], _auth.expires_at(answer)))
    except StateUnavailable as exc:
        _auth.adopt(app, answer["access_token"], answer["refresh_token"], stale)
        raise _Unsaved(answer, exc) from None
    _auth.adopt(app, answer["access_token"], answer["refresh_token"], stale)
    return answer


def _ask(app: _auth.OAuthApp, refresh_token: str, stale: str) -> Flow[Dict[str, Any]]:
    """Ask the token endpoint once (under the app's lock); a usable answer or :class:`RefreshFailed`."""
    hidden: Tuple[str, ...] = (app.client_secret, refresh_token, stale, app.refresh_token, app.access_token)
    try:
        status, answer = yield from oauth_exchange(
            {
                "grant_type": "refresh_token",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "refresh_token": refresh_token,
            }
        )
    except (UnexpectedResponse, TransportError) as exc:  # garbage, a cut answer, or no answer at all
        status, answer = _auth.no_answer(app, exc, hidden)
    return _auth.accept(app, status, answer, hidden)


# --- files ----------------------------------------------------------------------------------------


def upload(address: str, field_name: str, filename: str, content: Union[bytes, _stream.FileSource]) -> Flow[Result]:
    """POST one file as ``multipart/form-data`` to an absolute upload URL (OPI ``PostMultipart``).

    No auth is added (the URL carries its own); one file part, no content type, no other fields. The
    body is streamed (the file is read while it is sent, and again on a retry), with its exact length.
    """
    boundary = uuid.uuid4().hex
    safe_name = filename.replace('"', "%22").replace("\r", " ").replace("\n", " ")
    safe_field = field_name.replace('"', "%22")
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{safe_field}"; filename="{safe_name}"\r\n\r\n'
    body = _stream.StreamedBody([head.encode(), content, f"\r\n--{boundary}--\r\n".encode()])
    reply, shown = yield from send(
        "POST", address.strip(), body, (), content_type=f"multipart/form-data; boundary={boundary}"
    )
    return parse(reply, shown)


def upload_target(answer: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    """``(form field, upload URL)`` from the answer of ``disk.folder.uploadFile``; None unless both are filled text.

    The first step of the two-step disk upload (OPI ``UploadFileToFolder``): without them the first answer
    (an API error, say) is the function's result as it is.
    """
    result = answer.get("result")
    if not isinstance(result, Mapping):
        return None
    field_name, upload_url = _filled_text(result.get("field")), _filled_text(result.get("uploadUrl"))
    return (field_name, upload_url) if field_name and upload_url else None


def _filled_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def upload_to_folder(
    url: Any, token: Any, fields: Mapping[str, Any], filename: str, content: Union[bytes, _stream.FileSource]
) -> Flow[Result]:
    """The two-step disk upload as one flow: ``disk.folder.uploadFile`` (GET, ``fields``), then the file.

    For a driver that runs an OPI function's calls itself (the async one); the blocking function makes the
    same two steps through the core, each under its own deadline, with the same :func:`upload_target`.
    """
    answer = yield from call("GET", "disk.folder.uploadFile", url, token, fields)
    target = upload_target(answer)
    if target is None:
        return answer
    field_name, upload_url = target
    uploaded: Result = yield from upload(upload_url, field_name, filename, content)
    return uploaded


def fetch(url: str, name: str) -> Flow[bytes]:
    """Download a file or JSON document given as an ``http(s)://`` argument (OPI does the same).

    The same transport as a portal call -- TLS settings, deadline, answer cap, same-origin redirects of GET
    only -- but nothing of the portal's: no webhook key, no token, no limits.
    """
    failure: OPIError
    try:
        reply, _shown = yield from send("GET", url.strip(), None, ())
    except RedirectRefused as exc:
        failure = RedirectRefused(f"downloading {name} failed: {exc}", exc.location)
    except TransportError as exc:
        failure = type(exc)(f"downloading {name} failed: {exc}")
    except UnexpectedResponse as exc:
        failure = exc
    else:
        if reply.status < 400:
            return bytes(reply.content)
        failure = TransportError(f"downloading {name} failed: HTTP {reply.status}")
    raise failure from None
