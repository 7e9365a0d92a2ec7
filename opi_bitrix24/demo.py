"""The nightly bulk job of the docs, run offline: ``python -m opi_bitrix24.demo``.

Starts the bundled limit-enforcing portal (:mod:`opi_bitrix24.testing`: generated deals, ``batch``,
paging, the cloud's 2 requests/s with a burst of 50) on 127.0.0.1 and runs :data:`JOB` — the very code of
the bulk guide's "nightly job" (docs/guides/bulk.md; a test keeps the two equal) — against it: export
every deal to ``deals.jsonl``, update 1,000, report the failures. Then it prints what the portal saw.

    python -m opi_bitrix24.demo                  # 5,000 deals, files in a temporary folder
    python -m opi_bitrix24.demo --deals 20000 --keep ./out

To run the job against your own portal, copy it from the guide and set ``OPI_B24_URL`` to your webhook.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

__all__ = ["JOB", "main", "run_job"]

#: The nightly job, exactly as the bulk guide prints it (tests/test_docs.py compares them).
JOB = """\
import json
import os

import opi_bitrix24 as b24

portal = b24.Portal(os.environ["OPI_B24_URL"])          # your webhook URL

# 1. Export every deal (fast paging: 50 pages of 50 rows per batch request).
with open("deals.jsonl", "w", encoding="utf-8") as out:
    deals = []
    for deal in portal.iterate("crm.deal.list", {"select": ["ID", "TITLE", "STAGE_ID"]}):
        out.write(json.dumps(deal, ensure_ascii=False) + "\\n")
        deals.append(deal)

# 2. Update 1,000: record the OPI calls, send them 50 per batch request. Here: the first 998 exported
#    deals and two that another system still lists but the portal no longer has (to show a failure).
to_update = [deal["ID"] for deal in deals[:998]] + ["99999998", "99999999"]
with b24.deferred() as commands:
    for deal_id in to_update:
        portal.update_deal(deal_id, {"STAGE_ID": "WON"})
answer = portal.batch(commands)

# 3. Report failures: result_error is keyed like the commands (here: positions in the list).
failed = answer["result_error"]
for position, error in sorted(failed.items()):
    print(f"deal {to_update[position]}: {error['error']}: {error['error_description']}")
print(f"exported {len(deals)} deals, updated {len(to_update) - len(failed)}, failed {len(failed)}")
"""


def run_job(webhook: str, folder: str) -> Dict[str, Any]:
    """Run :data:`JOB` with ``OPI_B24_URL`` = ``webhook`` inside ``folder``; the job's variables."""
    saved_url, saved_dir = os.environ.get("OPI_B24_URL"), os.getcwd()
    os.environ["OPI_B24_URL"] = webhook
    os.chdir(folder)
    try:
        names: Dict[str, Any] = {"__name__": "__nightly__"}
        exec(compile(JOB, "the nightly job (docs/guides/bulk.md)", "exec"), names)
        return names
    finally:
        os.chdir(saved_dir)
        if saved_url is None:
            os.environ.pop("OPI_B24_URL", None)
        else:
            os.environ["OPI_B24_URL"] = saved_url


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opi_bitrix24.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=5000, help="deals on the demo portal (default 5000)")
    parser.add_argument("--keep", metavar="FOLDER", help="write deals.jsonl there (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.deals < 1000:
        parser.error("--deals: at least 1000 (the job updates 1,000)")
    from .testing import SimPortal

    with SimPortal(records=args.deals) as portal, tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or scratch
        os.makedirs(folder, exist_ok=True)
        print(f"demo portal {portal.base}: {args.deals} deals; 2 requests/s, burst 50 (as a cloud portal)")
        print("running the nightly job of docs/guides/bulk.md against it:\n")
        started = time.monotonic()
        names = run_job(portal.webhook, folder)
        wall = time.monotonic() - started
        stats = portal.stats
        print(
            f"\nthe portal saw {stats['requests']} requests ({stats['batches']} batch, {stats['commands']} commands "
            f"inside them), {stats['503']} refused for the rate limit; {wall:.1f} s in all."
        )
        where = f"in {os.path.join(folder, 'deals.jsonl')}" if args.keep else "(deleted with the demo)"
        print(f"deals.jsonl: {len(names['deals'])} lines {where}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
