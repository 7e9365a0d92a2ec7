"""What an implementation declares is applied however the runner is started (issue 17): its output format
(JSON, or OPI's writer format, read strictly), its exit codes, its environment, its origin filter.

A fake CLI behaves like ``oint`` as measured (conformance/reference-runs/oint-a52335e): it writes its
result in OPI's writer format, drops a blank option as oint's parser does and reports the missing argument by its
position with exit 99; FAKE_MODE makes it write JSON, LF line breaks, or exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from opi_bitrix24_conformance.runner.cases import SUITE, load_cases

ROOT = SUITE.parent

FAKE_OINT = r"""
import json, os, sys, urllib.request
sys.path.insert(0, os.environ["SUITE_ROOT"])
from opi_bitrix24_conformance.runner.opiformat import dump
args = sys.argv[1:]
method, pairs = args[0], list(zip(args[1::2], args[2::2]))
opts = {name: value for name, value in pairs if value.strip()}  # oint's parser drops a blank value
mode = os.environ.get("FAKE_MODE", "")
out = opts.get("--out")
if "--url" not in opts:
    print("missing required parameter 1")
    sys.exit(2 if mode == "exit-2" else 99)
users = opts["--users"]
ids = json.loads(users) if users.startswith("[") else [users]
request = urllib.request.Request(opts["--url"] + "im.user.list.get", data=json.dumps({"ID": ids}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
answer = json.loads(urllib.request.urlopen(request).read())
if os.environ.get("TZ") != "Europe/Moscow":
    answer = {"error": "not in the portal's zone"}
text = dump(answer)
if mode == "json":
    text = json.dumps(answer).encode()
elif mode == "lf":
    text = text.replace(b"\r\n", b"\n")
open(out, "wb").write(text)
"""

RESULT_CASE = "bitrix24/GetUsers/documented-webhook-list"
BLANK_CASE = "bitrix24/GetUsers/empty-url"
PORT_CASE = "bitrix24/GetUsers/bad-users-json"


def _run(
    tmp_path: Path, mode: str, expectations: Optional[Dict[str, Any]], *extra: str, impl: str = "oint"
) -> List[Dict[str, Any]]:
    fake = tmp_path / "fake_oint.py"
    fake.write_text(FAKE_OINT, encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "opi_bitrix24_conformance.runner",
        "--argv",
        f"{sys.executable} {fake}",
        "--impl",
        impl,
    ]
    if expectations is not None:
        path = tmp_path / "expected.json"
        path.write_text(json.dumps(expectations), encoding="utf-8")
        argv += ["--expectations", str(path)]
    argv += ["--run", RESULT_CASE, "--run", BLANK_CASE, "--run", PORT_CASE, "--json", "--jobs", "1", *extra]
    env = {k: v for k, v in os.environ.items() if k != "TZ"}
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(env, FAKE_MODE=mode, SUITE_ROOT=str(ROOT)),
        check=False,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _verdicts(lines: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {line["id"]: (line["status"], line["message"]) for line in lines if not line.get("summary")}


OINT_LIKE = {"tags": ["opi"], "output": "opi", "exit_codes": {"usage": 99}, "names_options": False,
             "env": {"TZ": "Europe/Moscow"}}  # fmt: skip


def test_an_oint_like_cli_passes_with_what_it_declares(tmp_path: Path) -> None:
    lines = _run(tmp_path, "", OINT_LIKE)
    assert _verdicts(lines) == {RESULT_CASE: ("pass", ""), BLANK_CASE: ("pass", "")}  # the port case not run
    summary = lines[-1]
    assert (summary["output"], summary["exit_codes"], summary["tags"]) == ("opi", {"usage": 99, "runtime": 99}, ["opi"])


def test_the_suites_own_oint_files_apply_with_argv(tmp_path: Path) -> None:
    # --impl oint picks adapters.yaml's exit codes and output format, and expectations/oint.yaml, even with --argv
    lines = _run(tmp_path, "", None)
    assert _verdicts(lines) == {RESULT_CASE: ("pass", ""), BLANK_CASE: ("pass", "")}
    assert lines[-1]["exit_codes"]["usage"] == 99 and lines[-1]["output"] == "opi"


def test_each_declaration_is_needed(tmp_path: Path) -> None:
    fine = OINT_LIKE
    no_codes = _verdicts(_run(tmp_path, "", {**fine, "exit_codes": {}}, impl="fake"))
    assert no_codes[BLANK_CASE] == (
        "fail",
        "expected a usage error (exit 2, nothing sent); got exit 99, stdout: 'missing required parameter 1', "
        "sent nothing",
    )
    names = _verdicts(_run(tmp_path, "", {k: v for k, v in fine.items() if k != "names_options"}, impl="fake"))
    assert names[BLANK_CASE] == (
        "fail",
        "expected the error to name --url; got exit 99, stdout: 'missing required parameter 1', sent nothing",
    )
    no_zone = _verdicts(_run(tmp_path, "", {k: v for k, v in fine.items() if k != "env"}, impl="fake"))
    assert no_zone[RESULT_CASE] == ("fail", "$.result: missing")  # the fake answers so outside Moscow
    every = _verdicts(_run(tmp_path, "", {k: v for k, v in fine.items() if k != "tags"}, impl="fake"))
    assert every[PORT_CASE][0] == "fail"  # the fake does no local validation: a port case


def test_the_declared_format_is_read_strictly(tmp_path: Path) -> None:
    json_written = _verdicts(_run(tmp_path, "json", OINT_LIKE))[RESULT_CASE]
    assert json_written[0] == "fail"
    assert json_written[1].startswith("the result is not in OPI's writer format (offset 1: expected a CRLF line break")
    lf = _verdicts(_run(tmp_path, "lf", OINT_LIKE))[RESULT_CASE]
    assert lf[0] == "fail" and "expected a CRLF line break" in lf[1]
    assert _verdicts(_run(tmp_path, "json", {**OINT_LIKE, "output": "json"}))[RESULT_CASE] == ("pass", "")
    # --output on the command line wins over the file
    assert _verdicts(_run(tmp_path, "json", OINT_LIKE, "--output", "json"))[RESULT_CASE] == ("pass", "")
    opi_read_as_json = _verdicts(_run(tmp_path, "", {**OINT_LIKE, "output": "json"}))[RESULT_CASE]
    assert opi_read_as_json[0] == "fail" and opi_read_as_json[1].startswith("the result is not JSON")


def test_an_exit_code_from_the_expectations_file_wins(tmp_path: Path) -> None:
    wrong = _verdicts(_run(tmp_path, "exit-2", OINT_LIKE))[BLANK_CASE]
    assert wrong == (
        "fail",
        "expected a usage error (exit 99, nothing sent); got exit 2, stdout: 'missing required parameter 1', "
        "sent nothing",
    )


def test_tags_select_by_origin_and_every_case_has_one() -> None:
    cases = load_cases()
    assert {case.origin for case in cases} == {"opi", "port"}
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--impl", "python", "--tags", "port",
         "--tags", "alias,cli", "--run", "bitrix24/GetUsers/*", "--json", "--jobs", "1"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
    )  # fmt: skip
    ran = {json.loads(line).get("id") for line in done.stdout.splitlines()} - {None}
    want = {
        c.full_id for c in cases if c.method == "GetUsers" and c.origin == "port" and {"alias", "cli"} & set(c.tags)
    }
    assert ran == want and len(want) >= 2, done.stderr


def test_an_unknown_expectations_key_or_value_is_refused(tmp_path: Path) -> None:
    for data, word in (
        ({"xfails": []}, "unknown key(s) ['xfails']"),
        ({"output": "xml"}, "unknown output format 'xml'"),
        ({"exit_codes": {"usage": "two"}}, "exit_codes maps"),
        ({"names_options": "no"}, "names_options is true or false"),
    ):
        path = tmp_path / "expected.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--impl", "python", "--expectations", str(path)],
            capture_output=True, text=True, cwd=ROOT, check=False, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2 and word in done.stderr, done.stderr
