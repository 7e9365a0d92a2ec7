"""Operating-time pacing for bulk work (additions beyond OPI; OPI functions never pace).

A cloud portal allows each REST method ``budget`` seconds of server time within a sliding ``window``
(480 s per 600 s) and answers ``429 OPERATION_TIME_LIMIT`` past it. Bulk work (:func:`batch`,
:func:`iterate`, :func:`all_pages`, :func:`call_many`) keeps every method it sends under that budget:

- each answered command's server time (its ``time`` block's ``duration``/``processing``) is recorded
  per portal and method and leaves the account ``window`` seconds after it finished (the block's
  ``finish``, moved to this machine's clock by the least arrival delay seen, so a clock skew does not
  matter; the arrival time when there is no ``finish``);
- usage the client did not make itself (other programs on the same portal) is what the answer's
  ``time.operating`` reports beyond the recorded time, and is counted until the next answer;
- before a request is sent, its commands' expected server time (the largest recent cost of one command
  of the method, times the commands of that method) is reserved; the request waits while the recorded,
  foreign and reserved time plus its own would pass ``budget`` minus a 1 % headroom, until enough of the
  recorded time leaves the window. A method whose cost is not known yet has one request in flight.

So a big job runs at the portal's operating-time ceiling and meets no 429, with any number of requests
in flight. The budget and window come from the ``operating_budget`` setting (``None``: no pacing).
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple

__all__ = ["Reservation", "pause", "reset", "settle", "try_admit"]

HEADROOM = 0.01
#: How many recent command costs the estimate of one command looks at (the largest of them).
RECENT = 64

clock = time.time


class _Method:
    __slots__ = ("charges", "foreign", "in_flight", "offset", "own", "recent", "reserved", "reset_at", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.charges: List[Tuple[float, float]] = []  # (wall time it leaves the window, seconds), sorted
        self.own = 0.0
        self.foreign = 0.0
        self.reset_at = 0.0
        self.reserved = 0.0
        self.in_flight = 0
        self.offset = float("inf")  # this clock minus the portal's, plus the least delay seen (seconds)
        self.recent: Deque[float] = collections.deque(maxlen=RECENT)

    def expire(self, now: float) -> None:
        cut = bisect.bisect_right(self.charges, (now, float("inf")))
        if cut:
            del self.charges[:cut]
            self.own = sum(c for _, c in self.charges)

    def unit(self) -> Optional[float]:
        return max(self.recent) if self.recent else None

    def wait(self, over: float, now: float, give_up: float) -> Optional[float]:
        """How long to wait for ``over`` seconds of room; None: waiting cannot help (send one request)."""
        freed = 0.0
        for leaves, seconds in self.charges:
            freed += seconds
            if freed >= over:
                return min(give_up, leaves) - now
        if self.in_flight:
            return give_up - now  # an answer will tell more
        if now < self.reset_at:
            return min(give_up, self.reset_at) - now  # other programs' time leaves from then on
        return None


_lock = threading.Condition()
_methods: Dict[Tuple[str, str], _Method] = {}

Reservation = List[Tuple[Tuple[str, str], float]]


def _host(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.split("/", 1)[0].lower()


def try_admit(
    address: str, counts: Mapping[str, int], budget: Tuple[float, float], give_up: float
) -> Tuple[Optional[Reservation], float]:
    """Reserve room for ``counts`` commands per method within ``budget`` = ``(seconds, window seconds)``
    if they fit now (or ``give_up``, a time on :data:`clock`, has passed): ``(reservation, 0)``, the
    reservation to :func:`settle` with the answer; else ``(None, seconds)``: how long to wait before asking
    again (an answer in flight may free room sooner: :func:`pause` wakes then). Never blocks."""
    limit = budget[0] * (1 - HEADROOM)
    reservation: Reservation = []
    longest = 0.0
    with _lock:
        now = clock()
        for method in sorted(counts):
            key = (_host(address), method.strip().lower())
            state = _methods.get(key)
            if state is None:
                state = _methods[key] = _Method(float(budget[1]))
            state.window = float(budget[1])
            state.expire(now)
            unit = state.unit()
            wait: Optional[float] = None
            if unit is None:  # the cost is not known yet: one request at a time until an answer tells it
                need = 0.0
                if state.in_flight and now < give_up:
                    wait = give_up - now
            else:
                need = unit * counts[method]
                foreign = state.foreign if (now < state.reset_at or state.in_flight) else 0.0
                over = state.own + foreign + state.reserved + need - limit
                if over > 0 and now < give_up:
                    wait = state.wait(over, now, give_up)
            if wait is not None:
                longest = max(longest, wait, 0.001)
            reservation.append((key, need))
        if longest:
            return None, longest
        for key, need in reservation:
            state = _methods[key]
            state.reserved += need
            state.in_flight += 1
    return reservation, 0.0


def pause(seconds: float) -> None:
    """Sleep up to ``seconds``, waking early when an answer is settled (room may have been freed)."""
    with _lock:
        _lock.wait(max(seconds, 0.0))


def settle(reservation: Reservation, blocks: Mapping[str, List[Any]]) -> None:
    """Release a reservation and record the answered commands' ``time`` blocks (by method)."""
    now = clock()
    with _lock:
        for key, need in reservation:
            state = _methods[key]
            state.reserved = max(0.0, state.reserved - need)
            state.in_flight -= 1
            reported: Optional[float] = None
            for block in blocks.get(key[1], []):
                if not isinstance(block, Mapping):
                    continue
                spent = max(_number(block.get("duration")), _number(block.get("processing")))
                state.recent.append(spent)
                finish = _number(block.get("finish"))
                if finish > 0:
                    state.offset = min(state.offset, now - finish)
                # the command's time leaves the window when it finished on the portal, on this clock: the
                # portal's finish plus the least (arrival - finish) seen, which takes in a clock skew; the
                # arrival itself when the answer has no finish
                leaves = (finish + state.offset if finish > 0 else now) + state.window
                if spent > 0:
                    bisect.insort(state.charges, (min(leaves, now + state.window), spent))
                    state.own += spent
                operating = block.get("operating")
                if isinstance(operating, (int, float)) and not isinstance(operating, bool):
                    reported = max(reported or 0.0, float(operating))
                reset_at = block.get("operating_reset_at")
                if isinstance(reset_at, (int, float)) and not isinstance(reset_at, bool):
                    state.reset_at = max(state.reset_at, float(reset_at))
            if reported is not None:
                state.expire(now)
                state.foreign = max(0.0, reported - state.own - state.reserved)
        _lock.notify_all()


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def reset() -> None:
    """Forget every account (tests)."""
    with _lock:
        _methods.clear()
