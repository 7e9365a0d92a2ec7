"""OAuth application credentials for automatic token refresh (an addition beyond OPI).

An :class:`OAuthApp` given as ``settings(oauth_app=...)`` lets the request core answer an
``expired_token`` error with one refresh and one repeat of the call. The refresh logic lives here too.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional, Set

__all__ = ["OAuthApp", "current", "refresh"]


class OAuthApp:
    """A Bitrix24 OAuth application and its current token pair.

    ``on_refresh`` is called with the token endpoint's answer (``access_token``, ``refresh_token``,
    ``expires_in``, ...) after every successful refresh, so the caller can persist the new pair
    (refresh tokens rotate: the old one stops working).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        access_token: str = "",
        on_refresh: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.access_token = access_token
        self.on_refresh = on_refresh
        self.lock = threading.Lock()
        self.retired: Set[str] = set()

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, secrets hidden)"


def current(app: OAuthApp, token: str) -> str:
    """The token to send: the app's current one when ``token`` is one that a refresh has replaced."""
    with app.lock:
        if token in app.retired and app.access_token:
            return app.access_token
    return token


def refresh(app: OAuthApp, stale: str) -> str:
    """Get a new token pair after ``expired_token`` for ``stale``; return the new access token.

    Coalesced: threads that saw the same expired token wait on the app's lock, and only the first one
    asks the token endpoint (refresh tokens rotate, so a second refresh would fail). A failed refresh
    raises :class:`RefreshFailed` (no secret in the message). ``on_refresh`` gets the new pair.
    """
    from . import _core, _deadline
    from ._errors import DeadlineExceeded, RefreshFailed

    left = _deadline.remaining()
    if not app.lock.acquire(timeout=-1 if left is None else left):  # another thread is refreshing
        raise DeadlineExceeded(f"waiting for the token refresh: the deadline of {_deadline.seconds():g} s has passed")
    try:
        if stale in app.retired and app.access_token and app.access_token != stale:
            return app.access_token  # another thread refreshed while we waited
        answer = _core.oauth(
            grant_type="refresh_token",
            client_id=app.client_id,
            client_secret=app.client_secret,
            refresh_token=app.refresh_token,
        )
        access = answer.get("access_token")
        renewed = answer.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(renewed, str) or not renewed:
            body = {k: v for k, v in answer.items() if k in ("error", "error_description")}
            body.setdefault("error", "refresh_failed")
            body.setdefault("error_description", "the token endpoint gave no new token pair")
            raise RefreshFailed(0, "oauth/token", body)
        app.retired.add(stale)
        if app.access_token and app.access_token != stale:
            app.retired.add(app.access_token)
        app.access_token = access
        app.refresh_token = renewed
        callback = app.on_refresh
    finally:
        app.lock.release()
    if callback is not None:
        callback(dict(answer))
    return access
