"""One deadline per call, shared by everything the call does.

The request core opens a :func:`scope` where an OPI call (or one bulk request) starts, with the
``deadline`` setting; the scope lives in a :class:`~contextvars.ContextVar`, so the nested work of the
call — the rate limiter's wait, the operating-time pause, the OAuth refresh and the repeated request,
every transport attempt and retry wait — sees the same instant:

- :func:`remaining` — seconds left (``None``: no deadline);
- :func:`sleep` — wait, but never past the deadline: a wait that cannot fit raises
  :class:`~._errors.DeadlineExceeded` at once instead of sleeping;
- :func:`check` — raise :class:`~._errors.DeadlineExceeded` when the deadline has passed.

A nested :func:`scope` never extends the enclosing one: the earlier of the two instants holds.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from typing import Any, Dict, Optional, Tuple

from ._errors import DeadlineExceeded

__all__ = [
    "Watch",
    "at",
    "attach",
    "check",
    "detach",
    "fits",
    "in_flight",
    "nap",
    "remaining",
    "scope",
    "seconds",
    "sleep",
    "too_long",
    "watching",
]

clock = time.monotonic
_sleep = time.sleep

#: ``(instant on the monotonic clock, the deadline in seconds as configured)`` of the call running here.
_current: contextvars.ContextVar[Optional[Tuple[float, float]]] = contextvars.ContextVar(
    "opi_bitrix24_deadline", default=None
)


class scope:  # noqa: N801 - used like a function: ``with scope(seconds):``
    """Run a block under a deadline of ``seconds`` from now (``None``: no new deadline).

    An enclosing deadline that comes earlier stays in force. A plain class rather than a generator
    context manager: it is entered once per call on the hot path.
    """

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: Optional[float]) -> None:
        self._seconds = seconds
        self._token: Optional[contextvars.Token[Optional[Tuple[float, float]]]] = None

    def __enter__(self) -> Optional[float]:
        seconds = self._seconds
        outer = _current.get()
        if seconds is None:
            return None if outer is None else outer[0]
        instant = clock() + float(seconds)
        if outer is not None and outer[0] <= instant:
            return outer[0]
        self._token = _current.set((instant, float(seconds)))
        return instant

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


def at() -> Optional[float]:
    """The deadline of the call running here, on :func:`time.monotonic`'s clock (``None``: none)."""
    current = _current.get()
    return None if current is None else current[0]


def seconds() -> Optional[float]:
    """The deadline of the call running here as configured, in seconds (``None``: none)."""
    current = _current.get()
    return None if current is None else current[1]


def remaining() -> Optional[float]:
    """Seconds left before the deadline (never negative); ``None`` when the call has no deadline."""
    current = _current.get()
    if current is None:
        return None
    return max(0.0, current[0] - clock())


def check(what: str = "the call") -> None:
    """Raise :class:`DeadlineExceeded` if the deadline has passed."""
    current = _current.get()
    if current is not None and clock() >= current[0]:
        raise DeadlineExceeded(f"{what}: the deadline of {current[1]:g} s has passed")


def fits(delay: float) -> bool:
    """True when a wait of ``delay`` seconds ends before the deadline (always, without a deadline).

    A wait that ends exactly at the deadline does not fit (nothing could be done after it). The flows
    decide with this; only the drivers wait.
    """
    current = _current.get()
    return current is None or clock() + max(delay, 0.0) < current[0]


def too_long(delay: float, what: str = "waiting") -> DeadlineExceeded:
    """The error for a wait of ``delay`` seconds that does not fit the deadline (see :func:`fits`)."""
    current = _current.get()
    limit = 0.0 if current is None else current[1]
    return DeadlineExceeded(f"{what}: a wait of {max(delay, 0.0):.3g} s would pass the deadline of {limit:g} s")


def nap(delay: float) -> None:
    """A driver's blocking wait of ``delay`` seconds (``_sleep`` is looked up here, so tests can replace it)."""
    if delay > 0:
        _sleep(delay)


def sleep(delay: float, what: str = "waiting") -> None:
    """Sleep ``delay`` seconds, unless that would pass the deadline: then raise :class:`DeadlineExceeded` at once.

    A wait that ends exactly at the deadline does not fit either (nothing could be done after it).
    """
    if not fits(delay):
        raise too_long(delay, what) from None
    nap(delay)


# --- the watchdog: one thread for the process, no thread per call -----------------------------------


class Watch:
    """One request in flight under a deadline: the connection it uses, once the pool has handed it out."""

    __slots__ = ("at", "conn", "fired", "response")

    def __init__(self, instant: float) -> None:
        self.at = instant
        self.conn: Any = None
        self.response: Any = None
        self.fired = False


#: The request in flight in this context (set by :func:`watching`; read by the watched connection pools).
_watching: contextvars.ContextVar[Optional[Watch]] = contextvars.ContextVar("opi_bitrix24_watch", default=None)

#: While a request that is past its deadline is still in flight (a connect in progress has no socket
#: yet), the watchdog looks at it again after this many seconds.
RECHECK = 0.05


class _Watchdog:
    """Shuts down the socket of every request still in flight past its deadline.

    A socket timeout bounds each read, not the sum of reads: a server trickling one byte under the
    timeout keeps a read going forever. One daemon thread, started on first use, sleeps until the
    earliest deadline of the requests in flight (it is woken only when a request with an earlier
    deadline than the one it waits for starts, so a call costs two short lock holds, no wake-up), and
    shuts the socket down: the blocked read returns at once and the calling thread raises
    DeadlineExceeded. A request that has ended is removed under the same lock, so its connection —
    back in the pool, maybe serving another call — is never touched.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.active: Dict[int, Watch] = {}
        self.wake_at = float("inf")
        self.thread: Optional[threading.Thread] = None

    def start(self, instant: float) -> Watch:
        watch = Watch(instant)
        with self.cond:
            self.active[id(watch)] = watch
            if instant < self.wake_at:
                self.wake_at = instant
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self._run, name="opi-bitrix24-deadline", daemon=True)
                    self.thread.start()
                else:
                    self.cond.notify()
        return watch

    def end(self, watch: Watch) -> None:
        with self.cond:
            self.active.pop(id(watch), None)
            watch.conn = watch.response = None

    def attach(self, conn: Any) -> None:
        watch = _watching.get()
        if watch is not None:
            with self.cond:
                watch.conn = conn
                if watch.fired:  # handed a connection after the deadline: stop it at once
                    _shutdown(conn, None)

    def detach(self, conn: Any) -> bool:
        watch = _watching.get()
        if watch is not None and watch.conn is conn:
            with self.cond:
                if watch.conn is conn:
                    watch.conn = None
                    return watch.fired
        return False

    def _run(self) -> None:
        with self.cond:
            while True:
                now = clock()
                wake = float("inf")
                for watch in self.active.values():
                    if watch.at <= now:
                        watch.fired = True
                        _shutdown(watch.conn, watch.response)
                        wake = min(wake, now + RECHECK)
                    else:
                        wake = min(wake, watch.at)
                self.wake_at = wake
                self.cond.wait(None if wake == float("inf") else wake - now)

    def after_fork(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.active = {}
        self.wake_at = float("inf")
        self.thread = None


def _shutdown(conn: Any, response: Any) -> None:
    """Shut down the socket of a connection (or of a response's connection); wakes a blocked read."""
    import socket

    sock = getattr(conn, "sock", None)
    if sock is None and response is not None:
        raw = getattr(response, "raw", None)
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        try:  # the plain socket's shutdown: a TLS socket's own would drop its state under the reader
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


_dog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_dog.after_fork)


class watching:  # noqa: N801 - used like a function: ``with watching(instant) as watch:``
    """Watch the request sent inside the block: past ``instant`` its socket is shut down (``watch.fired``)."""

    __slots__ = ("_instant", "_token", "_watch")

    def __init__(self, instant: float) -> None:
        self._instant = instant

    def __enter__(self) -> Watch:
        self._watch = _dog.start(self._instant)
        self._token = _watching.set(self._watch)
        return self._watch

    def __exit__(self, *exc: Any) -> None:
        _watching.reset(self._token)
        _dog.end(self._watch)


def attach(conn: Any) -> None:
    """A connection pool hands ``conn`` to the request in flight here (if it is watched)."""
    _dog.attach(conn)


def detach(conn: Any) -> bool:
    """``conn`` goes back to its pool: the watch of the request here lets go of it.

    True when the watchdog has shut its socket down: the pool must close it, not keep it.
    """
    return _dog.detach(conn)


def in_flight() -> int:
    """How many watched requests are in flight (tests)."""
    with _dog.cond:
        return len(_dog.active)
