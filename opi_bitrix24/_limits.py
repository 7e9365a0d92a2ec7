"""The portal's limits on the client side (additions beyond OPI).

- The rate bucket: a leaky bucket per portal origin (``Settings.rate_limit``: requests per second and
  burst). One bucket per origin — scheme, host and port, default ports normalised — whatever the settings
  of the calls and Portal objects using it: while requests are in it the strictest limit among them wins
  (the lowest rate, the lowest burst); once it has drained it takes the next request's limit. A call
  waits for room before it is sent, so a well-behaved client never sees ``503 QUERY_LIMIT_EXCEEDED``.
- Operating time: every answer's ``time.operating`` / ``operating_reset_at`` (and a batch's per-command
  ``result_time``) is recorded per portal origin and method; once a method has used 90 % of its budget
  (432 of 480 s per 10 minutes) the next call of that method waits for the reset instead of being blocked.

Both live in the state backend of :mod:`._state` (in-process by default).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, Mapping, Optional, Tuple

from . import _auth, _state
from ._errors import APIError, OperationTimeLimit, StateUnavailable, api_error
from ._redact import _url_secrets
from ._settings import current_settings

__all__ = ["Bucket", "clear_operating", "note_time", "operating_due", "refund", "reset", "take"]

#: The platform's operating-time budget per method (seconds within the 10-minute window).
OPERATING_BUDGET = 480.0
#: Slow down when a method has used this share of its budget (432 s of 480 s).
OPERATING_MARGIN = 0.9
OPERATING_THRESHOLD = 432.0

log = logging.getLogger("opi_bitrix24")
#: The clock of the rate limiter's late-wake check (looked up at each use: tests replace it).
clock = time.monotonic


class Bucket:
    """A leaky bucket: ``burst`` requests at once, then ``rate`` per second (see :func:`._state.take_slot`)."""

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
            wait, self.level, self.rate, self.burst = _state.take_slot(
                self.level, self.stamp, self.rate, self.burst, now, self.rate, self.burst
            )
            self.stamp = now
            return wait

    def refund(self) -> None:
        """Give back the slot of a request that will not be sent (its wait could not fit the deadline)."""
        with self.lock:
            self.level = max(0.0, self.level - 1)


def _method(api_method: str) -> str:
    return api_method.strip().lower()


#: A wait that overran by more than this share of one slot's time (the process was not scheduled in time)
#: takes a new slot, at most this many times: the portal must not see the request with the ones after it.
LATE_SHARE = 0.5
RETAKES = 8


def take(origin: str, rate: float, burst: int) -> float:
    """Take one slot of the origin's bucket (a state operation); the seconds to wait before sending (0: now).

    The slot is counted when it is taken (first come, first served). The flow (``_flow.acquire``) waits,
    and takes a new slot when its wait overran by more than :data:`LATE_SHARE` of a slot's time.
    """
    return _state.current().take(origin, rate, burst)


def refund(origin: str) -> None:
    """Give back the slot of a request that will not be sent (its wait could not fit the deadline)."""
    _state.current().refund(origin)


def note_time(address: str, api_method: str, block: Any) -> None:
    """Record a ``time`` block (``operating``, ``operating_reset_at``) for the method on this portal."""
    if not isinstance(block, Mapping):
        return
    operating = block.get("operating")
    reset_at = block.get("operating_reset_at")
    if (
        isinstance(operating, (int, float))
        and isinstance(reset_at, (int, float))
        and not isinstance(operating, bool)
        and not isinstance(reset_at, bool)
    ):
        try:
            _state.current().note_operating(
                _state.origin(address), _method(api_method), float(operating), float(reset_at)
            )
        except StateUnavailable as exc:
            # The answer has arrived (a write may have been done): it is returned, not lost to the store's
            # failure; the next call's bucket take raises before anything is sent.
            log.warning("operating time not recorded: %s", exc)


def operating_state(address: str, api_method: str) -> Optional[Tuple[float, float]]:
    """``(operating seconds, reset Unix time)`` last seen for the method, or None."""
    return _state.current().operating(_state.origin(address), _method(api_method))


def operating_due(address: str, api_method: str, bound: float) -> Optional[Tuple[float, float]]:
    """Before a call: ``(wait, reset time)`` when the method has used 90 % of its operating time or more.

    The wait is up to ``bound`` seconds (``None``: no wait). A state operation; the flow
    (``_flow.operating_pause``) waits and then calls :func:`clear_operating`.
    """
    if bound <= 0:
        return None
    state = operating_state(address, api_method)
    if state is None:
        return None
    operating, reset_at = state
    if operating < OPERATING_THRESHOLD:
        return None
    wait = min(bound, reset_at - time.time())
    return (wait, reset_at) if wait > 0 else None


def clear_operating(address: str, api_method: str, reset_at: float) -> None:
    """After the operating-time pause: the method's recorded time is spent (the budget has reset)."""
    _state.current().clear_operating(_state.origin(address), _method(api_method), reset_at)


def reset() -> None:
    """Forget every bucket, every recorded operating time and every stored pair of the backend (tests)."""
    _state.current().reset()


def blocked_wait(address: str, api_method: str, bound: float) -> Optional[float]:
    """After ``429 OPERATION_TIME_LIMIT``: the wait until the reset if it is known and within ``bound``."""
    if bound <= 0:
        return None
    state = operating_state(address, api_method)
    if state is None:
        return None
    wait = max(0.0, state[1] - time.time())
    return wait if wait <= bound else None


def typed_error(status: int, api_method: str, address: str, body: Dict[str, Any], token: Any = "") -> APIError:
    """The :class:`APIError` for an error answer, redacted; ``OPERATION_TIME_LIMIT`` gets the reset time if known.

    The secrets hidden: ``token``, the webhook key in ``address`` and the OAuth app's secrets and tokens.
    """
    secrets = (token if isinstance(token, str) else "",) + _url_secrets(address)
    app = current_settings().oauth_app
    if app is not None:
        secrets += _auth.secrets(app)
    error = api_error(status, api_method, body, secrets)
    if isinstance(error, OperationTimeLimit):
        state = operating_state(address, api_method)
        if state is not None:
            error.reset_at = state[1]
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state[1]))
            error.args = (f"{error.args[0]} (the method is blocked until about {stamp}; the budget resets then)",)
    return error
