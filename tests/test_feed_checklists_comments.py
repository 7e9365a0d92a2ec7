"""Feed posts, task checklists and task comments with Python-typed inputs (what the CLI-text cases cannot show)."""

from __future__ import annotations

import base64
import json
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
SECTIONS = ("FeedPostsManagement", "TasksChecklistsManagement", "CommentsAndResultsManagement")

#: A filled value for every parameter of these sections, by Python name.
FILLED: Dict[str, Any] = {
    "text": "Text",
    "visibility": ["UA", "U1"],
    "files": {"1.png": PNG},
    "title": "Title",
    "important": True,
    "post_id": 4036,
    "filter": "U1",
    "task_id": 9048,
    "element_id": 6426,
    "completed": True,
    "comment_id": 20950,
}


REQUESTING = [m for m in methods() if m.section in SECTIONS and m.api]


def test_the_three_sections_are_complete() -> None:
    names = {m.name for m in methods() if m.section in SECTIONS}
    assert len(names) == 23 and len(REQUESTING) == 22


@pytest.mark.parametrize("method", REQUESTING, ids=[m.name for m in REQUESTING])
def test_body_keys_follow_the_catalog_order(portal: Any, catalog: Dict[str, Dict[str, Any]], method: Any) -> None:
    """With every argument filled, the body holds auth, then exactly the catalog's fields, in its order;
    a nested FIELDS object holds the catalog's FIELDS.* entries in their order."""
    entry = catalog[method.name]
    kwargs = {p.python: FILLED[p.python] for p in method.params if p.python not in ("url", "token")}
    method.func(portal.base, token="T", **kwargs)
    body = json.loads(portal.requests[-1]["body"], object_pairs_hook=list)
    top = [key for key in entry["fields"] if "." not in key]
    assert [key for key, _ in body] == ["auth", *top]
    assert portal.requests[-1]["path"] == f"/rest/{method.api[0]}"
    inner = [key.split(".", 1)[1] for key in entry["fields"] if key.startswith("FIELDS.")]
    if inner:
        assert [key for key, _ in dict(body)["FIELDS"]] == inner


# --- CreatePost / UpdatePost -----------------------------------------------------------------------


def test_create_post_sends_every_field_converted(portal: Any) -> None:
    opi_bitrix24.create_post(portal.webhook, "Text", ("UA", "U1"), {"1.png": PNG, "2.png": PNG_B64}, "Title", True)
    assert portal.json_body() == {
        "POST_MESSAGE": "Text",
        "POST_TITLE": "Title",
        "DEST": ["UA", "U1"],
        "IMPORTANT": "Y",
        "FILES": [["1.png", PNG_B64], ["2.png", PNG_B64]],
    }


def test_create_post_defaults_send_dest_ua_and_important_n(portal: Any) -> None:
    opi_bitrix24.create_post(portal.webhook, "Text")
    assert portal.json_body() == {"POST_MESSAGE": "Text", "DEST": ["UA"], "IMPORTANT": "N"}


@pytest.mark.parametrize(("important", "flag"), [(True, "Y"), (False, "N"), ("true", "Y"), ("Y", "Y"), (0, "N")])
def test_create_post_always_sends_important(portal: Any, important: Any, flag: str) -> None:
    opi_bitrix24.create_post(portal.webhook, "Text", important=important)
    assert portal.json_body()["IMPORTANT"] == flag


@pytest.mark.parametrize(
    "value",
    [PNG, bytearray(PNG), FIXTURES / "picture.png", str(FIXTURES / "picture.png"), PNG_B64],
    ids=["bytes", "bytearray", "path", "path-text", "base64"],
)
def test_files_map_values_of_every_kind(portal: Any, value: Any) -> None:
    opi_bitrix24.update_post(portal.webhook, 3576, "Text", files={"picture.png": value})
    assert portal.json_body()["FILES"] == [["picture.png", PNG_B64]]


def test_files_map_from_a_json_file_path_keeps_its_order(portal: Any) -> None:
    opi_bitrix24.create_post(portal.webhook, "Text", files=FIXTURES / "feed-files.json")
    names = json.loads((FIXTURES / "feed-files.json").read_text(encoding="utf-8"))
    assert portal.json_body()["FILES"] == [[name, value] for name, value in names.items()]


def test_a_file_url_in_the_map_is_downloaded_first(portal: Any) -> None:
    portal.reply(raw=PNG, headers={"Content-Type": "image/png"})
    opi_bitrix24.create_post(portal.base, "Text", files={"1.png": f"{portal.base}/test_data/picture.jpg"}, token="T")
    download, call = portal.requests
    assert (download["method"], download["path"], download["body"]) == ("GET", "/test_data/picture.jpg", b"")
    assert "T" not in download["query"]
    assert (call["method"], call["path"]) == ("POST", "/rest/log.blogpost.add")
    assert json.loads(call["body"])["FILES"] == [["1.png", PNG_B64]]


def test_a_failed_download_sends_nothing(portal: Any) -> None:
    portal.reply(404, raw=b"not found", headers={"Content-Type": "text/plain"})
    with pytest.raises(TransportError):
        opi_bitrix24.create_post(portal.webhook, "Text", files={"1.png": f"{portal.base}/missing.png"})
    assert [r["method"] for r in portal.requests] == ["GET"]


@pytest.mark.parametrize("empty", ["", None, {}, "{}"])
def test_empty_files_leave_files_out(portal: Any, empty: Any) -> None:
    opi_bitrix24.update_post(portal.webhook, 3576, "Text", files=empty)
    assert "FILES" not in portal.json_body()


@pytest.mark.parametrize(
    "bad",
    [[PNG], "['1.png']", "{broken", "no such map.json", {"1.png": "no such picture.png"}, {"1.png": ""}],
    ids=["list", "json-list", "broken-json", "not-a-file", "bad-value", "empty-value"],
)
def test_files_that_are_not_a_map_of_files_are_refused(portal: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        opi_bitrix24.create_post(portal.webhook, "Text", files=bad)
    assert raised.value.parameter == "files" and portal.requests == []


def test_update_post_sends_the_post_id_after_dest(portal: Any) -> None:
    opi_bitrix24.update_post(portal.base, 3570, "Text", "U1", token="T")
    body = json.loads(portal.requests[-1]["body"], object_pairs_hook=list)
    assert body == [("auth", "T"), ("POST_MESSAGE", "Text"), ("DEST", ["U1"]), ("POST_ID", "3570")]


# --- other feed calls ------------------------------------------------------------------------------


def test_int_post_ids_are_sent_as_text(portal: Any) -> None:
    opi_bitrix24.delete_post(portal.webhook, 3574)
    opi_bitrix24.get_important_post_viewers(portal.webhook, 3570)
    opi_bitrix24.add_post_comment(portal.webhook, 3572, 12345)
    opi_bitrix24.get_posts(portal.webhook, 4036)
    opi_bitrix24.get_posts(portal.webhook)
    bodies = [json.loads(r["body"]) for r in portal.requests]
    assert bodies == [
        {"POST_ID": "3574"},
        {"POST_ID": "3570"},
        {"POST_ID": "3572", "TEXT": "12345"},
        {"POST_ID": "4036", "LOG_RIGHTS": "UA"},
        {"LOG_RIGHTS": "UA"},
    ]


@pytest.mark.parametrize(
    ("visibility", "dest"),
    [("UA", "UA"), (" U1", " U1"), (["U1", "DR2"], ["U1", "DR2"]), (("SG4",), ["SG4"]), ('["U1"]', ["U1"])],
)
def test_add_post_recipients_sends_one_code_as_text_and_several_as_a_list(
    portal: Any, visibility: Any, dest: Any
) -> None:
    opi_bitrix24.add_post_recipients(portal.webhook, 4036, visibility)
    assert portal.json_body() == {"POST_ID": "4036", "DEST": dest}


def test_deviation_add_post_recipients_refuses_broken_list_text(portal: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        opi_bitrix24.add_post_recipients(portal.webhook, 4036, "['U1',")
    assert raised.value.parameter == "visibility" and portal.requests == []


# --- checklists ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("completed", "flag"), [(True, "Y"), (False, "N"), ("false", "N"), (1, "Y")])
def test_add_checklist_element_always_sends_is_complete(portal: Any, completed: Any, flag: str) -> None:
    opi_bitrix24.add_tasks_checklist_element(portal.webhook, 9358, "Item", completed)
    assert portal.json_body() == {"TASKID": "9358", "FIELDS": {"TITLE": "Item", "IS_COMPLETE": flag}}


def test_add_checklist_element_refuses_a_non_boolean_flag(portal: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        opi_bitrix24.add_tasks_checklist_element(portal.webhook, 9358, "Item", "maybe")
    assert raised.value.parameter == "completed" and portal.requests == []


def test_checklist_element_calls_send_upper_case_ids_as_text(portal: Any) -> None:
    calls = [
        opi_bitrix24.delete_tasks_checklist_element,
        opi_bitrix24.get_tasks_checklist_element,
        opi_bitrix24.complete_tasks_checklist_element,
        opi_bitrix24.renew_tasks_checklist_element,
    ]
    for call in calls:
        call(portal.webhook, 9048, 6426)
    assert [r["path"].rsplit("/", 1)[1] for r in portal.requests] == [
        "task.checklistitem.delete",
        "task.checklistitem.get",
        "task.checklistitem.complete",
        "task.checklistitem.renew",
    ]
    assert all(json.loads(r["body"]) == {"TASKID": "9048", "ITEMID": "6426"} for r in portal.requests)


@pytest.mark.parametrize(("task", "element", "sent"), [(9048, 0, {"TASKID": "9048"}), ("", "6426", {"ITEMID": "6426"})])
def test_checklist_element_ids_are_each_left_out_when_empty(portal: Any, task: Any, element: Any, sent: Any) -> None:
    opi_bitrix24.get_tasks_checklist_element(portal.webhook, task, element)
    assert portal.json_body() == sent


def test_update_checklist_element_returns_result_null_unchanged(portal: Any) -> None:
    answer = {"result": None, "time": {"start": 1765396271, "duration": 0.09}}
    portal.reply(payload=answer)
    assert opi_bitrix24.update_tasks_checklist_element(portal.webhook, 9048, 6426, "New") == answer
    assert portal.json_body() == {"TASKID": "9048", "ITEMID": "6426", "FIELDS": {"TITLE": "New"}}


# --- comments and results --------------------------------------------------------------------------


def test_comment_calls_send_python_ids_as_text(portal: Any) -> None:
    opi_bitrix24.get_task_comments_list(portal.webhook, 9050)
    opi_bitrix24.get_task_comment(portal.webhook, 9050, 20950)
    opi_bitrix24.add_task_comment(portal.webhook, 10512, "Text")
    opi_bitrix24.update_task_comment(portal.webhook, 10512, 89932, 3.5)
    opi_bitrix24.delete_task_comment(portal.webhook, 9050, 20950)
    opi_bitrix24.get_results_list(portal.webhook, 9050)
    opi_bitrix24.create_result_from_comment(portal.webhook, 20950)
    opi_bitrix24.delete_result_from_comment(portal.webhook, 20950)
    bodies = [json.loads(r["body"]) for r in portal.requests]
    assert bodies == [
        {"taskId": "9050"},
        {"TASKID": "9050", "ITEMID": "20950"},
        {"TASKID": "10512", "FIELDS": {"POST_MESSAGE": "Text"}},
        {"TASKID": "10512", "ITEMID": "89932", "FIELDS": {"POST_MESSAGE": "3.5"}},
        {"TASKID": "9050", "ITEMID": "20950"},
        {"taskId": "9050"},
        {"commentId": "20950"},
        {"commentId": "20950"},
    ]


@pytest.mark.parametrize("empty", ["", None, 0])
def test_an_empty_text_leaves_the_fields_object_out(portal: Any, empty: Any) -> None:
    opi_bitrix24.add_task_comment(portal.webhook, 10512, empty)
    opi_bitrix24.update_task_comment(portal.webhook, 10512, 89932, empty)
    opi_bitrix24.update_tasks_checklist_element(portal.webhook, 9048, 6426, empty)
    opi_bitrix24.add_tasks_checklist_element(portal.webhook, 9048, empty)
    assert [json.loads(r["body"]) for r in portal.requests] == [
        {"TASKID": "10512"},
        {"TASKID": "10512", "ITEMID": "89932"},
        {"TASKID": "9048", "ITEMID": "6426"},
        {"TASKID": "9048", "FIELDS": {"IS_COMPLETE": "N"}},
    ]


def test_update_task_comment_returns_the_not_allowed_error_body(portal: Any) -> None:
    error = {"error": "ERROR_CORE", "error_description": "TASKS_ERROR_EXCEPTION_#8; Action not allowed"}
    portal.reply(400, payload=error)
    assert opi_bitrix24.update_task_comment(portal.base, 10512, 89930, "Text", "T") == error


def test_delete_result_from_comment_returns_result_null_unchanged(portal: Any) -> None:
    portal.reply(payload={"result": None})
    assert opi_bitrix24.delete_result_from_comment(portal.webhook, 20950) == {"result": None}


COMMENT_KEYS = ["AUTHOR_ID", "AUTHOR_NAME", "AUTHOR_EMAIL", "USE_SMILES", "POST_MESSAGE", "UF_FORUM_MESSAGE_DOC"]


def test_comment_structure_keys_in_order_and_fresh_each_time() -> None:
    first = opi_bitrix24.get_comment_structure()
    assert list(first) == COMMENT_KEYS and all(v.startswith("<") and v.endswith(">") for v in first.values())
    first["POST_MESSAGE"] = "changed"
    assert opi_bitrix24.get_comment_structure()["POST_MESSAGE"] == "<Message text>"


@pytest.mark.parametrize("clear", [True, "true", "Y", 1])
def test_comment_structure_cleared(clear: Any) -> None:
    assert opi_bitrix24.get_comment_structure(clear) == dict.fromkeys(COMMENT_KEYS, "")


def test_comment_structure_feeds_add_task_comment(portal: Any) -> None:
    fields = opi_bitrix24.get_comment_structure(True)
    fields["POST_MESSAGE"] = "From the template"
    opi_bitrix24.add_task_comment(portal.webhook, 10512, fields["POST_MESSAGE"])
    assert portal.json_body() == {"TASKID": "10512", "FIELDS": {"POST_MESSAGE": "From the template"}}


# --- Russian aliases -------------------------------------------------------------------------------


def test_russian_aliases_take_russian_keywords(portal: Any) -> None:
    opi_bitrix24.СоздатьНовость(URL=portal.base, Текст="Text", Файлы={"1.png": PNG}, Важное=True, Токен="T")
    opi_bitrix24.ДобавитьЭлементЧеклистаЗадачи(URL=portal.base, IDЗадачи=9350, Текст="Item", Токен="T")
    opi_bitrix24.ПолучитьКомменатрийЗадачи(URL=portal.base, IDЗадачи=9050, IDКомментария=20950, Токен="T")
    bodies: List[Any] = [json.loads(r["body"]) for r in portal.requests]
    assert bodies == [
        {"auth": "T", "POST_MESSAGE": "Text", "DEST": ["UA"], "IMPORTANT": "Y", "FILES": [["1.png", PNG_B64]]},
        {"auth": "T", "TASKID": "9350", "FIELDS": {"TITLE": "Item", "IS_COMPLETE": "N"}},
        {"auth": "T", "TASKID": "9050", "ITEMID": "20950"},
    ]
    assert opi_bitrix24.ПолучитьСтруктуруКомментария(Пустая=True) == dict.fromkeys(COMMENT_KEYS, "")
