"""Leads, deals, calendars and calendar events with Python-typed arguments.

The conformance cases pass CLI text only and compare JSON without key order; these tests pin the rest:
ints, Decimals, dicts, paths, dates and datetimes as arguments, and the order of the keys on the wire
against the catalog's ``fields``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import parse_qsl

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import InvalidArgument
from opi_bitrix24._table import methods

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "conformance" / "fixtures"
SECTIONS = ("LeadsManagement", "DealsManagement", "CalendarsManagement", "CalendarEventsManagement")

#: A filled value for every parameter of these sections, by Python name.
FILLED: Dict[str, Any] = {
    "fields_structure": {"TITLE": "T"},
    "event_description": {"name": "E"},
    "settings_structure": {"view": "month"},
    "lead_id": 2994,
    "deal_id": 5978,
    "calendar_id": 1896,
    "event_id": 3540,
    "owner_id": 1,
    "type": "user",
    "filter": {"TITLE": "T"},
    "indent": 50,
    "users": [1, 10],
    "start_date": dt.date(2026, 5, 2),
    "end_date": dt.date(2026, 5, 9),
    "status": "Y",
}

#: Requests whose body is the flattened user structure, or depends on the filter keys: tested below.
SPECIAL = {"CreateCalendar", "UpdateCalendar", "CreateCalendarEvent", "UpdateCalendarEvent", "GetCalendarEvents"}


def keys(portal: Any, index: int = -1) -> List[str]:
    return list(json.loads(portal.requests[index]["body"]))


MINE = [m for m in methods() if m.section in SECTIONS]
REQUESTING = [m for m in MINE if m.api and m.name not in SPECIAL]


def test_all_33_functions_are_registered(catalog: Dict[str, Dict[str, Any]]) -> None:
    assert [m.name for m in MINE] == [name for name, entry in catalog.items() if entry["section"] in SECTIONS]


@pytest.mark.parametrize("method", REQUESTING, ids=[m.name for m in REQUESTING])
def test_request_keys_follow_the_catalog_order(portal: Any, catalog: Dict[str, Dict[str, Any]], method: Any) -> None:
    """With every argument filled: POST bodies hold auth, then exactly the catalog's fields in its order;
    GET calls carry auth alone in the query and no body."""
    entry = catalog[method.name]
    kwargs = {p.python: FILLED[p.python] for p in method.params if p.python not in ("url", "token")}
    method.func(portal.base, token="T", **kwargs)
    seen = portal.requests[-1]
    assert seen["path"] == f"/rest/{method.api[0]}"
    if entry["http"] == "GET":
        assert seen["method"] == "GET" and seen["body"] == b""
        assert parse_qsl(seen["query"]) == [("auth", "T")]
    else:
        assert seen["method"] == "POST"
        assert keys(portal) == ["auth", *entry["fields"]]


# --- leads and deals --------------------------------------------------------------------------------


@pytest.mark.parametrize("item", [2994, "2994", Decimal("2994"), 2994.0])
@pytest.mark.parametrize("call", [b24.get_lead, b24.delete_lead, b24.get_deal, b24.delete_deal])
def test_crm_ids_are_sent_as_text(portal: Any, call: Any, item: Any) -> None:
    call(portal.webhook, item)
    assert portal.json_body() == {"id": "2994"}


@pytest.mark.parametrize("call", [b24.get_lead, b24.delete_lead, b24.get_deal, b24.delete_deal])
def test_crm_id_zero_is_not_sent(portal: Any, call: Any) -> None:
    """OPI's PrimaryControlAction skips the number 0 like any empty value: the webhook call has no body."""
    call(portal.webhook, 0)
    assert portal.requests[-1]["body"] == b""


@pytest.mark.parametrize(("call", "api"), [(b24.update_lead, "crm.lead.update"), (b24.update_deal, "crm.deal.update")])
def test_crm_update_sends_fields_before_the_id(portal: Any, call: Any, api: str) -> None:
    call(portal.webhook, 7, {"TITLE": "Новое", "OPPORTUNITY": 5000, "PHONE": [{"VALUE": "1"}]})
    assert portal.requests[-1]["path"].endswith(f"/{api}")
    assert keys(portal) == ["fields", "id"]
    assert portal.json_body() == {
        "fields": {"TITLE": "Новое", "OPPORTUNITY": 5000, "PHONE": [{"VALUE": "1"}]},
        "id": "7",
    }


@pytest.mark.parametrize("call", [b24.create_lead, b24.create_deal])
@pytest.mark.parametrize("fixture", ["crm-lead.json", "crm-deal.json"])
def test_crm_create_reads_a_path_object(portal: Any, call: Any, fixture: str) -> None:
    call(portal.webhook, FIXTURES / fixture)
    assert portal.json_body() == {"fields": json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))}


@pytest.mark.parametrize("call", [b24.create_lead, b24.create_deal, b24.update_deal])
def test_crm_dates_inside_fields_are_iso_text(portal: Any, call: Any) -> None:
    args = (5978,) if call is b24.update_deal else ()
    call(portal.webhook, *args, {"BEGINDATE": dt.date(2024, 1, 1), "CLOSEDATE": dt.datetime(2030, 1, 1, 9, 30)})
    assert portal.json_body()["fields"] == {"BEGINDATE": "2024-01-01T00:00:00", "CLOSEDATE": "2030-01-01T09:30:00"}


@pytest.mark.parametrize("call", [b24.get_leads_list, b24.get_deals_list])
@pytest.mark.parametrize(
    ("indent", "start"), [(0, None), ("0", "0"), (50, "50"), ("50", "50"), (Decimal("100"), "100")]
)
def test_crm_list_paging(portal: Any, call: Any, indent: Any, start: Any) -> None:
    call(portal.base, {">=DATE_CREATE": dt.date(2026, 1, 1)}, indent, "T")
    body = portal.json_body()
    assert body["filter"] == {">=DATE_CREATE": "2026-01-01T00:00:00"}
    assert body.get("start") == start
    assert keys(portal) == ["auth", "filter"] + ([] if start is None else ["start"])


def test_crm_list_first_page_of_a_webhook_has_no_body(portal: Any) -> None:
    b24.get_deals_list(portal.webhook)
    assert portal.requests[-1]["body"] == b""


@pytest.mark.parametrize("bad", ["TITLE=x", "{broken", 42.5])
@pytest.mark.parametrize("call", [b24.get_leads_list, b24.get_deals_list])
def test_crm_list_refuses_a_filter_that_is_not_a_structure(portal: Any, call: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        call(portal.webhook, bad)
    assert raised.value.parameter == "filter" and portal.requests == []


@pytest.mark.parametrize("call", [b24.create_lead, b24.update_lead, b24.create_deal, b24.update_deal])
def test_crm_fields_that_are_not_a_structure_are_refused(portal: Any, call: Any) -> None:
    args = (1, "{'TITLE':") if call in (b24.update_lead, b24.update_deal) else ("{'TITLE':",)
    with pytest.raises(InvalidArgument) as raised:
        call(portal.webhook, *args)
    assert raised.value.parameter == "fields_structure" and portal.requests == []


@pytest.mark.parametrize(("call", "count"), [(b24.get_lead_filter_structure, 21), (b24.get_deals_filter_structure, 25)])
def test_crm_filter_templates_clear_flat_and_hand_out_copies(call: Any, count: int) -> None:
    described = call()
    assert len(described) == count and all(v.startswith("<") and v.endswith(">") for v in described.values())
    assert call("true") == dict.fromkeys(described, "")
    described["ID"] = "changed"
    assert call(False)["ID"] != "changed"
    assert b24.get_lead_filter_structure()["HAS_PHONE"] == "<phone field is filled (Y|N)>"


@pytest.mark.parametrize("call", [b24.get_lead_structure, b24.get_deal_structure])
def test_crm_structures_are_a_get_without_body(portal: Any, call: Any) -> None:
    call(portal.webhook)
    seen = portal.requests[-1]
    assert (seen["method"], seen["query"], seen["body"]) == ("GET", "", b"")


# --- calendars --------------------------------------------------------------------------------------


def test_create_calendar_copies_a_dict_in_order_without_conversion(portal: Any) -> None:
    structure = {"type": "user", "ownerId": 1, "name": "", "export": {"ALLOW": True, "SET": "all"}}
    b24.create_calendar(portal.base, structure, "T")
    assert json.loads(portal.requests[-1]["body"], object_pairs_hook=list) == [
        ("auth", "T"),
        ("type", "user"),
        ("ownerId", 1),
        ("name", ""),
        ("export", [("ALLOW", True), ("SET", "all")]),
    ]


def test_create_calendar_sends_a_cleared_template_as_is(portal: Any) -> None:
    b24.create_calendar(portal.webhook, b24.get_calendar_structure(True))
    assert portal.json_body() == {
        "type": "",
        "ownerId": "",
        "name": "",
        "description": "",
        "color": "",
        "text_color": "",
        "export": {"ALLOW": "", "SET": ""},
    }


def test_create_calendar_reads_a_path_object(portal: Any) -> None:
    b24.create_calendar(portal.webhook, FIXTURES / "calendar-section.json")
    assert portal.json_body() == json.loads((FIXTURES / "calendar-section.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("calendar_id", [1896, "1896", Decimal("1896")])
def test_update_calendar_puts_the_id_first(portal: Any, calendar_id: Any) -> None:
    b24.update_calendar(portal.base, calendar_id, {"name": "N", "ownerId": 1}, "T")
    assert keys(portal) == ["auth", "id", "name", "ownerId"]
    assert portal.json_body()["id"] == "1896"


def test_update_calendar_id_key_in_the_structure_wins_in_place(portal: Any) -> None:
    b24.update_calendar(portal.webhook, 1896, {"name": "N", "id": 1900})
    assert json.loads(portal.requests[-1]["body"], object_pairs_hook=list) == [("id", 1900), ("name", "N")]


def test_flattening_with_an_empty_structure_sends_only_the_id(portal: Any) -> None:
    b24.update_calendar_event(portal.webhook, 3540, {})
    assert portal.json_body() == {"id": "3540"}
    b24.create_calendar(portal.webhook, "")
    assert portal.requests[-1]["body"] == b""


@pytest.mark.parametrize("bad", [[{"type": "user"}], "[1,2]", "{broken", "type=user"])
@pytest.mark.parametrize(
    ("call", "args", "name"),
    [
        (b24.create_calendar, (), "fields_structure"),
        (b24.update_calendar, (1896,), "fields_structure"),
        (b24.create_calendar_event, (), "event_description"),
        (b24.update_calendar_event, (3540,), "event_description"),
    ],
)
def test_flattening_refuses_what_is_not_an_object(portal: Any, call: Any, args: Any, name: str, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        call(portal.webhook, *args, bad)
    assert raised.value.parameter == name and portal.requests == []


def test_calendar_list_and_delete_keep_opi_order(portal: Any) -> None:
    b24.get_calendar_list(portal.webhook, 1, "user")
    assert keys(portal) == ["type", "ownerId"] and portal.json_body() == {"type": "user", "ownerId": "1"}
    b24.delete_calendar(portal.webhook, 2360, 1, "user")
    assert keys(portal) == ["type", "ownerId", "id"]
    assert portal.json_body() == {"type": "user", "ownerId": "1", "id": "2360"}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2026, 5, 2), dt.date(2026, 5, 9)),
        (dt.datetime(2026, 5, 2, 23, 59), dt.datetime(2026, 5, 9, 0, 1)),
        ("2026-05-02T12:10:42", "2026-05-09"),
        (dt.datetime(2026, 5, 2, 12, tzinfo=dt.timezone(dt.timedelta(hours=3))), "2026-05-09 08:00:00"),
    ],
)
def test_user_busy_sends_days(portal: Any, start: Any, end: Any) -> None:
    b24.get_user_busy(portal.webhook, 1, start, end)
    assert keys(portal) == ["users", "from", "to"]
    assert portal.json_body() == {"users": [1], "from": "2026-05-02", "to": "2026-05-09"}


@pytest.mark.parametrize(
    ("users", "sent"), [(1, [1]), ("1", ["1"]), ([1, 10], [1, 10]), ((1, 10), [1, 10]), ("[1,10]", [1, 10])]
)
def test_user_busy_takes_one_user_or_a_list(portal: Any, users: Any, sent: Any) -> None:
    b24.get_user_busy(portal.webhook, users, "2026-05-02", "2026-05-09")
    assert portal.json_body()["users"] == sent


@pytest.mark.parametrize(
    ("start", "end", "name"), [("next monday", "2026-05-09", "start_date"), ("2026-05-02", 20260509, "end_date")]
)
def test_user_busy_refuses_what_is_not_a_date(portal: Any, start: Any, end: Any, name: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.get_user_busy(portal.webhook, 1, start, end)
    assert raised.value.parameter == name and portal.requests == []


def test_custom_settings_are_sent_nested_and_read_with_get(portal: Any) -> None:
    settings = b24.get_calednar_custom_settings_structure(True)
    settings.update({"view": "week", "syncPeriodPast": 3})
    b24.set_custom_calendar_settings(portal.webhook, settings)
    assert portal.json_body() == {"settings": settings}
    b24.get_custom_calendar_settings(portal.base, "T")
    b24.get_calendar_settings_structure(portal.base, "T")
    for seen, api in zip(portal.requests[-2:], ("calendar.user.settings.get", "calendar.settings.get")):
        assert (seen["method"], seen["path"], seen["query"], seen["body"]) == ("GET", f"/rest/{api}", "auth=T", b"")


def test_calendar_templates_clear_recursively_and_hand_out_copies() -> None:
    settings = b24.get_calednar_custom_settings_structure()
    reminders = settings["defaultReminders"]
    assert reminders["fullDay"] == reminders["withTime"] and reminders["fullDay"] is not reminders["withTime"]
    reminders["fullDay"][0]["type"] = "changed"
    assert b24.get_calednar_custom_settings_structure()["defaultReminders"]["fullDay"][0]["type"] != "changed"
    cleared = b24.get_calednar_custom_settings_structure("true")
    assert cleared["defaultReminders"] == {
        "fullDay": [{"type": "", "count": ""}],
        "withTime": [{"type": "", "count": ""}],
    }
    assert b24.get_calendar_structure(True)["export"] == {"ALLOW": "", "SET": ""}
    assert b24.get_calendar_structure()["type"] == "<calendar type: user, group)>"
    assert list(b24.get_calendar_structure()) == [
        "type",
        "ownerId",
        "name",
        "description",
        "color",
        "text_color",
        "export",
    ]


# --- calendar events --------------------------------------------------------------------------------


def test_create_calendar_event_copies_nested_values_and_writes_datetimes_as_iso(portal: Any) -> None:
    description = {
        "type": "user",
        "ownerId": 1,
        "from": dt.datetime(2026, 5, 3, 12, 10, 27),
        "to": dt.datetime(2026, 5, 3, 13, 10, 27),
        "section": Decimal("2360"),
        "rrule": {"FREQ": "DAILY", "BYDAY": ("SA", "MO")},
        "remind": [{"type": "day", "count": 1}],
    }
    b24.create_calendar_event(portal.base, description, "T")
    assert keys(portal) == ["auth", *description]
    assert portal.json_body() == {
        "auth": "T",
        "type": "user",
        "ownerId": 1,
        "from": "2026-05-03T12:10:27",
        "to": "2026-05-03T13:10:27",
        "section": 2360,
        "rrule": {"FREQ": "DAILY", "BYDAY": ["SA", "MO"]},
        "remind": [{"type": "day", "count": 1}],
    }


def test_create_calendar_event_reads_a_path_object(portal: Any) -> None:
    b24.create_calendar_event(portal.webhook, str(FIXTURES / "calendar-event.json"))
    assert portal.json_body() == json.loads((FIXTURES / "calendar-event.json").read_text(encoding="utf-8"))


def test_update_calendar_event_puts_the_id_first(portal: Any) -> None:
    b24.update_calendar_event(portal.webhook, 3540, {"name": "Modified event", "importance": "low"})
    assert keys(portal) == ["id", "name", "importance"]
    assert portal.json_body()["id"] == "3540"


def test_calendar_events_filter_keeps_its_order_and_drops_other_keys(portal: Any) -> None:
    flt = {"to": dt.datetime(2026, 1, 8, 23, 59), "name": "x", "section": (1906, "1908"), "from": dt.date(2026, 1, 7)}
    b24.get_calendar_events(portal.base, 1, "user", flt, "T")
    assert keys(portal) == ["auth", "type", "ownerId", "to", "section", "from"]
    assert portal.json_body() == {
        "auth": "T",
        "type": "user",
        "ownerId": "1",
        "to": "2026-01-08",
        "section": [1906, "1908"],
        "from": "2026-01-07",
    }


@pytest.mark.parametrize(("section", "sent"), [(1894, [1894]), ("1894", ["1894"]), ("[1894, 1896]", [1894, 1896])])
def test_calendar_events_section_is_always_a_list(portal: Any, section: Any, sent: Any) -> None:
    b24.get_calendar_events(portal.webhook, 12, "group", {"section": section})
    assert portal.json_body() == {"type": "group", "ownerId": "12", "section": sent}


def test_calendar_events_filter_read_from_a_path(portal: Any) -> None:
    b24.get_calendar_events(portal.webhook, 1, "user", FIXTURES / "calendar-events-filter.json")
    assert keys(portal) == ["type", "ownerId", "section", "from", "to"]
    assert portal.json_body()["to"] == "2026-01-08"


@pytest.mark.parametrize("flt", ["", {}, None])
def test_calendar_events_without_filter(portal: Any, flt: Any) -> None:
    b24.get_calendar_events(portal.webhook, 1, "user", flt)
    assert portal.json_body() == {"type": "user", "ownerId": "1"}


def test_calendar_events_empty_filter_values_are_not_sent(portal: Any) -> None:
    """Deviation: OPI inserts these keys without its skip-empty rule and sends ``section: [""]`` and an
    empty date text; here an empty value leaves its key out."""
    b24.get_calendar_events(portal.webhook, 1, "user", {"section": "", "from": "", "to": "2026-01-08"})
    assert portal.json_body() == {"type": "user", "ownerId": "1", "to": "2026-01-08"}


@pytest.mark.parametrize("bad", [{"from": "01/07/2026 10:11:51"}, {"to": 20260108}, ["1894"], "from=2026-01-07"])
def test_calendar_events_refuses_a_bad_filter(portal: Any, bad: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        b24.get_calendar_events(portal.webhook, 1, "user", bad)
    assert raised.value.parameter == "filter" and portal.requests == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (b24.get_calendar_event, "id"),
        (b24.delete_calendar_event, "id"),
        (b24.get_user_participation_status, "eventId"),
    ],
)
def test_event_one_id_actions(portal: Any, call: Any, field: str) -> None:
    call(portal.base, 3540, "T")
    assert keys(portal) == ["auth", field] and portal.json_body()[field] == "3540"


def test_participation_status_keeps_opi_order(portal: Any) -> None:
    b24.set_user_participation_status(portal.webhook, Decimal("3540"), "N")
    assert keys(portal) == ["eventId", "status"] and portal.json_body() == {"eventId": "3540", "status": "N"}


def test_event_templates() -> None:
    event = b24.get_calendar_events_structure()
    assert list(event)[16:18] == ["private_event", "rrule"] and list(event)[-1] == "meeting"
    assert event["rrule"]["BYDAY"] == ["<days of the week: SU, MO, TU, WE, TH, FR, SA>"]
    cleared = b24.get_calendar_events_structure(True)
    assert cleared["rrule"]["BYDAY"] == [""] and cleared["remind"] == [{"type": "", "count": ""}]
    assert cleared["meeting"] == dict.fromkeys(["notify", "reinvite", "allow_invite", "hide_guests"], "")
    assert b24.get_calendar_events_filter_structure(True) == {"from": "", "to": "", "section": ""}


def test_russian_aliases_with_keywords_make_the_same_requests(portal: Any) -> None:
    b24.ПолучитьСобытияКалендарей(URL=portal.base, IDВладельца=1, Тип="user", Фильтр={"from": "2026-01-07"}, Токен="T")
    b24.get_calendar_events(portal.base, 1, "user", {"from": "2026-01-07"}, "T")
    b24.ПолучитьСписокЛидов(URL=portal.base, Фильтр={"TITLE": "T"}, Отступ=50, Токен="T")
    b24.get_leads_list(portal.base, {"TITLE": "T"}, 50, "T")
    first, second, third, fourth = portal.requests[-4:]
    assert first["body"] == second["body"] and third["body"] == fourth["body"]
    assert b24.ПолучитьСтруктуруПользовательскихНастроекКаледнаря(
        Пустая=True
    ) == b24.get_calednar_custom_settings_structure(True)
