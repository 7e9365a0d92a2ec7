"""Bulk benchmark against the limit-enforcing loopback portal (opi_bitrix24.testing). Not a test.

    python benchmarks/bulk.py            # rate 50/s, burst 10 on both sides (scaled up from the cloud's
                                         # 2/s, burst 50 so that it runs in about a minute)
    python benchmarks/bulk.py --rate 2 --burst 50   # the real cloud numbers (the OPI-way rows take long)

For every job: wall time, the minimum the limit allows for the requests the job needs
(``max(0, requests - burst) / rate``), their ratio (1.0 = at the limit's ceiling), requests sent,
503s and 429s received, and records lost / duplicated (checked by ID).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import opi_bitrix24 as b24  # noqa: E402
from opi_bitrix24 import _limits  # noqa: E402
from opi_bitrix24.testing import SimPortal  # noqa: E402

Row = Tuple[str, float, float, int, int, int, int, int, int]


def run(name: str, sim: SimPortal, rate: float, burst: int, job: Callable[[], Tuple[List[str], int]]) -> Row:
    _limits.reset()
    sim.stats.clear()
    sim.updates.clear()
    sim.level = 0.0
    start = time.monotonic()
    ids, expected = job()
    wall = time.monotonic() - start
    requests = sim.stats["requests"]
    minimum = max(0.0, requests - burst) / rate
    unique = set(ids)
    lost = expected - len(unique)
    duplicated = len(ids) - len(unique)
    return (name, wall, minimum, requests, sim.stats["503"], sim.stats["429"], len(ids), lost, duplicated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--skip-slow", action="store_true", help="leave out the one-request-per-record OPI rows")
    args = parser.parse_args()
    rate, burst = args.rate, args.burst
    rows: List[Row] = []
    with (
        SimPortal(records=100_000, rate=rate, burst=burst) as big,
        SimPortal(records=10_000, rate=rate, burst=burst) as small,
        b24.settings(rate_limit=(rate, burst), backoff=0.5),
    ):

        def export(sim: SimPortal, **options: Any) -> Callable[[], Tuple[List[str], int]]:
            return lambda: ([r["ID"] for r in b24.iterate(sim.webhook, "crm.lead.list", **options)], len(sim.leads))

        def opi_pages(sim: SimPortal) -> Tuple[List[str], int]:
            ids: List[str] = []
            indent = 0
            while True:
                page = b24.get_leads_list(sim.webhook, "", indent)
                ids += [r["ID"] for r in page["result"]]
                if "next" not in page:
                    return ids, len(sim.leads)
                indent = page["next"]

        def update_batch() -> Tuple[List[str], int]:
            with b24.deferred() as commands:
                for i in range(1, 1001):
                    b24.update_lead(small.webhook, i, {"TITLE": f"changed {i}"})
            out = b24.batch(small.webhook, commands)
            done = [str(i + 1) for i, ok in out["result"].items() if ok is True]
            return [str(i) for i, n in small.updates.items() for _ in range(n)] if len(done) == 1000 else done, 1000

        def update_opi() -> Tuple[List[str], int]:
            for i in range(1, 1001):
                b24.update_lead(small.webhook, i, {"TITLE": f"again {i}"})
            return [str(i) for i, n in small.updates.items() for _ in range(n)], 1000

        rows.append(run("export 10k, fast + batch (iterate)", small, rate, burst, export(small)))
        rows.append(run("export 10k, classic + batch", small, rate, burst, export(small, fast=False)))
        rows.append(run("export 10k, fast, no batch", small, rate, burst, export(small, use_batch=False)))
        rows.append(run("export 10k, OPI way (GetLeadsList pages)", small, rate, burst, lambda: opi_pages(small)))
        rows.append(run("export 100k, fast + batch (iterate)", big, rate, burst, export(big)))
        rows.append(run("export 100k, classic + batch", big, rate, burst, export(big, fast=False)))
        if not args.skip_slow:
            rows.append(run("export 100k, fast, no batch", big, rate, burst, export(big, use_batch=False)))
        rows.append(run("update 1k, batch (deferred UpdateLead)", small, rate, burst, update_batch))
        if not args.skip_slow:
            rows.append(run("update 1k, OPI way (UpdateLead each)", small, rate, burst, update_opi))
        with b24.settings(rate_limit=None):
            rows.append(run("export 10k, OPI way, no client limiter", small, rate, burst, lambda: opi_pages(small)))

    print(f"limit: {rate:g} requests/s, burst {burst} (portal and client)")
    head = ("job", "wall s", "min s", "min/wall", "requests", "503", "429", "records", "lost", "dup")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, wall, minimum, requests, e503, e429, count, lost, dup in rows:
        ratio = f"{minimum / wall:.2f}" if minimum >= 0.5 else "n/a (within burst)"
        print(
            f"| {name} | {wall:.2f} | {minimum:.2f} | {ratio} | {requests} | {e503} | {e429} "
            f"| {count} | {lost} | {dup} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
