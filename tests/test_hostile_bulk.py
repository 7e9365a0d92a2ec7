"""Hostile kinds for the bulk additions: batch, iterate and all_pages (tests/hostile.py, docs/hostile.md)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Dict, List, Optional, Tuple

from hostile import KEY, TOKEN, UNANSWERED, Answer, Call, Check, kind, parse_str

import opi_bitrix24 as b24
from opi_bitrix24 import _bulk
from opi_bitrix24 import _cli as _cli_module
from opi_bitrix24._errors import APIError, InvalidArgument, InvalidRequest, NotFound, UnexpectedResponse

# --- batch ----------------------------------------------------------------------------------------


@kind("batch", "the batch request itself fails, echoing the webhook key", "APIError with the code; no key in it")
def test_batch_request_fails(h: Check) -> None:
    def fail(call: Call) -> Optional[Answer]:
        echo = f"bad request to /rest/1/{KEY}/batch"
        return (400, {"error": "INVALID_REQUEST", "error_description": echo}) if call.method == "batch" else None

    portal = h.portal(fail)
    with h.raises(APIError) as caught:
        h.api.batch(portal.webhook, [("crm.lead.get", {"id": 1})])
    assert caught.value.error == "INVALID_REQUEST" and caught.value.status == 400
    assert [(s.verb, s.path) for s in portal.requests] == [("POST", f"/rest/1/{KEY}/batch")]
    assert portal.requests[0].json() == {"halt": 0, "cmd": {"k0": "crm.lead.get?id=1"}}


def _ids(first: int, last: int) -> List[Dict[str, Any]]:
    return [{"ID": str(i)} for i in range(first, last + 1)]


@kind("batch", "user text holding $result[...] in a deferred update", "InvalidArgument naming the field; nothing sent")
def test_reference_text_in_user_data(h: Check) -> None:
    portal = h.portal()
    with _bulk.deferred() as commands:
        b24.get_leads_list(portal.webhook)
        b24.update_lead(portal.webhook, 7, {"TITLE": "Invoice $result[k0][0][UF_SALARY]"})
    with h.raises(InvalidArgument) as caught:
        h.api.batch(portal.webhook, commands)
    assert str(caught.value).startswith("commands: commands[1].fields.TITLE holds '$result[k0]'")
    assert portal.requests == [] and portal.leads[6]["TITLE"] == "Lead 7"


@kind("batch", "an upper-case $RESULT reference to another chunk", "InvalidArgument naming both keys; nothing sent")
def test_upper_case_reference_across_chunks(h: Check) -> None:
    portal = h.portal()
    commands = [("crm.lead.get", {"id": i}) for i in range(1, 51)] + [("crm.lead.get", {"id": "$RESULT[k3][ID]"})]
    with h.raises(InvalidArgument) as caught:
        h.api.batch(portal.webhook, commands)
    assert "command k50 refers to $result[k3]" in str(caught.value)
    assert portal.requests == []


@kind("batch", "a command answered in neither result nor result_error", "result_error has NOT_ANSWERED for it")
def test_command_answered_in_neither_part(h: Check) -> None:
    portal = h.portal(lambda call: UNANSWERED if call.params.get("id") == "2" else None)
    out = h.api.batch(portal.webhook, {"a": ("crm.lead.get", {"id": 1}), "b": ("crm.lead.get", {"id": 2})})
    h.output(out)
    assert list(out["result"]) == ["a"] and out["result_error"]["b"]["error"] == "NOT_ANSWERED"
    assert [(c.key, c.method, c.params) for c in portal.rest_calls()] == [
        ("a", "crm.lead.get", {"id": "1"}),
        ("b", "crm.lead.get", {"id": "2"}),
    ]


@kind("batch", "halt: the commands after a failure are never answered", "each is NOT_ANSWERED; no 2nd chunk sent")
def test_halt_leaves_commands_unanswered(h: Check) -> None:
    portal = h.portal()
    commands = [("crm.lead.update", {"id": i, "fields": {"TITLE": "t"}}) for i in (1, 999, 2)]
    commands += [("crm.lead.update", {"id": i, "fields": {"TITLE": "t"}}) for i in range(3, 60)]
    out = h.api.batch(portal.webhook, commands, halt=True)
    assert list(out["result"]) == [0] and list(out["result_error"]) == list(range(1, 60))
    assert out["result_error"][1]["error"] == "NOT_FOUND"
    assert {out["result_error"][i]["error"] for i in range(2, 60)} == {"NOT_ANSWERED"}
    assert len(portal.requests) == 1 and [c.params["id"] for c in portal.rest_calls()] == ["1", "999"]
    assert portal.leads[1]["TITLE"] == "Lead 2"


@kind("batch", "a failed update with raise_api_errors=True", "NotFound naming the command; later chunks not sent")
def test_raise_api_errors_in_a_batch(h: Check) -> None:
    portal = h.portal()
    commands = [("crm.lead.update", {"id": i, "fields": {"TITLE": "t"}}) for i in (1, 999)]
    commands += [("crm.lead.update", {"id": i, "fields": {"TITLE": "t"}}) for i in range(2, 60)]
    with h.raises(NotFound) as caught:
        h.api.portal(portal.webhook, raise_api_errors=True).batch(commands)
    assert "(batch command 1; 49 of 60 commands succeeded)" in str(caught.value)
    assert len(portal.requests) == 1 and len(portal.rest_calls()) == 50


@kind("batch", "keys that collide or change on the wire", "InvalidArgument naming the path; nothing sent")
def test_colliding_and_unencodable_keys(h: Check) -> None:
    portal = h.portal()
    for commands in (
        {True: ("profile", {}), "True": ("profile", {})},
        [("crm.lead.update", {"id": 1, "fields": {1: "a", "1": "b"}})],
        [("crm.lead.update", {"id": 1, "fields": {"UF[x]": "a"}})],
        [("crm.lead.list", {"select.x": ["ID"]})],
    ):
        with h.raises(InvalidArgument):
            h.api.batch(portal.webhook, commands)  # type: ignore[arg-type]
    assert portal.requests == []


# --- iterate / all_pages --------------------------------------------------------------------------


@kind("iterate", "an empty ID list in a filter (fast and classic)", "InvalidArgument params.filter.@ID; nothing sent")
def test_empty_id_list_is_not_widened(h: Check) -> None:
    portal = h.portal()
    for fast in (True, False):
        with h.raises(InvalidArgument) as caught:
            list(h.api.iterate(portal.webhook, "crm.lead.list", {"filter": {"@ID": []}}, fast=fast))
        assert "params.filter.@ID is an empty list" in str(caught.value)
    assert portal.requests == []


@kind("all_pages", "get_leads_list with an empty ID list", "InvalidArgument params.filter.@ID; nothing sent")
def test_all_pages_empty_id_list(h: Check) -> None:
    portal = h.portal()
    with h.raises(InvalidArgument) as caught:
        h.api.all_pages(b24.get_leads_list, portal.webhook, {"@ID": [], "STATUS_ID": "NEW"})
    assert "params.filter.@ID is an empty list" in str(caught.value)
    assert portal.requests == []


@kind("iterate", "classic paging: the first page's filter on every page", "refused if a value would drop; else kept")
def test_classic_pages_keep_the_filter(h: Check) -> None:
    portal = h.portal(records=300)
    with h.raises(InvalidArgument) as caught:
        list(h.api.iterate(portal.webhook, "crm.lead.list", {"filter": {"@ID": [], "STATUS_ID": "NEW"}}, fast=False))
    assert "params.filter.@ID is an empty list" in str(caught.value) and portal.requests == []
    wanted = [str(i) for i in range(2, 122, 2)]
    flt = {"@ID": wanted, "STATUS_ID": "NEW", ">=ID": 2}
    rows = list(h.api.iterate(portal.webhook, "crm.lead.list", {"filter": flt}, fast=False))
    assert h.once(rows) == wanted and [c.start for c in portal.rest_calls()] == [0, 50]
    assert portal.requests[0].json()["filter"] == flt
    assert parse_str(portal.requests[1].commands()["s50"].partition("?")[2])["filter"] == {
        "@ID": {str(i): v for i, v in enumerate(wanted)},
        "STATUS_ID": "NEW",
        ">=ID": "2",
    }


def _never_ending(call: Call) -> Optional[Answer]:
    if call.method == "user.get":  # the same 50 rows whatever start says, next forever
        return 200, {"result": _ids(1, 50), "total": 1_000_000_000, "next": call.start + 50}
    return None


@kind("iterate", "next never ends; total 1,000,000,000", "UnexpectedResponse at the repeated page; 50 rows once")
def test_never_ending_next(h: Check) -> None:
    portal = h.portal(_never_ending)
    rows: List[Any] = []
    with h.raises(UnexpectedResponse) as caught:
        rows.extend(h.api.iterate(portal.webhook, "user.get"))
    assert "the page at start=50 repeats ID 1, already yielded (50 rows so far)" in str(caught.value)
    assert h.once(rows) == [str(i) for i in range(1, 51)]
    assert len(portal.requests) == 2 and len(portal.requests[1].commands()) == 50  # one batch of 50, not 20M pages


@kind("iterate", "next never ends, one request per page", "UnexpectedResponse at the 2nd page; 50 rows once")
def test_never_ending_next_unbatched(h: Check) -> None:
    portal = h.portal(_never_ending)
    rows: List[Any] = []
    with h.raises(UnexpectedResponse):
        rows.extend(h.api.iterate(portal.webhook, "user.get", use_batch=False))
    assert len(h.once(rows)) == 50 and [c.start for c in portal.rest_calls()] == [0, 50]


@kind("iterate", "next goes backwards", "UnexpectedResponse 'does not go forward'; 2 requests")
def test_backwards_next(h: Check) -> None:
    def backwards(call: Call) -> Optional[Answer]:
        if call.method == "user.get":
            rows = _ids(call.start + 1, call.start + 50)
            return 200, {"result": rows, "total": 500, "next": 50 if call.start else 100}
        return None

    portal = h.portal(backwards)
    rows: List[Any] = []
    with h.raises(UnexpectedResponse) as caught:
        rows.extend(h.api.iterate(portal.webhook, "user.get", use_batch=False))
    assert "the page at start=100 says next=50, which does not go forward" in str(caught.value)
    assert len(h.once(rows)) == 100 and [c.start for c in portal.rest_calls()] == [0, 100]


@kind("iterate", "the portal ignores >ID (fast mode)", "UnexpectedResponse 'ignores the filter'; 50 rows once")
def test_ignored_id_filter(h: Check) -> None:
    def ignores(call: Call) -> Optional[Answer]:
        return (200, {"result": _ids(1, 50), "total": 0}) if call.method == "crm.lead.list" else None

    portal = h.portal(ignores)
    rows: List[Any] = []
    with h.raises(UnexpectedResponse) as caught:
        rows.extend(h.api.iterate(portal.webhook, "crm.lead.list"))
    assert "asked for rows with ID > 50 in ascending order, got ID 1" in str(caught.value)
    assert len(h.once(rows)) == 50 and len(portal.requests) == 1
    assert portal.rest_calls()[1].filter == {">ID": "50"}  # the chain referred to the first page's last row


@kind("iterate", "total 100,000 but the pages are empty", "the 50 rows there; one batch request, not 40")
def test_huge_total_empty_pages(h: Check) -> None:
    def empty(call: Call) -> Optional[Answer]:
        if call.method != "user.get":
            return None
        if call.start == 0:
            return 200, {"result": _ids(1, 50), "total": 100_000, "next": 50}
        return 200, {"result": [], "total": 100_000}

    portal = h.portal(empty)
    rows = list(h.api.iterate(portal.webhook, "user.get"))
    assert len(h.once(rows)) == 50 and len(portal.requests) == 2
    assert [c.start for c in portal.rest_calls()] == [0, *range(50, 2550, 50)]


@kind("iterate", "an empty page that still says next", "UnexpectedResponse 'empty but says next'; 50 rows once")
def test_empty_page_with_next(h: Check) -> None:
    def hollow(call: Call) -> Optional[Answer]:
        if call.method == "user.get":
            rows = _ids(1, 50) if call.start == 0 else []
            return 200, {"result": rows, "total": 100, "next": call.start + 50}
        return None

    for batched in (True, False):
        portal = h.portal(hollow)
        rows: List[Any] = []
        with h.raises(UnexpectedResponse) as caught:
            rows.extend(h.api.iterate(portal.webhook, "user.get", use_batch=batched))
        assert "the page at start=50 is empty but says next=100" in str(caught.value)
        assert len(h.once(rows)) == 50 and len(portal.requests) == 2


@kind("iterate", "rows without an ID", "UnexpectedResponse 'has no ID field' (not KeyError), fast and classic")
def test_rows_without_id(h: Check) -> None:
    def no_id(call: Call) -> Optional[Answer]:
        rows = [{"TITLE": f"t{i}"} for i in range(50)]
        return (200, {"result": rows, "total": 100, "next": 50}) if call.method == "crm.lead.list" else None

    portal = h.portal(no_id)
    for fast in (True, False):
        with h.raises(UnexpectedResponse) as caught:
            list(h.api.iterate(portal.webhook, "crm.lead.list", fast=fast))
        expected = "a row after ID 0 has no whole-number 'ID'" if fast else "a row of the page at start=0 has no 'ID'"
        assert expected in str(caught.value)
    assert len(portal.requests) == 2


@kind("iterate", "a later batched page fails, echoing the token", "its typed APIError, no token; earlier rows kept")
def test_later_batched_page_fails(h: Check) -> None:
    def fails(call: Call) -> Optional[Answer]:
        if call.method == "crm.lead.list" and call.start == 100:
            return 400, {"error": "INVALID_ARG_VALUE", "error_description": f"bad start for auth={TOKEN}"}
        return None

    portal = h.portal(fails)
    rows: List[Any] = []
    with h.raises(InvalidRequest) as caught:
        rows.extend(h.api.iterate(portal.base, "crm.lead.list", {"order": {"ID": "ASC"}}, token=TOKEN))
    assert (caught.value.status, caught.value.method, caught.value.error) == (200, "crm.lead.list", "INVALID_ARG_VALUE")
    assert h.once(rows) == [str(i) for i in range(1, 101)] and len(portal.requests) == 2


@kind("iterate", "a batched page answered in neither part", "APIError MISSING_PAGE (fast and classic); rows kept")
def test_missing_page(h: Check) -> None:
    portal = h.portal(lambda call: UNANSWERED if call.key in ("p1", "s100") else None, records=300)
    rows: List[Any] = []
    with h.raises(APIError) as caught:
        rows.extend(h.api.iterate(portal.webhook, "crm.lead.list"))
    assert (caught.value.error, caught.value.error_description) == ("MISSING_PAGE", "no answer for the page at p1")
    assert h.once(rows) == [str(i) for i in range(1, 51)] and len(portal.requests) == 1
    rows.clear()
    with h.raises(APIError) as caught:
        rows.extend(h.api.iterate(portal.webhook, "crm.lead.list", fast=False))
    missing = ("MISSING_PAGE", "no answer for the page at start=100")
    assert (caught.value.error, caught.value.error_description) == missing
    assert h.once(rows) == [str(i) for i in range(1, 101)] and len(portal.requests) == 3


def _cli(h: Check, *args: str) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _cli_module.main(list(args))
    h.output(out.getvalue(), err.getvalue())
    return code, out.getvalue(), err.getvalue()


@kind(
    "cli",
    "Call --all and GetLeadsList --all with an empty ID list",
    "exit 2 naming params.filter.@ID; nothing sent",
    drivers=("sync",),
)
def test_cli_all_with_an_empty_id_list(h: Check) -> None:
    portal = h.portal()
    code, out, err = _cli(
        h, "Call", "--url", portal.webhook, "--method", "crm.lead.list", "--params", '{"filter": {"@ID": []}}', "--all"
    )
    assert (code, out) == (_cli_module.EXIT_USAGE, "") and "params.filter.@ID is an empty list" in err, err
    code, out, err = _cli(h, "GetLeadsList", "--url", portal.webhook, "--filter", '{"@ID": []}', "--all", "--quiet")
    assert (code, out) == (_cli_module.EXIT_USAGE, "") and "params.filter.@ID is an empty list" in err, err
    assert portal.requests == []
    code, out, err = _cli(h, "GetLeadsList", "--url", portal.webhook, "--filter", '{"@ID": [3, 5]}', "--all", "--quiet")
    assert code == 0 and [row["ID"] for row in json.loads(out)] == ["3", "5"] and len(portal.requests) == 1
