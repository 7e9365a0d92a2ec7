"""External conformance runner: drives any CLI implementation against a loopback replay server.

    python -m conformance.runner --impl python                     # adapters.yaml: python -m opi_bitrix24
    python -m conformance.runner --argv "oint bitrix24" --impl oint --tls
    python -m conformance.runner --impl python --run 'bitrix24/GetUsers/*' --json

Each test: start from the case's exchanges, run ``<argv prefix> <Method> --opt value ... --out FILE``,
then judge the exit code, the result read from FILE (stdout if FILE is missing), the requests the
server received (all, in order, nothing extra) and that no secret leaked into stdout, stderr or FILE.
Per-implementation expected failures live in ``expectations/<impl>.yaml``. Ends with the line
``N passed, N failed, N skipped``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .cases import SUITE, Case, cli_text, environment, expand, expected_result, json_diff, load_cases, parse_json
from .server import ReplayServer

EXIT_FOR_KIND = {"usage": 2, "runtime": 99}


def _adapters() -> Dict[str, Any]:
    with (SUITE / "adapters.yaml").open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle) or {})


def _expectations(impl: str) -> List[Dict[str, str]]:
    path = SUITE / "expectations" / f"{impl}.yaml"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return list((yaml.safe_load(handle) or {}).get("xfail") or [])


def _tls() -> Tuple[Any, str]:
    import trustme  # test extra; only needed with --tls

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    bundle = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
    bundle.write(authority.cert_pem.bytes())
    bundle.close()
    return context, bundle.name


def run_case(
    case: Case,
    argv_prefix: List[str],
    server: ReplayServer,
    scheme: str,
    extra_env: Dict[str, str],
    timeout: float,
    exit_codes: Dict[str, int],
) -> Tuple[bool, str]:
    """Run one case; returns (passed, message)."""
    secret = "k" + secrets.token_hex(8)
    token = "t" + secrets.token_hex(12)
    env = environment(scheme, f"127.0.0.1:{server.port}", secret, token)
    server.load(expand(case.http, env))
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "result.json"
        argv = list(argv_prefix) + [case.via or case.method]
        for option, value in case.args.items():
            argv += [f"--{option}", cli_text(expand(value, env))]
        argv += ["--out", str(out)]
        child_env = dict(os.environ, LANG="C.UTF-8", NO_COLOR="1", PYTHONIOENCODING="utf-8", **extra_env)
        child_env.update(expand(case.env, env))
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout, env=child_env, cwd=workdir, check=False)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout}s"
        except OSError as exc:
            return False, f"cannot start {argv[0]!r}: {exc}"
        output = out.read_bytes() if out.exists() else done.stdout
    stderr = done.stderr.decode("utf-8", errors="replace").strip()
    for stream_name, data in (("stdout", done.stdout), ("stderr", done.stderr), ("--out file", output)):
        for label, value in (("webhook key", secret), ("token", token)):
            if value.encode() in data:
                return False, f"the {label} appears in {stream_name}"
    if server.problems:
        return False, "; ".join(server.problems)
    if "error" in case.expect:
        kind = case.expect["error"].get("kind", "usage")
        want = case.expect["error"].get("cli_exit", exit_codes.get(kind))
        if done.returncode == 0:
            return False, f"expected a {kind} error, the command exited 0"
        if want is not None and done.returncode != want:
            return False, f"expected exit {want} for a {kind} error, got {done.returncode}: {stderr[:200]}"
        if kind == "usage" and server.served:
            return False, "a usage error must send nothing, but a request was made"
        parameter = case.expect["error"].get("parameter")
        if parameter and f"--{parameter}" not in stderr + output.decode("utf-8", errors="replace"):
            return False, f"the error does not name --{parameter}: {stderr[:200]}"
        return True, ""
    if done.returncode != 0:
        return False, f"exit {done.returncode}: {stderr[:300]}"
    if server.unserved():
        return False, f"{server.unserved()} expected request(s) never arrived"
    expected = expected_result(case, env)
    if isinstance(expected, str):
        actual_text = output.decode("utf-8").rstrip("\r\n")
        return (True, "") if actual_text == expected else (False, f"expected {expected!r}, got {actual_text[:200]!r}")
    try:
        actual = parse_json(output)
    except ValueError:
        return False, f"the result is not JSON: {output[:120]!r}"
    problem = json_diff(expected, actual)
    return (problem is None), (problem or "")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.runner", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--impl", default="python", help="implementation name (adapters.yaml, expectations/<impl>.yaml)"
    )
    parser.add_argument(
        "--argv", help="argv prefix of the CLI under test, e.g. 'oint bitrix24' (overrides adapters.yaml)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA (trusted via REQUESTS_CA_BUNDLE/SSL_CERT_FILE)",
    )
    parser.add_argument("--run", action="append", default=[], help="only tests whose id matches this glob")
    parser.add_argument("--skip", action="append", default=[], help="skip tests whose id matches this glob")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    parser.add_argument("--json", action="store_true", help="one JSON line per test instead of text")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="tests run at once (default: CPUs)")
    parser.add_argument("--script", action="store_true", help="print an expectations skeleton for the failures")
    args = parser.parse_args(argv)

    adapter = _adapters().get(args.impl, {})
    prefix = (
        shlex.split(args.argv)
        if args.argv
        else [sys.executable if part == "{python}" else part for part in adapter.get("argv", [])]
    )
    if not prefix:
        parser.error(f"no argv for implementation {args.impl!r}: pass --argv or add it to conformance/adapters.yaml")
    exit_codes = dict(EXIT_FOR_KIND, **(adapter.get("exit_codes") or {}))
    xfails = _expectations(args.impl)

    tls_context, bundle = _tls() if args.tls else (None, "")
    extra_env = {"REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle} if bundle else {}
    scheme = "https" if args.tls else "http"
    counts = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}
    failures: List[str] = []
    selected = [
        case
        for case in load_cases()
        if not (args.run and not case.matches(args.run)) and not (args.skip and case.matches(args.skip))
    ]
    servers: List[ReplayServer] = []
    local = threading.local()

    def judge(case: Case) -> Tuple[str, str, float]:
        xfail = next((x for x in xfails if case.matches([x["id"]])), None)
        if "tls" in case.tags and not args.tls:
            return "skip", "needs --tls (a scheme-less address means HTTPS)", 0.0
        if not hasattr(local, "server"):  # one replay server per worker thread
            local.server = ReplayServer(tls_context)
            servers.append(local.server)
        started = time.monotonic()
        ok, message = run_case(case, prefix, local.server, scheme, extra_env, args.timeout, exit_codes)
        elapsed = time.monotonic() - started
        if xfail:
            if ok:
                return "xpass", "listed as an expected failure in expectations but passed: remove the entry", elapsed
            return "xfail", f"{message} (expected: {xfail.get('reason', '')})", elapsed
        return ("pass" if ok else "fail"), message, elapsed

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for case, (status, message, elapsed) in zip(selected, pool.map(judge, selected)):
                key = {"pass": "passed", "fail": "failed", "xpass": "failed", "skip": "skipped", "xfail": "xfailed"}
                counts[key[status]] += 1
                if status in ("fail", "xpass"):
                    failures.append(case.full_id)
                if args.json:
                    record = {"id": case.full_id, "impl": args.impl, "status": status, "message": message}
                    print(json.dumps({**record, "ms": round(elapsed * 1000)}, ensure_ascii=False))
                else:
                    suffix = f"  -- {message}" if message and status != "pass" else ""
                    print(f"{status.upper():5} {case.full_id}{suffix}")
    finally:
        for server in servers:
            server.close()
        if bundle:
            os.unlink(bundle)
    if args.script and failures:
        print(yaml.safe_dump({"xfail": [{"id": f, "reason": "TODO"} for f in failures]}, allow_unicode=True))
    if counts["xfailed"]:
        print(f"{counts['xfailed']} expected failures (expectations/{args.impl}.yaml) counted as skipped")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped'] + counts['xfailed']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
