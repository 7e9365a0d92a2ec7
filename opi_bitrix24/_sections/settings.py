"""SettingsAndAdministartion (НастройкиИАдминистрирование): tokens and server time."""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._errors import InvalidArgument
from .._table import TOKEN, URL, section
from .._types import Result, Text

endpoint = section("SettingsAndAdministartion", "НастройкиИАдминистрирование")

CLIENT = [("ClientID", "clientid"), ("ClientSecret", "clientsecret")]


def _required_text(value: Any, name: str) -> str:
    converted = cv.text(value, name)
    if converted is cv.SKIP or isinstance(converted, bool):
        raise InvalidArgument(name, "is required")
    return str(converted).strip()


@endpoint(
    "GetAppAuthLink", "ПолучитьСсылкуАвторизацииПриложения", params=[("Домен", "domain"), ("ClientID", "clientid")]
)
def get_app_auth_link(domain: str, client_id: Text) -> str:
    """Build the browser link that asks a user to authorise your app on a portal (no request is made).

    Calls: nothing

    Deliberate deviation: OPI breaks the link when ``domain`` already has a scheme; here a domain with
    ``https://`` (or ``http://``) is used as given, one without gets ``https://``.

    Args:
        domain: the portal address, e.g. ``b24-ar17wx.bitrix24.by`` or ``https://b24-ar17wx.bitrix24.by``.
        client_id: the app's client id (``local.…``), appended as given.

    Returns:
        ``https://<domain>/oauth/authorize/?client_id=<client_id>``.
    """
    address = _required_text(domain, "domain")
    if not address.lower().startswith(("http://", "https://")):
        address = "https://" + address
    if not address.endswith("/"):
        address += "/"
    return f"{address}oauth/authorize/?client_id={_required_text(client_id, 'client_id')}"


@endpoint("GetToken", "ПолучитьТокен", params=[*CLIENT, ("Code", "code")])
def get_token(client_id: Text, client_secret: str, code: str) -> Result:
    """Exchange an authorisation code (valid 30 s) for an access/refresh token pair.

    Calls: the OAuth server, GET https://oauth.bitrix.info/oauth/token/ (``Settings.oauth_url``)

    Args:
        client_id: the app's client id.
        client_secret: the app's client secret (never logged).
        code: the code the portal passed to your app's redirect (never logged).
    """
    return _core.oauth(
        grant_type="authorization_code",
        client_id=cv.text(client_id, "client_id"),
        client_secret=cv.text(client_secret, "client_secret"),
        code=cv.text(code, "code"),
    )


@endpoint("RefreshToken", "ОбновитьТокен", params=[*CLIENT, ("Refresh", "refresh")])
def refresh_token(client_id: Text, client_secret: str, refresh: str) -> Result:
    """Get a fresh access/refresh token pair with a refresh token (valid 180 days).

    Calls: the OAuth server, GET https://oauth.bitrix.info/oauth/token/ (``Settings.oauth_url``)

    Args:
        client_id: the app's client id.
        client_secret: the app's client secret (never logged).
        refresh: the refresh token (never logged).
    """
    return _core.oauth(
        grant_type="refresh_token",
        client_id=cv.text(client_id, "client_id"),
        client_secret=cv.text(client_secret, "client_secret"),
        refresh_token=cv.text(refresh, "refresh"),
    )


@endpoint("ServerTime", "СерверноеВремя", api=["server.time"], params=[URL, TOKEN])
def server_time(url: str, token: str = "") -> Result:
    """Return the portal's current server time.

    Calls: server.time (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("server.time", url, token)
