"""ChatsAndDialogsManagement (РаботаСЧатамиИДиалогами): chats, dialogs and messenger users."""

from __future__ import annotations

from .. import _convert as cv
from .. import _core
from .._table import TOKEN, URL, section
from .._types import IdList, Result

endpoint = section("ChatsAndDialogsManagement", "РаботаСЧатамиИДиалогами")


@endpoint(
    "GetUsers", "ПолучитьПользователей", api=["im.user.list.get"], params=[URL, ("IDПользователей", "users"), TOKEN]
)
def get_users(url: str, user_ids: IdList, token: str = "") -> Result:
    """Get messenger information about one or several users.

    Calls: im.user.list.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_ids: one id, a list of ids, or JSON array text (``"[1,10]"``); a single id is sent as a
            one-item list.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.user.list.get", url, token, ID=cv.array(user_ids, "user_ids"))
