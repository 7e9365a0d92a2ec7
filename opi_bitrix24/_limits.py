"""The portal's limits on the client side (additions beyond OPI).

- :class:`Bucket`: a leaky bucket per portal host (``Settings.rate_limit``: requests per second and
  burst). Thread-safe; a call waits for room before it is sent, so a well-behaved client never sees
  ``503 QUERY_LIMIT_EXCEEDED``.
- Operating time: every answer's ``time.operating`` / ``operating_reset_at`` (and a batch's per-command
  ``result_time``) is recorded per portal and method; once a method has used most of its budget
  (480 s per 10 minutes) the next call of that method waits for the reset instead of being blocked.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Mapping, Optional, Tuple

from . import _deadline
from ._errors import APIError, DeadlineExceeded, OperationTimeLimit, api_error

__all__ = ["Bucket", "acquire", "note_time", "operating_pause", "reset"]

#: The platform's operating-time budget per method (seconds within the 10-minute window).
OPERATING_BUDGET = 480.0
#: Slow down when a method has used this share of its budget.
OPERATING_MARGIN = 0.9

clock = time.monotonic
#: Waits share the call's deadline: one that cannot fit raises DeadlineExceeded at once (see _deadline).
sleep = _deadline.sleep


class Bucket:
    """A leaky bucket: ``burst`` requests at once, then ``rate`` per second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.level = 0.0
        self.stamp = clock()
        self.lock = threading.Lock()

    def delay(self) -> float:
        """Take one slot; return how long the caller must wait before sending (0: send now)."""
        with self.lock:
            now = clock()
            self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
            self.stamp = now
            # The request occupies a slot once it is sent; if the bucket is full it waits for one to drain.
            # One slot is kept free: requests reach the portal with jitter (a late one can arrive
            # right before the next), and the portal's bucket must never see more than its burst.
            room = max(1, self.burst - 1)
            wait = max(0.0, (self.level + 1 - room) / self.rate)
            self.level += 1
            return wait

    def refund(self) -> None:
        """Give back the slot of a request that will not be sent (its wait could not fit the deadline)."""
        with self.lock:
            self.level = max(0.0, self.level - 1)


_buckets: Dict[Tuple[str, float, int], Bucket] = {}
_operating: Dict[Tuple[str, str], Tuple[float, float]] = {}
_lock = threading.Lock()


def _host(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.split("/", 1)[0].lower()


def acquire(address: str, limit: Optional[Tuple[float, int]]) -> float:
    """Wait for room in the portal's bucket; returns the seconds waited."""
    if limit is None:
        return 0.0
    key = (_host(address), float(limit[0]), int(limit[1]))
    with _lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = Bucket(float(limit[0]), int(limit[1]))
    wait = bucket.delay()
    if wait > 0:
        try:
            sleep(wait, "the rate limiter")
        except DeadlineExceeded:
            bucket.refund()
            raise
    return wait


def note_time(address: str, api_method: str, block: Any) -> None:
    """Record a ``time`` block (``operating``, ``operating_reset_at``) for the method on this portal."""
    if not isinstance(block, Mapping):
        return
    operating = block.get("operating")
    reset_at = block.get("operating_reset_at")
    if isinstance(operating, (int, float)) and isinstance(reset_at, (int, float)):
        with _lock:
            _operating[(_host(address), api_method.strip().lower())] = (float(operating), float(reset_at))


def operating_state(address: str, api_method: str) -> Optional[Tuple[float, float]]:
    """``(operating seconds, reset Unix time)`` last seen for the method, or None."""
    with _lock:
        return _operating.get((_host(address), api_method.strip().lower()))


def operating_pause(address: str, api_method: str, bound: float) -> float:
    """Before a call: wait (up to ``bound`` s) when the method is close to its operating-time block."""
    state = operating_state(address, api_method)
    if state is None or bound <= 0:
        return 0.0
    operating, reset_at = state
    if operating < OPERATING_BUDGET * OPERATING_MARGIN:
        return 0.0
    wait = min(bound, reset_at - time.time())
    if wait > 0:
        sleep(wait, "the operating-time pause")
        with _lock:
            _operating.pop((_host(address), api_method.strip().lower()), None)
        return wait
    return 0.0


def reset() -> None:
    """Forget every bucket and every recorded operating time (tests)."""
    with _lock:
        _buckets.clear()
        _operating.clear()


def blocked_wait(address: str, api_method: str, bound: float) -> Optional[float]:
    """After ``429 OPERATION_TIME_LIMIT``: the wait until the reset if it is known and within ``bound``."""
    if bound <= 0:
        return None
    state = operating_state(address, api_method)
    if state is None:
        return None
    wait = max(0.0, state[1] - time.time())
    return wait if wait <= bound else None


def typed_error(status: int, api_method: str, address: str, body: Dict[str, Any]) -> APIError:
    """The :class:`APIError` for an error answer; ``OPERATION_TIME_LIMIT`` gets the reset time if known."""
    error = api_error(status, api_method, body)
    if isinstance(error, OperationTimeLimit):
        state = operating_state(address, api_method)
        if state is not None:
            error.reset_at = state[1]
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state[1]))
            error.args = (f"{error.args[0]} (the method is blocked until about {stamp}; the budget resets then)",)
    return error
