"""The command line of the simulated portal: ``python -m opi_bitrix24.testing [options]``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import List, Optional, TextIO

from ._fleet import SimFleet
from ._portal import SimPortal

__all__ = ["main", "run"]

DESCRIPTION = """\
Run a simulated Bitrix24 portal on 127.0.0.1 (in memory) until Ctrl+C: generated deals, leads and
tasks, batch, paging, and the cloud's limits. The first line on stdout is the inbound-webhook URL;
use it as the url of any opi-bitrix24 function or command:

  python -m opi_bitrix24.testing --records 5000 > url.txt &
  opi-bitrix24 GetDealsList --url "$(head -1 url.txt)" --all --quiet
"""

EPILOG = """\
--portals N serves N portals (each on its own port, its own bucket and data) from one thread and
prints their N webhook URLs, one per line.
Durations are portal seconds; --time-scale N makes N of them pass per wall-clock second (then set
the client's rate limit to RATE*N, BURST: the line "client rate_limit" says it). Counters as JSON:
GET <portal>/_sim/stats.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m opi_bitrix24.testing",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, default=5000, help="deals, leads and tasks each (default 5000)")
    parser.add_argument("--portals", type=int, default=1, help="how many portals, one port each (default 1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second of the bucket (default 2)")
    parser.add_argument("--burst", type=int, default=50, help="the bucket's burst (default 50)")
    parser.add_argument("--command-time", type=float, default=0.0, help="server seconds per command (default 0)")
    parser.add_argument("--row-time", type=float, default=0.0, help="server seconds per row served (default 0)")
    parser.add_argument("--budget", type=float, default=480.0, help="operating seconds per method per window (480)")
    parser.add_argument("--window", type=float, default=600.0, help="the operating-time window in seconds (600)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="portal seconds per wall second (default 1)")
    parser.add_argument("--for", dest="seconds", type=float, default=None, help="stop after this many seconds")
    return parser


def main(argv: Optional[List[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Start the portal, print its addresses, serve until interrupted (or ``--for`` seconds); 0 on success."""
    args = _parser().parse_args(argv)
    options = {
        "records": args.records,
        "rate": args.rate,
        "burst": args.burst,
        "budget": args.budget,
        "window": args.window,
        "command_time": args.command_time,
        "row_time": args.row_time,
        "time_scale": args.time_scale,
    }
    try:
        if args.portals < 1:
            raise ValueError("--portals must be at least 1")
        if args.portals != 1 and args.port:
            raise ValueError("--port names one portal's port; --portals chooses free ports")
        fleet = SimFleet(args.portals, **options) if args.portals != 1 else None
        portal = SimPortal(port=args.port, **options) if fleet is None else fleet[0]
    except (ValueError, OSError) as exc:
        err.write(f"python -m opi_bitrix24.testing: {exc}\n")
        return 2
    with fleet if fleet is not None else portal:
        out.write("".join(p.webhook + "\n" for p in (fleet or [portal])))
        out.flush()
        rate, burst = portal.client_rate_limit
        where = f"portal {portal.base}" if fleet is None else f"{len(fleet)} portals ({portal.base} and on)"
        err.write(
            f"{where}: {args.records} deals, leads and tasks; "
            f"{args.rate:g} requests/s, burst {args.burst}; operating time {args.budget:g} s per {args.window:g} s\n"
            f"webhook  {portal.webhook}\n"
            f"OAuth    {portal.oauth_url} (client_id {portal.client_id})\n"
            f"client rate_limit=({rate:g}, {burst})\n"
            "Ctrl+C stops it.\n"
        )
        err.flush()
        stop = threading.Event()
        try:
            stop.wait(args.seconds)
        except KeyboardInterrupt:
            pass
    return 0


def run() -> None:
    """The console entry point."""
    raise SystemExit(main())
