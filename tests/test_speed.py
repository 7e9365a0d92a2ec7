"""Concurrency, operating-time pacing and call_many in bulk work (issue 19 items 3-4), on the simulated portal.

Behaviour only (order, every row and write once, the bound on requests in flight, no 429): the speed
itself is measured by benchmarks/bulk.py, never here.
"""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import _limits, _pace, _pool
from opi_bitrix24.testing import SimPortal, lead


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    _limits.reset()
    _pace.reset()
    yield
    _limits.reset()
    _pace.reset()


# --- the pool -------------------------------------------------------------------------------------


def test_ordered_keeps_order_bounds_jobs_in_flight_and_carries_the_context() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="none")
    marker.set("caller")
    running, most = [0], [0]
    lock = threading.Lock()

    together = threading.Barrier(4, timeout=10)  # the first four must all be running at once

    def job(number: int) -> Callable[[], str]:
        def run() -> str:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            if number < 4:
                together.wait()
            time.sleep(0.01 * (number % 3))  # finish out of order
            with lock:
                running[0] -= 1
            return f"{number}:{marker.get()}"

        return run

    results = list(_pool.ordered((job(n) for n in range(20)), 4))
    assert results == [f"{n}:caller" for n in range(20)]
    assert most[0] == 4


def test_ordered_raises_the_first_error_in_order_and_starts_nothing_after_it() -> None:
    started: List[int] = []
    failing = threading.Event()

    def job(number: int) -> Callable[[], int]:
        def run() -> int:
            started.append(number)
            if number == 1:
                failing.set()
                raise ValueError("job 1")
            if number == 0:
                failing.wait(5)  # job 0 finishes after job 1 failed
                time.sleep(0.1)
            return number

        return run

    out: List[int] = []
    with pytest.raises(ValueError, match="job 1"):
        for value in _pool.ordered((job(n) for n in range(10)), 2):
            out.append(value)
    assert out == [0] and sorted(started) == [0, 1]


def test_ordered_with_one_worker_runs_lazily_in_the_callers_thread() -> None:
    seen: List[str] = []
    jobs = _pool.ordered((lambda n=n: seen.append(threading.current_thread().name) or n for n in range(3)), 1)
    assert next(jobs) == 0 and len(seen) == 1 and seen[0] == threading.current_thread().name


# --- batch, classic pages and exports with several requests in flight ---------------------------------


def test_batch_chunks_in_flight_together_answers_in_order_each_write_once() -> None:
    with (
        SimPortal(records=600, rate=1000, burst=1000, command_time=0.004) as sim,
        b24.settings(concurrency=4, rate_limit=None),
    ):
        with b24.deferred() as commands:
            for number in range(1, 501):
                b24.update_lead(sim.webhook, number, {"TITLE": f"new {number}"})
        commands.append(b24.command(b24.get_lead, sim.webhook, 600))
        out = b24.batch(sim.webhook, commands)
        assert list(out["result"]) == list(range(501)) and out["result_error"] == {}
        assert all(out["result"][i] is True for i in range(500))
        assert out["result"][500] == {"ID": "600", "TITLE": "Lead 600", "STATUS_ID": "NEW"}
        assert dict(sim.updates) == {n: 1 for n in range(1, 501)}
        assert sim.leads.row(7) == {"ID": "7", "TITLE": "new 7", "STATUS_ID": "IN_PROCESS"}
        assert sim.stats["batches"] == 11 and sim.stats["commands"] == 501
        assert 2 <= sim.stats["max_in_flight"] <= 4


def test_batch_with_halt_stays_one_chunk_at_a_time() -> None:
    with SimPortal(records=200, rate=1000, burst=1000) as sim, b24.settings(concurrency=4, rate_limit=None):
        commands = [("crm.lead.get", {"id": n}) for n in range(1, 151)]
        commands[60] = ("crm.lead.get", {"id": 999})
        out = b24.batch(sim.webhook, commands, halt=True)
    assert sim.stats["batches"] == 2 and sim.stats["max_in_flight"] == 1
    assert out["result_error"][60]["error"] == "NOT_FOUND" and 59 in out["result"] and 100 not in out["result"]


def test_export_in_id_parts_every_row_once_in_order() -> None:
    with SimPortal(records=10_000, rate=1000, burst=1000) as sim, b24.settings(concurrency=4, rate_limit=None):
        ids = [row["ID"] for row in b24.iterate(sim.webhook, "crm.lead.list")]
        assert ids == [str(n) for n in range(1, 10_001)]
        # 49 chained pages and the highest ID in one batch request; three parts of 2,500 IDs (50 pages each);
        # the rest: one page to ID 10,000 and one that sees the end
        assert sim.stats["requests"] == 5 and sim.stats["commands"] == 50 + 3 * 50 + 2
        assert sim.stats["rows"] == 10_000 + 50 and sim.stats["503"] == 0


def test_export_parts_keep_the_callers_filter_and_bounds() -> None:
    with SimPortal(records=10_000, rate=1000, burst=1000) as sim, b24.settings(concurrency=3, rate_limit=None):
        flt = {"STATUS_ID": "NEW", ">ID": 1_000, "<=ID": 7_000}
        ids = [row["ID"] for row in b24.iterate(sim.webhook, "crm.lead.list", {"filter": flt})]
        assert ids == [str(n) for n in range(1_002, 7_001, 2)]
        tasks = [row["id"] for row in b24.iterate(sim.webhook, "tasks.task.list", {"filter": {">ID": 9_990}})]
        assert tasks == [str(n) for n in range(9_991, 10_001)]


def test_export_parts_pick_up_rows_added_while_it_runs() -> None:
    with SimPortal(records=3_000, rate=1000, burst=1000) as sim, b24.settings(concurrency=2, rate_limit=None):
        rows = b24.iterate(sim.webhook, "crm.lead.list")
        first = next(rows)
        sim.leads.add({"TITLE": "late"})
        rest = [row["ID"] for row in rows]
    assert [first["ID"], *rest] == [str(n) for n in range(1, 3_002)]


def test_classic_pages_in_flight_together_in_order() -> None:
    with SimPortal(records=10_000, rate=1000, burst=1000) as sim, b24.settings(concurrency=3, rate_limit=None):
        ids = [row["ID"] for row in b24.iterate(sim.webhook, "crm.lead.list", {"order": {"ID": "DESC"}})]
        assert ids == [str(n) for n in range(10_000, 0, -1)]
        assert sim.stats["requests"] == 1 + 4  # the first page, then 199 pages in four batch requests


def test_all_pages_under_concurrency_equals_one_at_a_time() -> None:
    with SimPortal(records=5_000, rate=1000, burst=1000) as sim, b24.settings(rate_limit=None):
        with b24.settings(concurrency=1):
            alone = b24.all_pages(b24.get_deals_list, sim.webhook, {"STAGE_ID": "WON"})
        with b24.settings(concurrency=5):
            together = b24.all_pages(b24.get_deals_list, sim.webhook, {"STAGE_ID": "WON"})
    assert together == alone and len(alone) == len({d["ID"] for d in alone}) > 500


# --- plain calls batched for you ----------------------------------------------------------------------


def test_call_many_answers_in_order_with_errors_per_call() -> None:
    with SimPortal(records=100, rate=1000, burst=1000) as sim, b24.settings(concurrency=2, rate_limit=None):
        sets = [{"id": n} for n in range(1, 121)]
        sets[7] = {"id": 5_000}
        answers = b24.call_many(sim.webhook, "crm.lead.get", sets)
        assert len(answers) == 120 and sim.stats["batches"] == 3
        assert answers[0]["result"] == lead(1) and set(answers[0]) == {"result", "time"}
        assert answers[7] == {"error": "NOT_FOUND", "error_description": "Not found"}
        assert [a["result"]["ID"] for i, a in enumerate(answers[:100]) if i != 7] == [
            str(n) for n in range(1, 101) if n != 8
        ]
        assert all(a == {"error": "NOT_FOUND", "error_description": "Not found"} for a in answers[100:])
        listed = b24.call_many(sim.webhook, "crm.lead.list", [{"start": 0}, {"start": 50, "filter": {">ID": 90}}])
        assert listed[0]["total"] == 100 and listed[0]["next"] == 50 and listed[1]["result"] == []
        assert b24.call_many(sim.webhook, "profile", []) == []
        with pytest.raises(b24.InvalidArgument, match="params"):
            b24.call_many(sim.webhook, "crm.lead.get", {"id": 1})  # type: ignore[arg-type]
        sim.reset_counters()
        with pytest.raises(b24.InvalidArgument, match=r"params\[1\]\.fields\.TITLE holds '\$result\[k0\]'"):
            b24.call_many(sim.webhook, "crm.lead.update", [{"id": 1}, {"id": 2, "fields": {"TITLE": "$result[k0]"}}])
        with pytest.raises(b24.InvalidArgument, match=r"fields\.TITLE is None"):
            b24.call_many(sim.webhook, "crm.lead.update", [{"id": 1, "fields": {"TITLE": None}}])
        assert sim.stats["requests"] == 0


# --- operating time -----------------------------------------------------------------------------------

# 600 portal seconds pass per wall second: the 600 s window is one wall second; a command takes 2 s of
# server time (1/300 s), so a chunk of 50 costs 100 of the 480 s budget.
SCALED = {"records": 1_000, "rate": 1000, "burst": 1000, "command_time": 2.0, "time_scale": 600}


def updates(sim: SimPortal, count: int) -> List[Any]:
    sets = [{"id": n, "fields": {"TITLE": f"t{n}"}} for n in range(1, count + 1)]
    return b24.call_many(sim.webhook, "crm.lead.update", sets)


def test_bulk_work_paces_by_operating_time_and_meets_no_429() -> None:
    with SimPortal(**SCALED) as sim, b24.settings(concurrency=4, rate_limit=None, operating_budget=(480.0, 1.0)):
        answers = updates(sim, 600)  # 1,200 s of server time: more than two windows' budget
    assert [a.get("result") for a in answers] == [True] * 600
    assert sim.stats["429"] == 0 and dict(sim.updates) == {n: 1 for n in range(1, 601)}


def test_without_pacing_the_same_job_meets_429() -> None:
    with SimPortal(**SCALED) as sim, b24.settings(concurrency=4, rate_limit=None, operating_budget=None):
        answers = updates(sim, 600)
    blocked = [a for a in answers if a.get("error") == "OPERATION_TIME_LIMIT"]
    assert blocked and sim.stats["429"] == len(blocked)


def test_opi_functions_never_pace() -> None:
    with SimPortal(records=10, rate=1000, burst=1000, command_time=200.0, time_scale=1000) as sim:
        with b24.settings(rate_limit=None):
            answers = [b24.get_lead(sim.webhook, 1) for _ in range(4)]
    assert [("result" in a, a.get("error")) for a in answers] == [(True, None)] * 3 + [(False, "OPERATION_TIME_LIMIT")]


def test_settings_are_checked() -> None:
    for bad in ({"concurrency": 0}, {"concurrency": 51}, {"concurrency": True}):
        with pytest.raises(b24.InvalidArgument, match="concurrency"):
            b24.Settings(**bad)
    for budget in ((480.0,), (0, 600), (480, float("inf")), [480, 600]):
        with pytest.raises(b24.InvalidArgument, match="operating_budget"):
            b24.Settings(operating_budget=budget)  # type: ignore[arg-type]
    assert b24.Settings().concurrency == 8 and b24.Settings().operating_budget == (480.0, 600.0)
