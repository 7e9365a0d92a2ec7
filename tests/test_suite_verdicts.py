"""Verdicts another implementation can trust (issue 23 item 1) and failure messages that say what was expected
and what happened (item 2). Each test failed before its fix: a fake CLI makes one mistake per FAKE_MODE.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from opi_bitrix24_conformance.runner.cases import SUITE

ROOT = SUITE.parent

# CreateTask only: POST <url>tasks.task.add {"fields": {...}}; the fields come as single-quoted JSON text.
FAKE = r"""
import json, os, sys, urllib.error, urllib.request
args = sys.argv[1:]
opts = dict(zip(args[1::2], args[2::2]))
mode = os.environ.get("FAKE_MODE", "")
try:
    fields = json.loads(opts["--fields"].replace("'", '"'))
except ValueError:
    if mode != "usage-but-sends":
        sys.stderr.write("fake: --fields: not JSON\n")
        sys.exit(2)
    fields = {}
if mode == "js-order":  # what a plain JavaScript object does: integer-like keys first, ascending
    fields = dict(sorted(((k, v) for k, v in fields.items() if k.isdigit()), key=lambda kv: int(kv[0]))
                  + [(k, v) for k, v in fields.items() if not k.isdigit()])
if mode == "wrong-body":
    fields["EXTRA"] = "1"
headers = {"Content-Type": "application/json"}
if mode == "text-plain":
    headers = {"Content-Type": "text/plain"}
body = json.dumps({"fields": fields}).encode()
request = urllib.request.Request(opts["--url"] + "tasks.task.add", data=body, method="POST", headers=headers)
if mode == "no-content-type":
    request.remove_header("Content-type")
    request.add_unredirected_header("Content-Type", "")
for attempt in range(6):  # OPI's policy: any 5xx is sent again, five times
    try:
        answer = urllib.request.urlopen(request).read()
        break
    except urllib.error.HTTPError as exc:
        answer = exc.read()
        if exc.code < 500:
            break
if mode == "stdout":
    sys.stdout.write(answer.decode())  # ignores --out
else:
    open(opts["--out"], "wb").write(answer)
    if mode == "stdout-too":
        sys.stdout.write(answer.decode())
"""

ORDER = "bitrix24/CreateTask/number-like-keys-keep-their-order"
CONTENT_TYPE = "Content-Type: expected application/json (OPI sends JSON bodies so)"
USAGE = "bitrix24/CreateTask/bad-fields-json"


def _run(tmp_path: Path, mode: str, *cases: str, expectations: Any = None) -> Dict[str, Any]:
    fake = tmp_path / "fake_cli.py"
    fake.write_text(FAKE, encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "opi_bitrix24_conformance.runner",
        "--argv",
        f"{sys.executable} {fake}",
        "--impl",
        "fake",
    ]
    if expectations is not None:
        path = tmp_path / "expected.json"
        path.write_text(json.dumps(expectations), encoding="utf-8")
        argv += ["--expectations", str(path)]
    argv += [arg for case in cases for arg in ("--run", case)] + ["--json", "--jobs", "1"]
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, FAKE_MODE=mode), check=False, timeout=120
    )
    assert done.returncode in (0, 1), done.stderr
    lines: List[Dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
    return {line["id"]: (line["status"], line["message"]) for line in lines if not line.get("summary")}


def test_the_fake_passes_when_it_does_it_right(tmp_path: Path) -> None:
    assert _run(tmp_path, "", ORDER, USAGE) == {ORDER: ("pass", ""), USAGE: ("pass", "")}


def test_a_wrong_request_is_answered_once_with_a_4xx_and_reported_once(tmp_path: Path) -> None:
    # before: the server answered 599, a CLI on OPI's policy sent it five more times, five "unexpected request"s
    status, message = _run(tmp_path, "wrong-body", ORDER)[ORDER]
    assert status == "fail"
    assert message == "request 1: $body.fields: unexpected keys ['EXTRA']"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("text-plain", f"request 1: {CONTENT_TYPE}, got 'text/plain'"),
        ("no-content-type", f"request 1: {CONTENT_TYPE}, got ''"),
        ("js-order", "request 1: $body.fields: key order expected ['TITLE', '10', '2'], got ['2', '10', 'TITLE']"),
        ("stdout", "expected the result in the --out file; none was written (stdout: '{')"),
        ("stdout-too", "expected nothing on stdout with --out; got '{'"),  # the first line of the answer
    ],
)
def test_false_passes_are_failures_now(tmp_path: Path, mode: str, message: str) -> None:
    status, got = _run(tmp_path, mode, ORDER)[ORDER]
    assert (status, got) == ("fail", message)


def test_stdout_beside_out_is_allowed_when_declared(tmp_path: Path) -> None:
    assert _run(tmp_path, "stdout-too", ORDER, expectations={"stdout_with_out": "any"}) == {ORDER: ("pass", "")}


def test_a_usage_error_that_sent_a_request_says_what_was_expected_and_what_happened(tmp_path: Path) -> None:
    # before: "unexpected request POST ..." six times
    status, message = _run(tmp_path, "usage-but-sends", USAGE)[USAGE]
    assert status == "fail"
    assert message == (
        "expected a usage error (exit 2, nothing sent); got exit 0, sent POST /rest/1/${SECRET}/tasks.task.add"
    )
