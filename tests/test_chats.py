"""Chats, messages and notifications with Python-typed inputs (what the CLI-text conformance cases cannot show)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

import pytest

import opi_bitrix24
from opi_bitrix24 import InvalidArgument, TransportError
from opi_bitrix24._table import methods

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "conformance" / "fixtures"
PNG = (FIXTURES / "picture.png").read_bytes()
PNG_B64 = base64.b64encode(PNG).decode("ascii")
SECTIONS = ("ChatsAndDialogsManagement", "MessageManagement", "NotificationsManagement")

#: A filled value for every parameter of these sections, by Python name.
FILLED: Dict[str, Any] = {
    "chat_id": 3956,
    "user_id": 10,
    "user_ids": [10, 12],
    "hide_history": True,
    "title": "Title",
    "color": "GREEN",
    "image": PNG,
    "last_id": 4788,
    "first_id": 3808,
    "status": "dnd",
    "text": "Text",
    "attachments": [{"IMAGE": {"NAME": "n", "LINK": "https://x.test/p.jpg"}}],
    "message_id": 70382,
    "file_id": 48482,
    "description": "Description",
    "tag": "New",
    "notification_id": 70392,
}


REQUESTING = [m for m in methods() if m.section in SECTIONS and m.api and m.name != "CreateChat"]


@pytest.mark.parametrize("method", REQUESTING, ids=[m.name for m in REQUESTING])
def test_body_keys_follow_the_catalog_order(portal: Any, catalog: Dict[str, Dict[str, Any]], method: Any) -> None:
    """With every argument filled, the body holds auth, then exactly the catalog's fields, in its order."""
    entry = catalog[method.name]
    kwargs = {p.python: FILLED[p.python] for p in method.params if p.python not in ("url", "token")}
    method.func(portal.base, token="T", **kwargs)
    body = json.loads(portal.requests[-1]["body"], object_pairs_hook=list)
    assert [key for key, _ in body] == ["auth", *entry["fields"]]
    assert portal.requests[-1]["path"] == f"/rest/{method.api[0]}"


# --- CreateChat ------------------------------------------------------------------------------------


def test_create_chat_copies_a_dict_in_order_without_conversion(portal: Any) -> None:
    structure = {"TYPE": "OPEN", "TITLE": "", "USERS": [10, 1], "OWNER_ID": 1, "AVATAR": PNG_B64}
    opi_bitrix24.create_chat(portal.base, structure, "T")
    body = json.loads(portal.requests[-1]["body"], object_pairs_hook=list)
    assert body == [
        ("auth", "T"),
        ("TYPE", "OPEN"),
        ("TITLE", ""),
        ("USERS", [10, 1]),
        ("OWNER_ID", 1),
        ("AVATAR", PNG_B64),
    ]


def test_create_chat_sends_a_cleared_template_as_is(portal: Any) -> None:
    opi_bitrix24.create_chat(portal.webhook, opi_bitrix24.get_chat_structure(True))
    assert portal.json_body() == dict.fromkeys(
        ["TYPE", "TITLE", "DESCRIPTION", "COLOR", "MESSAGE", "USERS", "AVATAR", "OWNER_ID"], ""
    )


def test_create_chat_reads_a_path_object(portal: Any) -> None:
    opi_bitrix24.create_chat(portal.webhook, FIXTURES / "chat.json")
    assert portal.json_body() == json.loads((FIXTURES / "chat.json").read_text(encoding="utf-8"))


def test_create_chat_with_an_empty_dict_sends_no_fields(portal: Any) -> None:
    opi_bitrix24.create_chat(portal.webhook, {})
    assert portal.requests[-1]["body"] == b""


@pytest.mark.parametrize("bad", [[{"TYPE": "CHAT"}], "[1,2]", "{broken", "TITLE=x"])
def test_create_chat_refuses_what_is_not_an_object(portal: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        opi_bitrix24.create_chat(portal.webhook, bad)
    assert raised.value.parameter == "chat_structure"
    assert portal.requests == []


# --- AddUsersToChat --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("users", "sent"),
    [(5, [5]), ("5", ["5"]), ([10, 12], [10, 12]), ((10, 12), [10, 12]), ("[10, 12]", [10, 12])],
)
def test_add_users_accepts_one_id_or_a_list(portal: Any, users: Any, sent: List[Any]) -> None:
    opi_bitrix24.add_users_to_chat(portal.webhook, 3956, users)
    assert portal.json_body() == {"CHAT_ID": "3956", "USERS": sent, "HIDE_HISTORY": "N"}


@pytest.mark.parametrize(("hide", "flag"), [(True, "Y"), (False, "N"), ("true", "Y"), ("Y", "Y"), (0, "N")])
def test_add_users_always_sends_hide_history(portal: Any, hide: Any, flag: str) -> None:
    opi_bitrix24.add_users_to_chat(portal.webhook, "3956", [1], hide)
    assert portal.json_body()["HIDE_HISTORY"] == flag


@pytest.mark.parametrize("bad", ["ten", "1,2", True, "²"])
def test_add_users_refuses_what_is_neither_an_id_nor_a_list(portal: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        opi_bitrix24.add_users_to_chat(portal.webhook, 3956, bad)
    assert raised.value.parameter == "user_ids" and portal.requests == []


# --- ChangeChatPicture -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [PNG, bytearray(PNG), FIXTURES / "picture.png", str(FIXTURES / "picture.png"), PNG_B64],
    ids=["bytes", "bytearray", "path", "path-text", "base64"],
)
def test_change_chat_picture_sends_base64(portal: Any, image: Any) -> None:
    opi_bitrix24.change_chat_picture(portal.webhook, 3956, image)
    assert portal.json_body() == {"CHAT_ID": "3956", "AVATAR": PNG_B64}


def test_change_chat_picture_downloads_a_url_first(portal: Any) -> None:
    portal.reply(raw=PNG, headers={"Content-Type": "image/png"})
    opi_bitrix24.change_chat_picture(portal.base, 3958, f"{portal.base}/test_data/picture2.jpg", "T")
    download, call = portal.requests
    assert (download["method"], download["path"], download["body"]) == ("GET", "/test_data/picture2.jpg", b"")
    assert "T" not in download["query"]
    assert (call["method"], call["path"]) == ("POST", "/rest/im.chat.updateAvatar")
    assert json.loads(call["body"]) == {"auth": "T", "CHAT_ID": "3958", "AVATAR": PNG_B64}


def test_change_chat_picture_stops_when_the_download_fails(portal: Any) -> None:
    portal.reply(404, raw=b"not found", headers={"Content-Type": "text/plain"})
    with pytest.raises(TransportError):
        opi_bitrix24.change_chat_picture(portal.webhook, 3956, f"{portal.base}/missing.png")
    assert [r["method"] for r in portal.requests] == ["GET"]


@pytest.mark.parametrize("bad", ["", None, "no such picture.png", str(FIXTURES / "absent.png")])
def test_change_chat_picture_refuses_a_bad_picture(portal: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        opi_bitrix24.change_chat_picture(portal.webhook, 3956, bad)
    assert raised.value.parameter == "image" and portal.requests == []


def test_russian_alias_takes_russian_keywords(portal: Any) -> None:
    opi_bitrix24.ИзменитьКартинкуЧата(URL=portal.base, IDЧата=3958, Картинка=PNG, Токен="T")
    assert portal.json_body() == {"auth": "T", "CHAT_ID": "3958", "AVATAR": PNG_B64}


# --- ids, dialogs and messages ---------------------------------------------------------------------


def test_int_ids_are_sent_as_text(portal: Any) -> None:
    opi_bitrix24.get_chat_users(portal.webhook, 3956)
    opi_bitrix24.get_dialog(portal.webhook, 10)
    opi_bitrix24.delete_notification(portal.webhook, 70392)
    opi_bitrix24.disable_chat_notifications(portal.webhook, 3956)
    bodies = [json.loads(r["body"]) for r in portal.requests]
    assert bodies == [{"CHAT_ID": "3956"}, {"DIALOG_ID": "10"}, {"ID": "70392"}, {"CHAT_ID": "3956", "MUTE": "Y"}]


@pytest.mark.parametrize(
    ("last", "first", "sent"),
    [
        (0, "", {"LAST_ID": "0"}),
        ("", 0, {"FIRST_ID": "0"}),
        (0.0, None, {"LAST_ID": "0"}),
        (None, None, {}),
        (4788, Decimal("3808"), {"LAST_ID": "4788", "FIRST_ID": "3808"}),
    ],
)
def test_messages_list_sends_zero_ids(portal: Any, last: Any, first: Any, sent: Dict[str, str]) -> None:
    opi_bitrix24.get_chat_messages_list(portal.webhook, "chat4", last, first)
    assert portal.json_body() == {"DIALOG_ID": "chat4", **sent}


def test_blocks_from_the_builders_go_into_attach(portal: Any) -> None:
    blocks = [
        opi_bitrix24.get_picture_block("Image1", "https://x.test/p.jpg"),
        opi_bitrix24.get_file_block("File1.docx", "https://x.test/d.docx"),
    ]
    opi_bitrix24.send_message(portal.webhook, "chat3516", "Text", blocks)
    opi_bitrix24.create_system_notification(portal.webhook, 1, "Text", attachments=blocks[1])
    assert portal.json_body(0)["ATTACH"] == [
        {"IMAGE": {"NAME": "Image1", "LINK": "https://x.test/p.jpg"}},
        {"FILE": {"NAME": "File1.docx", "LINK": "https://x.test/d.docx"}},
    ]
    assert portal.json_body(1) == {"USER_ID": "1", "MESSAGE": "Text", "ATTACH": [blocks[1]]}


def test_edit_message_with_nothing_to_change_sends_only_the_id(portal: Any) -> None:
    opi_bitrix24.edit_message(portal.webhook, 70382)
    assert portal.json_body() == {"MESSAGE_ID": "70382"}


# --- builders (no request) -------------------------------------------------------------------------


def test_blocks_turn_numbers_into_text_and_leave_empty_values_out() -> None:
    assert opi_bitrix24.get_picture_block(10, "https://x.test/p.jpg") == {
        "IMAGE": {"NAME": "10", "LINK": "https://x.test/p.jpg"}
    }
    assert opi_bitrix24.get_file_block(None, "") == {"FILE": {}}
    assert list(opi_bitrix24.get_file_block("a", "b")["FILE"]) == ["NAME", "LINK"]


def test_chat_structure_is_a_fresh_copy_each_time() -> None:
    first = opi_bitrix24.get_chat_structure()
    first["TITLE"] = "changed"
    assert opi_bitrix24.get_chat_structure()["TITLE"] == "<Chat title>"
    assert list(first) == ["TYPE", "TITLE", "DESCRIPTION", "COLOR", "MESSAGE", "USERS", "AVATAR", "OWNER_ID"]
    assert set(opi_bitrix24.get_chat_structure("true").values()) == {""}
