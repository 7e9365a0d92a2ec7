"""OAuth application credentials for automatic token refresh (an addition beyond OPI).

An :class:`OAuthApp` given as ``settings(oauth_app=...)`` lets the request core answer an
``expired_token`` error with one refresh and one repeat of the call. The refresh logic lives here too.

With a shared state backend (``settings(state="sqlite:///..." | "redis://...")``) the token pair lives in
the store under the app's key, and a refresh is done under the store's lock: one process refreshes, the
others read the pair it stored.
"""

from __future__ import annotations

import contextvars
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Set, Tuple

from ._errors import StateUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from ._errors import RefreshFailed

__all__ = ["OAuthApp", "current", "refresh", "secrets"]

#: The method name that :class:`RefreshFailed` carries.
TOKEN_METHOD = "oauth/token"
#: A stored access token this close to its expiry (seconds) is not adopted: it is refreshed instead.
EXPIRY_MARGIN = 30.0


class OAuthApp:
    """A Bitrix24 OAuth application and its current token pair.

    ``on_refresh`` is called with the token endpoint's answer (``access_token``, ``refresh_token``,
    ``expires_in``, ...) after every successful refresh, so the caller can persist the new pair
    (refresh tokens rotate: the old one stops working). With a shared state backend it is called once,
    in the process that refreshed.

    ``key`` names the pair in a shared state backend (default: the ``client_id``). An application that
    acts for several users or portals gives each user's ``OAuthApp`` its own key (``"<member_id>:<user>"``):
    apps with one key share one pair.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        access_token: str = "",
        on_refresh: Optional[Callable[[Dict[str, Any]], None]] = None,
        key: str = "",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.access_token = access_token
        self.on_refresh = on_refresh
        self.key = key or client_id
        self.lock = threading.Lock()
        #: The pair's fields (tokens, retired tokens), held only briefly: a call reading the token to send
        #: never waits for another thread's refresh (``lock`` is held across the token request).
        self.pair_lock = threading.RLock()
        self.retired: Set[str] = set()
        #: refreshes attempted, and the last failure (attempt number, status, body) for waiting threads
        self.attempts = 0
        self.failure: Optional[Tuple[int, int, Dict[str, Any]]] = None
        self.synced: Set[str] = set()

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, secrets hidden)"


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
    """Make ``(access, renewed)`` the app's pair; the tokens it replaces are retired (held by app.lock)."""
    with app.pair_lock:
        for old in (stale, app.access_token):
            if old and old != access:
                app.retired.add(old)
        app.retired.discard(access)
        app.access_token = access
        app.refresh_token = renewed


def refresh(app: OAuthApp, stale: str) -> str:
    """Get a new token pair after ``expired_token`` for ``stale``; return the new access token.

    Coalesced: threads that saw the same expired token wait on the app's lock, and only the first one
    asks the token endpoint (refresh tokens rotate, so a second refresh would fail). With a shared state
    backend the refresh runs under the store's lock (with a time-to-live): after taking it the stored pair
    is read again — another process may have refreshed already — and the new pair is stored before it is
    used. A failed refresh raises :class:`RefreshFailed` (redacted); the threads that were waiting for
    it get the same failure without asking the endpoint again. ``on_refresh`` gets the new pair, once.
    """
    from . import _deadline, _state
    from ._errors import DeadlineExceeded

    started = _started.get()
    seen = started[1] if started[0] == id(app) else app.attempts
    left = _deadline.remaining()
    if not app.lock.acquire(timeout=-1 if left is None else left):  # another thread is refreshing
        raise DeadlineExceeded(f"waiting for the token refresh: the deadline of {_deadline.seconds():g} s has passed")
    try:
        if stale in app.retired and app.access_token and app.access_token != stale:
            return app.access_token  # another thread refreshed while we waited
        if app.attempts != seen and app.failure is not None and app.failure[0] == app.attempts:
            raise _failed(app, app.failure[1], app.failure[2])  # that refresh failed: so does ours
        store = _state.current()
        if store.shared:
            try:
                answer = _refresh_shared(app, store, stale)
            except _Unsaved as unsaved:  # refreshed, but the store failed: the caller still gets the pair
                if app.on_refresh is not None:
                    app.on_refresh(dict(unsaved.answer))
                raise unsaved.error from None
        else:
            answer = _ask(app, app.refresh_token, stale)
            _adopt(app, answer["access_token"], answer["refresh_token"], stale)
        callback = app.on_refresh
        access = app.access_token
    finally:
        app.lock.release()
    if callback is not None and answer:
        callback(dict(answer))
    return access


class _Unsaved(Exception):
    """A refresh the portal did (the old refresh token is spent) whose new pair the store did not take."""

    def __init__(self, answer: Dict[str, Any], error: StateUnavailable) -> None:
        self.answer = answer
        self.error = error


def _refresh_shared(app: OAuthApp, store: Any, stale: str) -> Dict[str, Any]:
    """The refresh under the store's lock; ``{}`` when another process had refreshed already.

    If the store fails after the portal has given the new pair, the pair is kept in this process and
    handed to ``on_refresh``, then :class:`StateUnavailable` is raised (the caller may persist it).
    """
    key = _store_key(app)
    ttl = float(getattr(store, "lock_ttl", 30.0))
    owner = store.lock(key, ttl)
    while owner is None:
        _wait(getattr(store, "poll", 0.05))
        owner = store.lock(key, ttl)
    try:
        stored = store.load_pair(key)
        if stored is not None:
            access, renewed, expires_at = stored
            fresh = not expires_at or expires_at - time.time() > EXPIRY_MARGIN
            if access and access != stale and fresh:
                _adopt(app, access, renewed, stale)  # another worker refreshed: use its pair
                return {}
        refresh_token = stored[1] if stored is not None and stored[1] else app.refresh_token
        answer = _ask(app, refresh_token, stale)
        expires_in = answer.get("expires_in")
        expires_at = time.time() + float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 0.0
        try:
            store.save_pair(key, answer["access_token"], answer["refresh_token"], expires_at)  # stored before use
        except StateUnavailable as exc:
            _adopt(app, answer["access_token"], answer["refresh_token"], stale)
            raise _Unsaved(answer, exc) from None
        _adopt(app, answer["access_token"], answer["refresh_token"], stale)
        return answer
    finally:
        try:
            store.unlock(key, owner)
        except StateUnavailable:  # the store is down: the lock expires by itself after its time-to-live
            pass


def _wait(seconds: float) -> None:
    from . import _deadline

    _deadline.sleep(seconds, "waiting for another worker's token refresh")


def _ask(app: OAuthApp, refresh_token: str, stale: str) -> Dict[str, Any]:
    """Ask the token endpoint once (held by app.lock); a usable answer or :class:`RefreshFailed`."""
    from . import _core
    from ._errors import DeadlineExceeded, TransportError, UnexpectedResponse

    hidden: Tuple[str, ...] = (app.client_secret, refresh_token, stale, app.refresh_token, app.access_token)
    try:
        status, answer = _core.oauth_exchange(
            grant_type="refresh_token",
            client_id=app.client_id,
            client_secret=app.client_secret,
            refresh_token=refresh_token,
        )
    except UnexpectedResponse as exc:  # garbage, HTML, a cut or empty answer
        status, answer = (
            exc.status,
            {
                "error": "refresh_failed",
                "error_description": f"the token endpoint's answer is not usable: {exc}",
            },
        )
    except TransportError as exc:  # no answer at all (the message is the transport's, already redacted)
        status, answer = 0, {"error": "refresh_failed", "error_description": f"the token endpoint failed: {exc}"}
        if isinstance(exc, DeadlineExceeded):
            app.attempts += 1
            app.failure = (app.attempts, 0, _failed(app, 0, answer, hidden).body)
            raise
    app.attempts += 1  # counted once the endpoint has answered: calls started before this see its outcome
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
