"""Peers side by side: this package, fast_bitrix24 and b24pysdk on the same simulated portal and jobs.

    pip install -e ".[bench]"          # fast_bitrix24 and b24pysdk (a client that is absent is skipped)
    python benchmarks/peers.py         # three jobs x three clients, about three minutes
    python benchmarks/peers.py --smoke # a tiny configuration (seconds; the test suite runs it)

The portal (opi_bitrix24.testing.SimPortal) serves HTTPS with a throwaway CA (trustme), since b24pysdk
builds https:// URLs; every client trusts that CA and is told the portal's (time-scaled) request rate and
operating-time window, as its user would configure it for that portal. Every job checks every row read
and every write the portal received, by ID. A client that raises gets its error in the table.

Jobs:

- export: every lead, 1 s of server time per batch request of 50 list commands;
- updates: one update per lead (crm.lead.update), 50 per batch request, at the request ceiling;
- operating: every lead with 2 ms of server time per row, more than one window's operating-time budget.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import re
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import opi_bitrix24 as b24  # noqa: E402
from opi_bitrix24 import _limits, _pace  # noqa: E402
from opi_bitrix24.testing import WEBHOOK_KEY, SimPortal  # noqa: E402

BEGIN, END = "<!-- benchmarks/peers.py: begin -->", "<!-- benchmarks/peers.py: end -->"


class Job(NamedTuple):
    name: str
    records: int
    options: Dict[str, Any]
    kind: str  # "export" or "updates"


class Result(NamedTuple):
    client: str
    job: str
    wall: float
    requests: int
    e503: int
    e429: int
    count: int
    lost: int
    duplicated: int
    note: str


Work = Callable[[SimPortal, str], List[str]]  # (portal, job kind) -> the IDs read, or "" for writes


def ours(sim: SimPortal, kind: str) -> List[str]:
    settings = {
        "rate_limit": sim.client_rate_limit,
        "operating_budget": (sim.budget, sim.window / sim.time_scale),
        "concurrency": 8,
        "verify": os.environ["SSL_CERT_FILE"],
    }
    with b24.settings(**settings):
        if kind == "export":
            return [row["ID"] for row in b24.iterate(sim.webhook, "crm.lead.list")]
        sets = [{"id": n, "fields": {"TITLE": f"ours {n}"}} for n in range(1, len(sim.leads) + 1)]
        answers = b24.call_many(sim.webhook, "crm.lead.update", sets)
        failed = [a for a in answers if a.get("result") is not True]
        if failed:
            raise RuntimeError(f"{len(failed)} updates failed, e.g. {failed[0]}")
        return []


def fast_bitrix24(sim: SimPortal, kind: str) -> List[str]:
    import fast_bitrix24
    from fast_bitrix24 import srh

    srh.BITRIX_MEASUREMENT_PERIOD = sim.window / sim.time_scale  # the scaled window
    rate, burst = sim.client_rate_limit
    client = fast_bitrix24.Bitrix(sim.webhook, verbose=False, requests_per_second=rate, request_pool_size=burst)
    if kind == "export":
        rows = client.get_all("crm.lead.list")
        return [row["ID"] for row in rows]
    sets = [{"ID": n, "fields": {"TITLE": f"fast {n}"}} for n in range(1, len(sim.leads) + 1)]
    answers = client.call("crm.lead.update", sets)
    if any(a is not True for a in answers):
        raise RuntimeError("an update did not answer true")
    return []


def b24pysdk(sim: SimPortal, kind: str) -> List[str]:
    import b24pysdk

    host = sim.base.split("://", 1)[1]
    client = b24pysdk.Client(b24pysdk.BitrixWebhook(domain=host, webhook_token=f"1/{WEBHOOK_KEY}"))
    if kind == "export":
        return [row["ID"] for row in client.crm.lead.list().as_list_fast().result]
    requests = [client.crm.lead.update(bitrix_id=n, fields={"TITLE": f"sdk {n}"}) for n in range(1, len(sim.leads) + 1)]
    answers = client.call_batches(requests).result.result
    values = list(answers.values()) if isinstance(answers, dict) else list(answers)
    if len(values) != len(requests):
        raise RuntimeError(f"answers for {len(values)} of {len(requests)} updates")
    if any(v is not True for v in values):
        raise RuntimeError("an update did not answer true")
    return []


CLIENTS: List[Tuple[str, str, Work]] = [
    ("opi_bitrix24", "", ours),
    ("fast_bitrix24", "fast_bitrix24", fast_bitrix24),
    ("b24pysdk", "b24pysdk", b24pysdk),
]


def jobs(smoke: bool) -> List[Job]:
    if smoke:
        return [
            Job("export 1,000 rows", 1_000, {"command_time": 0.02, "time_scale": 50}, "export"),
            Job("200 updates", 200, {"command_time": 0.001, "time_scale": 50}, "updates"),
            Job("operating 2,000 rows", 2_000, {"row_time": 0.002, "time_scale": 200}, "export"),
        ]
    return [
        Job("export 20,000 rows, 1 s per batch", 20_000, {"command_time": 0.02, "time_scale": 4}, "export"),
        Job("5,000 updates at the request ceiling", 5_000, {"command_time": 0.001, "time_scale": 4}, "updates"),
        Job("operating: 300,000 rows, 600 s of server time", 300_000, {"row_time": 0.002, "time_scale": 60}, "export"),
    ]


def run(client: str, work: Work, job: Job, sim: SimPortal) -> Result:
    _limits.reset()
    _pace.reset()
    sim.reset_counters()
    gc.collect()
    note = "ok"
    got: List[str] = []
    started = time.monotonic()
    try:
        got = work(sim, job.kind)
    except Exception as error:  # noqa: BLE001 - a peer's failure is a result
        note = f"{type(error).__name__}: {str(error)[:80]}"
    wall = time.monotonic() - started
    if job.kind == "updates":
        got = [str(n) for n, times in sim.updates.items() for _ in range(times)]
    wanted = {str(n) for n in range(1, job.records + 1)}
    seen = set(got)
    lost = len(wanted - seen)
    duplicated = len(got) - len(seen) + len(seen - wanted)
    stats = sim.stats
    return Result(
        client, job.name, wall, stats["requests"], stats["503"], stats["429"], len(got), lost, duplicated, note
    )


@contextlib.contextmanager
def tls() -> Iterator[ssl.SSLContext]:
    """A server context for 127.0.0.1 from a throwaway CA, trusted through SSL_CERT_FILE / REQUESTS_CA_BUNDLE."""
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ca.pem")
        ca.cert_pem.write_to_path(path)
        saved = {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
        os.environ.update(SSL_CERT_FILE=path, REQUESTS_CA_BUNDLE=path)
        try:
            yield context
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def available(module: str) -> Optional[str]:
    """None if the client can be imported, else why not."""
    if not module:
        return None
    try:
        __import__(module)
    except ImportError as error:
        return f"not installed ({error.name}); pip install -e '.[bench]'"
    return None


def main(argv: Optional[List[str]] = None) -> int:
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # a peer's unretrieved task errors: in the table
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny configuration (no figures)")
    parser.add_argument("--client", action="append", help="run only these clients")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the peers table in docs/performance.md")
    args = parser.parse_args(argv)
    results: List[Result] = []
    skipped: List[str] = []
    chosen = [c for c in CLIENTS if not args.client or c[0] in args.client]
    with tls() as context:
        for job in jobs(args.smoke):
            for client, module, work in chosen:
                reason = available(module)
                if reason is not None:
                    skipped.append(f"{client}: skipped, {reason}")
                    continue
                # a portal of its own for each client: requests a failed client left in flight count nowhere else
                with SimPortal(records=job.records, ssl_context=context, **job.options) as sim:
                    results.append(run(client, work, job, sim))
    head = "| job | client | wall s | requests | 503 | 429 | rows/writes | lost | duplicated | note |"
    lines = [head, "|---" * 10 + "|"]
    for r in results:
        note = r.note.replace("|", "/")
        lines.append(
            f"| {r.job} | {r.client} | {r.wall:.2f} | {r.requests} | {r.e503} | {r.e429} | {r.count} "
            f"| {r.lost} | {r.duplicated} | {note} |"
        )
    lines += sorted(set(skipped))
    print("\n".join(lines))
    if args.write_docs and not args.smoke:
        page = ROOT / "docs" / "performance.md"
        said = f"`python benchmarks/peers.py` ({time.strftime('%Y-%m-%d')}):"
        block = f"{BEGIN}\n{said}\n\n" + "\n".join(lines) + f"\n{END}"
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, page.read_text("utf-8"), flags=re.S)
        page.write_text(text, "utf-8")
    ours_failed = [r for r in results if r.client == "opi_bitrix24" and (r.lost or r.duplicated or r.note != "ok")]
    return 1 if ours_failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
