"""ChatsAndDialogsManagement (РаботаСЧатамиИДиалогами): chats, dialogs and messenger users."""

from __future__ import annotations

from typing import Any, Dict

from .. import _convert as cv
from .. import _core
from .._shared import mute_switch, primary_action, template
from .._table import TOKEN, URL, section
from .._types import FileData, Flag, Id, IdList, Result, Structure, Text

endpoint = section("ChatsAndDialogsManagement", "РаботаСЧатамиИДиалогами")

#: GetChatStructure's placeholders, in OPI's order (the text is OPI's own).
CHAT_FIELDS: Dict[str, str] = {
    "TYPE": "<Chat type OPEN (Public) | CHAT (Private)>",
    "TITLE": "<Chat title>",
    "DESCRIPTION": "<Chat description>",
    "COLOR": "<Chat color: RED, GREEN, MINT, LIGHT_BLUE, DARK_BLUE, PURPLE, AQUA, ...>",
    "MESSAGE": "<First chat message>",
    "USERS": "<Chat members array>",
    "AVATAR": "<Base64 chat picture>",
    "OWNER_ID": "<ID of chat owner. Current user by default>",
}


def _id_list(value: Any, name: str) -> Any:
    """OPI's ``Collection`` conversion for a list of ids; a lone id becomes a one-item list.

    A whole number, or text made only of digits (``--users 5``), is sent as ``[value]``, as OPI's current
    runtime wraps a value it cannot read as a collection. Everything else goes through
    :func:`cv.collection`, which refuses text that is not a structure instead of sending it.
    """
    lone_number = isinstance(value, int) and not isinstance(value, bool) and value != 0
    if lone_number or (isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()):
        return [value]
    return cv.collection(value, name)


@endpoint("CreateChat", "СоздатьЧат", api=["im.chat.add"], params=[URL, ("СтруктураЧата", "fields"), TOKEN])
def create_chat(url: str, chat_structure: Structure, token: str = "") -> Result:
    """Create a chat from a chat fields structure (see :func:`get_chat_structure`).

    Calls: im.chat.add

    Every key of the structure is sent at the top level of the request exactly as given, empty values
    included (OPI copies them without its usual conversions).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_structure: the chat fields (TYPE, TITLE, DESCRIPTION, COLOR, MESSAGE, USERS, AVATAR,
            OWNER_ID): a dict, JSON object text (single quotes accepted) or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    fields = cv.key_value(chat_structure, "chat_structure")
    return _core.post_fields("im.chat.add", url, token, {} if fields is cv.SKIP else fields)


@endpoint(
    "GetChatUsers",
    "ПолучитьСписокПользователейЧата",
    api=["im.chat.user.list"],
    params=[URL, ("IDЧата", "chat"), TOKEN],
)
def get_chat_users(url: str, chat_id: Id, token: str = "") -> Result:
    """List the member ids of a chat.

    Calls: im.chat.user.list

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("im.chat.user.list", url, chat_id, token, field="CHAT_ID", name="chat_id")


@endpoint("LeaveChat", "ПокинутьЧат", api=["im.chat.leave"], params=[URL, ("IDЧата", "chat"), TOKEN])
def leave_chat(url: str, chat_id: Id, token: str = "") -> Result:
    """Remove the current user from a chat.

    Calls: im.chat.leave

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("im.chat.leave", url, chat_id, token, field="CHAT_ID", name="chat_id")


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


@endpoint(
    "AddUsersToChat",
    "ДобавитьПользователейВЧат",
    api=["im.chat.user.add"],
    params=[URL, ("IDЧата", "chat"), ("IDПользователей", "users"), ("СкрытьИсторию", "hide"), TOKEN],
)
def add_users_to_chat(url: str, chat_id: Id, user_ids: IdList, hide_history: Flag = False, token: str = "") -> Result:
    """Add users to a chat, optionally hiding the earlier history from them.

    Calls: im.chat.user.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        user_ids: a list of user ids or JSON array text (``"[10,12]"``); a single id (``10`` or ``"10"``)
            is sent as a one-item list.
        hide_history: hide the messages sent before they joined; always sent, as ``"Y"`` or ``"N"``.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.chat.user.add",
        url,
        token,
        CHAT_ID=cv.text(chat_id, "chat_id"),
        USERS=_id_list(user_ids, "user_ids"),
        HIDE_HISTORY=cv.yes_no(hide_history, "hide_history"),
    )


@endpoint(
    "DeleteUserFromChat",
    "ИсключитьПользователяИзЧата",
    api=["im.chat.user.delete"],
    params=[URL, ("IDЧата", "chat"), ("IDПользователя", "user"), TOKEN],
)
def delete_user_from_chat(url: str, chat_id: Id, user_id: Id, token: str = "") -> Result:
    """Remove a user from a chat.

    Calls: im.chat.user.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        user_id: the id of the user to remove.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.chat.user.delete", url, token, CHAT_ID=cv.text(chat_id, "chat_id"), USER_ID=cv.text(user_id, "user_id")
    )


@endpoint(
    "ChangeChatTitle",
    "ИзменитьЗаголовокЧата",
    api=["im.chat.updateTitle"],
    params=[URL, ("IDЧата", "chat"), ("Заголовок", "title"), TOKEN],
)
def change_chat_title(url: str, chat_id: Id, title: Text, token: str = "") -> Result:
    """Set a new chat title.

    Calls: im.chat.updateTitle

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        title: the new title.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.chat.updateTitle", url, token, CHAT_ID=cv.text(chat_id, "chat_id"), TITLE=cv.text(title, "title")
    )


@endpoint(
    "ChangeChatColor",
    "ИзменитьЦветЧата",
    api=["im.chat.updateColor"],
    params=[URL, ("IDЧата", "chat"), ("Цвет", "color"), TOKEN],
)
def change_chat_color(url: str, chat_id: Id, color: str, token: str = "") -> Result:
    """Set the chat color (shown by the mobile app).

    Calls: im.chat.updateColor

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        color: RED, GREEN, MINT, LIGHT_BLUE, DARK_BLUE, PURPLE, AQUA, PINK, LIME, BROWN, AZURE, KHAKI,
            SAND, MARENGO, GRAY or GRAPHITE (sent as given; the portal checks it).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.chat.updateColor", url, token, CHAT_ID=cv.text(chat_id, "chat_id"), COLOR=cv.text(color, "color")
    )


@endpoint(
    "ChangeChatPicture",
    "ИзменитьКартинкуЧата",
    api=["im.chat.updateAvatar"],
    params=[URL, ("IDЧата", "chat"), ("Картинка", "picture"), TOKEN],
)
def change_chat_picture(url: str, chat_id: Id, image: FileData, token: str = "") -> Result:
    """Set a new chat picture (avatar).

    Calls: im.chat.updateAvatar

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        image: the picture: bytes, a path to a file, an ``http(s)://`` URL (downloaded first) or base64
            text; it is sent base64-encoded as AVATAR.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    avatar = cv.base64_source(image, "image")
    return _core.post("im.chat.updateAvatar", url, token, CHAT_ID=cv.text(chat_id, "chat_id"), AVATAR=avatar)


@endpoint(
    "ChangeChatOwner",
    "СменитьВладельцаЧата",
    api=["im.chat.setOwner"],
    params=[URL, ("IDЧата", "chat"), ("IDПользователя", "user"), TOKEN],
)
def change_chat_owner(url: str, chat_id: Id, user_id: Id, token: str = "") -> Result:
    """Hand the ownership of a chat to another user.

    Calls: im.chat.setOwner

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        user_id: the id of the new owner.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.chat.setOwner", url, token, CHAT_ID=cv.text(chat_id, "chat_id"), USER_ID=cv.text(user_id, "user_id")
    )


@endpoint(
    "DisableChatNotifications",
    "ОтключитьУведомленияЧата",
    api=["im.chat.mute"],
    params=[URL, ("IDЧата", "chat"), TOKEN],
)
def disable_chat_notifications(url: str, chat_id: Id, token: str = "") -> Result:
    """Mute the notifications of a chat.

    Calls: im.chat.mute (MUTE ``"Y"``)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return mute_switch(url, chat_id, True, token)


@endpoint(
    "EnableChatNotifications", "ВключитьУведомленияЧата", api=["im.chat.mute"], params=[URL, ("IDЧата", "chat"), TOKEN]
)
def enable_chat_notifications(url: str, chat_id: Id, token: str = "") -> Result:
    """Unmute the notifications of a chat.

    Calls: im.chat.mute (MUTE ``"N"``)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return mute_switch(url, chat_id, False, token)


@endpoint(
    "GetChatMessagesList",
    "ПолучитьСписокСообщенийЧата",
    api=["im.dialog.messages.get"],
    params=[URL, ("IDЧата", "chat"), ("IDПоследнего", "last"), ("IDПервого", "first"), TOKEN],
)
def get_chat_messages_list(url: str, chat_id: Id, last_id: Id = "", first_id: Id = "", token: str = "") -> Result:
    """Get up to 20 messages of a chat or private dialog, before ``last_id`` or after ``first_id``.

    Calls: im.dialog.messages.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        last_id: return messages older than this id; empty to leave it out (``0`` is sent as ``"0"``).
        first_id: return messages newer than this id; empty to leave it out (``0`` is sent as ``"0"``,
            which asks for the oldest messages).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "im.dialog.messages.get",
        url,
        token,
        DIALOG_ID=cv.text(chat_id, "chat_id"),
        LAST_ID=cv.line(last_id, "last_id"),
        FIRST_ID=cv.line(first_id, "first_id"),
    )


@endpoint("GetDialog", "ПолучитьДиалог", api=["im.dialog.get"], params=[URL, ("IDЧата", "chat"), TOKEN])
def get_dialog(url: str, chat_id: Id, token: str = "") -> Result:
    """Get the data of a chat or private dialog.

    Calls: im.dialog.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.dialog.get", url, token, DIALOG_ID=cv.text(chat_id, "chat_id"))


@endpoint(
    "GetChatMembersList",
    "ПолучитьСписокПользователейДиалога",
    api=["im.dialog.users.list"],
    params=[URL, ("IDЧата", "chat"), TOKEN],
)
def get_chat_members_list(url: str, chat_id: Id, token: str = "") -> Result:
    """List the participants of a chat or private dialog.

    Calls: im.dialog.users.list

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.dialog.users.list", url, token, DIALOG_ID=cv.text(chat_id, "chat_id"))


@endpoint(
    "SendWritingNotification",
    "ОтправитьУведомлениеОВводе",
    api=["im.dialog.writing"],
    params=[URL, ("IDЧата", "chat"), TOKEN],
)
def send_writing_notification(url: str, chat_id: Id, token: str = "") -> Result:
    """Show the "typing..." indicator in a chat or private dialog.

    Calls: im.dialog.writing

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the dialog id: ``"chat<N>"`` for a chat, or a user id for a private dialog.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.dialog.writing", url, token, DIALOG_ID=cv.text(chat_id, "chat_id"))


@endpoint("GetUserStatus", "ПолучитьСтатусПользователя", api=["im.user.status.get"], params=[URL, TOKEN])
def get_user_status(url: str, token: str = "") -> Result:
    """Get the current user's status (online, dnd or away).

    Calls: im.user.status.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.user.status.get", url, token)


@endpoint(
    "SetUserStatus",
    "УстановитьСтатусПользователя",
    api=["im.user.status.set"],
    params=[URL, ("Статус", "status"), TOKEN],
)
def set_user_status(url: str, status: Text, token: str = "") -> Result:
    """Set the current user's status.

    Calls: im.user.status.set

    Args:
        url: the webhook URL, or the portal address when a token is used.
        status: ``online``, ``dnd`` or ``away`` (sent as given; the portal checks it).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.user.status.set", url, token, STATUS=cv.text(status, "status"))


@endpoint("ReadAll", "ПрочитатьВсе", api=["im.dialog.read.all"], params=[URL, TOKEN])
def read_all(url: str, token: str = "") -> Result:
    """Mark every message of the current user as read.

    Calls: im.dialog.read.all

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("im.dialog.read.all", url, token)


@endpoint(
    "GetChatFilesFolder",
    "ПолучитьКаталогФайловЧата",
    api=["im.disk.folder.get"],
    params=[URL, ("IDЧата", "chat"), TOKEN],
)
def get_chat_files_folder(url: str, chat_id: Id, token: str = "") -> Result:
    """Get the Disk folder that stores a chat's files.

    Calls: im.disk.folder.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        chat_id: the chat id.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("im.disk.folder.get", url, chat_id, token, field="CHAT_ID", name="chat_id")


@endpoint("GetChatStructure", "ПолучитьСтруктуруЧата", params=[("Пустая", "empty")])
def get_chat_structure(clear: Flag = False) -> Result:
    """Return a template of the chat fields for :func:`create_chat`.

    Calls: nothing

    Args:
        clear: ``True`` for empty values instead of the descriptions of the fields.
    """
    return template(CHAT_FIELDS, clear)
