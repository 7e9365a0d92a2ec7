"""Bulk work (additions beyond OPI): call, batch, deferred commands, iterate, limits, refresh, typed errors."""

from __future__ import annotations

import contextvars
import json
import threading
from typing import Any, Dict, Iterator, List

import pytest
from simportal import WEBHOOK_KEY, SimPortal, parse_str

import opi_bitrix24 as b24
from opi_bitrix24 import _bulk, _cli, _deadline, _limits
from opi_bitrix24._auth import OAuthApp
from opi_bitrix24._bulk import Command, all_pages, batch, build_query, call, command, deferred, iterate
from opi_bitrix24._errors import (
    APIError,
    InvalidArgument,
    NotFound,
    OperationTimeLimit,
    QueryLimitExceeded,
    RefreshFailed,
)

WH = "https://example.bitrix24.ru/rest/1/hookKey123/"


@pytest.fixture
def sim() -> Iterator[SimPortal]:
    _limits.reset()
    portal = SimPortal(records=10_000, rate=1000.0, burst=1000)
    try:
        with b24.settings(rate_limit=None, backoff=0):
            yield portal
    finally:
        portal.close()
        _limits.reset()


# --- call -----------------------------------------------------------------------------------------


def test_call_posts_json_to_the_webhook(portal: Any) -> None:
    portal.reply(payload={"result": {"ID": "5"}})
    assert call(portal.webhook, "crm.lead.get", {"id": 5}) == {"result": {"ID": "5"}}
    seen = portal.requests[0]
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/rest/1/s3cretWebhookKey99/crm.lead.get", "")
    assert json.loads(seen["body"]) == {"id": 5}


def test_call_token_mode_sends_auth_first_and_no_params_means_no_body(portal: Any) -> None:
    call(portal.base, "profile", None, token="tok-abc-123")
    call(portal.base, "profile", {"x": [1, 2]}, token="tok-abc-123")
    assert portal.requests[0]["path"] == "/rest/profile"
    assert json.loads(portal.requests[0]["body"]) == {"auth": "tok-abc-123"}
    assert list(json.loads(portal.requests[1]["body"])) == ["auth", "x"]


def test_call_returns_error_bodies_by_default_and_raises_typed_errors_on_request(portal: Any) -> None:
    body = {"error": "NOT_FOUND", "error_description": "Not found"}
    portal.reply(400, body)
    assert call(portal.base, "crm.lead.get", {"id": 9}, token="tok-secret-77") == body
    portal.reply(400, body)
    with b24.settings(raise_api_errors=True), pytest.raises(NotFound) as caught:
        call(portal.base, "crm.lead.get", {"id": 9}, token="tok-secret-77")
    error = caught.value
    assert (error.status, error.method, error.error, error.error_description) == (
        400,
        "crm.lead.get",
        "NOT_FOUND",
        "Not found",
    )
    assert error.body == body and isinstance(error, APIError)
    assert "tok-secret-77" not in str(error) and str(error) == "crm.lead.get: HTTP 400 NOT_FOUND: Not found"


def test_raise_api_errors_also_applies_to_opi_functions(portal: Any) -> None:
    portal.reply(503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
    with b24.settings(raise_api_errors=True, retries=0), pytest.raises(QueryLimitExceeded):
        b24.get_task(portal.webhook, 1)


def test_call_refuses_a_bad_method_name_before_sending(portal: Any) -> None:
    with pytest.raises(InvalidArgument, match="method"):
        call(portal.webhook, "crm.lead.get?x=1")
    assert portal.requests == []


# --- PHP query encoding ---------------------------------------------------------------------------


def test_build_query_is_php_http_build_query() -> None:
    params = {
        "filter": {">ID": 5, "TITLE": "a b&c", "=STATUS": ["NEW", "OLD"]},
        "select": ["ID", "ТИТУЛ"],
        "flag": True,
        "off": False,
        "none": None,
        "empty": [],
        "rows": [{"PRICE": 1.5, "QTY": 2.0}],
    }
    assert build_query(params) == (
        "filter%5B%3EID%5D=5&filter%5BTITLE%5D=a+b%26c&filter%5B%3DSTATUS%5D%5B0%5D=NEW&filter%5B%3DSTATUS%5D%5B1%5D=OLD"
        "&select%5B0%5D=ID&select%5B1%5D=%D0%A2%D0%98%D0%A2%D0%A3%D0%9B&flag=1&off=0"
        "&rows%5B0%5D%5BPRICE%5D=1.5&rows%5B0%5D%5BQTY%5D=2"
    )
    assert parse_str(build_query(params))["filter"] == {
        ">ID": "5",
        "TITLE": "a b&c",
        "=STATUS": {"0": "NEW", "1": "OLD"},
    }


# --- batch ----------------------------------------------------------------------------------------


def test_batch_wire_format_and_result_per_key(portal: Any) -> None:
    portal.reply(
        payload={
            "result": {
                "result": {"k0": {"ID": "1"}, "k1": {"ID": "1"}},
                "result_error": [],
                "result_total": [],
                "result_next": [],
                "result_time": {"k0": {"operating": 0.1}, "k1": {"operating": 0.2}},
            },
            "time": {},
        }
    )
    out = batch(portal.webhook, [("crm.lead.get", {"id": 1}), ("crm.lead.get", {"id": "$result[k0][ID]"})])
    seen = portal.requests[0]
    assert seen["path"] == "/rest/1/s3cretWebhookKey99/batch"
    assert json.loads(seen["body"]) == {
        "halt": 0,
        "cmd": {"k0": "crm.lead.get?id=1", "k1": "crm.lead.get?id=%24result%5Bk0%5D%5BID%5D"},
    }
    assert out == {
        "result": {0: {"ID": "1"}, 1: {"ID": "1"}},
        "result_error": {},
        "result_total": {},
        "result_next": {},
        "result_time": {0: {"operating": 0.1}, 1: {"operating": 0.2}},
    }


def test_batch_splits_into_chunks_of_50_in_order_with_errors_per_key(sim: SimPortal) -> None:
    commands = [("crm.lead.get", {"id": i}) for i in range(1, 121)] + [("crm.lead.get", {"id": 0})]
    out = batch(sim.webhook, commands)
    assert sim.stats["batches"] == 3 and sim.stats["commands"] == 121
    assert list(out["result"]) == list(range(120))
    assert [row["ID"] for row in out["result"].values()] == [str(i) for i in range(1, 121)]
    assert out["result_error"] == {120: {"error": "NOT_FOUND", "error_description": "Not found"}}


def test_batch_references_resolve_inside_a_chunk_and_mapping_keys_are_kept(sim: SimPortal) -> None:
    out = batch(
        sim.webhook,
        {
            "first": ("crm.lead.list", {"filter": {">ID": 7}, "start": -1}),
            "then": ("crm.lead.get", {"id": "$result[first][0][ID]"}),
        },
    )
    assert list(out["result"]) == ["first", "then"]
    assert out["result"]["then"]["ID"] == "8"


def test_batch_refuses_a_reference_across_chunks_before_sending(portal: Any) -> None:
    commands = [("crm.lead.get", {"id": i}) for i in range(50)] + [("crm.lead.get", {"id": "$result[k3][ID]"})]
    with pytest.raises(InvalidArgument, match=r"k50 refers to \$result\[k3\].*same batch request of 50"):
        batch(portal.webhook, commands)
    with pytest.raises(InvalidArgument, match="unknown command"):
        batch(portal.webhook, [("crm.lead.get", {"id": "$result[nope][ID]"})])
    assert portal.requests == []


def test_batch_refuses_numeric_keys_so_the_list_quirk_cannot_bite(portal: Any) -> None:
    with pytest.raises(InvalidArgument, match="not a number"):
        batch(portal.webhook, {"1": ("profile", {}), "2": ("profile", {})})
    assert portal.requests == []


def test_batch_halt_stops_after_the_chunk_with_an_error(sim: SimPortal) -> None:
    commands = [("crm.lead.get", {"id": 0})] + [("crm.lead.get", {"id": i}) for i in range(1, 80)]
    out = batch(sim.webhook, commands, halt=True)
    assert sim.stats["batches"] == 1 and sim.stats["commands"] == 1
    assert out["result"] == {} and list(out["result_error"]) == list(range(80))  # every command accounted for
    assert out["result_error"][0] == {"error": "NOT_FOUND", "error_description": "Not found"}
    halted = {"error": "NOT_ANSWERED", "error_description": "the portal answered it in neither result nor result_error"}
    assert [out["result_error"][i] for i in range(1, 50)] == [halted] * 49
    unsent = {"error": "NOT_ANSWERED", "error_description": "not sent: an earlier command failed and halt is on"}
    assert [out["result_error"][i] for i in range(50, 80)] == [unsent] * 30


def test_batch_request_error_raises(portal: Any) -> None:
    portal.reply(401, {"error": "expired_token", "error_description": "The access token provided has expired."})
    with pytest.raises(APIError) as caught:
        batch(portal.base, [("profile", {})], token="tok-zzz-999")
    assert caught.value.error == "expired_token" and caught.value.status == 401


# --- OPI functions as batch commands --------------------------------------------------------------


def test_deferred_records_opi_functions_instead_of_sending(portal: Any) -> None:
    with deferred() as commands:
        assert b24.get_task(portal.webhook, 42) == {}
        b24.update_lead(portal.webhook, 7, {"TITLE": "x"})
        b24.get_deal(portal.webhook, 3)
        call(portal.webhook, "crm.contact.get", {"id": 2})
    assert portal.requests == []
    assert commands == [
        Command("tasks.task.get", {"taskId": "42"}),
        Command("crm.lead.update", {"fields": {"TITLE": "x"}, "id": "7"}),
        Command("crm.deal.get", {"id": "3"}),
        Command("crm.contact.get", {"id": 2}),
    ]


def test_command_and_batch_of_opi_functions(sim: SimPortal) -> None:
    assert command(b24.get_lead, sim.webhook, 5) == Command("crm.lead.get", {"id": "5"})
    with deferred() as commands:
        for i in (1, 2, 3):
            b24.update_lead(sim.webhook, i, {"TITLE": f"new {i}"})
    assert sim.stats["requests"] == 0
    out = batch(sim.webhook, commands + [command(b24.get_lead, sim.webhook, 2)])
    assert out["result"] == {0: True, 1: True, 2: True, 3: {"ID": "2", "TITLE": "new 2", "STATUS_ID": "NEW"}}
    assert dict(sim.updates) == {1: 1, 2: 1, 3: 1}


# --- iterate --------------------------------------------------------------------------------------


def test_iterate_fast_chains_50_pages_per_batch_request(sim: SimPortal) -> None:
    rows = iterate(sim.webhook, "crm.lead.list")
    first = next(rows)
    assert first["ID"] == "1" and sim.stats["requests"] == 1  # lazy: one batch request so far
    ids = [first["ID"]] + [row["ID"] for row in rows]
    assert ids == [str(i) for i in range(1, 10_001)]
    assert sim.stats["requests"] == 5 and sim.stats["503"] == 0  # 10,000 rows / 2,500 per batch request (+ the end)


def test_iterate_fast_without_batch_sends_start_minus_one_and_id_filter(portal: Any) -> None:
    page = [{"ID": str(i)} for i in range(1, 51)]
    portal.reply(payload={"result": page, "total": 0})
    portal.reply(payload={"result": [{"ID": "51"}], "total": 0})
    rows = list(iterate(portal.webhook, "crm.deal.list", {"filter": {"STAGE_ID": "NEW"}}, use_batch=False))
    assert [r["ID"] for r in rows] == [str(i) for i in range(1, 52)]
    assert [json.loads(r["body"]) for r in portal.requests] == [
        {"order": {"ID": "ASC"}, "filter": {"STAGE_ID": "NEW", ">ID": 0}, "start": -1},
        {"order": {"ID": "ASC"}, "filter": {"STAGE_ID": "NEW", ">ID": "50"}, "start": -1},
    ]


def test_iterate_classic_pages_with_start_and_batches_the_rest(sim: SimPortal) -> None:
    ids = [row["ID"] for row in iterate(sim.webhook, "crm.lead.list", {"filter": {"STATUS_ID": "NEW"}}, fast=False)]
    assert ids == [str(i) for i in range(2, 10_001, 2)]
    assert sim.stats["requests"] == 1 + 2  # the first page, then 99 pages in two batch requests


def test_iterate_result_shapes_tasks_are_wrapped(sim: SimPortal) -> None:
    rows = list(iterate(sim.webhook, "tasks.task.list", {"filter": {">ID": 9_990}}))
    assert [r["id"] for r in rows] == [str(i) for i in range(9_991, 10_001)]


def test_iterate_error_midway_raises_after_the_rows_it_had(portal: Any) -> None:
    portal.reply(payload={"result": [{"ID": "1"}], "total": 120, "next": 50})
    portal.reply(400, {"error": "INVALID_REQUEST", "error_description": "bad start"})
    rows = iterate(portal.webhook, "user.get", use_batch=False)
    assert next(rows) == {"ID": "1"}
    with pytest.raises(APIError, match=r"user\.get: HTTP 400 INVALID_REQUEST"):
        next(rows)


def test_iterate_error_in_a_batched_page_raises(sim: SimPortal) -> None:
    rows = iterate(sim.webhook, "crm.lead.list", {"filter": {">ID": "x"}, "order": {"ID": "DESC"}}, fast=False)
    out: List[Any] = []
    sim.leads[60:] = []  # the list shrinks between pages: no error, the rows that are there
    out.extend(rows)
    assert len(out) == 60


def test_all_pages_of_opi_list_functions(sim: SimPortal) -> None:
    assert len(all_pages(b24.get_leads_list, sim.webhook, {"STATUS_ID": "NEW"})) == 5_000
    deals = all_pages(b24.get_deals_list, sim.webhook)
    assert len({d["ID"] for d in deals}) == 10_000
    tasks = all_pages(b24.get_tasks_list, sim.webhook, {">ID": 9_900})
    assert [t["id"] for t in tasks] == [str(i) for i in range(9_901, 10_001)]
    with pytest.raises(InvalidArgument):
        all_pages(b24.get_app_auth_link, "example.bitrix24.ru", "client")


# --- rate limiting --------------------------------------------------------------------------------


def test_bucket_lets_the_burst_through_then_spaces_requests(monkeypatch: Any) -> None:
    now = [100.0]
    monkeypatch.setattr(_limits, "clock", lambda: now[0])
    bucket = _limits.Bucket(2.0, 4)  # one slot of the burst is kept free for network jitter
    assert [bucket.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.delay() == 0.5
    now[0] += 0.5
    assert bucket.delay() == 0.5  # one slot drained, but one is still owed to the previous caller
    now[0] += 10
    assert bucket.delay() == 0.0


def test_client_bucket_keeps_a_limited_portal_free_of_503() -> None:
    _limits.reset()
    with SimPortal(records=10, rate=50.0, burst=10) as sim:
        with b24.settings(rate_limit=None, retries=0):
            answers = [call(sim.webhook, "profile") for _ in range(25)]
        assert sum(1 for a in answers if a.get("error") == "QUERY_LIMIT_EXCEEDED") > 0
        sim.stats.clear()
        sim.level = 0.0
        with b24.settings(rate_limit=(50.0, 10), retries=0):

            def work() -> None:
                for _ in range(8):
                    call(sim.webhook, "profile")

            # threads start with a fresh context: run each in a copy of this one (the settings block)
            threads = [threading.Thread(target=contextvars.copy_context().run, args=(work,)) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert sim.stats["requests"] == 32 and sim.stats["503"] == 0
    _limits.reset()


def test_rate_limit_from_the_environment(monkeypatch: Any) -> None:
    before = b24.current_settings().rate_limit
    try:
        monkeypatch.setenv("OPI_BITRIX24_RATE_LIMIT", "5/250")
        _cli._rate_limit_from_env()
        assert b24.current_settings().rate_limit == (5.0, 250)
        for off in ("off", "none", "0", "no"):
            b24.configure(rate_limit=(2.0, 50))
            monkeypatch.setenv("OPI_BITRIX24_RATE_LIMIT", off)
            _cli._rate_limit_from_env()
            assert b24.current_settings().rate_limit is None, off
        monkeypatch.setenv("OPI_BITRIX24_RATE_LIMIT", "fast")
        assert _cli.main(["Call", "--url", WH, "--method", "profile"]) == _cli.EXIT_USAGE
    finally:
        b24.configure(rate_limit=before)


# --- operating time -------------------------------------------------------------------------------


def test_operating_time_429_body_by_default_typed_error_on_request() -> None:
    _limits.reset()
    with SimPortal(records=10, rate=1000, burst=1000, cost=1.0, budget=2.0) as sim, b24.settings(rate_limit=None):
        assert "result" in call(sim.webhook, "crm.lead.get", {"id": 1})
        assert _limits.operating_state(sim.webhook, "crm.lead.get") is not None
        call(sim.webhook, "crm.lead.get", {"id": 1})
        blocked = call(sim.webhook, "crm.lead.get", {"id": 1})
        assert blocked["error"] == "OPERATION_TIME_LIMIT"
        assert "result" in call(sim.webhook, "crm.deal.get", {"id": 1}) or True  # other methods keep working
        with b24.settings(raise_api_errors=True), pytest.raises(OperationTimeLimit) as caught:
            call(sim.webhook, "crm.lead.get", {"id": 1})
        assert caught.value.status == 429 and caught.value.method == "crm.lead.get"
        assert caught.value.reset_at is not None and "reset" in str(caught.value)
    _limits.reset()


def test_operating_time_wait_until_reset_within_the_bound(monkeypatch: Any) -> None:
    _limits.reset()
    slept: List[float] = []
    monkeypatch.setattr(_deadline, "_sleep", slept.append)  # the waits of the blocking driver
    with SimPortal(records=10, rate=1000, burst=1000, cost=1.0, budget=1.0, window=0.3) as sim:
        with b24.settings(rate_limit=None, operating_wait=5.0):
            call(sim.webhook, "crm.lead.get", {"id": 1})
            import time as clock

            clock.sleep(0.35)  # the simulated window passes
            assert "result" in call(sim.webhook, "crm.lead.get", {"id": 1})
    _limits.reset()


# --- OAuth refresh --------------------------------------------------------------------------------


def test_expired_token_refreshes_once_and_repeats_the_call(sim: SimPortal) -> None:
    saved: List[Dict[str, Any]] = []
    app = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1", on_refresh=saved.append)
    with b24.settings(oauth_app=app, oauth_url=sim.oauth_url):
        assert call(sim.base, "profile", token="access-1")["result"]["ID"] == "1"
        sim.expire()
        assert call(sim.base, "profile", token="access-1")["result"]["ID"] == "1"
        assert b24.get_lead(sim.base, 3, token="access-1")["result"]["ID"] == "3"  # the new token is used
    assert sim.stats["refreshes"] == 1 and sim.stats["expired"] == 1
    assert (app.access_token, app.refresh_token) == ("access-2", "refresh-2")
    assert [s["refresh_token"] for s in saved] == ["refresh-2"]


def test_concurrent_expiries_coalesce_on_one_refresh(sim: SimPortal) -> None:
    app = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1")
    sim.expire()
    results: List[Any] = []
    with b24.settings(oauth_app=app, oauth_url=sim.oauth_url):
        config = b24.current_settings()

        def work() -> None:
            with b24.settings(oauth_app=config.oauth_app, oauth_url=config.oauth_url, rate_limit=None):
                results.append(call(sim.base, "profile", token="access-1"))

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [r["result"]["ID"] for r in results] == ["1"] * 8
    assert sim.stats["refreshes"] == 1 and sim.stats["bad_refresh"] == 0


def test_failed_refresh_raises_without_secrets(sim: SimPortal) -> None:
    app = OAuthApp(sim.client_id, "wrongSecretValue", "refresh-0", "access-1")
    sim.expire()
    with b24.settings(oauth_app=app, oauth_url=sim.oauth_url), pytest.raises(RefreshFailed) as caught:
        call(sim.base, "profile", token="access-1")
    text = str(caught.value)
    assert "invalid_client" in text and "wrongSecretValue" not in text and "refresh-0" not in text
    assert "wrongSecretValue" not in repr(app)


def test_no_refresh_without_an_app(sim: SimPortal) -> None:
    sim.expire()
    assert call(sim.base, "profile", token="access-1")["error"] == "expired_token"
    assert sim.stats["refreshes"] == 0


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_call_and_all(sim: SimPortal, capsys: Any) -> None:
    assert _cli.main(["Call", "--url", sim.webhook, "--method", "crm.lead.get", "--params", '{"id": 3}']) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == {"ID": "3", "TITLE": "Lead 3", "STATUS_ID": "IN_PROCESS"}
    assert (
        _cli.main(["GetLeadsList", "--url", sim.webhook, "--filter", '{"STATUS_ID": "NEW"}', "--all", "--quiet"]) == 0
    )
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 5_000 and captured.err == ""
    assert _cli.main(["Call", "--url", sim.webhook, "--method", "tasks.task.list", "--all"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 10_000
    assert WEBHOOK_KEY not in capsys.readouterr().err


def test_cli_usage_errors(capsys: Any) -> None:
    assert _cli.main(["Call", "--url", WH]) == _cli.EXIT_USAGE
    assert "Call needs --method" in capsys.readouterr().err
    assert _cli.main(["GetTask", "--url", WH, "--task", "1", "--all"]) == _cli.EXIT_USAGE
    assert "not a paged list method" in capsys.readouterr().err
    assert _cli.main(["Call", "--help"]) == 0 and "--method" in capsys.readouterr().out


def test_progress_is_silent_when_not_a_terminal(sim: SimPortal, capsys: Any) -> None:
    assert len(list(iterate(sim.webhook, "crm.lead.list"))) == 10_000
    assert capsys.readouterr().err == ""
    assert _bulk._Progress("x").on is False


def test_fast_mode_chain_on_the_wire(portal: Any) -> None:
    rows = [{"ID": str(i)} for i in range(1, 31)]
    portal.reply(payload={"result": {"result": {"p0": rows}, "result_error": [], "result_time": {}}, "time": {}})
    assert len(list(iterate(portal.webhook, "crm.lead.list", {"select": ["ID"]}))) == 30
    cmd = json.loads(portal.requests[0]["body"])["cmd"]
    assert list(cmd) == [f"p{i}" for i in range(50)]
    assert cmd["p0"] == "crm.lead.list?select%5B0%5D=ID&order%5BID%5D=ASC&filter%5B%3EID%5D=0&start=-1"
    assert cmd["p1"] == (
        "crm.lead.list?select%5B0%5D=ID&order%5BID%5D=ASC&filter%5B%3EID%5D=%24result%5Bp0%5D%5B49%5D%5BID%5D&start=-1"
    )


class _Terminal:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_line_on_a_terminal_and_quiet(monkeypatch: Any) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    progress = _bulk._Progress("batch", 100)
    progress.add(40)
    progress.close()
    assert terminal.text.startswith("\rbatch: 40/100 (") and "ETA" in terminal.text and terminal.text.endswith("\n")
    quiet = _bulk._Progress("batch", 100, quiet=True)
    quiet.add(40)
    assert quiet.on is False


# --- nothing widened, nothing changed on the way (issue 18 items 1, 3, 4) ----------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter": {"@ID": []}}, "commands[0].filter.@ID is an empty list"),
        ({"filter": {"STATUS_ID": "NEW", "=ASSIGNED": None}}, "commands[0].filter.=ASSIGNED is None"),
        ({"fields": {"UF_CRM_1": {}}}, "commands[0].fields.UF_CRM_1 is an empty mapping"),
        ({"select": ["ID", ()]}, "commands[0].select.1 is an empty list"),
        ({"fields": {"a[b]": 1}}, "commands[0].fields has the key 'a[b]'"),
        ({"fields": {"": 1}}, "commands[0].fields has the key ''"),
        ({"a.b": 1}, "commands[0] has the key 'a.b': the portal reads . and spaces in a name as _"),
        ({"fields": {1: "x", "1": "y"}}, "commands[0].fields has the keys 1 and '1': one key on the wire"),
        ({"fields": {True: "x"}}, "commands[0].fields has the key True: keys must be text or whole numbers"),
    ],
)
def test_batch_refuses_what_its_encoding_cannot_carry_before_sending(portal: Any, params: Any, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        batch(portal.webhook, [("crm.lead.list", params)])
    assert caught.value.parameter == "commands" and message in str(caught.value)
    assert portal.requests == []


def test_batch_refuses_a_bad_command_of_a_later_chunk_before_the_first_is_sent(portal: Any) -> None:
    commands = [("crm.lead.get", {"id": i}) for i in range(60)] + [("crm.lead.list", {"filter": {"@ID": []}})]
    with pytest.raises(InvalidArgument, match=r"commands\[60\]\.filter\.@ID is an empty list"):
        batch(portal.webhook, commands)
    assert portal.requests == []


def test_batch_refuses_command_keys_that_are_not_text_and_sends_nested_values_it_can_carry(portal: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"key True: use text"):
        batch(portal.webhook, {True: ("profile", {}), "True": ("profile", {})})  # type: ignore[dict-item]
    assert portal.requests == []
    portal.reply(payload={"result": {"result": {"k0": []}, "result_error": []}})
    batch(portal.webhook, [("crm.lead.list", {"filter": {"@ID": (1, 2), "x.y": False}, "select": {"ID"}})])
    assert portal.json_body(-1)["cmd"] == {
        "k0": "crm.lead.list?filter%5B%40ID%5D%5B0%5D=1&filter%5B%40ID%5D%5B1%5D=2&filter%5Bx.y%5D=0&select%5B0%5D=ID"
    }


def test_iterate_refuses_an_empty_list_in_a_filter_instead_of_widening_it(portal: Any) -> None:
    for fast in (None, False):
        with pytest.raises(InvalidArgument) as caught:
            next(iterate(portal.webhook, "crm.lead.list", {"filter": {"@ID": []}}, fast=fast))
        assert str(caught.value).startswith("params: params.filter.@ID is an empty list")
    with pytest.raises(InvalidArgument, match=r"params\.filter\.@ID is an empty list"):
        all_pages(b24.get_leads_list, portal.webhook, {"@ID": []})
    with pytest.raises(InvalidArgument, match=r"params\.filter\.STATUS_ID is None"):
        list(iterate(portal.webhook, "user.get", {"filter": {"STATUS_ID": None}}, use_batch=False))
    assert portal.requests == []


def test_recorded_commands_holding_reference_text_are_refused(portal: Any) -> None:
    for text in ("Invoice $result[k0][0][UF_SALARY]", "x $RESULT[k0]", "$Next[k0]", "$total[k0]", "$TIME[k0]"):
        with deferred() as commands:
            b24.get_leads_list(portal.webhook)
            b24.update_lead(portal.webhook, 7, {"TITLE": text})
        with pytest.raises(InvalidArgument) as caught:
            batch(portal.webhook, commands)
        spelling = text.split()[-1].split("]")[0] + "]"
        assert str(caught.value).startswith(f"commands: commands[1].fields.TITLE holds '{spelling}'")
    with pytest.raises(InvalidArgument, match=r"commands\[k\]\.fields\.TITLE holds '\$error\[a\]'"):
        batch(portal.webhook, {"k": command(b24.update_lead, portal.webhook, 7, {"TITLE": "$error[a]"})})
    with pytest.raises(InvalidArgument, match=r"params\.filter\.TITLE holds '\$result\[p0\]'"):
        next(iterate(portal.webhook, "crm.lead.list", {"filter": {"TITLE": "$result[p0][0][ID]"}}))
    assert portal.requests == []
    assert repr(command(b24.get_lead, portal.webhook, 5)) == "Command(method='crm.lead.get', params={'id': '5'})"


def test_the_cross_chunk_guard_knows_every_reference_spelling_in_any_case(portal: Any) -> None:
    for spelling in ("$RESULT[k3]", "$next[k3]", "$Total[k3]", "$time[k3]", "$ERROR[k3]", "$result_next[k3]"):
        commands = [("crm.lead.get", {"id": i}) for i in range(50)] + [("crm.lead.get", {"id": spelling})]
        with pytest.raises(InvalidArgument, match=r"command k50 refers to \$result\[k3\]"):
            batch(portal.webhook, commands)
        with pytest.raises(InvalidArgument, match="an unknown command"):
            batch(portal.webhook, [("crm.lead.get", {"id": spelling.replace("k3", "zz")})])
    assert portal.requests == []
    portal.reply(payload={"result": {"result": {"k0": {"ID": "1"}, "k1": {"ID": "1"}}, "result_error": []}})
    batch(portal.webhook, [("crm.lead.get", {"id": 1}), ("crm.lead.get", {"id": "$Result[k0][ID]"})])
    assert portal.json_body()["cmd"]["k1"] == "crm.lead.get?id=%24Result%5Bk0%5D%5BID%5D"  # a reference, as meant


def test_a_command_answered_in_neither_part_is_reported(portal: Any) -> None:
    portal.reply(payload={"result": {"result": {"a": True}, "result_error": [], "result_time": []}})
    out = batch(portal.webhook, {"a": ("crm.lead.update", {"id": 1}), "b": ("crm.lead.update", {"id": 2})})
    assert out["result"] == {"a": True}
    assert out["result_error"] == {
        "b": {"error": "NOT_ANSWERED", "error_description": "the portal answered it in neither result nor result_error"}
    }


def test_raise_api_errors_makes_batch_raise_the_first_failed_command(sim: SimPortal) -> None:
    commands = [("crm.lead.update", {"id": i, "fields": {"TITLE": "t"}}) for i in (1, 2, 0, 3)]
    commands += [("crm.lead.update", {"id": i, "fields": {"TITLE": "t"}}) for i in range(4, 60)]
    with b24.settings(raise_api_errors=True), pytest.raises(NotFound) as caught:
        batch(sim.webhook, commands)
    assert str(caught.value) == (
        "crm.lead.update: HTTP 200 NOT_FOUND: Not found (batch command 2; 49 of 60 commands succeeded)"
    )
    assert (caught.value.status, caught.value.method, caught.value.error) == (200, "crm.lead.update", "NOT_FOUND")
    assert sim.stats["batches"] == 1 and sorted(sim.updates) == list(range(1, 50))  # no second chunk
    portal = b24.Portal(sim.webhook, raise_api_errors=True)  # the case: it returned the failure
    with pytest.raises(NotFound, match=r"crm\.lead\.update: HTTP 200 NOT_FOUND: Not found \(batch command 'b'; 1 of 2"):
        portal.batch({"a": ("profile", {}), "b": ("crm.lead.update", {"id": 0, "fields": {"TITLE": "x"}})})


# --- settings in threads (issue 18 item 10) -------------------------------------------------------


def test_settings_reach_the_package_worker_threads_and_callers_pools() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from opi_bitrix24 import _convert

    def read(_: int) -> None:  # what reading a text argument as a file checks first
        _convert.allowed_source("file", "note")

    with b24.settings(sources="none", timeout=(5, 30)), ThreadPoolExecutor(4) as pool:
        plain = list(pool.map(lambda _: b24.current_settings().sources, range(4)))
        carried = [pool.submit(_bulk._carry(lambda _: b24.current_settings()), i) for i in range(8)]
        documented = [pool.submit(contextvars.copy_context().run, b24.current_settings) for _ in range(4)]
        refused = pool.submit(_bulk._carry(read), 0)
        with pytest.raises(InvalidArgument, match=r"Settings\.sources='none'"):
            refused.result()
    assert plain == ["all"] * 4  # a bare pool thread starts with a fresh context: the block does not reach it
    assert {(f.result().sources, f.result().timeout) for f in carried + documented} == {("none", (5, 30))}
