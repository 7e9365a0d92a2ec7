"""What the conformance runner costs on top of the CLI it drives (issue 23 item 5).

    python benchmarks/suite_cost.py                    # this package's CLI, one process per case, 60 cases
    python benchmarks/suite_cost.py --argv "node tests/second_impl/mini-opi.js" --impl mini --cases 40

Both sides start the same CLI with the same arguments the same number of times, one at a time:

- **CLI alone**: each case's argv run directly against a loopback server that answers every request at once
  with ``{"result": {}}``: the cost of starting the CLI and making its call;
- **runner**: ``python -m opi_bitrix24_conformance.runner --jobs 1 --process-per-case`` over the same cases
  (replay server, judging, reports).

It prints both wall times and the runner's overhead as a ratio of the CLI-alone time, measured in the same run
(so the machine's load cancels out as far as it can). The figure the README quotes comes from this command.
"""

from __future__ import annotations

import argparse
import http.server
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opi_bitrix24_conformance.runner.cases import cli_text, environment, expand, load_cases  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--argv", default=f"{sys.executable} -m opi_bitrix24", help="the CLI's argv prefix")
    parser.add_argument("--impl", default="python-script", help="the runner's --impl (adapters.yaml, expectations)")
    parser.add_argument("--cases", type=int, default=60, help="how many runnable cases (first in suite order)")
    parser.add_argument("--run", default="bitrix24/GetUsers/*", help="which cases (a glob over ids)")
    args = parser.parse_args()
    prefix = shlex.split(args.argv)
    cases = [c for c in load_cases() if c.matches([args.run]) and c.args_native is None and "tls" not in c.tags]
    cases = (cases * (args.cases // max(1, len(cases)) + 1))[: args.cases]

    class Answer(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"result": {}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    where = f"127.0.0.1:{server.server_address[1]}"
    env = environment("http", where, "key", "token", where)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        for case in cases:
            argv = [*prefix, case.method]
            for option, value in case.args.items():
                argv += [f"--{option}", cli_text(expand(value, env))]
            subprocess.run([*argv, "--out", os.path.join(work, "r.json")], capture_output=True, check=False)
    alone = time.monotonic() - started
    server.shutdown()
    ids = sorted({c.full_id for c in cases})
    runs = -(-len(cases) // len(ids))  # the runner runs each selected case once; repeat to match the count
    started = time.monotonic()
    for _ in range(runs):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "opi_bitrix24_conformance.runner",
                "--argv",
                args.argv,
                "--impl",
                args.impl,
                "--jobs",
                "1",
            ]
            + ["--process-per-case", "--json", "--expectations", os.devnull]
            + [arg for case_id in ids for arg in ("--run", case_id)],
            capture_output=True,
            cwd=ROOT,
            check=False,
        )
    runner = (time.monotonic() - started) * len(cases) / (runs * len(ids))
    print(f"{len(cases)} case runs of {shlex.join(prefix)}")
    print(f"  CLI alone: {alone:.2f} s ({alone / len(cases) * 1000:.0f} ms a case)")
    print(f"  runner:    {runner:.2f} s ({runner / len(cases) * 1000:.0f} ms a case)")
    print(f"  runner overhead: {(runner - alone) / alone:.2f}x the CLI's own cost (target: within 1.25x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
