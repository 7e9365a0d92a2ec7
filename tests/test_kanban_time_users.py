"""Kanban, timekeeping, departments and users with Python-typed inputs (the conformance cases pass CLI text
only), and the key order of every request body against the catalog's ``fields`` column."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import InvalidArgument
from opi_bitrix24._table import methods

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "conformance" / "fixtures"
SECTIONS = ("Kanban", "Timekeeping", "DepartmentsManagement", "UsersManagement")
USER_FIELDS = {"EMAIL": "a@example.org", "NAME": "Vitaly", "UF_DEPARTMENT": [1]}

#: A filled value for every parameter of these sections, by Python name.
FILLED: Dict[str, Any] = {
    "name": "Stage",
    "color": "0026FF",
    "prev_stage_id": 6,
    "entity_id": 1,
    "as_admin": True,
    "stage_id": 3928,
    "task_id": 9354,
    "prev": 9360,
    "after": 9362,
    "time": 3600,
    "user_id": 10,
    "text": "Text",
    "setup_date": dt.datetime(2025, 11, 10, 19, 55, 49),
    "record_id": 3450,
    "report": "Late",
    "department_id": 3210,
    "parent_id": 1,
    "head_id": 10,
    "fields_structure": USER_FIELDS,
    "fire": True,
    "filter_structure": {"NAME": "Vitaly"},
}
#: Where the same Python name means something else.
FILLED_BY_METHOD: Dict[str, Dict[str, Any]] = {
    "StartTimekeeping": {"time": dt.datetime(2026, 1, 6, 9, 4, 38)},
    "StopTimekeeping": {"time": dt.datetime(2026, 1, 6, 18, 0, 0)},
}


def pairs(portal: Any, index: int = -1) -> Any:
    return json.loads(portal.requests[index]["body"], object_pairs_hook=list)


def keys(portal: Any, index: int = -1) -> List[str]:
    return [key for key, _ in pairs(portal, index)]


REQUESTING = [m for m in methods() if m.section in SECTIONS and m.api]


def test_these_sections_are_complete(catalog: Dict[str, Dict[str, Any]]) -> None:
    ours = [m.name for m in methods() if m.section in SECTIONS]
    assert ours == [name for name, entry in catalog.items() if entry["section"] in SECTIONS]


@pytest.mark.parametrize("method", REQUESTING, ids=[m.name for m in REQUESTING])
def test_body_keys_follow_the_catalog_order(portal: Any, catalog: Dict[str, Dict[str, Any]], method: Any) -> None:
    """With every argument filled, the body holds auth, then the catalog's fields in its order (nested
    sub-objects too); a structure copied to the top level stands where the catalog says so."""
    entry = catalog[method.name]
    chosen = {**FILLED, **FILLED_BY_METHOD.get(method.name, {})}
    kwargs = {p.python: chosen[p.python] for p in method.params if p.python not in ("url", "token")}
    method.func(portal.base, token="T", **kwargs)
    assert portal.requests[-1]["path"] == f"/rest/{method.api[0]}"
    expected: List[str] = ["auth"]
    for key in entry["fields"]:
        if key.startswith("<each key"):
            expected += list(USER_FIELDS)
        elif "." not in key and not (method.name == "MoveTaskToKanbanStage" and key == "after"):
            expected.append(key)
    body = pairs(portal)
    assert [key for key, _ in body] == expected
    for parent, value in body:
        nested = [key.split(".", 1)[1] for key in entry["fields"] if key.startswith(parent + ".")]
        if nested:
            assert [key for key, _ in value] == nested, parent


# --- kanban ---------------------------------------------------------------------------------------


def test_add_stage_sends_fields_with_ids_as_text_and_the_admin_flag_inside(portal: Any) -> None:
    b24.add_kanban_stage(portal.webhook, "New stage", "0026FF", 6, Decimal("12"), True)
    assert portal.json_body() == {
        "fields": {"TITLE": "New stage", "COLOR": "0026FF", "AFTER_ID": "6", "ENTITY_ID": "12", "isAdmin": "Y"}
    }


@pytest.mark.parametrize("zero", [0, 0.0, Decimal(0), None, ""])
def test_add_stage_leaves_zero_ids_out_but_always_sends_is_admin(portal: Any, zero: Any) -> None:
    b24.add_kanban_stage(portal.webhook, "New stage", prev_stage_id=zero, entity_id=zero)
    assert portal.json_body() == {"fields": {"TITLE": "New stage", "COLOR": "FFD800", "isAdmin": "N"}}


@pytest.mark.parametrize(("flag", "sent"), [(True, True), (False, False), ("true", True), ("N", False), (0, False)])
def test_update_stage_sends_is_admin_as_a_json_boolean(portal: Any, flag: Any, sent: bool) -> None:
    """OPI adds isAdmin with its Boolean type here; OneScript counts every boolean as filled."""
    b24.update_kanbans_stage(portal.webhook, "Name", 3216, as_admin=flag)
    assert pairs(portal) == [("id", "3216"), ("fields", [("TITLE", "Name"), ("isAdmin", sent)])]


def test_update_stage_refuses_a_flag_that_is_not_a_boolean(portal: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.update_kanbans_stage(portal.webhook, "Name", 3216, as_admin="sometimes")
    assert raised.value.parameter == "as_admin" and portal.requests == []


@pytest.mark.parametrize(("entity", "sent"), [(0, "0"), (0.0, "0"), (12, "12"), ("12", "12"), (Decimal("7"), "7")])
def test_get_stages_sends_entity_id_as_text_zero_included(portal: Any, entity: Any, sent: str) -> None:
    b24.get_kanban_stages(portal.base, entity, token="T")
    assert pairs(portal) == [("auth", "T"), ("entityId", sent), ("isAdmin", "N")]


def test_get_stages_leaves_an_empty_entity_id_out(portal: Any) -> None:
    b24.get_kanban_stages(portal.webhook, None, True)
    assert portal.json_body() == {"isAdmin": "Y"}


def test_delete_stage_sends_is_admin_at_the_top_level(portal: Any) -> None:
    b24.delete_kanban_stage(portal.webhook, 3928)
    b24.delete_kanban_stage(portal.webhook, 3928, True)
    assert [portal.json_body(0), portal.json_body(1)] == [
        {"id": "3928", "isAdmin": "N"},
        {"id": "3928", "isAdmin": "Y"},
    ]


@pytest.mark.parametrize(
    ("prev", "after", "position"),
    [
        (0, 0, ("after", "0")),
        (None, 0, ("after", "0")),
        (0, 9362, ("after", "9362")),
        (9360, 9362, ("before", "9360")),
        ("9360", 0, ("before", "9360")),
        ("0", 0, ("before", "0")),
    ],
)
def test_move_task_sends_before_or_after_never_both(portal: Any, prev: Any, after: Any, position: Any) -> None:
    b24.move_task_to_kanban_stage(portal.webhook, 9354, 3464, prev, after)
    assert pairs(portal) == [("id", "9354"), ("stageId", "3464"), position]


def test_move_task_with_empty_positions_sends_neither(portal: Any) -> None:
    b24.move_task_to_kanban_stage(portal.webhook, 9354, 3464, "", None)
    assert portal.json_body() == {"id": "9354", "stageId": "3464"}


# --- timekeeping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "sent"),
    [
        (dt.datetime(2025, 11, 10, 19, 55, 49, 721405), "2025-11-10T19:55:49"),
        (dt.date(2025, 11, 10), "2025-11-10T00:00:00"),
        (dt.datetime(2025, 11, 10, 19, 55, 49, tzinfo=dt.timezone(dt.timedelta(hours=3))), "2025-11-10T19:55:49"),
        ("2025-11-10T19:55:49.7214051", "2025-11-10T19:55:49"),
        ("2025-11-10T19:55:49Z", "2025-11-10T19:55:49"),
    ],
)
def test_time_record_date_is_date_iso_without_zone(portal: Any, date: Any, sent: str) -> None:
    b24.add_task_time_accounting(portal.webhook, 9054, 7200, 10, "Text", date)
    assert pairs(portal) == [
        ("TASKID", "9054"),
        ("ARFIELDS", [("SECONDS", "7200"), ("COMMENT_TEXT", "Text"), ("USER_ID", "10"), ("CREATED_DATE", sent)]),
    ]


def test_update_time_record_without_changes_leaves_arfields_out(portal: Any) -> None:
    b24.update_task_time_accounting(portal.webhook, 9366, 3452, 0)
    assert portal.json_body() == {"TASKID": "9366", "ITEMID": "3452"}
    b24.update_task_time_accounting(portal.webhook, 9366, 3452, 4800.0, setup_date=dt.date(2025, 12, 6))
    assert portal.json_body() == {
        "TASKID": "9366",
        "ITEMID": "3452",
        "ARFIELDS": {"SECONDS": "4800", "CREATED_DATE": "2025-12-06T00:00:00"},
    }


@pytest.mark.parametrize("call", [b24.add_task_time_accounting, b24.update_task_time_accounting])
def test_time_record_refuses_a_date_it_cannot_read(portal: Any, call: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        call(portal.webhook, 9054, 3450, 7200, setup_date="06.12.2025")
    assert raised.value.parameter == "setup_date" and portal.requests == []


def test_result_null_comes_back_unchanged(portal: Any) -> None:
    answer = {"result": None, "time": {"start": 1767709319, "date_start": "2026-01-06T14:21:59+00:00"}}
    portal.reply(payload=answer)
    portal.reply(payload=answer)
    assert b24.delete_task_time_accounting(portal.webhook, 9366, 3452) == answer
    assert b24.update_task_time_accounting(portal.webhook, 9366, 3452, 4800) == answer


@pytest.mark.parametrize(
    ("moment", "sent"),
    [
        (dt.datetime(2026, 1, 6, 9, 4, 38, 566736), "2026-01-06T09:04:38Z"),
        (dt.datetime(2026, 1, 6, 9, 4, 38, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2026-01-06T09:04:38Z"),
        ("2026-01-06T09:04:38.5667361", "2026-01-06T09:04:38Z"),
        ("2026-01-06 09:04:38", "2026-01-06T09:04:38Z"),
    ],
)
def test_workday_time_gets_a_literal_z_without_conversion(portal: Any, moment: Any, sent: str) -> None:
    b24.start_timekeeping(portal.base, 1, moment, "Late", "T")
    b24.stop_timekeeping(portal.webhook, "1", moment)
    assert pairs(portal, 0) == [("auth", "T"), ("USER_ID", "1"), ("TIME", sent), ("REPORT", "Late")]
    assert pairs(portal, 1) == [("USER_ID", "1"), ("TIME", sent)]


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("2025-11-10T19:55:49.7214051", "2025-11-10T19:55:49"),
        ("2025-11-10T19:55:49.5", "2025-11-10T19:55:49"),
        (" 2025-11-10 19:55:49.12 ", "2025-11-10T19:55:49"),  # with a zone: tests/test_oint_dates.py
        ("2025-11-10", "2025-11-10T00:00:00"),
    ],
)
def test_fractions_of_a_second_are_read_on_every_python(text: str, sent: str) -> None:
    """Python 3.9 and 3.10 read only 3 or 6 fractional digits; .NET (OPI's CLI examples) writes 7."""
    from opi_bitrix24 import _convert as cv

    assert cv.date_iso(text, "date") == sent


@pytest.mark.parametrize("call", [b24.pause_timekeeping, b24.get_timekeeping_status, b24.get_timekeeping_settings])
def test_user_only_calls_send_the_user_as_text_or_nothing(portal: Any, call: Any) -> None:
    call(portal.webhook, 1)
    call(portal.webhook)
    assert portal.json_body(0) == {"USER_ID": "1"}
    assert portal.requests[1]["body"] == b""


# --- departments ----------------------------------------------------------------------------------


def test_department_ids_are_text_and_empty_filters_left_out(portal: Any) -> None:
    b24.create_department(portal.webhook, "Main", 1)
    b24.update_department(portal.webhook, Decimal("3212"), parent_id=7.0)
    b24.get_departments(portal.webhook, head_id=1)
    b24.get_departments(portal.webhook)
    b24.delete_department(portal.webhook, 3672)
    assert [portal.json_body(i) for i in (0, 1, 2, 4)] == [
        {"NAME": "Main", "PARENT": "1"},
        {"ID": "3212", "PARENT": "7"},
        {"UF_HEAD": "1"},
        {"ID": "3672"},
    ]
    assert portal.requests[3]["body"] == b""


# --- users ----------------------------------------------------------------------------------------


def test_create_user_copies_a_dict_in_order_without_conversion(portal: Any) -> None:
    structure = {"EMAIL": "a@example.org", "NAME": "", "UF_DEPARTMENT": [7], "PERSONAL_MOBILE": 70000000000}
    b24.create_user(portal.base, structure, "T")
    assert pairs(portal) == [
        ("auth", "T"),
        ("EMAIL", "a@example.org"),
        ("NAME", ""),
        ("UF_DEPARTMENT", [7]),
        ("PERSONAL_MOBILE", 70000000000),
    ]


def test_create_user_reads_a_path_object(portal: Any) -> None:
    b24.create_user(portal.webhook, FIXTURES / "user-fields.json")
    assert portal.json_body() == json.loads((FIXTURES / "user-fields.json").read_text(encoding="utf-8"))


def test_update_user_adds_the_id_last_and_leaves_the_callers_dict_alone(portal: Any) -> None:
    structure = dict(USER_FIELDS)
    b24.update_user(portal.webhook, 3206, structure)
    assert keys(portal) == ["EMAIL", "NAME", "UF_DEPARTMENT", "ID"]
    assert portal.json_body()["ID"] == "3206"
    assert structure == USER_FIELDS


def test_update_user_id_inside_the_structure_keeps_its_place_and_takes_the_user_id(portal: Any) -> None:
    b24.update_user(portal.webhook, 3206, {"ID": 1, "NAME": "Oleg"})
    assert pairs(portal) == [("ID", "3206"), ("NAME", "Oleg")]
    b24.update_user(portal.webhook, "", {"ID": 1, "NAME": "Oleg"})
    assert pairs(portal) == [("ID", 1), ("NAME", "Oleg")]


@pytest.mark.parametrize("bad", [[{"NAME": "x"}], "[1,2]", "{broken", "NAME=x"])
def test_user_structures_refuse_what_is_not_an_object(portal: Any, bad: Any) -> None:
    for call in (lambda: b24.create_user(portal.webhook, bad), lambda: b24.update_user(portal.webhook, 1, bad)):
        with pytest.raises(InvalidArgument) as raised:
            call()
        assert raised.value.parameter == "fields_structure"
    assert portal.requests == []


@pytest.mark.parametrize(
    ("fire", "active"), [(True, "N"), (False, "Y"), ("true", "N"), ("false", "Y"), ("Истина", "N"), (0, "Y")]
)
def test_change_user_status_sends_the_negated_flag(portal: Any, fire: Any, active: str) -> None:
    b24.change_user_status(portal.base, 3082, fire, "T")
    assert portal.requests[-1]["path"] == "/rest/user.update"
    assert pairs(portal) == [("auth", "T"), ("ACTIVE", active), ("ID", "3082")]


def test_change_user_status_defaults_to_firing_and_refuses_a_bad_flag(portal: Any) -> None:
    b24.change_user_status(portal.webhook, 3082)
    assert portal.json_body() == {"ACTIVE": "N", "ID": "3082"}
    with pytest.raises(InvalidArgument) as raised:
        b24.change_user_status(portal.webhook, 3082, "later")
    assert raised.value.parameter == "fire" and len(portal.requests) == 1


def test_find_users_takes_the_filter_template(portal: Any) -> None:
    template = b24.get_user_filter_structure()
    template.update(NAME="Vitaly", USER_TYPE="employee")
    for key in ("LAST_NAME", "WORK_POSITION", "UF_DEPARTMENT_NAME"):
        del template[key]
    b24.find_users(portal.webhook, template)
    b24.find_users(portal.webhook, FIXTURES / "user-filter.json")
    assert portal.json_body(0) == {"FILTER": {"NAME": "Vitaly", "USER_TYPE": "employee"}}
    assert portal.json_body(1)["FILTER"]["WORK_POSITION"] == "DevOps engineer"


def test_find_users_refuses_a_filter_that_is_not_json(portal: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.find_users(portal.webhook, "{NAME: Vitaly")
    assert raised.value.parameter == "filter_structure" and portal.requests == []


def test_user_filter_structure_is_a_fresh_copy_with_a_flat_clear() -> None:
    first = b24.get_user_filter_structure()
    first["NAME"] = "changed"
    assert b24.get_user_filter_structure()["NAME"] == "<name>"
    assert list(first) == ["NAME", "LAST_NAME", "WORK_POSITION", "UF_DEPARTMENT_NAME", "USER_TYPE"]
    assert b24.get_user_filter_structure("true") == dict.fromkeys(first, "")
    with pytest.raises(InvalidArgument):
        b24.get_user_filter_structure("maybe")


def test_russian_aliases_take_russian_keywords(portal: Any) -> None:
    b24.ИзменитьСтатусПользователя(URL=portal.base, IDПользователя=3084, Уволить=False, Токен="T")
    b24.ПолучитьСтурктуруПользователя(URL=portal.base, Токен="T")
    b24.ИзменитьСтадиюКанбана(URL=portal.webhook, Наименование="Имя", IDСтадии=3928, КакАдминистратор=True)
    assert pairs(portal, 0) == [("auth", "T"), ("ACTIVE", "Y"), ("ID", "3084")]
    assert portal.requests[1]["path"] == "/rest/user.fields" and pairs(portal, 1) == [("auth", "T")]
    assert portal.json_body(2) == {"id": "3928", "fields": {"TITLE": "Имя", "isAdmin": True}}
