"""SettingsAndAdministartion (НастройкиИАдминистрирование): tokens and server time."""

from __future__ import annotations

from .. import _core
from .._table import TOKEN, URL, section
from .._types import Result

endpoint = section("SettingsAndAdministartion", "НастройкиИАдминистрирование")


@endpoint("ServerTime", "СерверноеВремя", api=["server.time"], params=[URL, TOKEN])
def server_time(url: str, token: str = "") -> Result:
    """Return the portal's current server time.

    Calls: server.time (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("server.time", url, token)
