"""Benchmarks: opi_bitrix24 against a baseline doing the same work by hand, run side by side.

    python benchmarks/bench.py [--calls 200] [--repeat 25]

Each row runs the measured code and its baseline alternately, --repeat times, and prints the median of
each and the median of the ratios of each run to the baseline run beside it (the machine may be shared:
a load that drifts during the run moves both runs of a pair alike; never absolute claims):
- call: get_users(webhook, [1, 10]) with the default settings (deadline on; the rate limiter on but set
  so that it never binds) vs a bare keep-alive requests.Session().post(json=...) + .json() with its
  default settings, on the same loopback server (a separate process, so the CPU is the client's);
- call CPU: the process CPU time per call of the same runs (every thread of the client process);
- call, no deadline: the same with deadline=None;
- convert: the argument conversions of a call vs json.dumps of the final body;
- memory: tracemalloc peak of --calls calls vs the baseline's;
- import: `import opi_bitrix24` vs `import json` in a fresh interpreter (requests is not imported);
- cli: `python -m opi_bitrix24 GetUsers ...` vs `python -c "import requests; ..."` doing the same request.
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

import opi_bitrix24  # noqa: E402
from opi_bitrix24 import _convert as cv  # noqa: E402

BODY = (ROOT / "conformance/responses/bitrix24/GetUsers/documented-2026.json").read_bytes()
#: The limiter is on (its code runs on every call) but never makes a call wait.
UNBOUND = (1e9, 10**9)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> None:
    """The loopback server, in its own process: prints its port, serves until stdin closes."""
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


def timed(func: Callable[[], None]) -> Tuple[float, float]:
    """(wall seconds, process CPU seconds) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


def alternate(ours: Callable[[], None], theirs: Callable[[], None], repeat: int) -> List[List[Tuple[float, float]]]:
    runs: List[List[Tuple[float, float]]] = [[], []]
    for _ in range(repeat):
        runs[0].append(timed(ours))
        runs[1].append(timed(theirs))
    return runs


def median(runs: List[Tuple[float, float]], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def peak(func: Callable[[], None]) -> int:
    tracemalloc.start()
    func()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def subprocess_time(argv: List[str], repeat: int) -> float:
    return statistics.median(
        timed(lambda: subprocess.run(argv, check=True, capture_output=True, cwd=ROOT))[0] for _ in range(repeat)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None and server.stdin is not None
    base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
    hook = f"{base}/rest/1/benchkey/"
    session = requests.Session()
    n = args.calls

    def ours() -> None:
        with opi_bitrix24.settings(rate_limit=UNBOUND):
            for _ in range(n):
                opi_bitrix24.get_users(hook, [1, 10])

    def ours_no_deadline() -> None:
        with opi_bitrix24.settings(rate_limit=UNBOUND, deadline=None):
            for _ in range(n):
                opi_bitrix24.get_users(hook, [1, 10])

    def baseline() -> None:
        for _ in range(n):
            session.post(hook + "im.user.list.get", json={"ID": [1, 10]}, timeout=(10, 60)).json()

    def convert_ours() -> None:
        for _ in range(n * 10):
            json.dumps({"ID": cv.array("[1,10]", "user_ids"), "TITLE": cv.text(10, "t")}, ensure_ascii=False)

    def convert_baseline() -> None:
        for _ in range(n * 10):
            json.dumps({"ID": [1, 10], "TITLE": "10"}, ensure_ascii=False)

    rows: List[Tuple[str, float, float, str, float]] = []

    def row(name: str, runs: List[List[Tuple[float, float]]], index: int, per: int) -> None:
        ratio = statistics.median(ours[index] / theirs[index] for ours, theirs in zip(runs[0], runs[1]))
        rows.append((name, median(runs[0], index) / per, median(runs[1], index) / per, "s", ratio))

    try:
        ours(), baseline()  # warm up connections
        calls = alternate(ours, baseline, args.repeat)
        row("call (per call)", calls, 0, n)
        row("call CPU (per call)", calls, 1, n)
        row("call, no deadline", alternate(ours_no_deadline, baseline, args.repeat), 0, n)
        row("convert (per call)", alternate(convert_ours, convert_baseline, args.repeat), 0, n * 10)
        mine, theirs = float(peak(ours)), float(peak(baseline))
        rows.append(("memory peak (bytes)", mine, theirs, "B", mine / theirs))
        py = sys.executable
        mine = subprocess_time([py, "-c", "import opi_bitrix24"], args.repeat)
        theirs = subprocess_time([py, "-c", "import json"], args.repeat)
        rows.append(("import (s)", mine, theirs, "s", mine / theirs))
        by_hand = f"import requests; requests.post('{hook}im.user.list.get', json={{'ID': ['10']}}).json()"
        mine = subprocess_time([py, "-m", "opi_bitrix24", "GetUsers", "--url", hook, "--users", "10"], args.repeat)
        theirs = subprocess_time([py, "-c", by_hand], args.repeat)
        rows.append(("cli call (s)", mine, theirs, "s", mine / theirs))
    finally:
        server.stdin.close()
        server.wait()

    print(f"{'measure (median)':<22} {'opi_bitrix24':>14} {'baseline':>14} {'ratio':>7}")
    for name, mine, theirs, unit, ratio in rows:
        fmt = (
            (lambda v: f"{v * 1e6:11.1f} µs")
            if unit == "s" and mine < 0.01
            else ((lambda v: f"{v * 1e3:11.1f} ms") if unit == "s" else (lambda v: f"{v / 1024:11.1f} KiB"))
        )
        print(f"{name:<22} {fmt(mine):>14} {fmt(theirs):>14} {ratio:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
