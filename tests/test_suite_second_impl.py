"""A second implementation in another language runs the suite as its own CI would (issue 23 item 8).

tests/second_impl/mini-opi.js is a Node.js CLI of six OPI functions written from conformance/SPEC.md, with
its own expectations file (its not_implemented list written by ``--script FILE``). It runs from a directory
outside this repository through the documented command and passes; each of its two deliberate bugs
(MINI_BUGS) fails exactly the cases that pin the rule it breaks. Skipped where ``node`` is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from opi_bitrix24_conformance.runner.cases import SUITE, load_cases
from opi_bitrix24_conformance.runner.run import NOT_IMPLEMENTED

HERE = Path(__file__).resolve().parent / "second_impl"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed (the second implementation is a JS file)"
)

IMPLEMENTED = {"ServerTime", "GetUsers", "CreateTask", "GetTask", "DeleteTask", "GetAppAuthLink"}


def _run(work: Path, bugs: str, *extra: str) -> Tuple[int, List[Dict[str, Any]], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MINI_BUGS")}
    if bugs:
        env["MINI_BUGS"] = bugs
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--argv", "node mini-opi.js", "--impl", "mini"]
        + ["--expectations", "expectations.yaml", "--results", "results.jsonl", "--jobs", "2", "-q", *extra],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=False,
        timeout=300,
    )
    lines = [json.loads(line) for line in (work / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return done.returncode, lines, done.stdout + done.stderr


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("their-ci")
    for name in ("mini-opi.js", "expectations.yaml"):
        shutil.copy(HERE / name, place / name)
    return place


def test_the_second_implementation_passes_what_it_implements(work: Path) -> None:
    code, lines, output = _run(work, "")
    assert code == 0, output[-3000:]
    records, summary = lines[:-1], lines[-1]
    opi = [c for c in load_cases() if c.origin == "opi"]
    implemented = {r["method"] for r in records if r["status"] == "pass"}
    assert implemented == IMPLEMENTED
    skipped_unrun = [r for r in records if r["message"] == NOT_IMPLEMENTED]
    assert summary["not_implemented"] == len(skipped_unrun) == sum(c.method not in IMPLEMENTED for c in opi)
    assert all(r["ms"] == 0 for r in skipped_unrun)  # never started
    assert summary["counts"]["fail"] == 0 and summary["counts"]["pass"] >= 40
    assert summary["tags"] == ["opi"] and summary["policy"] == "opi"


@pytest.mark.parametrize(
    ("bug", "caught"),
    [
        (
            "js-order",
            {
                "bitrix24/CreateTask/number-like-keys-keep-their-order": (
                    "request 1: $body.fields: key order expected ['TITLE', '10', '2'], got ['2', '10', 'TITLE']"
                )
            },
        ),
        (
            "blank-values",
            {
                "bitrix24/GetTask/cli-empty-task-refused": (
                    "expected a usage error (exit 2, nothing sent); got exit 0, "
                    "sent POST /rest/1/${SECRET}/tasks.task.get"
                ),
                "bitrix24/GetAppAuthLink/cli-empty-domain-refused": (
                    "expected a usage error (exit 2, nothing sent); got exit 0, sent nothing"
                ),
                "bitrix24/GetUsers/empty-url": (
                    "expected a usage error (exit 2, nothing sent); got exit 99, stderr: 'mini-opi: the call failed', "
                    "sent nothing"
                ),
            },
        ),
    ],
)
def test_each_deliberate_bug_is_caught_by_the_cases_that_pin_its_rule(
    work: Path, bug: str, caught: Dict[str, str]
) -> None:
    code, lines, output = _run(work, bug, *[arg for method in IMPLEMENTED for arg in ("--run", f"bitrix24/{method}/*")])
    assert code == 1, output[-2000:]
    failed = {r["id"]: r["message"] for r in lines[:-1] if r["status"] == "fail"}
    assert failed == caught


def test_the_expectations_file_is_the_runners_skeleton() -> None:
    text = (HERE / "expectations.yaml").read_text(encoding="utf-8")
    assert text.count("\n  - ") == 171 and "xfail: []" in text
    assert not any(f"  - {method}\n" in text for method in IMPLEMENTED)
    assert (SUITE / "SPEC.md").exists()
