"""Disk storages, folders and files with Python-typed inputs (the conformance cases pass CLI text only).

Also pins what JSON comparison cannot see: the order of the keys on the wire and of the filter template,
and the bytes of the two-step upload.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import InvalidArgument
from opi_bitrix24._table import methods
from opi_bitrix24_conformance.runner.cases import parse_multipart

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "conformance" / "fixtures"
PNG = (FIXTURES / "disk-picture.png").read_bytes()
PNG_B64 = base64.b64encode(PNG).decode("ascii")
DOC = (FIXTURES / "disk-document.txt").read_bytes()
SECTIONS = ("StoragesManagement", "CatalogsManagement", "FileManagement")
GETFIELDS = json.loads((ROOT / "conformance/responses/bitrix24/GetFolderFilterStructure/getfields.json").read_bytes())

#: A filled value for every parameter of these sections, by Python name.
FILLED: Dict[str, Any] = {
    "storage_id": 3,
    "folder_id": 50046,
    "file_id": 50040,
    "destination_id": 50050,
    "name": "New catalog",
    "filter": {"TYPE": "file"},
    "file": PNG,
    "rights": [{"TASK_ID": 42, "ACCESS_CODE": "U1"}],
}


def body_keys(portal: Any, index: int = -1) -> List[str]:
    return [key for key, _ in json.loads(portal.requests[index]["body"], object_pairs_hook=list)]


POSTING = [m for m in methods() if m.section in SECTIONS and m.name not in ("UploadFileToFolder",)]


def test_the_three_sections_are_complete() -> None:
    assert len([m for m in methods() if m.section in SECTIONS]) == 27


@pytest.mark.parametrize("method", POSTING, ids=[m.name for m in POSTING])
def test_body_keys_follow_the_catalog_order(portal: Any, catalog: Dict[str, Dict[str, Any]], method: Any) -> None:
    """With every argument filled, the body holds auth, then exactly the catalog's fields, in its order."""
    entry = catalog[method.name]
    if method.name == "GetFolderFilterStructure":
        portal.reply(payload=GETFIELDS)
    kwargs = {p.python: FILLED[p.python] for p in method.params if p.python not in ("url", "token", "clear")}
    method.func(portal.base, token="T", **kwargs)
    assert body_keys(portal) == ["auth", *entry["fields"]]
    assert portal.requests[-1]["path"] == f"/rest/{method.api[0]}"


# --- ids and names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [50040, "50040", Decimal("50040"), 50040.0])
def test_python_ids_are_sent_as_text(portal: Any, value: Any) -> None:
    b24.get_file_information(portal.webhook, value)
    b24.make_file_copy(portal.webhook, value, value)
    b24.move_folder(portal.webhook, value, value)
    bodies = [json.loads(r["body"]) for r in portal.requests]
    assert bodies == [
        {"id": "50040"},
        {"id": "50040", "targetFolderId": "50040"},
        {"id": "50040", "targetFolderId": "50040"},
    ]


@pytest.mark.parametrize(
    "call",
    [
        b24.get_storage,
        b24.get_storage_objects,
        b24.get_folder_information,
        b24.delete_folder,
        b24.get_folder_external_link,
        b24.mark_folder_as_deleted,
        b24.restore_folder,
        b24.get_file_information,
        b24.delete_file,
        b24.get_file_external_link,
        b24.mark_file_as_deleted,
        b24.restore_file,
    ],
)
def test_one_id_actions_send_auth_then_id(portal: Any, call: Any) -> None:
    call(portal.base, 7, token="T")
    assert body_keys(portal) == ["auth", "id"]
    assert portal.json_body() == {"auth": "T", "id": "7"}


def test_one_id_zero_is_not_sent(portal: Any) -> None:
    b24.get_storage(portal.webhook, 0)
    assert portal.requests[-1]["body"] == b""


@pytest.mark.parametrize(("name", "sent"), [("Папка", "Папка"), (2026, "2026"), (0, "0"), ("", ""), (None, "")])
def test_folder_name_is_text_and_always_sent(portal: Any, name: Any, sent: str) -> None:
    b24.create_storage_folder(portal.webhook, 3, name)
    b24.create_subfolder(portal.webhook, "50046", name)
    assert [json.loads(r["body"]) for r in portal.requests] == [
        {"id": "3", "data": {"NAME": sent}},
        {"id": "50046", "data": {"NAME": sent}},
    ]


def test_rename_sends_id_then_new_name(portal: Any) -> None:
    b24.rename_storage(portal.webhook, 18, "Новое имя")
    b24.rename_folder(portal.webhook, 50044, 2026)
    b24.rename_file(portal.webhook, 50040, "New file name.jpg")
    bodies = [json.loads(r["body"], object_pairs_hook=list) for r in portal.requests]
    assert bodies == [
        [("id", "18"), ("newName", "Новое имя")],
        [("id", "50044"), ("newName", "2026")],
        [("id", "50040"), ("newName", "New file name.jpg")],
    ]


# --- GetFolderItems ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_",
    [{"TYPE": "file", ">=CREATE_TIME": "2026-01-06T14:00:00+00:00"}, FIXTURES / "disk-filter.json"],
    ids=["dict", "path"],
)
def test_folder_items_filter(portal: Any, filter_: Any) -> None:
    b24.get_folder_items(portal.webhook, 50046, filter_)
    assert body_keys(portal) == ["id", "filter"]
    assert portal.json_body()["filter"] == {"TYPE": "file", ">=CREATE_TIME": "2026-01-06T14:00:00+00:00"}


def test_folder_items_without_filter_sends_only_id(portal: Any) -> None:
    b24.get_folder_items(portal.webhook, 50046, {})
    assert portal.json_body() == {"id": "50046"}


@pytest.mark.parametrize("bad", ["{broken", "NAME=x", 5])
def test_folder_items_refuses_a_filter_that_is_not_a_structure(portal: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.get_folder_items(portal.webhook, 50046, bad)
    assert raised.value.parameter == "filter" and portal.requests == []


# --- GetFolderFilterStructure -----------------------------------------------------------------------

FILTERABLE = [
    "ID",
    "NAME",
    "TYPE",
    "CODE",
    "STORAGE_ID",
    "PARENT_ID",
    "CREATE_TIME",
    "UPDATE_TIME",
    "DELETE_TIME",
    "DELETED_TYPE",
]


@pytest.mark.parametrize(("clear", "empty"), [(False, False), (True, True), ("true", True), (0, False)])
def test_folder_filter_structure_keeps_the_portal_order(portal: Any, clear: Any, empty: bool) -> None:
    portal.reply(payload=GETFIELDS)
    structure = b24.get_folder_filter_structure(portal.webhook, clear)
    assert list(structure) == FILTERABLE
    if empty:
        assert set(structure.values()) == {""}
    else:
        assert structure["ID"] == "integer" and structure["CREATE_TIME"] == "datetime"
    assert portal.requests[-1]["body"] == b""


def test_folder_filter_structure_keeps_only_real_true_flags(portal: Any) -> None:
    portal.reply(
        payload={
            "result": {
                "A": {"TYPE": "string", "USE_IN_FILTER": True},
                "B": {"TYPE": "string", "USE_IN_FILTER": "Y"},
                "C": {"TYPE": "string"},
                "D": "not a description",
                "E": {"USE_IN_FILTER": True},
            }
        }
    )
    assert b24.get_folder_filter_structure(portal.webhook) == {"A": "string", "E": None}


@pytest.mark.parametrize("answer", [{"error": "expired_token"}, {"result": True}, {"result": ["ID"]}, {}])
def test_folder_filter_structure_returns_an_answer_without_a_result_object(portal: Any, answer: Any) -> None:
    portal.reply(401, payload=answer)
    assert b24.get_folder_filter_structure(portal.base, True, "T") == answer


def test_folder_filter_structure_checks_the_flag_before_sending(portal: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.get_folder_filter_structure(portal.webhook, "maybe")
    assert raised.value.parameter == "clear" and portal.requests == []


# --- UploadFileToStorage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file",
    [PNG, bytearray(PNG), FIXTURES / "disk-picture.png", str(FIXTURES / "disk-picture.png"), PNG_B64],
    ids=["bytes", "bytearray", "path", "path-text", "base64"],
)
def test_upload_to_storage_sends_base64(portal: Any, file: Any) -> None:
    b24.upload_file_to_storage(portal.webhook, "Picture1.jpg", file, 3)
    assert portal.json_body() == {"data": {"NAME": "Picture1.jpg"}, "id": "3", "fileContent": ["Picture1.jpg", PNG_B64]}


@pytest.mark.parametrize(
    ("rights", "sent"),
    [
        ({"TASK_ID": 42, "ACCESS_CODE": "U1"}, [{"TASK_ID": 42, "ACCESS_CODE": "U1"}]),
        ((({"TASK_ID": 42, "ACCESS_CODE": "U1"}),), [{"TASK_ID": 42, "ACCESS_CODE": "U1"}]),
        ('[{"TASK_ID": 42, "ACCESS_CODE": "U1"}]', [{"TASK_ID": 42, "ACCESS_CODE": "U1"}]),
    ],
)
def test_upload_to_storage_rights_go_between_data_and_id(portal: Any, rights: Any, sent: Any) -> None:
    b24.upload_file_to_storage(portal.base, "Picture1.jpg", PNG, 3, rights, "T")
    assert body_keys(portal) == ["auth", "data", "rights", "id", "fileContent"]
    assert portal.json_body()["rights"] == sent


@pytest.mark.parametrize(("storage", "sent"), [(0, {"id": "0"}), ("0", {"id": "0"}), ("", {}), (None, {})])
def test_upload_to_storage_converts_the_storage_id_to_text_first(portal: Any, storage: Any, sent: Any) -> None:
    """OPI runs GetLine on StorageID before AddField, so a numeric 0 survives as "0" (unlike GetStorage)."""
    b24.upload_file_to_storage(portal.webhook, 7, PNG, storage)
    assert portal.json_body() == {"data": {"NAME": "7"}, **sent, "fileContent": ["7", PNG_B64]}


@pytest.mark.parametrize("call", ["storage_folder", "subfolder", "upload"])
def test_a_whitespace_only_disk_name_is_sent_unchanged(portal: Any, call: str) -> None:
    """OPI's source puts the name into ``data`` directly (and into fileContent), so spaces are not blanked."""
    if call == "storage_folder":
        b24.create_storage_folder(portal.webhook, 3, "   ")
        assert portal.json_body() == {"id": "3", "data": {"NAME": "   "}}
    elif call == "subfolder":
        b24.create_subfolder(portal.webhook, 50046, "   ")
        assert portal.json_body() == {"id": "50046", "data": {"NAME": "   "}}
    else:
        b24.upload_file_to_storage(portal.webhook, "   ", PNG, 3)
        assert portal.json_body() == {"data": {"NAME": "   "}, "id": "3", "fileContent": ["   ", PNG_B64]}


def test_upload_to_storage_downloads_a_url_first(portal: Any) -> None:
    portal.reply(raw=PNG, headers={"Content-Type": "image/png"})
    b24.upload_file_to_storage(portal.base, "Picture1.jpg", f"{portal.base}/test_data/picture2.jpg", 3, token="T")
    download, call = portal.requests
    assert (download["method"], download["path"]) == ("GET", "/test_data/picture2.jpg")
    assert json.loads(call["body"])["fileContent"] == ["Picture1.jpg", PNG_B64]


@pytest.mark.parametrize(
    ("file", "rights", "parameter"), [("", "", "file"), (None, "", "file"), (PNG, "[1,", "rights")]
)
def test_upload_to_storage_refuses_bad_input_before_sending(
    portal: Any, file: Any, rights: Any, parameter: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.upload_file_to_storage(portal.webhook, "x.png", file, 3, rights)
    assert raised.value.parameter == parameter and portal.requests == []


# --- UploadFileToFolder -----------------------------------------------------------------------------


def two_step(portal: Any, first: Dict[str, Any], final: Dict[str, Any]) -> None:
    """Answer the GET with ``first`` (``{UPLOAD}`` becomes the portal's upload URL) and the upload with ``final``."""

    def handler(seen: Dict[str, Any]) -> Tuple[int, Dict[str, str], bytes]:
        if seen["method"] == "GET":
            text = json.dumps(first).replace("{UPLOAD}", f"{portal.base}/upload/")
            return 200, {"Content-Type": "application/json"}, text.encode()
        return 200, {"Content-Type": "application/json"}, json.dumps(final).encode()

    portal.handler = handler


def test_upload_to_folder_posts_one_file_part_without_auth(portal: Any) -> None:
    two_step(portal, {"result": {"field": "file", "uploadUrl": " {UPLOAD}?token=disk%7Cabc "}}, {"result": {"ID": 1}})
    answer = b24.upload_file_to_folder(portal.base, "Отчёт 2026.txt", FIXTURES / "disk-document.txt", 50014, "T")
    assert answer == {"result": {"ID": 1}}
    first, upload = portal.requests
    assert (first["method"], first["path"], first["query"], first["body"]) == (
        "GET",
        "/rest/disk.folder.uploadFile",
        "auth=T&id=50014",
        b"",
    )
    assert (upload["method"], upload["path"], upload["query"]) == ("POST", "/upload/", "token=disk%7Cabc")
    assert upload["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert "authorization" not in upload["headers"] and "auth" not in upload["query"]
    parts = parse_multipart(upload["body"])
    assert [(p["field"], p["filename"], p["content_type"], p["content"]) for p in parts] == [
        ("file", "Отчёт 2026.txt", "", DOC)
    ]


def test_upload_to_folder_keeps_binary_content_and_the_name(portal: Any) -> None:
    two_step(portal, {"result": {"field": "attachment", "uploadUrl": "{UPLOAD}"}}, {"result": True})
    payload = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    b24.upload_file_to_folder(portal.webhook, "report___2026|final.bin", payload, "50046")
    (part,) = parse_multipart(portal.requests[-1]["body"])
    assert (part["field"], part["filename"], part["content"]) == ("attachment", "report___2026|final.bin", payload)


@pytest.mark.parametrize(
    "first",
    [
        {"error": "ERROR_NOT_FOUND", "error_description": "Could not find entity"},
        {"result": {"field": "file"}},
        {"result": {"field": " ", "uploadUrl": "{UPLOAD}"}},
        {"result": {"field": "file", "uploadUrl": 5}},
        {"result": True},
        {},
    ],
)
def test_upload_to_folder_returns_the_first_answer_without_field_and_url(portal: Any, first: Any) -> None:
    two_step(portal, first, {"result": "must not be reached"})
    answer = b24.upload_file_to_folder(portal.webhook, "x.txt", DOC, "50046")
    assert answer == json.loads(json.dumps(first).replace("{UPLOAD}", f"{portal.base}/upload/"))
    assert [r["method"] for r in portal.requests] == ["GET"]


def test_upload_to_folder_reads_the_file_before_the_first_request(portal: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.upload_file_to_folder(portal.webhook, "x.txt", str(FIXTURES / "absent.txt"), "50046")
    assert raised.value.parameter == "file" and portal.requests == []


def test_upload_to_folder_downloads_a_url_file_first(portal: Any) -> None:
    def handler(seen: Dict[str, Any]) -> Tuple[int, Dict[str, str], bytes]:
        if seen["path"] == "/test_data/document.docx":
            return 200, {"Content-Type": "application/octet-stream"}, DOC
        if seen["method"] == "GET":
            answer = {"result": {"field": "file", "uploadUrl": f"{portal.base}/upload/"}}
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        return 200, {"Content-Type": "application/json"}, b'{"result": {"ID": 2}}'

    portal.handler = handler
    url = f"{portal.base}/test_data/document.docx"
    assert b24.upload_file_to_folder(portal.webhook, "Imortant doc.docx", url, 50014) == {"result": {"ID": 2}}
    assert [(r["method"], r["path"]) for r in portal.requests] == [
        ("GET", "/test_data/document.docx"),
        ("GET", "/rest/1/s3cretWebhookKey99/disk.folder.uploadFile"),
        ("POST", "/upload/"),
    ]
    assert parse_multipart(portal.requests[-1]["body"])[0]["content"] == DOC


# --- Russian aliases --------------------------------------------------------------------------------


def test_russian_aliases_take_russian_keywords(portal: Any) -> None:
    b24.ЗагрузитьФайлВХранилище(URL=portal.base, Наименование="a.png", Файл=PNG, IDХранилища=3, Токен="T")
    b24.СкопироватьКаталог(URL=portal.webhook, IDКаталога=49996, IDПриемника=49994)
    bodies = [json.loads(r["body"]) for r in portal.requests]
    assert bodies == [
        {"auth": "T", "data": {"NAME": "a.png"}, "id": "3", "fileContent": ["a.png", PNG_B64]},
        {"id": "49996", "targetFolderId": "49994"},
    ]
