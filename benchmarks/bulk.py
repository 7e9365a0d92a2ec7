"""Bulk benchmark on the simulated portal (opi_bitrix24.testing): ratios against a baseline in the same run.

    python benchmarks/bulk.py                 # the three jobs of issue 19 and the memory check (~5 minutes)
    python benchmarks/bulk.py --only a        # one job: a, b, c or m
    python benchmarks/bulk.py --write-docs    # also rewrite the table in docs/performance.md
    python benchmarks/bulk.py --smoke         # a tiny configuration of every job (seconds; the test suite runs it)

The portal is the cloud's: 2 requests/s with a burst of 50, 480 s of operating time per method per 600 s,
50 commands per batch request; server time per command or per row is taken for real, and a time scale
makes minutes of portal time pass in seconds (the client is told the scaled rate and window, as a
client of that portal would configure them). Every job checks every row and every write by ID.

- a. export 100,000 rows, 1 s of server time per batch request (0.02 s per list command): the export
  with several parts in flight (``concurrency`` 8) against the same export one request at a time
  (``concurrency=1``, the sequential chain). Target: >= 4x, no 503.
- b. export 1,000,000 rows bound by operating time (2 ms of server time per row: 2,000 s in all, over
  four windows' budget): wall time against the least time the operating-time limit allows for W
  seconds of server time, ``window * (ceil(W / budget) - 1)`` (every span of one window holds at most
  the budget, so no schedule finishes sooner). Target: >= 0.9, no 429, no 503.
- c. 10,000 updates (call_many, 200 batch requests) at the request ceiling: wall time against the least
  time the bucket allows, ``(requests - burst) / rate``. Target: >= 0.9, no 503.
- m. memory of a streamed export: the peak of traced allocations while 100,000 and while 1,000,000 rows
  are read and dropped (iterate); their ratio is ~1 when memory does not grow with the length.
"""

from __future__ import annotations

import argparse
import gc
import math
import re
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import opi_bitrix24 as b24  # noqa: E402
from opi_bitrix24 import _limits, _pace  # noqa: E402
from opi_bitrix24.testing import SimPortal  # noqa: E402

BEGIN, END = "<!-- benchmarks/bulk.py: begin -->", "<!-- benchmarks/bulk.py: end -->"


class Run(NamedTuple):
    job: str
    wall: float
    requests: int
    e503: int
    e429: int
    rows: int
    lost: int
    duplicated: int


class Row(NamedTuple):
    job: str
    measured: str
    baseline: str
    ratio: float
    target: str
    runs: List[Run]


def fresh(sim: SimPortal) -> None:
    _limits.reset()
    _pace.reset()
    sim.reset_counters()


def timed(name: str, sim: SimPortal, expected: Iterable[str], work: Callable[[], List[str]]) -> Run:
    """Run one job on a fresh portal state; check the IDs it got (or wrote) against the expected ones."""
    fresh(sim)
    gc.collect()
    started = time.monotonic()
    got = work()
    wall = time.monotonic() - started
    wanted = set(expected)
    seen = set(got)
    lost = len(wanted - seen)
    duplicated = len(got) - len(seen) + len(seen - wanted)
    return Run(name, wall, sim.stats["requests"], sim.stats["503"], sim.stats["429"], len(got), lost, duplicated)


def export(sim: SimPortal, method: str = "crm.lead.list", **params: Any) -> Callable[[], List[str]]:
    return lambda: [row["ID"] for row in b24.iterate(sim.webhook, method, params or None)]


def client(sim: SimPortal, **more: Any) -> Dict[str, Any]:
    """The settings a client of this (time-scaled) portal uses: its bucket and window in wall seconds."""
    return dict(rate_limit=sim.client_rate_limit, operating_budget=(sim.budget, sim.window / sim.time_scale), **more)


def job_a(records: int, scale: float) -> Row:
    with SimPortal(records=records, command_time=0.02, time_scale=scale) as sim:
        ids = [str(n) for n in range(1, records + 1)]
        with b24.settings(**client(sim, concurrency=1)):
            one = timed("export, one request at a time", sim, ids, export(sim))
        with b24.settings(**client(sim, concurrency=8)):
            many = timed("export, 8 parts in flight", sim, ids, export(sim))
    ratio = one.wall / many.wall
    return Row(
        f"a. export {records:,} rows, 1 s server time per batch",
        f"{many.wall:.1f} s",
        f"{one.wall:.1f} s one at a time",
        ratio,
        ">= 4x",
        [one, many],
    )


def job_b(records: int, scale: float) -> Row:
    with SimPortal(records=records, row_time=0.002, time_scale=scale) as sim:
        ids = (str(n) for n in range(1, records + 1))
        with b24.settings(**client(sim, concurrency=8)):
            run = timed("export paced by operating time", sim, ids, export(sim, select=["ID", "TITLE"]))
        spent = sim.spent
    # each span of one window holds at most the budget: [0, E] needs ceil(E / window) of them
    least = sim.window * (math.ceil(spent / sim.budget) - 1) / scale
    return Row(
        f"b. export {records:,} rows bound by operating time ({spent:,.0f} s of server time)",
        f"{run.wall:.1f} s",
        f"{least:.1f} s least the limit allows",
        least / run.wall if run.wall else 0.0,
        ">= 0.9, no 429",
        [run],
    )


def job_c(count: int, scale: float) -> Row:
    with SimPortal(records=count, command_time=0.001, time_scale=scale) as sim:
        sets = [{"id": n, "fields": {"TITLE": f"changed {n}"}} for n in range(1, count + 1)]

        def work() -> List[str]:
            answers = b24.call_many(sim.webhook, "crm.lead.update", sets)
            assert all(a.get("result") is True for a in answers), "an update failed"
            return [str(n) for n, times in sim.updates.items() for _ in range(times)]

        with b24.settings(**client(sim, concurrency=8)):
            run = timed("call_many updates", sim, (str(n) for n in range(1, count + 1)), work)
    rate, burst = sim.client_rate_limit
    least = max(run.requests - burst, 0) / rate
    return Row(
        f"c. {count:,} updates at the request ceiling",
        f"{run.wall:.1f} s",
        f"{least:.1f} s least the bucket allows",
        least / run.wall if run.wall else 0.0,
        ">= 0.9",
        [run],
    )


def peak_while_streaming(sim: SimPortal, count: int) -> int:
    fresh(sim)
    gc.collect()
    tracemalloc.start()
    try:
        seen = 0
        for row in b24.iterate(sim.webhook, "crm.lead.list", {"filter": {"<=ID": count}}):
            seen += row is not None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count, (seen, count)
    return peak


def job_m(short: int, long: int) -> Row:
    with SimPortal(records=long, rate=1000, burst=1000) as sim, b24.settings(rate_limit=None, concurrency=8):
        small = peak_while_streaming(sim, short)
        large = peak_while_streaming(sim, long)
    return Row(
        f"m. memory of a streamed export, {long:,} rows against {short:,}",
        f"{large / 2**20:.1f} MiB peak",
        f"{small / 2**20:.1f} MiB peak",
        large / small,
        "~1 (independent of length)",
        [],
    )


def table(rows: List[Row]) -> str:
    out = ["| job | measured | baseline (same run) | ratio | target |", "|---|---|---|---|---|"]
    for row in rows:
        out.append(f"| {row.job} | {row.measured} | {row.baseline} | {row.ratio:.2f} | {row.target} |")
    out += ["", "| run | wall s | requests | 503 | 429 | rows | lost | duplicated |", "|---" * 8 + "|"]
    for row in rows:
        for run in row.runs:
            out.append(
                f"| {row.job[:2]} {run.job} | {run.wall:.2f} | {run.requests} | {run.e503} | {run.e429} "
                f"| {run.rows} | {run.lost} | {run.duplicated} |"
            )
    return "\n".join(out)


def write_docs(text: str, command: str) -> None:
    page = ROOT / "docs" / "performance.md"
    current = page.read_text(encoding="utf-8")
    block = f"{BEGIN}\n`{command}` ({time.strftime('%Y-%m-%d')}):\n\n{text}\n{END}"
    page.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, current, flags=re.S), "utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", choices=["a", "b", "c", "m"], action="append", help="run only these jobs")
    parser.add_argument("--smoke", action="store_true", help="a tiny configuration of every job (no targets)")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the table in docs/performance.md")
    args = parser.parse_args(argv)
    chosen = args.only or ["a", "b", "c", "m"]
    smoke = args.smoke
    rows: List[Row] = []
    if "a" in chosen:
        rows.append(job_a(2_000 if smoke else 100_000, 50.0 if smoke else 1.0))
    if "b" in chosen:
        rows.append(job_b(20_000 if smoke else 1_000_000, 2_000.0 if smoke else 30.0))
    if "c" in chosen:
        rows.append(job_c(500 if smoke else 10_000, 100.0 if smoke else 2.0))
    if "m" in chosen:
        rows.append(job_m(1_000, 10_000) if smoke else job_m(100_000, 1_000_000))
    text = table(rows)
    print(text)
    failed = [r for r in rows for run in r.runs if run.lost or run.duplicated]
    if args.write_docs and not smoke:
        write_docs(text, "python benchmarks/bulk.py" + "".join(f" --only {c}" for c in args.only or []))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
