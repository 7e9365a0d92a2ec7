"""External conformance runner: drives any CLI implementation of OPI's Bitrix24 module against a loopback replay server.

    python -m opi_bitrix24_conformance.runner --impl python                     # adapters.yaml: python -m opi_bitrix24
    python -m opi_bitrix24_conformance.runner --argv "oint bitrix24" --impl oint --tls
    opi-bitrix24-conformance --argv "my-cli bitrix24" --impl mine --expectations ci/expected.yaml \\
        --junit-xml junit.xml --results results.jsonl            # from any directory, after pip install

Each test: load the case's exchanges into the server, run ``<argv prefix> <Method> --opt value ... --out FILE``,
then judge the exit code, the result read from FILE (stdout if FILE is missing), the requests the server
received (all, in order, nothing extra) and that no secret leaked into stdout, stderr or FILE. Expected
failures come from ``--expectations PATH`` (default: the suite's ``expectations/<impl>.yaml``).
The text report ends with the failures (id, description, argv, difference), a per-section table and
the line ``N passed, N failed, N skipped``; ``--json`` prints JSON lines only (the summary is the last one).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import dataclasses
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple
from xml.sax.saxutils import escape, quoteattr

from .cases import (
    DEFAULT_POLICY,
    NATIVE_SKIP,
    POLICIES,
    RELAXATIONS,
    SUITE,
    Case,
    cli_text,
    environment,
    expand,
    expected_result,
    json_diff,
    load_cases,
    parse_json,
    section_of,
    suite_version,
    under_policy,
)
from .opiformat import FORMATS
from .opiformat import parse as parse_opi
from .server import ReplayServer

EXIT_FOR_KIND = {"usage": 2, "runtime": 99}
NOT_IMPLEMENTED = "not implemented (the expectations file's not_implemented)"
STATUSES = ("pass", "fail", "xfail", "xpass", "skip")
COLUMNS = STATUSES


def _read_data(path: Path) -> Any:
    """A YAML or JSON file (JSON needs no PyYAML)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def _adapters() -> Dict[str, Any]:
    return dict(_read_data(SUITE / "adapters.yaml") or {})


def expectations(path: Path) -> List[Dict[str, str]]:
    """The ``xfail`` list of an expectations file (``{xfail: [{id: <glob>, reason: <text>}]}``)."""
    return list(expectations_file(path)["xfail"])


#: What an expectations file may say (see README "Expectations file").
EXPECTATION_KEYS = (
    "xfail",
    "relax",
    "policy",
    "outcomes",
    "output",
    "exit_codes",
    "env",
    "names_options",
    "tags",
    "stdout_with_out",
    "not_implemented",
    "xpass",
)
#: Exit status when the CLI under test cannot be started at all (one error instead of a failure per case).
EXIT_CANNOT_START = 3


def expectations_file(path: Optional[Path]) -> Dict[str, Any]:
    """An expectations file: ``xfail`` (expected failures), ``relax`` (matching relaxations), ``policy``
    (the transport policy followed), ``outcomes`` (per case id: ``requests`` / ``expect`` overrides),
    ``output`` (the result format written: ``json`` or OPI's writer format ``opi``), ``exit_codes`` (per error
    kind), ``env`` (environment for every case, e.g. ``TZ``), ``names_options`` (``false``: the error
    messages do not name the option, so that check is off), ``stdout_with_out`` (``any``: the CLI prints
    something besides writing ``--out``; default ``empty``) and ``tags`` (the default of ``--tags``, e.g.
    ``[opi]``: judged only on the cases that pin OPI's own behaviour)."""
    data = (_read_data(path) or {}) if path is not None and path.exists() else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: an expectations file is a mapping")
    unknown_keys = sorted(set(data) - set(EXPECTATION_KEYS))
    if unknown_keys:
        raise ValueError(f"{path}: unknown key(s) {unknown_keys} (known: {', '.join(EXPECTATION_KEYS)})")
    entries = list(data.get("xfail") or [])
    for entry in entries:
        if not isinstance(entry, dict) or "id" not in entry:
            raise ValueError(f"{path}: every xfail entry needs an id (a glob over case ids)")
    relax = [str(item) for item in data.get("relax") or []]
    unknown = sorted(set(relax) - set(RELAXATIONS))
    if unknown:
        raise ValueError(f"{path}: unknown relaxation(s) {unknown} (known: {', '.join(RELAXATIONS)})")
    policy = data.get("policy")
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"{path}: unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    outcomes = dict(data.get("outcomes") or {})
    for case_id, outcome in outcomes.items():
        if not isinstance(outcome, dict) or not set(outcome) <= {"requests", "expect", "reason"}:
            raise ValueError(f"{path}: outcome {case_id!r} may only give requests, expect and reason")
    output = data.get("output")
    if output is not None and output not in FORMATS:
        raise ValueError(f"{path}: unknown output format {output!r} (known: {', '.join(FORMATS)})")
    exit_codes = dict(data.get("exit_codes") or {})
    for kind, code in exit_codes.items():
        if kind not in EXIT_FOR_KIND or not isinstance(code, int) or isinstance(code, bool):
            raise ValueError(f"{path}: exit_codes maps {', '.join(EXIT_FOR_KIND)} to integers, got {kind!r}: {code!r}")
    env = {str(key): str(value) for key, value in (data.get("env") or {}).items()}
    names_options = data.get("names_options", True)
    if not isinstance(names_options, bool):
        raise ValueError(f"{path}: names_options is true or false")
    tags = [str(tag) for tag in data.get("tags") or []]
    not_implemented = data.get("not_implemented") or []
    if not isinstance(not_implemented, list) or not all(isinstance(name, str) for name in not_implemented):
        raise ValueError(f"{path}: not_implemented is a list of OPI function names")
    xpass = data.get("xpass", "fail")
    if xpass not in ("fail", "report"):
        raise ValueError(f"{path}: xpass is fail or report")
    stdout_with_out = data.get("stdout_with_out", "empty")
    if stdout_with_out not in ("empty", "any"):
        raise ValueError(f"{path}: stdout_with_out is empty or any")
    return {
        "not_implemented": [str(name) for name in not_implemented],
        "xpass": xpass,
        "stdout_with_out": stdout_with_out,
        "tags": tags,
        "xfail": entries,
        "relax": relax,
        "policy": policy,
        "outcomes": outcomes,
        "output": output,
        "exit_codes": exit_codes,
        "env": env,
        "names_options": names_options,
    }


def check_against_cases(expected: Dict[str, Any], cases: List[Case], path: Optional[Path]) -> None:
    """An expectations file names only what exists: every xfail glob matches a case, every ``outcomes`` key is a
    case id, every ``not_implemented`` name is a function of the suite (a typo is an error, not a silent pass)."""
    ids = {case.full_id for case in cases}
    methods = {case.method for case in cases}
    dead = [entry["id"] for entry in expected["xfail"] if not any(case.matches([entry["id"]]) for case in cases)]
    if dead:
        raise ValueError(f"{path}: xfail id(s) matching no case: {dead}")
    unknown = sorted(set(expected["outcomes"]) - ids)
    if unknown:
        raise ValueError(f"{path}: outcomes for case id(s) that do not exist: {unknown}")
    missing = sorted(set(expected["not_implemented"]) - methods)
    if missing:
        raise ValueError(f"{path}: not_implemented names no function of the suite: {missing}")


def script_skeleton(records: List[Dict[str, Any]]) -> str:
    """An expectations skeleton for the failures: a function none of whose run cases passed is not implemented;
    the other failures are xfail entries, grouped per function (each reason to be written)."""
    by_method: Dict[str, List[Dict[str, Any]]] = {}
    for record in records:
        by_method.setdefault(record["method"], []).append(record)
    absent, partial = [], {}
    for method, items in by_method.items():
        ran = [r for r in items if r["status"] in ("pass", "fail", "xfail", "xpass")]
        failed = [r for r in ran if r["status"] in ("fail", "xpass")]
        if ran and len(failed) == len(ran) and not any(r["status"] == "xfail" for r in ran):
            absent.append(method)
        elif failed:
            partial[method] = failed
    lines = ["# generated by --script: check every entry, write each reason", "not_implemented:"]
    lines += [f"  - {method}" for method in absent] or ["  []"]
    if lines[-1] == "  []":
        lines[-2:] = ["not_implemented: []"]
    lines.append("xfail:" if partial else "xfail: []")
    for method, failed in partial.items():
        lines.append(f"  # {method}: {len(failed)} of {len(by_method[method])} cases")
        for record in failed:
            lines.append(f"  - id: {json.dumps(record['id'])}")
            lines.append(f"    reason: {json.dumps('TODO: ' + record['message'][:100])}")
    return "\n".join(lines) + "\n"


def read_result(output: bytes, fmt: str) -> Any:
    """The result an implementation wrote, read strictly in the format it declares (``json`` or ``opi``)."""
    if fmt == "opi":
        return parse_opi(output)
    return parse_json(output)


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


@dataclasses.dataclass
class Done:
    returncode: int
    stdout: bytes
    stderr: bytes


class Worker:
    """One persistent adapter process (opi_bitrix24_conformance/runner/worker.py): many calls, one interpreter."""

    def __init__(self, command: List[str]) -> None:
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, argv: List[str], env: Dict[str, str], cwd: str, timeout: float) -> Done:
        assert self._process.stdin is not None and self._process.stdout is not None
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode("utf-8") + b"\n"
        self._process.stdin.write(request)
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise OSError("the persistent adapter exited")
        answer = json.loads(line)
        return Done(int(answer["code"]), base64.b64decode(answer["stdout"]), base64.b64decode(answer["stderr"]))

    def close(self) -> None:
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


def _absolute_if_file(part: str) -> str:
    path = Path(part)
    if not path.is_absolute() and (os.sep in part or path.suffix) and path.is_file():
        return str(path.resolve())
    return part


def _package_version() -> str:
    """The version of the opi-bitrix24 distribution that ships this suite (the suite has its own: VERSION)."""
    try:
        from importlib.metadata import version

        return version("opi-bitrix24")
    except Exception:  # noqa: BLE001 - a checkout without an installed distribution
        return "not installed"


def _startable(program: str) -> bool:
    """True if ``program`` names an executable file (a path) or a command on PATH."""
    if os.sep in program or (os.altsep and os.altsep in program):
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def mask(text: str, secret: str, token: str) -> str:
    return text.replace(secret, "${SECRET}").replace(token, "${TOKEN}")


def run_case(
    case: Case,
    argv_prefix: List[str],
    server: ReplayServer,
    scheme: str,
    extra_env: Dict[str, str],
    timeout: float,
    exit_codes: Dict[str, int],
    worker: Optional[Worker] = None,
    output_format: str = "json",
    names_options: bool = True,
    out_stdout: str = "empty",
) -> Tuple[bool, str, List[str]]:
    """Run one case; returns (passed, message, the argv run with secrets masked)."""
    secret = "k" + secrets.token_hex(8)
    token = "t" + secrets.token_hex(12)
    # ${OTHER_PORTAL} is another origin (localhost, not 127.0.0.1) served by the same server
    env = environment(scheme, f"127.0.0.1:{server.port}", secret, token, f"localhost:{server.port}")
    exchanges = expand(case.http, env)
    for exchange in exchanges:  # every request goes to the portal unless the case names another origin
        exchange["request"].setdefault("origin", env["PORTAL"])
    server.load(exchanges)
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "result.json"
        argv = list(argv_prefix) + [case.via or case.method]
        for option, value in case.args.items():
            argv += [f"--{option}", cli_text(expand(value, env))]
        argv += ["--out", str(out)]
        shown = [mask(part, secret, token) for part in argv]
        child_env = dict(os.environ, LANG="C.UTF-8", NO_COLOR="1", PYTHONIOENCODING="utf-8", **extra_env)
        child_env.update(expand(case.env, env))
        try:
            if worker is not None:
                done = worker.run(argv[len(argv_prefix) :], child_env, workdir, timeout)
            else:
                ran = subprocess.run(
                    argv, capture_output=True, timeout=timeout, env=child_env, cwd=workdir, check=False
                )
                done = Done(ran.returncode, ran.stdout, ran.stderr)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout}s", shown
        except OSError as exc:
            return False, f"cannot start {argv[0]!r}: {exc}", shown
        wrote_out = out.exists()
        output = out.read_bytes() if wrote_out else b""
    stderr = mask(done.stderr.decode("utf-8", errors="replace").strip(), secret, token)
    for stream_name, data in (("stdout", done.stdout), ("stderr", done.stderr), ("--out file", output)):
        for label, value in (("webhook key", secret), ("token", token)):
            if value.encode() in data:
                return False, f"the {label} appears in {stream_name}", shown
    ok, message = _judge(
        case, env, done, stderr, wrote_out, output, server, exit_codes, output_format, names_options, out_stdout
    )
    return ok, message, shown


def _first_line(text: str) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


def _happened(done: Done, stderr: str, server: ReplayServer) -> str:
    """What the CLI did, in one phrase: its exit code, its first line of stderr (else stdout), what it sent."""
    parts = [f"exit {done.returncode}"]
    said = _first_line(stderr) or _first_line(done.stdout.decode("utf-8", errors="replace"))
    if said:
        parts.append(f"{'stderr' if _first_line(stderr) else 'stdout'}: {said!r}")
    if server.seen:
        more = len(server.seen) - 1
        parts.append(f"sent {server.seen[0]}" + (f" and {more} more request{'s' if more != 1 else ''}" if more else ""))
    else:
        parts.append("sent nothing")
    return ", ".join(parts)


def _judge(
    case: Case,
    env: Dict[str, str],
    done: Done,
    stderr: str,
    wrote_out: bool,
    output: bytes,
    server: ReplayServer,
    exit_codes: Dict[str, int],
    output_format: str,
    names_options: bool,
    out_stdout: str,
) -> Tuple[bool, str]:
    """(passed, message): every failure message says what was expected and what happened."""
    secret, token = env["SECRET"], env["TOKEN"]
    happened = _happened(done, stderr, server)
    if "error" in case.expect:
        kind = case.expect["error"].get("kind", "usage")
        want = case.expect["error"].get("cli_exit", exit_codes.get(kind))
        wanted = f"a {kind} error (exit {want if want is not None else 'non-zero'}"
        wanted += ", nothing sent)" if kind == "usage" else f" after {len(case.http)} request(s))"
        if kind == "usage" and server.seen:
            return False, mask(f"expected {wanted}; got {happened}", secret, token)
        if server.problems:
            return False, mask(server.report(), secret, token)
        if done.returncode == 0 or (want is not None and done.returncode != want):
            return False, mask(f"expected {wanted}; got {happened}", secret, token)
        if server.unserved():  # a runtime error after the listed exchanges (e.g. every retry), not before
            return False, mask(f"expected {wanted}; got {happened}: {_missing(case, server)}", secret, token)
        parameter = case.expect["error"].get("parameter")
        said = stderr + done.stdout.decode("utf-8", errors="replace") + output.decode("utf-8", errors="replace")
        if parameter and names_options and f"--{parameter}" not in said:
            return False, mask(f"expected the error to name --{parameter}; got {happened}", secret, token)
        return True, ""
    if server.problems:
        return False, mask(server.report(), secret, token)
    if done.returncode != 0:
        return False, mask(f"expected exit 0 and a result; got {happened}", secret, token)
    if server.unserved():
        return False, mask(f"expected {len(case.http)} request(s); {_missing(case, server)}", secret, token)
    if not wrote_out:
        shown = _first_line(done.stdout.decode("utf-8", errors="replace"))
        return False, mask(
            f"expected the result in the --out file; none was written (stdout: {shown!r})", secret, token
        )
    if out_stdout == "empty" and done.stdout.strip():
        shown = _first_line(done.stdout.decode("utf-8", errors="replace"))
        return False, mask(f"expected nothing on stdout with --out; got {shown!r}", secret, token)
    expected = expected_result(case, env)
    if isinstance(expected, str):
        actual_text = output.decode("utf-8", errors="replace").rstrip("\r\n")
        if actual_text == expected:
            return True, ""
        return False, mask(f"result: expected {expected!r}, got {actual_text[:200]!r}", secret, token)
    try:
        actual = read_result(output, output_format)
    except ValueError as exc:
        name = "JSON" if output_format == "json" else "in OPI's writer format"
        return False, mask(f"the result is not {name} ({exc}): {output[:120]!r}", secret, token)
    problem = json_diff(expected, actual)
    return (problem is None), mask(problem or "", secret, token)


def _missing(case: Case, server: ReplayServer) -> str:
    """Which expected request did not arrive (the first one missing)."""
    arrived = len(case.http) - server.unserved()
    request = case.http[arrived]["request"]
    return f"{arrived} arrived, request {arrived + 1} ({request['method']} {request['path']}) never did"


def junit_xml(records: List[Dict[str, Any]], impl: str, seconds: float, argv: Optional[List[str]] = None) -> str:
    """JUnit XML: one testsuite per section, one testcase per case (xfail and skip as skipped)."""
    by_section: Dict[str, List[Dict[str, Any]]] = {}
    for record in records:
        by_section.setdefault(record["section"], []).append(record)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    failures = sum(r["status"] in ("fail", "xpass") for r in records)
    skipped = sum(r["status"] in ("skip", "xfail") for r in records)
    lines.append(
        f'<testsuites name={quoteattr("opi-bitrix24 conformance " + impl)} tests="{len(records)}" '
        f'failures="{failures}" errors="0" skipped="{skipped}" time="{seconds:.3f}">'
    )
    for section, items in by_section.items():
        lines.append(
            f'  <testsuite name={quoteattr(section)} tests="{len(items)}" '
            f'failures="{sum(r["status"] in ("fail", "xpass") for r in items)}" errors="0" '
            f'skipped="{sum(r["status"] in ("skip", "xfail") for r in items)}" '
            f'time="{sum(r["ms"] for r in items) / 1000:.3f}">'
        )
        lines.append("    <properties>")
        for name, value in (("suite_version", suite_version()), ("impl", impl), ("argv", shlex.join(argv or []))):
            lines.append(f"      <property name={quoteattr(name)} value={quoteattr(value)}/>")
        lines.append("    </properties>")
        for r in items:
            head = (
                f"    <testcase classname={quoteattr(impl + '.' + section + '.' + r['method'])} "
                f'name={quoteattr(r["id"])} time="{r["ms"] / 1000:.3f}"'
            )
            detail = escape(f"{r['description']}\nargv: {shlex.join(r['argv'])}\n{r['message']}")
            if r["status"] in ("fail", "xpass"):
                lines.append(f"{head}><failure message={quoteattr(r['message'][:500])}>{detail}</failure></testcase>")
            elif r["status"] in ("skip", "xfail"):
                lines.append(f"{head}><skipped message={quoteattr(r['message'][:500])}/></testcase>")
            else:
                lines.append(f"{head}/>")
        lines.append("  </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def section_table(records: List[Dict[str, Any]]) -> str:
    rows: Dict[str, Dict[str, int]] = {}
    for record in records:
        row = rows.setdefault(record["section"], dict.fromkeys(STATUSES, 0))
        row[record["status"]] += 1
    width = max([len("section"), *map(len, rows)])
    head = f"{'section':<{width}}  {'pass':>5} {'fail':>5} {'xfail':>5} {'xpass':>5} {'skip':>5}"
    lines = [head, "-" * len(head)]
    for name, row in rows.items():
        lines.append(f"{name:<{width}}  " + " ".join(f"{row[s]:>5}" for s in COLUMNS))
    total = {s: sum(r[s] for r in rows.values()) for s in STATUSES}
    lines.append(f"{'total':<{width}}  " + " ".join(f"{total[s]:>5}" for s in COLUMNS))
    return "\n".join(lines)


#: The program name of the console script (``python -m opi_bitrix24_conformance.runner`` otherwise).
SCRIPT = "opi-bitrix24-conformance"


#: ``opi-bitrix24-conformance <subcommand> ...``: the suite's other tools under the one command (``run`` is the
#: default and may be left out); each keeps its own options (``<subcommand> --help``).
SUBCOMMANDS = {
    "matrix": ("matrix", "merge JSON results into the compatibility matrix (Markdown, HTML)"),
    "scan": ("scan", "scan files for secrets"),
    "record": ("recording", "record cases against your own portal (scrubbed)"),
    "cassettes": ("cassettes", "write (or --check) the vcrpy cassettes from the cases"),
    "portal": ("portal", "serve the sample portal"),
    "twin": ("cases", "write (or --check) the JSON twin cases.json"),
}


def main(argv: Optional[List[str]] = None, prog: str = "python -m opi_bitrix24_conformance.runner") -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given and given[0] in SUBCOMMANDS:
        import importlib

        module = importlib.import_module(f"{__package__}.{SUBCOMMANDS[given[0]][0]}")
        return int(module.main(given[1:]) or 0)
    if given and given[0] == "run":
        given = given[1:]
    argv = given
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(__doc__ or "").splitlines()[0],
        epilog=f"Suite version {suite_version()} at {SUITE}. Other subcommands: "
        + "; ".join(f"{name}: {text}" for name, (_, text) in SUBCOMMANDS.items())
        + f" ({prog} <subcommand> --help).",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s: conformance suite {suite_version()} (package opi-bitrix24 {_package_version()})",
    )
    parser.add_argument(
        "--impl", default="python", help="implementation name (adapters.yaml, expectations/<impl>.yaml, reports)"
    )
    parser.add_argument(
        "--argv", help="argv prefix of the CLI under test, e.g. 'oint bitrix24' (overrides adapters.yaml)"
    )
    parser.add_argument(
        "--expectations",
        type=Path,
        help="expected failures, YAML or JSON {xfail: [{id, reason}]} (default: the suite's expectations/<impl>.yaml)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA (trusted via REQUESTS_CA_BUNDLE/SSL_CERT_FILE)",
    )
    parser.add_argument(
        "--output",
        choices=FORMATS,
        help="the format the CLI writes its result in: json, or opi (OPI's writer format: single quotes, CRLF, "
        "one-space indent) (default: the expectations file's, adapters.yaml's, json)",
    )
    parser.add_argument(
        "--tags",
        action="append",
        default=[],
        help="only tests carrying one of these tags (comma-separated; repeat to require each group), "
        "e.g. --tags opi: only the cases that pin OPI's own behaviour",
    )
    parser.add_argument("--run", action="append", default=[], help="only tests whose id matches this glob")
    parser.add_argument("--skip", action="append", default=[], help="skip tests whose id matches this glob")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    parser.add_argument("--json", action="store_true", help="JSON lines only: one per test, then a summary record")
    parser.add_argument("--results", type=Path, help="also write the JSON lines to this file (for the matrix)")
    parser.add_argument("--junit-xml", type=Path, help="write a JUnit XML report to this file")
    parser.add_argument("--quiet", "-q", action="store_true", help="text mode: do not print a line per passing test")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="tests run at once (default: CPUs)")
    parser.add_argument(
        "--process-per-case",
        action="store_true",
        help="start the CLI once per case even where adapters.yaml offers a persistent adapter",
    )
    parser.add_argument(
        "--script",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write an expectations skeleton for the failures to FILE (not_implemented functions, then xfail "
        "entries grouped per function); without FILE, print it after the report",
    )
    parser.add_argument(
        "--xpass",
        choices=("fail", "report"),
        help="an expected failure that passes: fail the run (default) or only report it (default: the "
        "expectations file's xpass, else fail)",
    )
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        help="transport policy the implementation follows (default: the expectations file's, adapters.yaml's, opi)",
    )
    args = parser.parse_args(argv)

    # the adapter of --impl applies however the runner is started; --argv replaces only its command
    adapter = _adapters().get(args.impl, {})
    prefix = (
        shlex.split(args.argv)
        if args.argv
        else [sys.executable if part == "{python}" else part for part in adapter.get("argv", [])]
    )
    # each case runs in its own empty directory: a relative path in --argv ("node cli.js") means the caller's
    prefix = [_absolute_if_file(part) for part in prefix]
    if not prefix:
        parser.error(
            f"no argv for implementation {args.impl!r}: pass --argv or add it to opi_bitrix24_conformance/adapters.yaml"
        )
    persistent = adapter.get("persistent")
    worker_command = (
        [sys.executable if part == "{python}" else part for part in persistent]
        if persistent and not args.process_per_case and not args.argv
        else None
    )
    expectations_path = args.expectations or SUITE / "expectations" / f"{args.impl}.yaml"
    if args.expectations and not args.expectations.exists():
        parser.error(f"--expectations: no file {str(args.expectations)!r}")
    try:
        expected = expectations_file(expectations_path)
    except ValueError as exc:
        parser.error(str(exc))
    # exit codes per error kind: the defaults, then adapters.yaml's, then the expectations file's
    exit_codes = {**EXIT_FOR_KIND, **(adapter.get("exit_codes") or {}), **expected["exit_codes"]}
    output_format = args.output or expected["output"] or adapter.get("output") or "json"
    if output_format not in FORMATS:
        parser.error(f"adapters.yaml: unknown output format {output_format!r} for {args.impl}")
    if prefix and worker_command is None and not _startable(prefix[0]):
        print(
            f"{parser.prog}: error: cannot start the CLI under test: {prefix[0]!r} is not an executable "
            "(check --argv, or the argv of this implementation in adapters.yaml)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_START
    tag_filter: List[str] = args.tags or expected["tags"]
    tag_groups = [{tag.strip() for tag in group.split(",") if tag.strip()} for group in tag_filter]
    xfails = expected["xfail"]
    relax: List[str] = expected["relax"]
    policy = args.policy or expected["policy"] or adapter.get("policy") or DEFAULT_POLICY

    tls_context, bundle = _tls() if args.tls else (None, "")
    extra_env = dict(expected["env"])
    if bundle:
        extra_env.update(REQUESTS_CA_BUNDLE=bundle, SSL_CERT_FILE=bundle)
    scheme = "https" if args.tls else "http"
    every_case = load_cases()
    try:
        check_against_cases(expected, every_case, expectations_path)
    except ValueError as exc:
        parser.error(str(exc))
    not_implemented = set(expected["not_implemented"])
    xpass_fails = (args.xpass or expected["xpass"]) == "fail"
    selected = [
        case
        for case in every_case
        if not (args.run and not case.matches(args.run))
        and not (args.skip and case.matches(args.skip))
        and all(group & set(case.tags) for group in tag_groups)
    ]
    servers: List[ReplayServer] = []
    workers: List[Worker] = []
    local = threading.local()
    lock = threading.Lock()

    def judge(case: Case) -> Tuple[str, str, float, List[str]]:
        xfail = next((x for x in xfails if case.matches([x["id"]])), None)
        if case.method in not_implemented:  # not started: costs nothing
            return "skip", NOT_IMPLEMENTED, 0.0, []
        if "tls" in case.tags and not args.tls:
            return "skip", "needs --tls (a scheme-less address means HTTPS)", 0.0, []
        if case.args_native is not None:  # typed values cannot be typed on a command line
            return "skip", NATIVE_SKIP, 0.0, []
        if not hasattr(local, "server"):  # one replay server (and persistent adapter) per worker thread
            local.server = ReplayServer(tls_context, relax)
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
            exit_codes,
            local.worker,
            output_format,
            expected["names_options"],
            expected["stdout_with_out"],
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
        line = json.dumps(record, ensure_ascii=False)
        if args.json:
            print(line, flush=False)
        if results_file is not None:
            results_file.write(line + "\n")

    if not args.json:
        print(
            f"opi-bitrix24 conformance suite {suite_version()}: {len(selected)} cases (the HTTP request each "
            f"call sends and the result it returns) against {shlex.join(prefix)} [{args.impl}, {scheme}, "
            f"policy {policy}, output {output_format}{', relaxed: ' + ', '.join(relax) if relax else ''}"
            f"{', tags: ' + ' '.join(tag_filter) if tag_filter else ''}]",
            flush=True,
        )
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for case, (status, message, elapsed, shown) in zip(selected, pool.map(judge, selected)):
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
            print(f"\n{r['status'].upper()} {r['id']}\n  {r['description']}\n  $ {shlex.join(r['argv'])}")
            print(f"  {r['message']}")
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
    print(f"{counts['pass']} passed, {failed} failed, {summary['skipped']} skipped in {seconds:.1f}s")
    return 1 if failed else 0


def run() -> None:
    """Console-script entry point (``opi-bitrix24-conformance``)."""
    raise SystemExit(main(prog=SCRIPT))


if __name__ == "__main__":
    raise SystemExit(main())
