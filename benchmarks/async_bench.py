"""The async driver beside the blocking one and fast_bitrix24's BitrixAsync (issue 22 item 4).

    pip install -e ".[async,bench]"       # the async driver's library; fast_bitrix24 (skipped when absent)
    python benchmarks/async_bench.py       # about two minutes
    python benchmarks/async_bench.py --smoke   # a tiny configuration (seconds; the test suite runs it)

Two jobs, each run --repeat times with the clients one after the other in every round; a figure is the
median of the rounds, a ratio the median of each round's ratio to the baseline of that round (the blocking
driver): a load that drifts during the run moves the runs of a round alike. Never absolute claims.

- **per call**: --calls sequential ``get_users([1, 10])`` against a loopback server in a process of its own
  (benchmarks/bench.py's), rate limit on but never binding: wall and CPU time per call. Blocking:
  ``Portal(url).get_users(...)``; async: ``await AsyncPortal(url).get_users(...)`` in one
  ``asyncio.run``; fast_bitrix24: ``await BitrixAsync(url).call("im.user.list.get", ...)``.
- **many portals**: --portals simulated portals (``python -m opi_bitrix24.testing --portals N``: a SimFleet in
  a process of its own, each portal its own origin, bucket and --records leads, cloud limits time-scaled),
  every lead of every portal exported at once. Blocking: a thread per portal, ``Portal(url).iterate``;
  async: one event loop, ``AsyncPortal(url).iterate`` per portal (both told the portal's limits);
  fast_bitrix24: one event loop, a ``BitrixAsync`` per portal, ``get_all``. Each client runs in a fresh
  process: wall time, rows per second, the process's peak resident memory, the 503 and 429 answers the
  portals counted, and rows lost or duplicated (every portal's IDs checked against 1..records).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import opi_bitrix24 as b24  # noqa: E402

UNBOUND = (1e9, 10**9)  # the limiter runs but never makes a call wait
CLIENTS = ("sync", "async", "fast_bitrix24")
TITLES = {"sync": "opi_bitrix24 blocking", "async": "opi_bitrix24 async", "fast_bitrix24": "fast_bitrix24 async"}
BEGIN, END = "<!-- benchmarks/async_bench.py: begin -->", "<!-- benchmarks/async_bench.py: end -->"


class Config(NamedTuple):
    calls: int
    repeat: int
    portals: int
    records: int
    rate: float  # the portals' requests per second (portal time) and burst
    burst: int
    command_time: float
    time_scale: float


def config(args: argparse.Namespace) -> Config:
    if args.smoke:
        return Config(
            calls=20, repeat=1, portals=4, records=300, rate=2.0, burst=50, command_time=0.02, time_scale=20.0
        )
    return Config(args.calls, args.repeat, args.portals, args.records, 2.0, 50, 0.02, args.time_scale)


def unavailable(client: str) -> Optional[str]:
    """None if the client can run here, else why not."""
    if client == "async" and not hasattr(b24, "AsyncPortal"):
        return "opi_bitrix24.AsyncPortal is not in this version"
    if client == "fast_bitrix24":
        try:
            import fast_bitrix24  # noqa: F401
        except ImportError:
            return "not installed; pip install -e '.[bench]'"
    return None


# --- per call --------------------------------------------------------------------------------------


def per_call(client: str, hook: str, calls: int) -> Tuple[float, float]:
    """(wall seconds, process CPU seconds) per call, for ``calls`` sequential calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    if client == "sync":
        portal = b24.Portal(hook, rate_limit=UNBOUND)
        for _ in range(calls):
            answer = portal.get_users([1, 10])
            assert answer["result"], answer
    elif client == "async":

        async def ours() -> None:
            async with b24.AsyncPortal(hook, rate_limit=UNBOUND) as portal:  # type: ignore[attr-defined]
                for _ in range(calls):
                    answer = await portal.get_users([1, 10])
                    assert answer["result"], answer

        asyncio.run(ours())
    else:
        from fast_bitrix24 import BitrixAsync

        async def theirs() -> None:
            client = BitrixAsync(hook, verbose=False, requests_per_second=1e9, request_pool_size=10**9)
            for _ in range(calls):
                answer = await client.call("im.user.list.get", {"ID": [1, 10]})
                assert answer, answer

        asyncio.run(theirs())
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


# --- many portals ------------------------------------------------------------------------------------


def export(client: str, urls: List[str], rate_limit: Tuple[float, int], window: float) -> List[List[str]]:
    """Every lead of every portal, by the client's means: the IDs read, per portal."""
    if client == "sync":

        def one(url: str) -> List[str]:
            portal = b24.Portal(url, rate_limit=rate_limit, operating_budget=(480.0, window))
            return [row["ID"] for row in portal.iterate("crm.lead.list")]

        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            return list(pool.map(one, urls))
    if client == "async":

        async def ours(url: str) -> List[str]:
            async with b24.AsyncPortal(  # type: ignore[attr-defined]
                url, rate_limit=rate_limit, operating_budget=(480.0, window)
            ) as portal:
                return [row["ID"] async for row in portal.iterate("crm.lead.list")]

        async def all_of_them() -> List[List[str]]:
            return list(await asyncio.gather(*(ours(url) for url in urls)))

        return asyncio.run(all_of_them())
    from fast_bitrix24 import BitrixAsync, srh

    srh.BITRIX_MEASUREMENT_PERIOD = window  # the time-scaled operating-time window

    async def theirs(url: str) -> List[str]:
        rate, burst = rate_limit
        client = BitrixAsync(url, verbose=False, requests_per_second=rate, request_pool_size=burst)
        return [row["ID"] for row in await client.get_all("crm.lead.list")]

    async def all_of_theirs() -> List[List[str]]:
        return list(await asyncio.gather(*(theirs(url) for url in urls)))

    return asyncio.run(all_of_theirs())


def child(argv: List[str]) -> int:
    """``--child CLIENT FILE``: run one export of the portals listed in FILE (JSON) and print the result."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    client, path = argv
    job = json.loads(Path(path).read_text(encoding="utf-8"))
    if client == "async":
        import aiohttp  # noqa: F401 - imported before the clock starts, as requests is for the blocking run
    elif client == "fast_bitrix24":
        import fast_bitrix24  # noqa: F401
    started = time.perf_counter()
    note = "ok"
    got: List[List[str]] = []
    try:
        got = export(client, job["urls"], tuple(job["rate_limit"]), job["window"])  # type: ignore[arg-type]
    except Exception as error:  # noqa: BLE001 - a client's failure is a result
        note = f"{type(error).__name__}: {str(error)[:80]}"
    wall = time.perf_counter() - started
    wanted = {str(n) for n in range(1, job["records"] + 1)}
    lost = duplicated = rows = 0
    for ids in got:
        seen = set(ids)
        rows += len(ids)
        lost += len(wanted - seen)
        duplicated += len(ids) - len(seen) + len(seen - wanted)
    lost += job["records"] * (len(job["urls"]) - len(got))
    peak = peak_memory()
    print(json.dumps({"wall": wall, "rows": rows, "lost": lost, "duplicated": duplicated, "peak": peak, "note": note}))
    return 0


def peak_memory() -> int:
    """This process's peak resident memory in bytes (VmHWM: ru_maxrss would carry the parent's over exec)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) * 1024  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def counters(urls: List[str]) -> Dict[str, int]:
    total: Dict[str, int] = {}
    for url in urls:
        base = url.split("/rest/", 1)[0]
        with urllib.request.urlopen(base + "/_sim/stats", timeout=60) as answer:
            for key, value in json.load(answer)["stats"].items():
                total[key] = total.get(key, 0) + int(value)
    return total


# --- the run --------------------------------------------------------------------------------------


class Figures(NamedTuple):
    call_wall: Dict[str, List[float]]
    call_cpu: Dict[str, List[float]]
    many: Dict[str, List[Dict[str, Any]]]


def run(cfg: Config, clients: List[str]) -> Figures:
    figures = Figures({c: [] for c in clients}, {c: [] for c in clients}, {c: [] for c in clients})
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    fleet = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opi_bitrix24.testing",
            f"--portals={cfg.portals}",
            f"--records={cfg.records}",
            f"--rate={cfg.rate}",
            f"--burst={cfg.burst}",
            f"--command-time={cfg.command_time}",
            f"--time-scale={cfg.time_scale}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None and fleet.stdout is not None
        hook = f"http://127.0.0.1:{server.stdout.readline().strip()}/rest/1/benchkey/"
        urls = [fleet.stdout.readline().strip() for _ in range(cfg.portals)]
        rate_limit = (cfg.rate * cfg.time_scale, cfg.burst)
        window = 600.0 / cfg.time_scale
        with tempfile.TemporaryDirectory() as folder:
            job = Path(folder) / "job.json"
            job.write_text(
                json.dumps({"urls": urls, "rate_limit": rate_limit, "window": window, "records": cfg.records}),
                encoding="utf-8",
            )
            for client in clients:
                per_call(client, hook, max(1, cfg.calls // 10))  # warm up: imports, connections
            for _ in range(cfg.repeat):
                for client in clients:
                    wall, cpu = per_call(client, hook, cfg.calls)
                    figures.call_wall[client].append(wall)
                    figures.call_cpu[client].append(cpu)
                for client in clients:
                    time.sleep(cfg.burst / rate_limit[0] + 0.2)  # the portals' buckets drain between runs
                    before = counters(urls)
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", client, str(job)],
                        capture_output=True,
                        text=True,
                        check=False,
                        cwd=ROOT,
                    )
                    after = counters(urls)
                    lines = done.stdout.strip().splitlines()
                    failed = {"note": f"exit {done.returncode}: {done.stderr[-200:]}"}
                    result = json.loads(lines[-1]) if lines else failed
                    result["503"] = after.get("503", 0) - before.get("503", 0)
                    result["429"] = after.get("429", 0) - before.get("429", 0)
                    result["requests"] = after.get("requests", 0) - before.get("requests", 0)
                    figures.many[client].append(result)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait()
        fleet.terminate()
        fleet.wait()
    return figures


def table(cfg: Config, figures: Figures, clients: List[str]) -> List[str]:
    base = clients[0]
    ratios = " | ".join(f"{'fast_bitrix24' if c == 'fast_bitrix24' else c} / blocking" for c in clients[1:])
    head = "| measure | " + " | ".join(TITLES[c] for c in clients) + " | " + ratios + " |"
    lines = [head, "|---" * (len(clients) * 2) + "|"]
    blank = " |" * (len(clients) - 1)

    def ratio(values: Dict[str, List[float]], client: str) -> str:
        pairs = [mine / theirs for mine, theirs in zip(values[client], values[base]) if theirs]
        return f"{statistics.median(pairs):.2f}" if pairs else "-"

    def add(name: str, values: Dict[str, List[float]], shown: Callable[[float], str]) -> None:
        cells = [shown(statistics.median(values[c])) if values[c] else "-" for c in clients]
        shown_ratios = " | ".join(ratio(values, c) for c in clients[1:])
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + shown_ratios + " |")

    add("per call, wall", figures.call_wall, lambda v: f"{v * 1e3:.2f} ms")
    add("per call, CPU", figures.call_cpu, lambda v: f"{v * 1e3:.2f} ms")
    many = figures.many
    job = f"{cfg.portals} portals x {cfg.records:,} rows"

    def field(key: str) -> Dict[str, List[float]]:
        return {c: [float(r[key]) for r in many[c] if key in r] for c in clients}

    add(f"{job}: wall", field("wall"), lambda v: f"{v:.2f} s")
    throughput = {c: [r["rows"] / r["wall"] for r in many[c] if r.get("wall")] for c in clients}
    add(f"{job}: rows/s", throughput, lambda v: f"{v:,.0f}")
    add(f"{job}: peak memory", field("peak"), lambda v: f"{v / 2**20:.1f} MiB")
    counted = (("requests", "requests"), ("503", "503 answers"), ("429", "429 answers"))
    for key, name in (*counted, ("lost", "rows lost"), ("duplicated", "rows duplicated")):
        lines.append(f"| {job}: {name} | " + " | ".join(_all(many[c], key) for c in clients) + " |" + blank)
    notes = sorted({f"{TITLES[c]}: {r['note']}" for c in clients for r in many[c] if r.get("note", "ok") != "ok"})
    return lines + notes


def _all(results: List[Dict[str, Any]], key: str) -> str:
    """Every round's figure (they must all be read: a single bad round is the news)."""
    values = [str(r.get(key, "-")) for r in results]
    return values[0] if len(set(values)) == 1 else "/".join(values)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny configuration (no figures)")
    parser.add_argument("--calls", type=int, default=300, help="sequential calls per per-call run (300)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (3)")
    parser.add_argument("--portals", type=int, default=50, help="portals of the many-portal job (50)")
    parser.add_argument("--records", type=int, default=5000, help="leads per portal (5000)")
    parser.add_argument("--time-scale", type=float, default=10.0, help="portal seconds per wall second (10)")
    parser.add_argument("--write-readme", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args(argv)
    cfg = config(args)
    clients: List[str] = []
    skipped: List[str] = []
    for client in CLIENTS:
        reason = unavailable(client)
        if reason is None:
            clients.append(client)
        else:
            skipped.append(f"{TITLES[client]}: skipped, {reason}")
    figures = run(cfg, clients)
    lines = table(cfg, figures, clients) + skipped
    print("\n".join(lines))
    if args.write_readme and not args.smoke:
        readme = ROOT / "README.md"
        command = "python benchmarks/async_bench.py" + "".join(f" {a}" for a in argv if a != "--write-readme")
        said = f"`{command}` ({time.strftime('%Y-%m-%d')}, 2 shared cores):"
        block = f"{BEGIN}\n{said}\n\n" + "\n".join(lines) + f"\n{END}"
        text = readme.read_text(encoding="utf-8")
        readme.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S), "utf-8")
    ours = [r for c in clients if c != "fast_bitrix24" for r in figures.many[c]]
    failed = [r for r in ours if r.get("note") != "ok" or r.get("lost") or r.get("duplicated") or r.get("503")]
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
