"""Benchmarks: opi_bitrix24 against a baseline doing the same work by hand, run side by side.

    python benchmarks/bench.py [--calls 2000] [--repeat 5]

Each row runs the measured code and its baseline alternately (best of --repeat) and prints the ratio:
- call: get_users(webhook, [1, 10]) vs requests.Session.post(json=...) + .json() on the same loopback server
- convert: the argument conversions of a call vs json.dumps of the final body
- memory: tracemalloc peak of --calls calls vs the baseline's
- import: `import opi_bitrix24` vs `import json` in a fresh interpreter (requests is not imported)
- cli: `python -m opi_bitrix24 GetUsers ...` vs `python -c "import requests; ..."` doing the same request
Numbers are for comparison on one machine, not absolute claims.
"""

from __future__ import annotations

import argparse
import http.server
import json
import subprocess
import sys
import threading
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


def best(func: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def peak(func: Callable[[], None]) -> int:
    tracemalloc.start()
    func()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def subprocess_time(argv: List[str], repeat: int) -> float:
    return best(lambda: subprocess.run(argv, check=True, capture_output=True, cwd=ROOT), repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    hook = f"{base}/rest/1/benchkey/"
    session = requests.Session()
    n = args.calls

    def ours() -> None:
        with opi_bitrix24.settings(session=session):
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

    rows: List[Tuple[str, float, float, str]] = []
    ours(), baseline()  # warm up connections
    rows.append(("call (s per call)", best(ours, args.repeat) / n, best(baseline, args.repeat) / n, "s"))
    rows.append(
        (
            "convert (s per call)",
            best(convert_ours, args.repeat) / (n * 10),
            best(convert_baseline, args.repeat) / (n * 10),
            "s",
        )
    )
    rows.append(("memory peak (bytes)", float(peak(ours)), float(peak(baseline)), "B"))
    py = sys.executable
    rows.append(
        (
            "import (s)",
            subprocess_time([py, "-c", "import opi_bitrix24"], args.repeat),
            subprocess_time([py, "-c", "import json"], args.repeat),
            "s",
        )
    )
    by_hand = f"import requests; requests.post('{hook}im.user.list.get', json={{'ID': ['10']}}).json()"
    rows.append(
        (
            "cli call (s)",
            subprocess_time([py, "-m", "opi_bitrix24", "GetUsers", "--url", hook, "--users", "10"], args.repeat),
            subprocess_time([py, "-c", by_hand], args.repeat),
            "s",
        )
    )
    server.shutdown()

    print(f"{'measure':<22} {'opi_bitrix24':>14} {'baseline':>14} {'ratio':>7}")
    for name, mine, theirs, unit in rows:
        fmt = (
            (lambda v: f"{v * 1e6:11.1f} µs")
            if unit == "s" and mine < 0.01
            else ((lambda v: f"{v * 1e3:11.1f} ms") if unit == "s" else (lambda v: f"{v / 1024:11.1f} KiB"))
        )
        print(f"{name:<22} {fmt(mine):>14} {fmt(theirs):>14} {mine / theirs:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
