"""OAuth application credentials for automatic token refresh (an addition beyond OPI).

An :class:`OAuthApp` given as ``settings(oauth_app=...)`` lets the request core answer an
``expired_token`` error with one refresh and one repeat of the call. The class lives in :mod:`._settings`
(a setting's type); the refresh's decisions live here, its effects in the flow ``_flow.refresh``.

With a shared state backend (``settings(state="sqlite:///..." | "redis://...")``) the token pair lives in
the store under the app's key, and a refresh is done under the store's lock: one process refreshes, the
others read the pair it stored.
"""

from __future__ import annotations

import contextvars
import time
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ._settings import OAuthApp

if TYPE_CHECKING:  # pragma: no cover
    from ._errors import RefreshFailed

__all__ = ["OAuthApp", "accept", "adopt", "begin", "current", "no_answer", "secrets", "seen"]

#: The method name that :class:`RefreshFailed` carries.
TOKEN_METHOD = "oauth/token"
#: A stored access token this close to its expiry (seconds) is not adopted: it is refreshed instead.
EXPIRY_MARGIN = 30.0


#: ``(id(app), refreshes completed)`` when the current call started: a call that was in flight when a
#: refresh failed gets that failure instead of asking the token endpoint again.
_started: contextvars.ContextVar[Tuple[int, int]] = contextvars.ContextVar("opi_bitrix24_refresh_seen", default=(0, -1))


def secrets(app: OAuthApp) -> Tuple[str, ...]:
    """Every secret the app holds (client secret, tokens, replaced tokens): hidden in messages."""
    with app.pair_lock:
        held = (app.client_secret, app.refresh_token, app.access_token, *sorted(app.retired))
    return tuple(s for s in held if isinstance(s, str) and s)


def current(app: OAuthApp, token: str) -> str:
    """The token to send: the app's current one when ``token`` is one that a refresh has replaced.

    A caller's own token that the app never held is sent as it is (a multi-user app acts as that user).
    With a shared state backend the stored pair is read once per process and backend, so a process that
    starts after a refresh elsewhere sends the current token at once.
    """
    from . import _state

    store = _state.current()
    if store.shared and store.name not in app.synced:
        _sync(app, store)
    with app.pair_lock:  # not app.lock: a refresh in progress must not hold a new call past its deadline
        _started.set((id(app), app.attempts))
        if token in app.retired and app.access_token:
            return app.access_token
    return token


def _sync(app: OAuthApp, store: Any) -> None:
    stored = store.load_pair(_store_key(app))
    with app.pair_lock:
        app.synced.add(store.name)
        if stored is not None:
            _adopt(app, stored[0], stored[1])


def _store_key(app: OAuthApp) -> str:
    return f"{app.client_id}\x1f{app.key}"


def _adopt(app: OAuthApp, access: str, renewed: str, stale: str = "") -> None:
    """Make ``(access, renewed)`` the app's pair; the tokens it replaces are retired (under the refresh lock)."""
    with app.pair_lock:
        for old in (stale, app.access_token):
            if old and old != access:
                app.retired.add(old)
        app.retired.discard(access)
        app.access_token = access
        app.refresh_token = renewed


def seen(app: OAuthApp) -> int:
    """The app's refresh count when the current call chose its token (see :func:`begin`)."""
    started = _started.get()
    return started[1] if started[0] == id(app) else app.attempts


def begin(app: OAuthApp, token: str) -> Tuple[str, int]:
    """:func:`current` and the app's refresh count at that moment (a state operation of the flow).

    A call that was in flight when a refresh failed gets that failure instead of asking the token
    endpoint again: the flow hands the count back to its refresh.
    """
    chosen = current(app, token)
    return chosen, seen(app)


def fresh_copy(app: OAuthApp, stale: str) -> Optional[str]:
    """Under the coalescing lock: the token another call's refresh put in place of ``stale``, if any."""
    if stale in app.retired and app.access_token and app.access_token != stale:
        return app.access_token
    return None


def failed_meanwhile(app: OAuthApp, seen: int) -> Optional[RefreshFailed]:
    """Under the coalescing lock: the failure of a refresh that ended after this call started, if any."""
    if app.attempts != seen and app.failure is not None and app.failure[0] == app.attempts:
        return _failed(app, app.failure[1], app.failure[2])
    return None


def store_key(app: OAuthApp) -> str:
    """The key of the app's pair and lock in a shared state store."""
    return _store_key(app)


def stored_pair_usable(app: OAuthApp, stored: Optional[Tuple[str, str, float]], stale: str) -> bool:
    """A pair another worker stored (under the store's lock) that this call may use instead of refreshing."""
    if stored is None:
        return False
    access, _renewed, expires_at = stored
    fresh = not expires_at or expires_at - time.time() > EXPIRY_MARGIN
    return bool(access) and access != stale and fresh


def expires_at(answer: Dict[str, Any]) -> float:
    """The Unix time the new access token expires (0: unknown), from the answer's ``expires_in``."""
    expires_in = answer.get("expires_in")
    return time.time() + float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 0.0


def adopt(app: OAuthApp, access: str, renewed: str, stale: str = "") -> None:
    """Make ``(access, renewed)`` the app's pair; the tokens it replaces are retired."""
    _adopt(app, access, renewed, stale)


def no_answer(app: OAuthApp, exc: Exception, hidden: Tuple[str, ...]) -> Tuple[int, Dict[str, Any]]:
    """The token endpoint gave no usable answer: the ``(status, body)`` judged as its answer.

    ``exc`` is an :class:`UnexpectedResponse` (garbage, HTML, a cut or empty answer) or a
    :class:`TransportError` (no answer at all; its message is the transport's, already redacted). A
    :class:`DeadlineExceeded` is recorded as this attempt's failure for the waiting calls and raised.
    """
    from ._errors import DeadlineExceeded, UnexpectedResponse

    if isinstance(exc, UnexpectedResponse):
        return exc.status, {
            "error": "refresh_failed",
            "error_description": f"the token endpoint's answer is not usable: {exc}",
        }
    answer = {"error": "refresh_failed", "error_description": f"the token endpoint failed: {exc}"}
    if isinstance(exc, DeadlineExceeded):
        app.attempts += 1
        app.failure = (app.attempts, 0, _failed(app, 0, answer, hidden).body)
        raise exc
    return 0, answer


def accept(app: OAuthApp, status: int, answer: Dict[str, Any], hidden: Tuple[str, ...]) -> Dict[str, Any]:
    """The token endpoint's answer: a usable one is returned, anything else raises :class:`RefreshFailed`.

    Counted once the endpoint has answered: calls started before this see its outcome.
    """
    app.attempts += 1
    app.failure = None
    access = answer.get("access_token")
    renewed = answer.get("refresh_token")
    if isinstance(access, str) and access and isinstance(renewed, str) and renewed and 200 <= status < 300:
        return answer
    hidden += tuple(v for v in (access, renewed) if isinstance(v, str))
    body: Dict[str, Any] = {k: str(v) for k, v in answer.items() if k in ("error", "error_description")}
    body.setdefault("error", "refresh_failed")
    body.setdefault("error_description", "the token endpoint gave no new token pair")
    failure = _failed(app, status, body, hidden)
    app.failure = (app.attempts, failure.status, failure.body)
    raise failure


def _failed(app: OAuthApp, status: int, body: Dict[str, Any], hidden: Tuple[str, ...] = ()) -> RefreshFailed:
    from ._errors import RefreshFailed

    return RefreshFailed(status, TOKEN_METHOD, body, hidden + (app.client_secret, app.refresh_token, app.access_token))
