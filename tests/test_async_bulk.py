"""The bulk guarantees through the async entry points (issue 22): acall, acall_many, abatch, aiterate, aall_pages.

The same flows as the blocking entry points (opi_bitrix24/_bulk.py), run on an event loop: each row once,
nothing widened, every command accounted for, endless page loops stopped, order kept with several
requests in flight; on the loopback SimPortal and the hostile portal of tests/hostile.py. Each test runs
with every async driver there is: the package's own (opi_bitrix24/_async.py) once it and the core's
exchange flow are there, and always a stand-in that performs each effect with the blocking driver in a
worker thread (so the flows' async path is tested on its own).
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, TypeVar

import pytest
from hostile import KEY, TOKEN, UNANSWERED, Answer, Call, HostilePortal

import opi_bitrix24 as b24
from opi_bitrix24 import _bulk, _limits, _pace
from opi_bitrix24._bulk import Parallel, Wait
from opi_bitrix24._errors import APIError, InvalidArgument, InvalidRequest, UnexpectedResponse
from opi_bitrix24.testing import SimPortal, lead

T = TypeVar("T")


async def standin(effect: Any) -> Any:
    """An async performer of bulk effects: the blocking driver in worker threads (the context copied)."""
    if isinstance(effect, Wait):
        await asyncio.sleep(effect.seconds)
        return None
    if isinstance(effect, Parallel):
        jobs = [asyncio.to_thread(_bulk._outcome, item) for item in effect.exchanges]
        return list(await asyncio.gather(*jobs))
    return await asyncio.to_thread(_bulk._perform, effect)


def _real_driver() -> bool:
    """The package's async driver can run exchanges: _async.py, the async extra and the exchange flow."""
    if importlib.util.find_spec("opi_bitrix24._async") is None or importlib.util.find_spec("aiohttp") is None:
        return False
    from opi_bitrix24 import _flow

    return hasattr(_flow, "exchange")


DRIVERS = ["standin", *(["aio"] if _real_driver() else [])]


@pytest.fixture(params=DRIVERS)
def driver(request: Any, monkeypatch: Any) -> Iterator[str]:
    if request.param == "standin":
        monkeypatch.setattr(_bulk, "_aperform", standin)
    _limits.reset()
    _pace.reset()
    with b24.settings(rate_limit=None, backoff=0, progress=False):
        yield request.param
    _limits.reset()
    _pace.reset()


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        try:
            return await coroutine
        finally:
            if "aio" in DRIVERS:
                from opi_bitrix24 import _async

                await _async.aclose()

    return asyncio.run(main())


async def rows_of(iterator: Any) -> List[Any]:
    return [row async for row in iterator]


async def collect(iterator: Any, rows: List[Any]) -> None:
    """Read into ``rows`` (what was read before an error stays there)."""
    async for row in iterator:
        rows.append(row)


# --- the same answers as the blocking entry points ---------------------------------------------------


def test_acall_and_acall_many_answer_as_call_and_call_many(driver: str) -> None:
    with SimPortal(records=100, rate=1000, burst=1000) as sim, b24.settings(concurrency=2):
        assert run(_bulk.acall(sim.webhook, "crm.lead.get", {"id": 3}))["result"] == lead(3)
        missing = run(_bulk.acall(sim.webhook, "crm.lead.get", {"id": 5_000}))
        assert (missing["error"], missing["error_description"]) == ("NOT_FOUND", "Not found")
        assert set(missing) == set(_bulk.call(sim.webhook, "crm.lead.get", {"id": 5_000}))
        sets = [{"id": n} for n in range(1, 121)]
        sets[7] = {"id": 5_000}
        answers = run(_bulk.acall_many(sim.webhook, "crm.lead.get", sets))
        assert sim.stats["batches"] == 3 and sim.stats["requests"] == 3 + 3
        assert answers[0]["result"] == lead(1) and set(answers[0]) == {"result", "time"}
        assert answers[7] == {"error": "NOT_FOUND", "error_description": "Not found"}
        assert [a["result"]["ID"] for i, a in enumerate(answers[:100]) if i != 7] == [
            str(n) for n in range(1, 101) if n != 8
        ]
        with b24.settings(raise_api_errors=True), pytest.raises(b24.NotFound):
            run(_bulk.acall(sim.webhook, "crm.lead.get", {"id": 5_000}))
        sim.reset_counters()
        with pytest.raises(InvalidArgument, match=r"params\[1\]\.fields\.TITLE holds '\$result\[k0\]'"):
            run(
                _bulk.acall_many(
                    sim.webhook, "crm.lead.update", [{"id": 1}, {"id": 2, "fields": {"TITLE": "$result[k0]"}}]
                )
            )
        with pytest.raises(InvalidArgument, match="method"):
            run(_bulk.acall(sim.webhook, "crm lead get"))
        assert sim.stats["requests"] == 0


def test_abatch_chunks_in_flight_together_every_write_once_answers_in_order(driver: str) -> None:
    with SimPortal(records=600, rate=1000, burst=1000, command_time=0.004) as sim, b24.settings(concurrency=4):
        with b24.deferred() as commands:
            for number in range(1, 501):
                b24.update_lead(sim.webhook, number, {"TITLE": f"new {number}"})
        commands.append(b24.command(b24.get_lead, sim.webhook, 600))
        out = run(_bulk.abatch(sim.webhook, commands))
        assert list(out["result"]) == list(range(501)) and out["result_error"] == {}
        assert all(out["result"][i] is True for i in range(500))
        assert out["result"][500] == {"ID": "600", "TITLE": "Lead 600", "STATUS_ID": "NEW"}
        assert dict(sim.updates) == {n: 1 for n in range(1, 501)}
        assert sim.stats["batches"] == 11 and sim.stats["commands"] == 501
        assert 2 <= sim.stats["max_in_flight"] <= 4


def test_abatch_halt_and_raise_api_errors_one_chunk_at_a_time(driver: str) -> None:
    with SimPortal(records=200, rate=1000, burst=1000) as sim, b24.settings(concurrency=4):
        commands = [("crm.lead.get", {"id": n}) for n in range(1, 151)]
        commands[60] = ("crm.lead.get", {"id": 999})
        out = run(_bulk.abatch(sim.webhook, commands, halt=True))
        assert sim.stats["batches"] == 2 and sim.stats["max_in_flight"] == 1
        assert out["result_error"][60]["error"] == "NOT_FOUND" and 59 in out["result"] and 100 not in out["result"]
        assert out["result_error"][120]["error"] == _bulk.NOT_ANSWERED  # never sent, still accounted for
        sim.reset_counters()
        with b24.settings(raise_api_errors=True), pytest.raises(b24.NotFound, match="batch command 60"):
            run(_bulk.abatch(sim.webhook, commands))
        assert sim.stats["batches"] == 2 and sim.stats["max_in_flight"] == 1


def test_aiterate_fast_export_in_parts_every_row_once_in_order(driver: str) -> None:
    with SimPortal(records=10_000, rate=1000, burst=1000) as sim, b24.settings(concurrency=4):
        ids = [row["ID"] for row in run(rows_of(_bulk.aiterate(sim.webhook, "crm.lead.list")))]
        assert ids == [str(n) for n in range(1, 10_001)]
        # the same requests as the blocking export: 49 pages and the highest ID, three parts, the rest
        assert sim.stats["requests"] == 5 and sim.stats["commands"] == 50 + 3 * 50 + 2
        assert sim.stats["rows"] == 10_000 + 50 and sim.stats["503"] == 0
        flt = {"STATUS_ID": "NEW", ">ID": 1_000, "<=ID": 7_000}
        ids = [row["ID"] for row in run(rows_of(_bulk.aiterate(sim.webhook, "crm.lead.list", {"filter": flt})))]
        assert ids == [str(n) for n in range(1_002, 7_001, 2)]


def test_aiterate_classic_pages_in_flight_together_in_order(driver: str) -> None:
    with SimPortal(records=10_000, rate=1000, burst=1000) as sim, b24.settings(concurrency=3):
        rows = run(rows_of(_bulk.aiterate(sim.webhook, "crm.lead.list", {"order": {"ID": "DESC"}})))
        assert [row["ID"] for row in rows] == [str(n) for n in range(10_000, 0, -1)]
        assert sim.stats["requests"] == 1 + 4  # the first page, then 199 pages in four batch requests
        sim.reset_counters()
        rows = run(rows_of(_bulk.aiterate(sim.webhook, "crm.lead.list", {"order": {"ID": "DESC"}}, use_batch=False)))
        assert len(rows) == 10_000 and sim.stats["requests"] == 200 and sim.stats["batches"] == 0


def test_aall_pages_equals_all_pages(driver: str) -> None:
    with SimPortal(records=5_000, rate=1000, burst=1000) as sim:
        with b24.settings(concurrency=1):
            alone = b24.all_pages(b24.get_deals_list, sim.webhook, {"STAGE_ID": "WON"})
        with b24.settings(concurrency=5):
            together = run(_bulk.aall_pages(b24.get_deals_list, sim.webhook, {"STAGE_ID": "WON"}))
            fast = run(_bulk.aall_pages(b24.get_deals_list, sim.webhook, {"STAGE_ID": "WON"}, fast=True))
    assert together == alone == fast and len(alone) == len({d["ID"] for d in alone}) > 500


def test_many_exports_on_one_loop_each_keep_their_order(driver: str) -> None:
    async def main(portals: List[SimPortal]) -> List[List[str]]:
        async def export(sim: SimPortal) -> List[str]:
            return [row["ID"] async for row in _bulk.aiterate(sim.webhook, "crm.lead.list")]

        return list(await asyncio.gather(*(export(sim) for sim in portals)))

    portals = [SimPortal(records=3_000 + 500 * i, rate=1000, burst=1000) for i in range(3)]
    try:
        with b24.settings(concurrency=3):
            exports = run(main(portals))
    finally:
        for sim in portals:
            sim.close()
    assert exports == [[str(n) for n in range(1, 3_001 + 500 * i)] for i in range(3)]


def test_the_pages_are_fetched_as_the_loop_asks_and_a_cancelled_export_leaves_no_reservation(driver: str) -> None:
    finished: List[Any] = []

    async def main(sim: SimPortal) -> int:
        rows = _bulk.aiterate(sim.webhook, "crm.lead.list", {"order": {"ID": "ASC"}})
        first = await rows.__anext__()
        assert first["ID"] == "1" and sim.stats["requests"] == 1  # nothing fetched ahead of the reader
        task = asyncio.ensure_future(rows_of(rows))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sim.stats["requests"]

    with SimPortal(records=20_000, rate=1000, burst=1000, command_time=0.01) as sim:
        with b24.settings(concurrency=2, operating_budget=(480.0, 600.0), progress=finished.append):
            requests = run(main(sim))
    assert 1 < requests < 1 + 8  # cancelled while the pages were read
    assert finished[-1].finished  # the flow was closed: its progress ended
    with _pace._lock:
        assert all(state.in_flight == 0 and state.reserved == 0 for state in _pace._methods.values())


def test_operating_time_pacing_through_the_async_path_meets_no_429(driver: str) -> None:
    scaled: Dict[str, Any] = {"records": 1_000, "rate": 1000, "burst": 1000, "command_time": 2.0, "time_scale": 600}
    with SimPortal(**scaled) as sim, b24.settings(concurrency=4, operating_budget=(480.0, 1.0)):
        sets = [{"id": n, "fields": {"TITLE": f"t{n}"}} for n in range(1, 601)]
        answers = run(_bulk.acall_many(sim.webhook, "crm.lead.update", sets))
    assert [a.get("result") for a in answers] == [True] * 600
    assert sim.stats["429"] == 0 and dict(sim.updates) == {n: 1 for n in range(1, 601)}


# --- the hostile portal ---------------------------------------------------------------------------------


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostilePortal]]:
    made: List[HostilePortal] = []

    def make(handler: Optional[Callable[[Call], Optional[Answer]]] = None, records: int = 120) -> HostilePortal:
        made.append(HostilePortal(handler, records))
        return made[-1]

    yield make
    for portal in made:
        portal.close()


def ids(first: int, last: int) -> List[Dict[str, Any]]:
    return [{"ID": str(i)} for i in range(first, last + 1)]


def once(rows: List[Any]) -> List[str]:
    seen = [str(row["ID"]) for row in rows]
    assert len(seen) == len(set(seen)), "a row came twice"
    return seen


def test_nothing_is_widened_and_nothing_sent(driver: str, hostile: Callable[..., HostilePortal]) -> None:
    portal = hostile()
    for fast in (True, False):
        with pytest.raises(InvalidArgument) as caught:
            _bulk.aiterate(portal.webhook, "crm.lead.list", {"filter": {"@ID": []}}, fast=fast)
        assert "params.filter.@ID" in str(caught.value)
    with pytest.raises(InvalidArgument, match=r"filter\.@ID"):
        run(_bulk.aall_pages(b24.get_leads_list, portal.webhook, {"@ID": [], "STATUS_ID": "NEW"}))
    with pytest.raises(InvalidArgument, match=r"commands\[0\]\.filter\.ID is None"):
        run(_bulk.abatch(portal.webhook, [("crm.lead.list", {"filter": {"ID": None}})]))
    with b24.deferred() as commands:
        b24.update_lead(portal.webhook, 7, {"TITLE": "Invoice $result[k0][0][UF_SALARY]"})
    with pytest.raises(InvalidArgument, match=r"commands\[0\]\.fields\.TITLE holds '\$result\[k0\]'"):
        run(_bulk.abatch(portal.webhook, commands))
    assert portal.requests == []
    # every page of a classic loop carries the first page's filter
    flt = {"@ID": ["2", "4", "6"] + [str(n) for n in range(8, 120, 2)], "STATUS_ID": "NEW"}
    rows = run(rows_of(_bulk.aiterate(portal.webhook, "crm.lead.list", {"filter": flt}, fast=False)))
    assert once(rows) == [str(n) for n in range(2, 120, 2)]
    listed = {**flt, "@ID": {str(i): v for i, v in enumerate(flt["@ID"])}}  # as PHP's parse_str reads it
    assert [(c.start, c.filter) for c in portal.rest_calls()] == [(0, flt), (50, listed)]


def _never_ending(call: Call) -> Optional[Answer]:
    if call.method == "user.get":  # the same 50 rows whatever start says, next forever
        return 200, {"result": ids(1, 50), "total": 1_000_000_000, "next": call.start + 50}
    return None


def test_endless_page_loops_stop_with_each_row_once(driver: str, hostile: Callable[..., HostilePortal]) -> None:
    for batched in (True, False):
        portal = hostile(_never_ending)
        rows: List[Any] = []
        with pytest.raises(UnexpectedResponse, match="the page at start=50 repeats ID 1, already yielded"):
            run(collect(_bulk.aiterate(portal.webhook, "user.get", use_batch=batched), rows))
        assert once(rows) == [str(i) for i in range(1, 51)] and len(portal.requests) == 2
        second = portal.requests[1]  # one batch of 50 pages (not 20M pages), or the next page alone
        assert len(second.commands()) == 50 if batched else second.path == f"/rest/1/{KEY}/user.get"

    def ignores(call: Call) -> Optional[Answer]:
        return (200, {"result": ids(1, 50), "total": 0}) if call.method == "crm.lead.list" else None

    for concurrency in (1, 4):
        portal = hostile(ignores)
        rows = []
        with b24.settings(concurrency=concurrency), pytest.raises(UnexpectedResponse, match="ignores the filter"):
            run(collect(_bulk.aiterate(portal.webhook, "crm.lead.list"), rows))
        assert once(rows) == [str(i) for i in range(1, 51)] and len(portal.requests) == 1


def test_every_command_is_accounted_for(driver: str, hostile: Callable[..., HostilePortal]) -> None:
    portal = hostile(lambda call: UNANSWERED if call.key == "b" else None)
    out = run(_bulk.abatch(portal.webhook, {"a": ("crm.lead.get", {"id": 1}), "b": ("crm.lead.get", {"id": 2})}))
    assert out["result"]["a"]["ID"] == "1" and out["result_error"]["b"]["error"] == _bulk.NOT_ANSWERED
    with b24.settings(raise_api_errors=True), pytest.raises(APIError, match="NOT_ANSWERED"):
        run(_bulk.abatch(portal.webhook, {"a": ("crm.lead.get", {"id": 1}), "b": ("crm.lead.get", {"id": 2})}))


def test_a_later_page_fails_rows_before_it_kept_no_secret(driver: str, hostile: Callable[..., HostilePortal]) -> None:
    def fails(call: Call) -> Optional[Answer]:
        if call.method == "crm.lead.list" and call.start == 100:
            return 400, {"error": "INVALID_ARG_VALUE", "error_description": f"bad start for auth={TOKEN}"}
        return None

    portal = hostile(fails, records=300)
    rows: List[Any] = []
    with pytest.raises(InvalidRequest) as caught:
        run(collect(_bulk.aiterate(portal.base, "crm.lead.list", {"order": {"ID": "ASC"}}, token=TOKEN), rows))
    assert (caught.value.status, caught.value.method, caught.value.error) == (200, "crm.lead.list", "INVALID_ARG_VALUE")
    text = f"{caught.value} {caught.value.body!r} {caught.value!r}"
    assert TOKEN not in text and "auth=***" in text
    assert once(rows) == [str(i) for i in range(1, 101)] and len(portal.requests) == 2

    def batch_fails(call: Call) -> Optional[Answer]:
        echo = f"bad request to /rest/1/{KEY}/batch"
        return (400, {"error": "INVALID_REQUEST", "error_description": echo}) if call.method == "batch" else None

    portal = hostile(batch_fails)
    with pytest.raises(APIError) as failed:
        run(_bulk.abatch(portal.webhook, [("crm.lead.get", {"id": 1})]))
    assert (
        failed.value.error == "INVALID_REQUEST" and KEY not in str(failed.value) and KEY not in repr(failed.value.body)
    )
