"""MessageManagement (РаботаССообщениями): messenger messages."""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._table import TOKEN, URL, section
from .._types import Id, Result, StructureList, Text

endpoint = section("MessageManagement", "РаботаССообщениями")


@endpoint(
    "SendMessage",
    "ОтправитьСообщение",
    api=["im.message.add"],
    params=[URL, ("IDЧата", "chat"), ("Текст", "text"), ("Вложения", "blocks"), TOKEN],
)
def send_message(url: str, chat_id: Id, text: Text, attachments: StructureList = "", token: str = "") -> Result:
    """Send a message, with optional attachment blocks, to a chat or a user.

    Calls: im.message.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        text: the message text.
        attachments: attachment blocks (see :func:`get_picture_block`, :func:`get_file_block`): a list of
            dicts, JSON array text or a path to a .json file; a single block is sent as a one-item list.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.message.add",
        url,
        token,
        DIALOG_ID=cv.text(chat_id, "chat_id"),
        MESSAGE=cv.text(text, "text"),
        ATTACH=cv.array(attachments, "attachments"),
    )


@endpoint(
    "EditMessage",
    "ИзменитьСообщение",
    api=["im.message.update"],
    params=[URL, ("IDСообщения", "message"), ("Текст", "text"), ("Вложения", "blocks"), TOKEN],
)
def edit_message(url: str, message_id: Id, text: Text = "", attachments: StructureList = "", token: str = "") -> Result:
    """Change the text and/or the attachment blocks of a message.

    Calls: im.message.update

    Args:
        url: the webhook URL, or the portal address when a token is used.
        message_id: the message id.
        text: the new text; empty to leave it out.
        attachments: the new attachment blocks, as for :func:`send_message`; empty to leave them out.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.message.update",
        url,
        token,
        MESSAGE_ID=cv.text(message_id, "message_id"),
        MESSAGE=cv.text(text, "text"),
        ATTACH=cv.array(attachments, "attachments"),
    )


@endpoint(
    "SetMessageReaction",
    "УстановитьРеакциюНаСообщение",
    api=["im.message.like"],
    params=[URL, ("IDСообщения", "message"), TOKEN],
)
def set_message_reaction(url: str, message_id: Id, token: str = "") -> Result:
    """Toggle the "like" reaction on a message (set it, or remove it when it is there).

    Calls: im.message.like

    Only MESSAGE_ID is sent, as in OPI, so the portal's default action (toggle) applies.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        message_id: the message id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.message.like", url, token, MESSAGE_ID=cv.text(message_id, "message_id"))


@endpoint(
    "DeleteMessage", "УдалитьСообщение", api=["im.message.delete"], params=[URL, ("IDСообщения", "message"), TOKEN]
)
def delete_message(url: str, message_id: Id, token: str = "") -> Result:
    """Delete a message.

    Calls: im.message.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        message_id: the message id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.message.delete", url, token, MESSAGE_ID=cv.text(message_id, "message_id"))


@endpoint(
    "SendFile",
    "ОтправитьФайл",
    api=["im.disk.file.commit"],
    params=[URL, ("IDЧата", "chat"), ("IDФайла", "fileid"), ("Описание", "description"), TOKEN],
)
def send_file(url: str, chat_id: Id, file_id: Id, description: Text = "", token: str = "") -> Result:
    """Post a file already uploaded to Disk into a chat.

    Calls: im.disk.file.commit

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        file_id: the Disk file id (e.g. of a file uploaded into the chat's files folder, see
            ``get_chat_files_folder``); sent as UPLOAD_ID.
        description: the text of the message that carries the file; empty to leave it out.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.disk.file.commit",
        url,
        token,
        CHAT_ID=cv.text(chat_id, "chat_id"),
        UPLOAD_ID=cv.text(file_id, "file_id"),
        MESSAGE=cv.text(description, "description"),
    )


@endpoint(
    "MarkMessageAsReaded",
    "ОтметитьСообщениеКакПрочитанное",
    api=["im.dialog.read"],
    params=[URL, ("IDЧата", "chat"), ("IDСообщения", "message"), TOKEN],
)
def mark_message_as_readed(url: str, chat_id: Id, message_id: Id, token: str = "") -> Result:
    """Mark a message and all earlier ones as read.

    Calls: im.dialog.read

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        message_id: the id of the last message read.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.dialog.read",
        url,
        token,
        DIALOG_ID=cv.text(chat_id, "chat_id"),
        MESSAGE_ID=cv.text(message_id, "message_id"),
    )


@endpoint(
    "MarkMessageAsUnreaded",
    "ОтметитьСообщениеКакНепрочитанное",
    api=["im.dialog.unread"],
    params=[URL, ("IDЧата", "chat"), ("IDСообщения", "message"), TOKEN],
)
def mark_message_as_unreaded(url: str, chat_id: Id, message_id: Id, token: str = "") -> Result:
    """Mark a message and all later ones as unread.

    Calls: im.dialog.unread

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        message_id: the id of the first unread message.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.dialog.unread",
        url,
        token,
        DIALOG_ID=cv.text(chat_id, "chat_id"),
        MESSAGE_ID=cv.text(message_id, "message_id"),
    )


def _block(kind: str, name: Any, link: Any) -> Result:
    fields = {"NAME": cv.text(name, "name"), "LINK": cv.text(link, "url")}
    return {kind: {key: value for key, value in fields.items() if value is not cv.SKIP}}


@endpoint("GetPictureBlock", "ПолучитьБлокКартинки", params=[("Наименование", "title"), ("URL", "url")])
def get_picture_block(name: Text, url: str) -> Result:
    """Build an image attachment block for :func:`send_message` and the notifications.

    Calls: nothing

    Args:
        name: the picture's name; left out when empty.
        url: the picture's address (a link, not a webhook); left out when empty.

    Returns:
        ``{"IMAGE": {"NAME": name, "LINK": url}}``.
    """
    return _block("IMAGE", name, url)


@endpoint("GetFileBlock", "ПолучитьБлокФайла", params=[("Наименование", "title"), ("URL", "url")])
def get_file_block(name: Text, url: str) -> Result:
    """Build a file attachment block for :func:`send_message` and the notifications.

    Calls: nothing

    Args:
        name: the file's name; left out when empty.
        url: the file's address (a link, not a webhook); left out when empty.

    Returns:
        ``{"FILE": {"NAME": name, "LINK": url}}``.
    """
    return _block("FILE", name, url)
