"""The blocking driver: performs the effects of the flows (:mod:`._flow`) in the calling thread.

- :class:`~._flow.Send` with ``requests`` (the :class:`~._http.PortalSession`, or the caller's own session,
  its pools watched): no redirect followed by ``requests`` and a redirect's body never read, socket
  timeouts capped by what is left of the deadline and the :mod:`._deadline` watchdog for the rest, the
  decoded answer read while counting it against the cap, a cut answer noticed, and every
  ``requests``/``urllib3`` error mapped to a :class:`~._flow.Failure`. The transport loggers get the
  redacting filter.
- :class:`~._flow.Wait`: :func:`._deadline.nap`; :class:`~._flow.Do`: called; :class:`~._flow.Acquire` /
  :class:`~._flow.Release`: a ``threading.Lock`` per key (an OAuth app's own ``lock``);
  :class:`~._flow.Exchange` / :class:`~._flow.Parallel`: :func:`._flow.exchange` under its own deadline, in
  worker threads for several (the caller's context copied into each).

``requests`` is imported on first use, so importing the package stays cheap.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, Mapping, Optional, Tuple, TypeVar

from . import _deadline, _flow
from ._errors import OPIError
from ._flow import Acquire, Do, Effect, Exchange, Failure, Flow, Parallel, Release, Reply, Send, Wait
from ._redact import guard_loggers
from ._settings import Result, Settings, current_settings
from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = ["fetch", "perform", "run"]

T = TypeVar("T")


def run(flow: Flow[T]) -> T:
    """Run ``flow`` to its end in this thread, performing its effects; its result, or its exception."""
    if _default_session is None:
        # The first call of a process imports the HTTP library and makes the session here, before the
        # flow takes a bucket slot: not between the take and the send (a late request can arrive at the
        # portal together with the next one).
        _session(current_settings())
    return _flow.drive(flow, perform)


def perform(effect: Effect) -> Any:
    """Perform one effect (see the module's docstring); what it produced."""
    if isinstance(effect, Send):
        return _send(effect)
    if isinstance(effect, Do):
        return effect.function(*effect.args)
    if isinstance(effect, Wait):
        _deadline.nap(effect.seconds)
        return None
    if isinstance(effect, Acquire):
        return _lock(effect.key).acquire(timeout=-1 if effect.timeout is None else max(0.0, effect.timeout))
    if isinstance(effect, Release):
        _lock(effect.key).release()
        return None
    if isinstance(effect, Exchange):
        return _exchange(effect)
    if isinstance(effect, Parallel):
        return _parallel(effect)
    raise TypeError(f"not an effect: {effect!r}")


def fetch(url: str, name: str) -> bytes:
    """Download ``url`` (an argument given as a URL) under the current settings and their deadline."""
    with _deadline.scope(current_settings().deadline):
        return run(_flow.fetch(url, name))


# --- locks, exchanges -----------------------------------------------------------------------------

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_plain_locks: Dict[Hashable, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock(key: Hashable) -> threading.Lock:
    """The lock named ``key``: the key's own ``lock`` (an OAuthApp's, shared with other threads), else one per key."""
    own = getattr(key, "lock", None)
    if isinstance(own, type(_locks_lock)):
        return own
    with _locks_lock:
        try:
            lock = _locks.get(key)
            if lock is None:
                lock = _locks[key] = threading.Lock()
        except TypeError:  # not weakly referable (text, numbers): kept for the process
            lock = _plain_locks.setdefault(key, threading.Lock())
        return lock


def _exchange(effect: Exchange) -> Tuple[int, Result]:
    with _deadline.scope(current_settings().deadline):
        return run(_flow.exchange(effect.verb, effect.api_method, effect.url, effect.token, effect.fields))


def _parallel(effect: Parallel) -> _flow.ParallelResult:
    from . import _pool

    def job(item: Exchange) -> Callable[[], Any]:
        context = contextvars.copy_context()

        def work() -> Any:
            try:
                return context.run(_exchange, item)
            except Exception as exc:  # noqa: BLE001 - handed to the flow, in order
                return exc

        return work

    return list(_pool.ordered((job(item) for item in effect.exchanges), current_settings().concurrency))


# --- the transport --------------------------------------------------------------------------------

_default_session: Optional[requests.Session] = None
_session_lock = threading.Lock()
_guarded = False


_TRANSPORT_LOGGERS = (
    "opi_bitrix24",
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.util.ssl_",
)


def _guard_transport_logs() -> None:
    """Put the redacting filter on every urllib3/requests logger (a logger filter does not see child records)."""
    global _guarded
    if not _guarded:
        guard_loggers(_TRANSPORT_LOGGERS, ("urllib3", "requests", "opi_bitrix24"))
        _guarded = True


def _session(config: Settings) -> requests.Session:
    global _default_session
    from . import _http

    if config.session is not None:
        _http.instrument(config.session)
        return config.session
    with _session_lock:
        if _default_session is None:
            _default_session = _http.PortalSession()
            _default_session.headers["User-Agent"] = f"opi-bitrix24/{_version()}"
        return _default_session


def _version() -> str:
    return __version__


def _connect_failure(exc: BaseException) -> bool:
    """True when the request certainly never left: refused, unresolved host, connect timeout."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError) or not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)


_CHUNK = 65536


def _socket_of(response: Any) -> Any:
    raw = getattr(response, "raw", None)
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        fp = getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None)
        sock = getattr(fp, "_sock", None)
    return sock


class _TooLarge(Exception):
    """The decoded answer passed the cap (reading stopped)."""


class _Attempt:
    """One request and its whole answer, read in the calling thread (the watchdog bounds it by the deadline)."""

    __slots__ = ("content", "cut", "error", "response")

    def __init__(self) -> None:
        self.response: Optional[requests.Response] = None
        self.content: Optional[bytes] = None
        self.error: Optional[BaseException] = None
        self.cut = False


def _timeouts(effect: Send, remaining: Optional[float]) -> Tuple[float, float]:
    connect, read = effect.timeout
    if remaining is None:
        return (connect, read)
    return (min(connect, max(remaining, 0.001)), min(read, max(remaining, 0.001)))


def _attempt(
    session: requests.Session,
    effect: Send,
    remaining: Optional[float],
    state: _Attempt,
    watch: Optional[_deadline.Watch],
) -> None:
    try:
        response = session.request(
            effect.verb,
            effect.url,
            data=effect.body,
            headers=dict(effect.headers),
            timeout=_timeouts(effect, remaining),
            verify=effect.verify,
            proxies=dict(effect.proxies) if effect.proxies else None,
            stream=True,
            allow_redirects=False,
        )
        state.response = response
        if watch is not None:
            watch.response = response
        if response.status_code in effect.skip_body and response.headers.get("Location"):
            state.content = b""  # followed or refused: its body is never needed, so never read
            response._content = b""
            response._content_consumed = True  # type: ignore[attr-defined]
            response.raw.close()  # the connection is dropped, not reused with an unread body
            response.close()
            return
        cap = effect.max_bytes
        chunks = []
        size = 0
        for chunk in response.raw.stream(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > cap:
                state.content = None
                state.error = _TooLarge()
                response.close()
                return
            chunks.append(chunk)
        state.content = b"".join(chunks)
        headers_in = response.headers
        state.cut = (
            not state.content
            and "content-length" not in headers_in
            and "chunked" not in headers_in.get("transfer-encoding", "").lower()
            and response.status_code not in (204, 304)
        )
        response._content = state.content
        response._content_consumed = True  # type: ignore[attr-defined]
        response.close()
    except Exception as exc:  # noqa: BLE001 - judged by the flow
        state.error = exc


def _read_failure(exc: BaseException) -> bool:
    import http.client

    import requests
    import urllib3.exceptions

    return isinstance(
        exc, (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
    )


def _send(effect: Send) -> _flow.Outcome:
    """One attempt: the reply with its whole body read, or the failure; other exceptions are raised as they are."""
    session = _session(current_settings())
    _guard_transport_logs()
    deadline = effect.deadline_at
    remaining = None if deadline is None else deadline - time.monotonic()
    state = _Attempt()
    if deadline is None:  # no deadline: the per-read timeouts bound each read
        _attempt(session, effect, remaining, state, None)
        late = False
    else:  # socket timeouts capped by what is left; the watchdog stops a read that outlives the deadline
        with _deadline.watching(deadline) as watch:
            _attempt(session, effect, remaining, state, watch)
        late = watch.fired or (state.error is not None and time.monotonic() >= deadline)
    response = state.response
    if late:
        if response is not None:
            response.close()
        return Failure("deadline", True, "the deadline has passed")
    error = state.error
    if isinstance(error, _TooLarge):
        return Failure("too_large", True, "", 0 if response is None else response.status_code)
    if error is not None:
        if isinstance(error, OPIError) or not _read_failure(error):
            raise error from None
        return _failure(error, left=response is not None or not _connect_failure(error))
    assert response is not None and state.content is not None
    headers: Mapping[str, str] = response.headers
    return Reply(response.status_code, headers, state.content, state.cut)


def _failure(exc: BaseException, left: bool) -> Failure:
    """A ``requests``/``urllib3`` error as a :class:`Failure`: its kind and the innermost cause of its text."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        kind = "tls"
    elif isinstance(exc, requests.exceptions.ConnectTimeout):
        kind = "connect_timeout"
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        kind = "read_timeout"
    elif isinstance(exc, requests.exceptions.ConnectionError) and not left:
        kind = "connect"
    else:
        kind = "connection"
    detail = str(exc)
    # urllib3's messages repeat the pool and the whole URL; keep the innermost cause.
    cause = re.search(r"\[Errno -?\d+\][^\"')]*|timed out|certificate verify failed[^\"')]*", detail)
    if cause:
        detail = cause.group(0).strip()
    elif "IncompleteRead" in detail or "Connection broken" in detail:
        detail = "the connection closed before the answer was complete"
    elif "RemoteDisconnected" in detail or "closed connection without response" in detail:
        detail = "the connection closed before the answer arrived"
    elif kind == "connection" and not isinstance(exc, requests.exceptions.ConnectionError):
        detail = f"{type(exc).__name__}: {detail}"
    return Failure(kind, left, detail)
