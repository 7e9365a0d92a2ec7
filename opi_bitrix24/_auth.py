"""OAuth application credentials for automatic token refresh (an addition beyond OPI).

An :class:`OAuthApp` given as ``settings(oauth_app=...)`` lets the request core answer an
``expired_token`` error with one refresh and one repeat of the call. The refresh logic lives here too.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional

__all__ = ["OAuthApp"]


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

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, secrets hidden)"
