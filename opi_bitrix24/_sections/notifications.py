"""NotificationsManagement (РаботаСУведомлениями): notifications."""

from __future__ import annotations

from .. import _convert as cv
from .. import _core
from .._table import TOKEN, URL, section
from .._types import Id, Result, StructureList, Text

endpoint = section("NotificationsManagement", "РаботаСУведомлениями")

_PARAMS = [URL, ("IDПользователя", "user"), ("Текст", "text"), ("Тег", "tag"), ("Вложения", "blocks"), TOKEN]


def _notify(
    api_method: str, url: str, user_id: Id, text: Text, tag: Text, attachments: StructureList, token: str
) -> Result:
    return _core.post(
        api_method,
        url,
        token,
        USER_ID=cv.text(user_id, "user_id"),
        MESSAGE=cv.text(text, "text"),
        TAG=cv.text(tag, "tag"),
        ATTACH=cv.array(attachments, "attachments"),
    )


@endpoint(
    "CreatePersonalNotification", "СоздатьПерсональноеУведомление", api=["im.notify.personal.add"], params=_PARAMS
)
def create_personal_notification(
    url: str, user_id: Id, text: Text, tag: Text = "", attachments: StructureList = "", token: str = ""
) -> Result:
    """Send a personal notification to a user.

    Calls: im.notify.personal.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the id of the user to notify.
        text: the notification text.
        tag: a uniqueness tag: a notification with the same tag replaces the earlier ones; empty for none.
        attachments: attachment blocks (see ``get_picture_block``, ``get_file_block``): a list of dicts,
            JSON array text or a path to a .json file; a single block is sent as a one-item list.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _notify("im.notify.personal.add", url, user_id, text, tag, attachments, token)


@endpoint("CreateSystemNotification", "СоздатьСистемноеУведомление", api=["im.notify.system.add"], params=_PARAMS)
def create_system_notification(
    url: str, user_id: Id, text: Text, tag: Text = "", attachments: StructureList = "", token: str = ""
) -> Result:
    """Send a system notification to a user.

    Calls: im.notify.system.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the id of the user to notify.
        text: the notification text.
        tag: a uniqueness tag: a notification with the same tag replaces the earlier ones; empty for none.
        attachments: attachment blocks (see ``get_picture_block``, ``get_file_block``): a list of dicts,
            JSON array text or a path to a .json file; a single block is sent as a one-item list.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _notify("im.notify.system.add", url, user_id, text, tag, attachments, token)


@endpoint(
    "DeleteNotification",
    "УдалитьУведомление",
    api=["im.notify.delete"],
    params=[URL, ("IDУведомления", "notif"), TOKEN],
)
def delete_notification(url: str, notification_id: Id, token: str = "") -> Result:
    """Delete a notification.

    Calls: im.notify.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        notification_id: the notification id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.notify.delete", url, token, ID=cv.text(notification_id, "notification_id"))
