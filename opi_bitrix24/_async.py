"""The async driver: ``await arun(flow)`` performs a sans-IO flow's effects on the running event loop.

The rules of a call live in the flows (:mod:`._flow`); this module only performs what they yield, with
aiohttp (the ``async`` extra; chosen by measurement, ``benchmarks/async_client.py``):

- :class:`~._flow.Send`: one attempt on the loop's client (one ``aiohttp.ClientSession`` per event loop),
  no redirect followed, the URL sent as written (never re-quoted), only our headers (no automatic ones), a
  streamed body's chunks read in a worker thread, the answer decoded here (gzip/deflate) under
  ``max_bytes`` while it is read, a ``skip_body`` answer never read, the whole attempt bounded by
  ``deadline_at``; the library's errors become a :class:`~._flow.Failure`.
- :class:`~._flow.Wait`: ``asyncio.sleep``. :class:`~._flow.Do`: inline for the in-memory state store,
  in a worker thread (the context copied) for SQLite and Redis.
- :class:`~._flow.Acquire` / :class:`~._flow.Release`: an ``asyncio.Lock`` per key and event loop; what a
  flow still holds when it ends (or is cancelled) is released here.
- :class:`~._flow.Exchange` / :class:`~._flow.Parallel`: the exchange flow, run by this driver; at most
  ``Settings.concurrency`` tasks at once, the answers (or each one's exception) in order.

Cancellation: the ``CancelledError`` is thrown into the flow at its ``yield`` (its ``finally`` and
``except`` run and may yield clean-up effects, which are performed), then raised; a cancelled request's
connection is closed, not returned to the pool. Importing this module does not import aiohttp: the
client is made on first use.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time
import weakref
import zlib
from typing import TYPE_CHECKING, Any, AsyncIterator, Dict, Hashable, List, Optional, Set, Tuple, TypeVar, Union

from . import _deadline, _flow, _redact
from ._flow import Acquire, Do, Effect, Exchange, Failure, Flow, Parallel, Release, Reply, Send, Wait

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = ["aclose", "arun", "perform"]

T = TypeVar("T")

_CHUNK = 65536
#: What requests' default session sends (the async driver's requests are the blocking driver's bytes).
_DEFAULT_HEADERS = (("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"), ("Connection", "keep-alive"))
#: Loggers of the async library (and asyncio, which logs unclosed connections): our redaction applies.
_LOGGERS = (
    "opi_bitrix24",
    "aiohttp",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.access",
    "aiohttp.server",
    "asyncio",
)


async def arun(flow: Flow[T]) -> T:
    """Run ``flow`` to its end on the running loop; its return value, or its exception.

    What an effect produced is sent into the flow, what it raised is thrown into the flow at its
    ``yield``. A cancellation is thrown in too (the flow may still yield clean-up effects), then raised
    even if the flow swallowed it. Locks the flow still holds at the end are released.
    """
    held: Set[Hashable] = set()
    state = _Run(held)
    value: Any = None
    error: Optional[BaseException] = None
    cancelled: Optional[BaseException] = None
    try:
        while True:
            try:
                if error is None:
                    effect = flow.send(value)
                else:
                    thrown, error = error, None
                    effect = flow.throw(thrown)
            except StopIteration as stop:
                if cancelled is not None:
                    raise cancelled from None
                return stop.value  # type: ignore[no-any-return]
            except BaseException as exc:  # the flow's own exception
                if cancelled is not None and exc is not cancelled:
                    raise cancelled from None
                raise
            try:
                value = await _perform(effect, state)
            except asyncio.CancelledError as exc:
                if cancelled is not None:  # cancelled again while cleaning up: stop now
                    raise
                cancelled = error = exc
                if state.unsent:  # the request never left: the flow gives back what it took for it
                    error, state.unsent = _flow.Unsent(), False
                value = None
            except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
                value, error = None, exc
    finally:
        flow.close()
        _release_all(held)


class _Run:
    """What the driver keeps while it runs one flow: the lock keys it holds, whether a cancelled Send left."""

    __slots__ = ("held", "unsent")

    def __init__(self, held: Optional[Set[Hashable]]) -> None:
        self.held = held
        self.unsent = False


async def perform(effect: Effect, held: Optional[Set[Hashable]] = None) -> Any:
    """Perform one effect and return what it produced (``held``: the lock keys the running flow holds)."""
    return await _perform(effect, _Run(held))


async def _perform(effect: Effect, state: _Run) -> Any:
    held = state.held
    if isinstance(effect, Send):
        return await _send(effect, state)
    if isinstance(effect, Do):
        return await _do(effect)
    if isinstance(effect, Wait):
        if effect.seconds > 0:
            await asyncio.sleep(effect.seconds)
        return None
    if isinstance(effect, Acquire):
        taken = await _acquire(_lock(effect.key), effect.timeout)
        if taken and held is not None:
            held.add(effect.key)
        return taken
    if isinstance(effect, Release):
        if held is None or effect.key in held:
            if held is not None:
                held.discard(effect.key)
            lock = _lock(effect.key)
            if lock.locked():
                lock.release()
        return None
    if isinstance(effect, Exchange):
        return await _exchange(effect)
    if isinstance(effect, Parallel):
        return await _parallel(effect)
    raise TypeError(f"not an effect: {type(effect).__name__}")


# --- state operations and locks ------------------------------------------------------------------


async def _do(effect: Do) -> Any:
    from ._settings import current_settings

    if current_settings().state == "memory":  # microseconds, never held across an await
        return effect.function(*effect.args)
    return await asyncio.to_thread(effect.function, *effect.args)


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dict[Hashable, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(key: Hashable) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    locks = _locks.get(loop)
    if locks is None:
        locks = _locks[loop] = {}
    lock = locks.get(key)
    if lock is None:
        lock = locks[key] = asyncio.Lock()
    return lock


async def _acquire(lock: asyncio.Lock, timeout: Optional[float]) -> bool:
    if timeout is None:
        await lock.acquire()
        return True
    if not lock.locked():
        await lock.acquire()
        return True
    waiter = asyncio.ensure_future(lock.acquire())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=max(timeout, 0.0))
    except BaseException:
        _abandon(waiter, lock)
        raise
    if done and not waiter.cancelled() and waiter.exception() is None:
        return True
    _abandon(waiter, lock)
    return False


def _abandon(waiter: asyncio.Future[Any], lock: asyncio.Lock) -> None:
    """A lock wait nobody waits for any more: if it took (or still takes) the lock, give the lock back."""

    def give_back(done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is None:
            lock.release()

    if waiter.done():
        give_back(waiter)
    else:
        waiter.cancel()
        waiter.add_done_callback(give_back)


def _release_all(held: Set[Hashable]) -> None:
    for key in list(held):
        try:
            lock = _lock(key)
        except RuntimeError:  # pragma: no cover - no running loop (the flow was closed elsewhere)
            continue
        if lock.locked():
            lock.release()
    held.clear()


# --- bulk effects -----------------------------------------------------------------------------------


async def _exchange(effect: Exchange) -> Tuple[int, Dict[str, Any]]:
    from ._settings import current_settings

    with _deadline.scope(current_settings().deadline):
        return await arun(_flow.exchange(effect.verb, effect.api_method, effect.url, effect.token, effect.fields))


async def _parallel(effect: Parallel) -> List[Union[Tuple[int, Dict[str, Any]], BaseException]]:
    from ._settings import current_settings

    gate = asyncio.Semaphore(current_settings().concurrency)

    async def one(exchange: Exchange) -> Tuple[int, Dict[str, Any]]:
        async with gate:
            return await _exchange(exchange)

    tasks = [asyncio.ensure_future(one(item)) for item in effect.exchanges]
    try:
        await asyncio.wait(tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    results: List[Union[Tuple[int, Dict[str, Any]], BaseException]] = []
    for task in tasks:
        failure = None if task.cancelled() else task.exception()
        if task.cancelled():
            failure = asyncio.CancelledError()
        results.append(failure if failure is not None else task.result())
    return results


# --- the client of each event loop ------------------------------------------------------------------


class _Client:
    """One ``aiohttp.ClientSession`` per event loop, with the state of its sends (TLS contexts, proxies)."""

    def __init__(self) -> None:
        import aiohttp

        _guard_logs()
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_headers_sent)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=False),
            auto_decompress=False,  # decoded here, under the answer cap, chunk by chunk
            trust_env=False,  # the environment's proxies are looked up here, as requests does
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            trace_configs=[trace],
        )
        # aiohttp re-sends an idempotent request once by itself when a kept-alive connection was closed under
        # it; the flow decides every re-send (and counts it against the retries), so the driver never does.
        self.session._retry_connection = False
        self.contexts: Dict[Tuple[Union[bool, str], str], Union[ssl.SSLContext, bool]] = {}
        self.jars: Dict[Tuple[str, str, Optional[int]], aiohttp.CookieJar] = {}
        self.users = 0

    def jar(self, url: Any) -> aiohttp.CookieJar:
        """The cookie jar of the URL's origin: what one origin sets is only ever sent back to it (another port
        of the same host included), as the blocking driver's session does."""
        import aiohttp

        key = (url.scheme, url.host or "", url.port)
        found = self.jars.get(key)
        if found is None:
            found = self.jars[key] = aiohttp.CookieJar(unsafe=True)  # unsafe: IP-address hosts keep theirs too
        return found

    def tls(self, verify: Union[bool, str]) -> Union[ssl.SSLContext, bool]:
        """The TLS setting of aiohttp for ``verify`` (as requests reads it, its CA bundle variables included)."""
        if verify is False:
            return False
        bundle = (
            verify
            if isinstance(verify, str)
            else os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE", "")
        )
        key = (verify, bundle)
        context = self.contexts.get(key)
        if context is None:
            if bundle and os.path.isdir(bundle):
                context = ssl.create_default_context(capath=bundle)
            elif bundle:
                context = ssl.create_default_context(cafile=bundle)
            else:
                try:
                    import certifi

                    context = ssl.create_default_context(cafile=certifi.where())
                except ImportError:  # pragma: no cover - requests brings certifi
                    context = ssl.create_default_context()
            self.contexts[key] = context
        return context


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Client] = weakref.WeakKeyDictionary()


def client() -> _Client:
    """The running loop's client, made on first use."""
    loop = asyncio.get_running_loop()
    made = _clients.get(loop)
    if made is None or made.session.closed:
        made = _clients[loop] = _Client()
    return made


def hold() -> None:
    """One more user (an open AsyncPortal) of the running loop's client."""
    client().users += 1


async def aclose(release: bool = False) -> None:
    """Close the running loop's client (``release``: only when its last user lets go of it)."""
    loop = asyncio.get_running_loop()
    made = _clients.get(loop)
    if made is None:
        return
    if release:
        made.users = max(0, made.users - 1)
        if made.users:
            return
    del _clients[loop]
    await made.session.close()


# --- one attempt --------------------------------------------------------------------------------


class _Trace:
    """What one attempt's trace callbacks learned: whether the request's headers went out."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


async def _headers_sent(session: Any, context: Any, params: Any) -> None:
    trace = getattr(context, "trace_request_ctx", None)
    if isinstance(trace, _Trace):
        trace.sent = True


class _TooLarge(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _send(effect: Send, state: _Run) -> Union[Reply, Failure]:
    import aiohttp

    made = client()
    trace = _Trace()
    remaining = None if effect.deadline_at is None else effect.deadline_at - time.monotonic()
    if remaining is not None and remaining <= 0:
        return Failure("deadline", False, "the deadline had passed before the request was sent")
    try:
        attempt = _attempt(made, effect, trace, remaining)
        if remaining is None:
            return await attempt
        return await asyncio.wait_for(attempt, remaining)
    except aiohttp.ClientError as exc:  # before TimeoutError: aiohttp's timeouts are both
        return _failure(exc, trace.sent)
    except asyncio.TimeoutError:
        return Failure("deadline", trace.sent, "no complete answer before the deadline")
    except asyncio.CancelledError:
        state.unsent = not trace.sent
        raise
    except _TooLarge as exc:
        return Failure("too_large", True, f"the answer is larger than {effect.max_bytes} bytes", exc.status)
    except _DecodeError as exc:
        return Failure("connection", True, str(exc))
    except OSError as exc:  # a socket error aiohttp did not wrap
        return Failure("connection" if trace.sent else "connect", trace.sent, _detail(exc))


async def _attempt(made: _Client, effect: Send, trace: _Trace, remaining: Optional[float]) -> Reply:
    import aiohttp
    from yarl import URL

    connect, read = effect.timeout
    if remaining is not None:
        connect, read = min(connect, max(remaining, 0.001)), min(read, max(remaining, 0.001))
    headers: Dict[str, str] = {}
    given = {name.lower(): value for name, value in effect.headers.items()}
    for name, value in (("User-Agent", _user_agent()), *_DEFAULT_HEADERS):
        headers[name] = given.pop(name.lower(), value)
    for name, value in effect.headers.items():
        if name.lower() in given:
            headers[name] = value
    body: Any = effect.body
    if body is not None and not isinstance(body, (bytes, bytearray)):
        headers.setdefault("Content-Length", str(len(body)))
        body = _chunks(body)
    elif body is None and effect.verb not in ("GET", "HEAD", "OPTIONS"):
        headers.setdefault("Content-Length", "0")  # as requests sends a POST without a body
    url = URL(effect.url, encoded=True)
    jar = made.jar(url)
    cookies = jar.filter_cookies(url)
    if cookies:
        headers["Cookie"] = "; ".join(f"{morsel.key}={morsel.value}" for morsel in cookies.values())
    response = await made.session.request(
        effect.verb,
        url,
        data=body,
        headers=headers,
        allow_redirects=False,
        ssl=made.tls(effect.verify) if url.scheme == "https" else True,
        proxy=_proxy(effect.url, effect.proxies),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
        trace_request_ctx=trace,
    )
    try:
        status = response.status
        if "Set-Cookie" in response.headers:
            jar.update_cookies(response.cookies, url)
        if status in effect.skip_body and "Location" in response.headers:
            response.close()  # the connection is dropped, not reused with an unread body
            return Reply(status, response.headers, b"")
        content = await _read(response, effect.max_bytes)
        response.release()
    except BaseException:
        response.close()
        raise
    answer_headers = response.headers
    cut = (
        not content
        and "Content-Length" not in answer_headers
        and "chunked" not in answer_headers.get("Transfer-Encoding", "").lower()
        and status not in (204, 304)
    )
    return Reply(status, answer_headers, content, cut)


async def _read(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The whole body, decoded (gzip, deflate) while it is read; more than ``cap`` decoded bytes: _TooLarge."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    decoder = _Decoder(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
    parts: List[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        pieces = decoder.feed(chunk, cap - size + 1) if decoder is not None else [chunk]
        for piece in pieces:
            size += len(piece)
            if size > cap:
                raise _TooLarge(response.status)
            parts.append(piece)
    if decoder is not None:
        for piece in decoder.flush():
            size += len(piece)
            if size > cap:
                raise _TooLarge(response.status)
            parts.append(piece)
    return b"".join(parts)


class _Decoder:
    """gzip (several members too) or deflate (zlib-wrapped or raw), never more than asked for at once."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding != "deflate"
        self.raw = False
        self.started = False
        self.engine = self._new()

    def _new(self) -> Any:
        if self.gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if self.raw else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> List[bytes]:
        out: List[bytes] = []
        room = max(room, 1)
        while data:
            try:
                piece = self.engine.decompress(data, room)
            except zlib.error:
                if self.gzip or self.started or self.raw:
                    raise _DecodeError("the answer's compressed body is damaged") from None
                self.raw = True  # deflate without the zlib wrapper (as urllib3 accepts it)
                self.engine = self._new()
                continue
            self.started = True
            if piece:
                out.append(piece)
                room -= len(piece)
                if room <= 0:
                    return out  # over the cap: the caller stops
            data = self.engine.unconsumed_tail
            if self.engine.eof and self.gzip and self.engine.unused_data:
                data = self.engine.unused_data.lstrip(b"\0")
                self.engine = self._new()
        return out

    def flush(self) -> List[bytes]:
        rest = self.engine.flush()
        return [rest] if rest else []


class _DecodeError(Exception):
    pass


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    """A streamed body's chunks, each read (a file) in a worker thread: the loop never waits on a disk."""
    chunks = iter(body)
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            return
        yield bytes(chunk)


def _user_agent() -> str:
    from ._version import __version__

    return f"opi-bitrix24/{__version__}"


_proxies_seen: Dict[Tuple[str, str], Optional[str]] = {}
#: The environment variables that choose a proxy (urllib.request.getproxies reads both spellings).
_PROXY_VARIABLES = tuple(
    spelling
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD")
    for spelling in (name, name.upper())
)


def _proxy(url: str, proxies: Optional[Any]) -> Optional[str]:
    """The proxy for ``url``: the setting's mapping (requests' keys), else the environment's (``NO_PROXY`` honoured)."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if proxies:
        host = (parts.hostname or "").lower()
        for name in (f"{scheme}://{host}", scheme, "all"):
            if proxies.get(name):
                return str(proxies[name])
        return None
    environment = ";".join(os.environ.get(name, "") for name in _PROXY_VARIABLES)
    key = (f"{scheme}://{parts.netloc.rpartition('@')[2]}", environment)
    if key not in _proxies_seen:
        found = urllib.request.getproxies()
        host = parts.hostname or ""
        chosen = found.get(scheme) or found.get("all")
        if chosen and urllib.request.proxy_bypass(host):
            chosen = None
        if len(_proxies_seen) > 1024:
            _proxies_seen.clear()
        _proxies_seen[key] = chosen
    return _proxies_seen[key]


def _failure(exc: BaseException, sent: bool) -> Failure:
    import aiohttp

    timeout_connect = getattr(aiohttp, "ConnectionTimeoutError", ())
    timeout_read = getattr(aiohttp, "SocketTimeoutError", ())
    detail = _detail(exc)
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError)):
        return Failure("tls", True, detail)
    if timeout_connect and isinstance(exc, timeout_connect):
        return Failure("connect_timeout", False, detail)
    if timeout_read and isinstance(exc, timeout_read):
        return Failure("read_timeout", True, detail)
    if isinstance(exc, aiohttp.ServerTimeoutError):  # older aiohttp: which phase, from the trace
        return Failure("read_timeout", True, detail) if sent else Failure("connect_timeout", False, detail)
    if isinstance(exc, aiohttp.ClientConnectorError) and not sent:
        return Failure("connect", False, detail)
    return Failure("connection", True, detail)


def _detail(exc: BaseException) -> str:
    """The library's text as the blocking driver words it: the innermost cause (the flow redacts it)."""
    import aiohttp

    chain: List[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        inner = getattr(current, "os_error", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__ or current.__context__
    text = " ".join(f"{type(item).__name__}: {item}" for item in chain)
    certificate = re.search(r"certificate verify failed[^\"')]*", text)
    if certificate:
        return certificate.group(0).strip()
    for item in chain:
        number = getattr(item, "errno", None)
        if isinstance(item, OSError) and isinstance(number, int) and number > 0:
            return f"[Errno {number}] {os.strerror(number)}"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timed out"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection closed before the answer was complete"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection closed before the answer arrived"
    return f"{type(exc).__name__}: {exc}"[:500]


# --- the library's loggers get our redaction ------------------------------------------------------

_guarded = False


def _guard_logs() -> None:
    global _guarded
    if not _guarded:
        _redact.guard_loggers(_LOGGERS, ("aiohttp", "opi_bitrix24"))
        _guarded = True
