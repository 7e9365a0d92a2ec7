"""What the conformance runner costs on top of the CLI it drives (issue 23 item 5).

    python benchmarks/suite_cost.py                    # this package's CLI, one process per case, 60 cases
    python benchmarks/suite_cost.py --argv "node tests/second_impl/mini-opi.js" --impl mini --run 'bitrix24/GetUsers/*'

Both sides start the same CLI with the same arguments against the same scripted answers, one case at a time, in
pairs of chunks of cases (``--chunk``, the runner started once per chunk, so its own start counts more than in a
whole-suite run), so that a drifting machine load falls on both sides of each pair:

- **CLI alone** (the baseline): each case's argv run directly, the replay server loaded with the case's exchanges
  as the implementation's transport policy consumes them (a re-sent request is answered as in the real run): the
  cost of starting the CLI and making its calls;
- **runner**: ``python -m opi_bitrix24_conformance.runner --jobs 1 --process-per-case`` over the same cases
  (its own start, the replay server, a working directory per case, judging, reports).

``--slow SECONDS`` measures instead what more jobs than CPUs give a CLI that mostly waits (a slow start): a fake
CLI that sleeps that long per call, the runner over ``--cases`` cases with ``--jobs 1`` and with ``--jobs`` 4x the
CPUs, side by side.

It prints both wall times and the runner's overhead, (runner - CLI alone) / CLI alone: the median over the
pairs (steady under a changing load) and the ratio of the totals. The figure the suite's README quotes comes from
this command.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opi_bitrix24_conformance.runner.loading import adapters, load_cases  # noqa: E402
from opi_bitrix24_conformance.runner.model import (  # noqa: E402
    DEFAULT_POLICY,
    Case,
    cli_text,
    environment,
    expand,
    under_policy,
)
from opi_bitrix24_conformance.runner.server import ReplayServer  # noqa: E402


def alone(cases: List[Case], prefix: List[str], policy: str) -> float:
    """The CLI run directly on each case, against the case's scripted answers: wall seconds."""
    server = ReplayServer()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        for given in cases:
            case = under_policy(given, policy)
            host, other = f"127.0.0.1:{server.port}", f"localhost:{server.port}"
            env = environment("http", host, "k" + secrets.token_hex(8), "t" + secrets.token_hex(12), other)
            exchanges = expand(case.http, env)
            for exchange in exchanges:
                exchange["request"].setdefault("origin", env["PORTAL"])
            server.load(exchanges)
            argv = [*prefix, case.via or case.method]
            for option, value in case.args.items():
                argv += [f"--{option}", cli_text(expand(value, env))]
            # the environment the runner gives the CLI (execution.run_case)
            child_env = dict(os.environ, LANG="C.UTF-8", NO_COLOR="1", PYTHONIOENCODING="utf-8")
            child_env.update(expand(case.env, env))
            argv += ["--out", os.path.join(work, "r.json")]
            subprocess.run(argv, capture_output=True, check=False, cwd=work, env=child_env)
    seconds = time.monotonic() - started
    server.close()
    return seconds


def through_runner(ids: List[str], argv: str, impl: str) -> float:
    """The runner over the same cases, one job, one process per case: wall seconds."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--argv", argv, "--impl", impl, "--jobs", "1"]
        + ["--process-per-case", "--json", "--expectations", os.devnull]
        + [arg for case_id in ids for arg in ("--run", case_id)],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    return time.monotonic() - started


SLOW_CLI = "import sys, time\ntime.sleep(float(sys.argv[1]))\nsys.exit(2)\n"


def slow_jobs(seconds: float, cases: List[Case]) -> None:
    """The runner over a CLI that waits ``seconds`` per call, with one job and with 4x the CPUs."""
    ids = [case.full_id for case in cases]
    many = 4 * (os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as work:
        fake = os.path.join(work, "slow_cli.py")
        Path(fake).write_text(SLOW_CLI, encoding="utf-8")
        argv = shlex.join([sys.executable, fake, str(seconds)])
        timed = {}
        for jobs in (1, many):
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--argv", argv, "--impl", "slow"]
                + ["--jobs", str(jobs), "--json", "--expectations", os.devnull]
                + [arg for case_id in ids for arg in ("--run", case_id)],
                capture_output=True,
                cwd=ROOT,
                check=False,
            )
            timed[jobs] = time.monotonic() - started
    print(f"{len(cases)} cases of a CLI that waits {seconds} s a call, {os.cpu_count()} CPUs:")
    print(f"  --jobs 1: {timed[1]:.2f} s; --jobs {many}: {timed[many]:.2f} s ({timed[1] / timed[many]:.1f}x faster)")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--argv", default=f"{sys.executable} -m opi_bitrix24", help="the CLI's argv prefix")
    parser.add_argument("--impl", default="python-script", help="the runner's --impl (adapters.yaml: its policy)")
    parser.add_argument("--cases", type=int, default=60, help="how many runnable cases (first in suite order)")
    parser.add_argument("--run", action="append", help="which cases (a glob over ids; repeat for more; default: all)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the cases")
    parser.add_argument("--chunk", type=int, default=10, help="cases per pair (the runner starts once per chunk)")
    parser.add_argument("--slow", type=float, help="measure --jobs over a CLI that waits this long per call instead")
    args = parser.parse_args()
    prefix = [os.path.abspath(part) if os.path.isfile(part) else part for part in shlex.split(args.argv)]
    policy = adapters().get(args.impl, {}).get("policy") or DEFAULT_POLICY
    globs = args.run or ["bitrix24/*"]
    runnable = [c for c in load_cases() if c.matches(globs) and c.args_native is None and "tls" not in c.tags]
    cases = runnable[: args.cases]
    if args.slow is not None:
        slow_jobs(args.slow, cases)
        return 0
    base = runner = 0.0
    ratios = []
    for _ in range(max(1, args.rounds)):
        for start in range(0, len(cases), max(1, args.chunk)):
            chunk = cases[start : start + max(1, args.chunk)]
            alone_seconds = alone(chunk, prefix, policy)
            runner_seconds = through_runner([case.full_id for case in chunk], shlex.join(prefix), args.impl)
            base, runner = base + alone_seconds, runner + runner_seconds
            ratios.append((runner_seconds - alone_seconds) / alone_seconds)
    count = len(cases) * max(1, args.rounds)
    print(f"{count} case runs of {shlex.join(prefix)} ({len(cases)} cases of {' '.join(globs)}, {args.rounds} rounds)")
    print(f"  CLI alone: {base:.2f} s ({base / count * 1000:.0f} ms a case)")
    print(f"  runner:    {runner:.2f} s ({runner / count * 1000:.0f} ms a case)")
    print(
        f"  runner overhead: {statistics.median(ratios):.2f}x the CLI's own cost (median of {len(ratios)} pairs of "
        f"{args.chunk} cases; totals: {(runner - base) / base:.2f}x; target: within 1.25x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
