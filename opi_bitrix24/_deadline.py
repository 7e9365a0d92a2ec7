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
import time
from typing import Any, Optional, Tuple

from ._errors import DeadlineExceeded

__all__ = ["at", "check", "remaining", "scope", "seconds", "sleep"]

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


def sleep(delay: float, what: str = "waiting") -> None:
    """Sleep ``delay`` seconds, unless that would pass the deadline: then raise :class:`DeadlineExceeded` at once.

    A wait that ends exactly at the deadline does not fit either (nothing could be done after it).
    """
    current = _current.get()
    if current is not None and clock() + max(delay, 0.0) >= current[0]:
        raise DeadlineExceeded(
            f"{what}: a wait of {max(delay, 0.0):.3g} s would pass the deadline of {current[1]:g} s"
        ) from None
    if delay > 0:
        _sleep(delay)
