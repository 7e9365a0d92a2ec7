"""Many worker processes, one portal: shared state against per-process state. Not a test.

    python benchmarks/workers.py                 # 8 processes, portal 10/s burst 10, 8 s per run
    python benchmarks/workers.py --processes 4 --rate 2 --burst 50 --seconds 40   # the cloud's numbers

N processes call ``profile`` as fast as their client lets them, for ``--seconds``, against the
limit-enforcing loopback portal (opi_bitrix24.testing), with ``retries=0`` so that every 503 counts:

- ``memory``: the default per-process state (each process paces alone);
- ``sqlite``: one SQLite file shared by the processes;
- ``redis``: one Redis server shared by the processes;
- ``redis, 2 hosts``: two groups of N/2 processes standing for two machines, each group reaching the
  Redis server by another address (``127.0.0.1`` and ``localhost``) and the portal by another spelling
  of its address.

For each run: the requests per second the processes sent, the requests the portal accepted, its 503s,
other errors, and the steady throughput the portal accepted after its burst —
``(accepted - burst) / (last accepted - first accepted)`` — as a share of its limit (at most 1.0 in
theory; the target is >= 0.9 with 0 x 503). Then the cost of the state per request: the bucket take,
the operating-time read and the operating-time write of one call, in microseconds, for each backend,
measured in this process without the network.

A Redis server is started on a free loopback port (``redis-server`` must be installed) unless
``--redis URL`` is given; without one the Redis rows are left out, saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import opi_bitrix24 as b24  # noqa: E402
from opi_bitrix24 import _flow, _limits, _state, _sync  # noqa: E402
from opi_bitrix24.testing import SimPortal  # noqa: E402


def worker(state: str, url: str, seconds: float, rate: float, burst: int) -> None:
    """One process: calls until the time is up; prints what it got (one JSON line)."""
    print("ready", flush=True)
    sys.stdin.readline()
    ok = limited = other = 0
    end = time.monotonic() + seconds
    with b24.settings(state=state, rate_limit=(rate, burst), retries=0):
        while time.monotonic() < end:
            answer = b24.call(url, "profile")
            if "result" in answer:
                ok += 1
            elif answer.get("error") == "QUERY_LIMIT_EXCEEDED":
                limited += 1
            else:
                other += 1
    print(json.dumps({"ok": ok, "limited": limited, "other": other}), flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis() -> Tuple[Optional[subprocess.Popen[bytes]], Optional[str], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None, "redis-server is not installed"
    try:
        import redis
    except ImportError:
        return None, None, "the redis client is not installed (pip install 'opi-bitrix24[redis]')"
    folder = tempfile.mkdtemp(prefix="opi-bench-redis-")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            return process, f"redis://127.0.0.1:{port}/0", ""
        except redis.RedisError:
            time.sleep(0.05)
    process.kill()
    return None, None, "redis-server did not start"


Run = Dict[str, Any]


def run(name: str, sim: SimPortal, groups: List[Tuple[str, str, int]], seconds: float, rate: float, burst: int) -> Run:
    """Start the processes of every group (state, portal address, count) together; the portal's view."""
    _limits.reset()
    sim.stats.clear()
    sim.level = 0.0
    accepted: List[float] = []
    sent: List[float] = []
    honest = sim._take
    lock = threading.Lock()

    def take() -> bool:
        allowed = honest()
        with lock:
            sent.append(time.monotonic())
            if allowed:
                accepted.append(time.monotonic())
        return allowed

    sim._take = take  # type: ignore[method-assign]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    processes = []
    for state, url, count in groups:
        for _ in range(count):
            argv = [sys.executable, __file__, "--worker", state, url, str(seconds), str(rate), str(burst)]
            processes.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env))
    for process in processes:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outs = [json.loads(process.communicate()[0]) for process in processes]
    sim._take = honest  # type: ignore[method-assign]
    steady = 0.0
    if len(accepted) > burst + 1 and accepted[-1] > accepted[0]:
        steady = (len(accepted) - burst) / (accepted[-1] - accepted[0])
    offered = len(sent) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else 0.0
    return {
        "name": name,
        "processes": len(processes),
        "accepted": len(accepted),
        "503": sim.stats["503"],
        "errors": sum(o["other"] for o in outs),
        "offered": offered,
        "steady": steady,
        "share": steady / rate,
    }


def state_cost(spec: str, calls: int) -> float:
    """Microseconds of state work per request: bucket take, operating-time read and write."""
    address = "https://bench.example/rest/"
    block = {"operating": 1.0, "operating_reset_at": time.time() + 600}
    with b24.settings(state=spec):
        store = _state.current()
        store.reset()
        for _ in range(50):  # warm up (connections, schema, scripts)
            _sync.run(_flow.acquire(address, (1e9, 10**9)))
        start = time.perf_counter()
        for _ in range(calls):
            _sync.run(_flow.operating_pause(address, "crm.lead.list", 5.0))
            _sync.run(_flow.acquire(address, (1e9, 10**9)))
            _limits.note_time(address, "crm.lead.list", block)
        elapsed = time.perf_counter() - start
        store.reset()
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--calls", type=int, default=3000, help="calls per backend for the cost per request")
    parser.add_argument("--redis", default="", help="an existing Redis (redis://host:port/db) instead of our own")
    args = parser.parse_args()
    redis_process: Optional[subprocess.Popen[bytes]] = None
    redis_url: Optional[str] = args.redis or None
    why = ""
    if redis_url is None:
        redis_process, redis_url, why = start_redis()
    folder = tempfile.mkdtemp(prefix="opi-bench-state-")
    n, half = args.processes, args.processes // 2
    runs: List[Run] = []
    try:
        with SimPortal(records=1, rate=args.rate, burst=args.burst) as sim:
            port = sim.base.rsplit(":", 1)[1]
            other_spelling = f"HTTP://127.0.0.1:{port}/rest/1/{sim.webhook.split('/')[-2]}"
            plan: List[Tuple[str, List[Tuple[str, str, int]]]] = [
                ("memory (per process)", [("memory", sim.webhook, n)]),
                ("sqlite", [(f"sqlite:///{folder}/state.db", sim.webhook, n)]),
            ]
            if redis_url:
                prefix = f"?prefix=bench{os.getpid()}:"
                plan.append(("redis", [(redis_url + prefix, sim.webhook, n)]))
                plan.append(
                    (
                        "redis, 2 hosts",
                        [
                            (redis_url + prefix, sim.webhook, half),
                            (redis_url.replace("127.0.0.1", "localhost") + prefix, other_spelling, n - half),
                        ],
                    )
                )
            for name, groups in plan:
                runs.append(run(name, sim, groups, args.seconds, args.rate, args.burst))
        costs = [("memory", state_cost("memory", args.calls))]
        costs.append(("sqlite", state_cost(f"sqlite:///{folder}/cost.db", args.calls)))
        if redis_url:
            costs.append(("redis", state_cost(redis_url + f"?prefix=cost{os.getpid()}:", args.calls)))
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait()
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"portal limit {args.rate:g}/s burst {args.burst}; {args.seconds:g} s per run; retries=0 "
        f"(python benchmarks/workers.py --processes {args.processes} --rate {args.rate:g} --burst {args.burst} "
        f"--seconds {args.seconds:g})"
    )
    print(
        f"{'state':<22}{'processes':>10}{'sent /s':>9}{'accepted':>10}{'503':>7}{'other':>7}"
        f"{'steady /s':>11}{'x limit':>9}"
    )
    for r in runs:
        print(
            f"{r['name']:<22}{r['processes']:>10}{r['offered']:>9.1f}{r['accepted']:>10}{r['503']:>7}{r['errors']:>7}"
            f"{r['steady']:>11.2f}{r['share']:>9.2f}"
        )
    if not redis_url:
        print(f"redis rows left out: {why}")
    base = costs[0][1]
    print(f"\nstate cost per request (take + operating read + write), {args.calls} calls:")
    for name, micro in costs:
        print(f"  {name:<8}{micro:>9.1f} us  ({micro / base:.1f}x memory)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        state, url, seconds, rate, burst = sys.argv[2:7]
        worker(state, url, float(seconds), float(rate), int(burst))
    else:
        main()
