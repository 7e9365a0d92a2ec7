"""The ``run`` subcommand: load the cases and the implementation's declarations, run the selected cases (execution),
judge them (judging) and report (reports). Options: ``options.py``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple

from .execution import Worker, absolute_if_file, cannot_start, run_case, tls_context
from .loading import adapters, check_against_cases, expectations_file, load_cases, package_version, suite_version
from .model import DEFAULT_POLICY, EXIT_FOR_KIND, NATIVE_SKIP, SUITE, Case, Declared, section_of, under_policy
from .opiformat import FORMATS
from .reports import (
    STATUSES,
    failure_block,
    header_line,
    json_line,
    junit_xml,
    script_skeleton,
    section_table,
    summary_line,
)
from .server import ReplayServer

__all__ = ["EXIT_CANNOT_START", "NOT_IMPLEMENTED", "execute"]

#: The message of a case whose function the expectations file lists as not implemented (the case is not started).
NOT_IMPLEMENTED = "not implemented (the expectations file's not_implemented)"
#: Exit status when the CLI under test cannot be started at all (one error instead of a failure per case).
EXIT_CANNOT_START = 3


def _python(parts: List[str]) -> List[str]:
    return [sys.executable if part == "{python}" else part for part in parts]


def execute(args: argparse.Namespace) -> int:
    # the adapter of --impl applies however the runner is started; --argv replaces only its command
    adapter = adapters().get(args.impl, {})
    prefix = shlex.split(args.argv) if args.argv else _python(adapter.get("argv", []))
    # each case runs in its own empty directory: a relative path in --argv ("node cli.js") means the caller's
    prefix = [absolute_if_file(part) for part in prefix]
    if not prefix:
        args.usage_error(f"no argv for implementation {args.impl!r}: pass --argv or add it to adapters.yaml")
    persistent = adapter.get("persistent")
    worker_command = _python(persistent) if persistent and not args.process_per_case and not args.argv else None
    expectations_path: Path = args.expectations or SUITE / "expectations" / f"{args.impl}.yaml"
    if args.expectations and not args.expectations.exists():
        args.usage_error(f"--expectations: no file {str(args.expectations)!r}")
    try:
        expected = expectations_file(expectations_path)
    except ValueError as exc:
        args.usage_error(str(exc))
    # exit codes per error kind: the defaults, then adapters.yaml's, then the expectations file's
    exit_codes = {**EXIT_FOR_KIND, **(adapter.get("exit_codes") or {}), **expected["exit_codes"]}
    output_format = args.output or expected["output"] or adapter.get("output") or "json"
    if output_format not in FORMATS:
        args.usage_error(f"adapters.yaml: unknown output format {output_format!r} for {args.impl}")
    why = cannot_start(prefix) if worker_command is None else None
    if why:
        print(
            f"{args.prog}: error: cannot start the CLI under test: {why} "
            "(check --argv, or the argv of this implementation in adapters.yaml)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_START
    tag_filter: List[str] = args.tags or expected["tags"]
    tag_groups = [{tag.strip() for tag in group.split(",") if tag.strip()} for group in tag_filter]
    xfails = expected["xfail"]
    relax: List[str] = expected["relax"]
    policy = args.policy or expected["policy"] or adapter.get("policy") or DEFAULT_POLICY
    declared = Declared(
        exit_codes=exit_codes,
        output=output_format,
        names_options=expected["names_options"],
        stdout_with_out=expected["stdout_with_out"],
        relax=tuple(relax),
    )
    every_case = load_cases()
    try:
        check_against_cases(expected, every_case, expectations_path)
    except ValueError as exc:
        args.usage_error(str(exc))
    not_implemented = set(expected["not_implemented"])
    xpass_fails = (args.xpass or expected["xpass"]) == "fail"
    selected = [
        case
        for case in every_case
        if not (args.run and not case.matches(args.run))
        and not (args.skip and case.matches(args.skip))
        and all(group & set(case.tags) for group in tag_groups)
    ]

    tls, bundle = tls_context() if args.tls else (None, "")
    extra_env = dict(expected["env"])
    if bundle:
        extra_env.update(REQUESTS_CA_BUNDLE=bundle, SSL_CERT_FILE=bundle)
    scheme = "https" if args.tls else "http"
    servers: List[ReplayServer] = []
    workers: List[Worker] = []
    local = threading.local()
    lock = threading.Lock()

    def judged(case: Case) -> Tuple[str, str, float, List[str]]:
        xfail = next((x for x in xfails if case.matches([x["id"]])), None)
        if case.method in not_implemented:  # not started: costs nothing
            return "skip", NOT_IMPLEMENTED, 0.0, []
        if "tls" in case.tags and not args.tls:
            return "skip", "needs --tls (a scheme-less address means HTTPS)", 0.0, []
        if case.args_native is not None:  # typed values cannot be typed on a command line
            return "skip", NATIVE_SKIP, 0.0, []
        if not hasattr(local, "server"):  # one replay server (and persistent adapter) per worker thread
            local.server = ReplayServer(tls, relax)
            local.worker = Worker(worker_command) if worker_command else None
            with lock:
                servers.append(local.server)
                if local.worker:
                    workers.append(local.worker)
        started = time.monotonic()
        ok, message, shown = run_case(
            under_policy(case, policy, expected["outcomes"]),
            prefix,
            local.server,
            scheme,
            extra_env,
            args.timeout,
            declared,
            local.worker,
        )
        elapsed = time.monotonic() - started
        if not ok and (case.policy or case.full_id in expected["outcomes"]):
            message += f" (the {policy} outcome)"
        if xfail:
            if ok:
                return "xpass", "listed as an expected failure but passed: remove the entry", elapsed, shown
            return "xfail", f"{message} (expected: {xfail.get('reason', '')})", elapsed, shown
        return ("pass" if ok else "fail"), message, elapsed, shown

    results_file: Optional[IO[str]] = args.results.open("w", encoding="utf-8") if args.results else None
    records: List[Dict[str, Any]] = []
    started = time.monotonic()

    def emit(record: Dict[str, Any]) -> None:
        line = json_line(record)
        if args.json:
            print(line, flush=False)
        if results_file is not None:
            results_file.write(line + "\n")

    if not args.json:
        head = header_line(len(selected), prefix, args.impl, scheme, policy, output_format, relax, tag_filter)
        print(head, flush=True)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for case, (status, message, elapsed, shown) in zip(selected, pool.map(judged, selected)):
                record = {
                    "id": case.full_id,
                    "impl": args.impl,
                    "section": section_of(case),
                    "method": case.method,
                    "origin": case.origin,
                    "status": status,
                    "message": message,
                    "description": case.description,
                    "argv": shown,
                    "ms": round(elapsed * 1000),
                }
                records.append(record)
                emit(record)
                if not args.json and not (args.quiet and status in ("pass", "skip", "xfail")):
                    suffix = f"  -- {message}" if message and status != "pass" else ""
                    print(f"{status.upper():5} {case.full_id}{suffix}")
    finally:
        for worker in workers:
            worker.close()
        for server in servers:
            server.close()
        if bundle:
            os.unlink(bundle)
    seconds = time.monotonic() - started
    counts = {status: sum(r["status"] == status for r in records) for status in STATUSES}
    failed = counts["fail"] + (counts["xpass"] if xpass_fails else 0)
    summary = {
        "summary": True,
        "impl": args.impl,
        "suite_version": suite_version(),
        "package_version": package_version(),
        "argv": prefix,
        "scheme": scheme,
        "policy": policy,
        "relaxed": relax,
        "output": output_format,
        "exit_codes": exit_codes,
        "tags": tag_filter,
        "not_implemented": sum(r["message"] == NOT_IMPLEMENTED for r in records),
        "passed": counts["pass"],
        "failed": failed,
        "skipped": counts["skip"] + counts["xfail"],
        "counts": counts,
        "seconds": round(seconds, 3),
    }
    emit(summary)
    if results_file is not None:
        results_file.close()
    if args.junit_xml:
        args.junit_xml.write_text(junit_xml(records, args.impl, seconds, prefix), encoding="utf-8")
    if args.json:
        return 1 if failed else 0
    bad = [r for r in records if r["status"] == "fail" or (r["status"] == "xpass" and xpass_fails)]
    if counts["xpass"] and not xpass_fails:
        print(f"\n{counts['xpass']} expected failure(s) passed (reported, not failing the run: remove their entries):")
        for r in records:
            if r["status"] == "xpass":
                print(f"  XPASS {r['id']}")
    if bad:
        print(f"\n{len(bad)} failure(s):")
        for r in bad:
            print(failure_block(r))
    if args.script:
        skeleton = script_skeleton(records)
        if args.script == "-":
            print("\n" + skeleton, end="")
        else:
            Path(args.script).write_text(skeleton, encoding="utf-8")
            print(f"\nexpectations skeleton written to {args.script}")
    print()
    print(section_table(records))
    if counts["xfail"]:
        print(f"{counts['xfail']} expected failures ({expectations_path}) counted as skipped")
    print(summary_line(counts["pass"], failed, summary["skipped"], seconds))
    return 1 if failed else 0
