"""Where the client-side limits and the OAuth token pair live (additions beyond OPI).

One contract, :class:`State`, stands behind the portal's rate bucket, the per-method operating-time
accounting and the OAuth token pair. The backend is chosen by the ``state`` setting (and
``$OPI_BITRIX24_STATE`` for the CLI); this module holds the in-process one (the default).

Keys are the portal's origin: ``scheme://host:port`` with the host in lower case and the default port
written out (``https://b24.example`` and ``https://B24.example:443/rest/`` are one portal).
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit

__all__ = ["MemoryState", "State", "origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(address: str) -> str:
    """``scheme://host:port`` of a portal address (default port written out, host in lower case)."""
    text = address.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or _DEFAULT_PORTS.get(scheme, 0)
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def take_slot(
    level: float, stamp: float, rate: float, burst: int, now: float, want_rate: float, want_burst: int
) -> Tuple[float, float, float, int]:
    """One request's take from a leaky bucket: ``(wait, new level, rate, burst)``.

    The bucket drains at ``rate`` per second. While it holds requests, the strictest limit of those using it
    wins (the lower rate, the lower burst); once it has drained empty it takes the limit of the next
    request. One slot of the burst is kept free: requests reach the portal with jitter (a late one can
    arrive right before the next) and the portal's bucket must never see more than its burst.
    """
    level = max(0.0, level - max(0.0, now - stamp) * rate)
    if level <= 0.0:
        rate, burst = want_rate, want_burst
    else:
        rate, burst = min(rate, want_rate), min(burst, want_burst)
    room = max(1, burst - 1)
    wait = max(0.0, (level + 1 - room) / rate)
    return wait, level + 1, rate, burst


def merge_operating(old: Optional[Tuple[float, float]], operating: float, reset_at: float) -> Tuple[float, float]:
    """The operating time to keep after an answer: answers of one window arrive in any order, so the
    larger figure of that window stays; an answer with a later reset (beyond a second of jitter) starts
    a new window."""
    if old is None or reset_at > old[1] + 1.0:
        return operating, reset_at
    if reset_at < old[1] - 1.0:  # an answer of an older window arriving late
        return old
    return max(old[0], operating), max(old[1], reset_at)


class State:
    """The contract of a state backend. Every method is atomic with respect to every other user of the
    same store (threads, processes, machines, as far as the backend reaches).

    - ``take(origin, rate, burst)``: take one slot of the origin's bucket; the seconds to wait before sending.
    - ``refund(origin)``: give a slot back (its request will not be sent: the wait could not fit the deadline).
    - ``note_operating(origin, method, operating, reset_at)``: record what an answer said about the
      method's operating time (merged with :func:`merge_operating`).
    - ``operating(origin, method)``: ``(operating seconds, reset Unix time)`` or None.
    - ``clear_operating(origin, method, reset_at)``: forget the record of that window (after the reset).
    - ``load_pair(key)`` / ``save_pair(key, access, refresh, expires_at)``: the OAuth token pair of an app.
    - ``lock(key, ttl)`` / ``unlock(key, owner)``: the refresh lock (an owner string, or None when held
      by someone else); it expires by itself after ``ttl`` seconds.
    - ``shared``: False for the in-process backend (the pair then lives in the :class:`OAuthApp` itself).
    """

    name = "state"
    shared = False

    def take(self, origin: str, rate: float, burst: int) -> float:
        raise NotImplementedError

    def refund(self, origin: str) -> None:
        raise NotImplementedError

    def note_operating(self, origin: str, method: str, operating: float, reset_at: float) -> None:
        raise NotImplementedError

    def operating(self, origin: str, method: str) -> Optional[Tuple[float, float]]:
        raise NotImplementedError

    def clear_operating(self, origin: str, method: str, reset_at: float) -> None:
        raise NotImplementedError

    def load_pair(self, key: str) -> Optional[Tuple[str, str, float]]:
        raise NotImplementedError

    def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
        raise NotImplementedError

    def lock(self, key: str, ttl: float) -> Optional[str]:
        raise NotImplementedError

    def unlock(self, key: str, owner: str) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<opi_bitrix24 state {self.name}>"


class MemoryState(State):
    """The in-process backend (the default): one process, every thread of it."""

    name = "memory"
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: Dict[str, Tuple[float, float, float, int]] = {}
        self._operating: Dict[Tuple[str, str], Tuple[float, float]] = {}
        self._pairs: Dict[str, Tuple[str, str, float]] = {}
        self._locks: Dict[str, Tuple[str, float]] = {}

    def take(self, origin: str, rate: float, burst: int) -> float:
        from . import _limits

        with self._lock:
            now = _limits.clock()
            level, stamp, old_rate, old_burst = self._buckets.get(origin, (0.0, now, rate, burst))
            wait, level, rate, burst = take_slot(level, stamp, old_rate, old_burst, now, rate, burst)
            self._buckets[origin] = (level, now, rate, burst)
            return wait

    def refund(self, origin: str) -> None:
        with self._lock:
            held = self._buckets.get(origin)
            if held is not None:
                self._buckets[origin] = (max(0.0, held[0] - 1), *held[1:])

    def note_operating(self, origin: str, method: str, operating: float, reset_at: float) -> None:
        with self._lock:
            key = (origin, method)
            self._operating[key] = merge_operating(self._operating.get(key), operating, reset_at)

    def operating(self, origin: str, method: str) -> Optional[Tuple[float, float]]:
        with self._lock:
            return self._operating.get((origin, method))

    def clear_operating(self, origin: str, method: str, reset_at: float) -> None:
        with self._lock:
            record = self._operating.get((origin, method))
            if record is not None and record[1] <= reset_at + 1.0:
                del self._operating[(origin, method)]

    def load_pair(self, key: str) -> Optional[Tuple[str, str, float]]:
        with self._lock:
            return self._pairs.get(key)

    def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
        with self._lock:
            self._pairs[key] = (access, refresh, expires_at)

    def lock(self, key: str, ttl: float) -> Optional[str]:
        import os

        with self._lock:
            now = time.monotonic()
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return None
            owner = os.urandom(8).hex()
            self._locks[key] = (owner, now + ttl)
            return owner

    def unlock(self, key: str, owner: str) -> None:
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[0] == owner:
                del self._locks[key]

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._operating.clear()
            self._pairs.clear()
            self._locks.clear()


_memory = MemoryState()


def current() -> State:
    """The backend the current settings choose (the in-process one by default)."""
    return _memory
