"""Tasks and custom task fields with Python-typed arguments (the conformance cases pass CLI text only).

Also pins what JSON comparison cannot see: the order of the keys on the wire.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, List

import pytest

import opi_bitrix24 as b24


def keys(portal: Any, index: int = -1) -> List[str]:
    return list(json.loads(portal.requests[index]["body"]))


# --- ids and one-id actions -----------------------------------------------------------------------


@pytest.mark.parametrize("task_id", [9350, "9350", Decimal("9350"), 9350.0])
def test_numeric_task_id_is_sent_as_text(portal: Any, task_id: Any) -> None:
    b24.get_task(portal.webhook, task_id)
    assert portal.requests[-1]["path"].endswith("/tasks.task.get")
    assert portal.json_body() == {"taskId": "9350"}


@pytest.mark.parametrize(
    "call",
    [
        b24.get_task,
        b24.delete_task,
        b24.approve_task,
        b24.disapprove_task,
        b24.complete_task,
        b24.renew_task,
        b24.defer_task,
        b24.pause_task,
        b24.start_task,
        b24.start_watching_task,
        b24.stop_watching_task,
        b24.add_task_to_favorites,
        b24.remove_task_from_favorites,
        b24.get_task_history,
        b24.mute_task,
        b24.unmute_task,
    ],
)
def test_one_id_actions_send_auth_then_task_id(portal: Any, call: Any) -> None:
    call(portal.base, 7, token="T")
    assert keys(portal) == ["auth", "taskId"]
    assert portal.json_body() == {"auth": "T", "taskId": "7"}


def test_task_id_zero_is_not_sent(portal: Any) -> None:
    """OPI's AddField leaves the number 0 out, so the webhook call has no body at all."""
    b24.get_task(portal.webhook, 0)
    assert portal.requests[-1]["body"] == b""


def test_two_id_calls_keep_opi_key_order(portal: Any) -> None:
    b24.attach_file_to_topic(portal.base, 9350, 49982, "T")
    assert keys(portal) == ["auth", "fileId", "taskId"]
    assert portal.json_body() == {"auth": "T", "fileId": "49982", "taskId": "9350"}
    b24.delegate_task(portal.webhook, 9048, 2960)
    assert keys(portal) == ["taskId", "userId"]
    assert portal.json_body() == {"taskId": "9048", "userId": "2960"}


def test_update_task_sends_fields_before_task_id(portal: Any) -> None:
    b24.update_task(portal.webhook, 9350, {"TITLE": "Новое", "PRIORITY": 1})
    assert keys(portal) == ["fields", "taskId"]
    assert portal.json_body() == {"fields": {"TITLE": "Новое", "PRIORITY": 1}, "taskId": "9350"}


# --- GetTasksList ---------------------------------------------------------------------------------


def test_tasks_list_positional_order_is_opis(portal: Any) -> None:
    """OPI's order: url, filter, indent, token (4th), fields (5th)."""
    b24.get_tasks_list(portal.base, {"CREATED_BY": 1}, 50, "T", ["ID", "TITLE"])
    assert portal.requests[-1]["path"] == "/rest/tasks.task.list"
    assert keys(portal) == ["auth", "filter", "start", "select"]
    assert portal.json_body() == {"auth": "T", "filter": {"CREATED_BY": 1}, "start": "50", "select": ["ID", "TITLE"]}


def test_tasks_list_first_page_has_no_start(portal: Any) -> None:
    b24.get_tasks_list(portal.webhook, {"ID": 1}, 0)
    assert portal.json_body() == {"filter": {"ID": 1}}
    b24.get_tasks_list(portal.webhook, fields="TITLE")
    assert portal.json_body() == {"select": ["TITLE"]}


def test_tasks_list_dict_filter_is_sent_as_given(portal: Any) -> None:
    wanted = {"!RESPONSIBLE_ID": 10, ">=CREATED_DATE": "2026-01-01T00:00:00", "TAG": ["a", "b"], "ID": 1}
    b24.get_tasks_list(portal.webhook, dict(wanted), fields=("ID", "TAG"))
    sent = json.loads(portal.requests[-1]["body"])
    assert sent == {"filter": wanted, "select": ["ID", "TAG"]}
    assert list(sent["filter"]) == list(wanted)


def test_tasks_list_filter_from_a_json_file(portal: Any, tmp_path: Path) -> None:
    path = tmp_path / "filter.json"
    path.write_text('{"CREATED_BY": 1, "TITLE": "%отчёт%"}', encoding="utf-8")
    b24.get_tasks_list(portal.webhook, str(path))
    b24.get_tasks_list(portal.webhook, path)
    assert portal.json_body(0) == portal.json_body(1) == {"filter": {"CREATED_BY": 1, "TITLE": "%отчёт%"}}


def test_tasks_list_russian_keywords(portal: Any) -> None:
    b24.ПолучитьСписокЗадач(URL=portal.base, Фильтр={"ID": 5}, Отступ=100, Токен="T", Поля="ID")
    assert portal.json_body() == {"auth": "T", "filter": {"ID": 5}, "start": "100", "select": ["ID"]}


@pytest.mark.parametrize("bad", ["not json", "[1,", 42])
def test_tasks_list_bad_filter_is_refused_before_sending(portal: Any, bad: Any) -> None:
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.get_tasks_list(portal.webhook, bad)
    assert raised.value.parameter == "filter"
    assert portal.requests == []


def test_tasks_list_datetime_inside_the_filter(portal: Any) -> None:
    b24.get_tasks_list(portal.webhook, {">=CREATED_DATE": dt.datetime(2026, 1, 2, 3, 4, 5)})
    assert portal.json_body() == {"filter": {">=CREATED_DATE": "2026-01-02T03:04:05"}}


# --- structures, lists, dependencies --------------------------------------------------------------


def test_create_task_with_an_empty_structure_sends_no_fields(portal: Any) -> None:
    b24.create_task(portal.base, {}, "T")
    assert portal.json_body() == {"auth": "T"}


def test_check_task_accesses_users_as_python_values(portal: Any) -> None:
    b24.check_task_accesses(portal.webhook, 9350, [1, 10])
    assert portal.json_body() == {"taskId": "9350", "users": [1, 10]}
    b24.check_task_accesses(portal.webhook, 9350, (1, "10"))
    assert portal.json_body() == {"taskId": "9350", "users": [1, "10"]}
    b24.check_task_accesses(portal.webhook, 9350, 10)
    assert portal.json_body() == {"taskId": "9350", "users": [10]}
    b24.check_task_accesses(portal.webhook, 9350, [])
    assert portal.json_body() == {"taskId": "9350"}


@pytest.mark.parametrize("call", [b24.create_tasks_dependencies, b24.delete_tasks_dependencies])
@pytest.mark.parametrize(("link", "sent"), [(0, "0"), (0.0, "0"), (2, "2"), ("3", "3"), (Decimal(1), "1")])
def test_link_type_number_zero_is_sent(portal: Any, call: Any, link: Any, sent: str) -> None:
    """OPI turns LinkType into text before AddField, so 0 (start>start) is not dropped as empty."""
    call(portal.webhook, 9350, 9348, link)
    assert keys(portal) == ["taskIdFrom", "taskIdTo", "linkType"]
    assert portal.json_body() == {"taskIdFrom": "9350", "taskIdTo": "9348", "linkType": sent}


def test_link_type_empty_text_is_not_sent(portal: Any) -> None:
    b24.create_tasks_dependencies(portal.webhook, 1, 2, "")
    assert portal.json_body() == {"taskIdFrom": "1", "taskIdTo": "2"}


def test_ids_zero_of_a_dependency_are_not_sent(portal: Any) -> None:
    """Only LinkType is pre-converted in OPI; the task ids follow the plain skip-empty rule."""
    b24.create_tasks_dependencies(portal.webhook, 0, 2, 0)
    assert portal.json_body() == {"taskIdTo": "2", "linkType": "0"}


# --- GetTasksFilterStructure ----------------------------------------------------------------------


def test_filter_structure_values_and_flags() -> None:
    full = b24.get_tasks_filter_structure()
    assert len(full) == 26 and list(full)[:3] == ["ID", "PARENT_ID", "GROUP_ID"] and list(full)[-1] == "STATUS"
    assert full["ID"] == "<task identifier>"
    assert all(value.startswith("<") and value.endswith(">") for value in full.values())
    assert b24.get_tasks_filter_structure(as_map=True) == full
    cleared = b24.get_tasks_filter_structure(True)
    assert list(cleared) == list(full) and set(cleared.values()) == {""}
    assert b24.get_tasks_filter_structure("Истина", "false") == cleared
    assert b24.ПолучитьСтруктуруФильтраЗадач(Пустая=False, КакСоответствие=True) == full


def test_filter_structure_is_a_fresh_copy_usable_as_a_filter(portal: Any) -> None:
    first = b24.get_tasks_filter_structure(clear=True)
    first["!ID"] = 3
    del first["STATUS"]
    assert "!ID" not in b24.get_tasks_filter_structure(True)
    assert b24.get_tasks_filter_structure(True)["STATUS"] == ""
    b24.get_tasks_list(portal.webhook, {"!ID": 3})
    assert portal.json_body() == {"filter": {"!ID": 3}}


@pytest.mark.parametrize(("kwargs", "name"), [({"clear": "maybe"}, "clear"), ({"as_map": "maybe"}, "as_map")])
def test_filter_structure_refuses_a_non_boolean(kwargs: Any, name: str) -> None:
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.get_tasks_filter_structure(**kwargs)
    assert raised.value.parameter == name


# --- custom task fields ---------------------------------------------------------------------------


def test_add_custom_task_field_nests_filled_values_under_params(portal: Any) -> None:
    b24.add_custom_task_field(portal.base, "string", "TEXT_FIELD", "EXT", 100, {"en": "Label", "ru": "Подпись"}, "T")
    assert keys(portal) == ["auth", "PARAMS"]
    sent = portal.json_body()["PARAMS"]
    assert list(sent) == ["USER_TYPE_ID", "FIELD_NAME", "XML_ID", "LABEL", "EDIT_FORM_LABEL"]
    assert sent == {
        "USER_TYPE_ID": "string",
        "FIELD_NAME": "TEXT_FIELD",
        "XML_ID": "EXT",
        "LABEL": "100",
        "EDIT_FORM_LABEL": {"en": "Label", "ru": "Подпись"},
    }
    b24.add_custom_task_field(portal.webhook, "date", "BIRTHDAY", signature={})
    assert portal.json_body() == {"PARAMS": {"USER_TYPE_ID": "date", "FIELD_NAME": "BIRTHDAY"}}
    b24.add_custom_task_field(portal.base, "", "", token="T")
    assert portal.json_body() == {"auth": "T"}


def test_update_custom_task_field_drops_an_empty_data(portal: Any) -> None:
    b24.update_custom_task_field(portal.webhook, 261, title="Новое", signature='{"en": "New"}')
    assert keys(portal) == ["ID", "DATA"]
    assert portal.json_body() == {"ID": "261", "DATA": {"LABEL": "Новое", "EDIT_FORM_LABEL": {"en": "New"}}}
    b24.update_custom_task_field(portal.webhook, 261)
    assert portal.json_body() == {"ID": "261"}


def test_custom_task_field_by_id(portal: Any) -> None:
    b24.get_custom_task_field(portal.webhook, 261)
    assert portal.json_body() == {"ID": "261"}
    b24.delete_custom_task_field(portal.base, 261, "T")
    assert portal.json_body() == {"auth": "T", "ID": "261"}


def test_bad_signature_names_the_parameter(portal: Any) -> None:
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.update_custom_task_field(portal.webhook, 261, signature="{broken")
    assert raised.value.parameter == "signature"
    assert portal.requests == []
