"""The suite as another implementation's CI uses it: installed, run from a directory outside this repository.

A fake implementation (a script that writes ``{}``) lives in a temporary directory; the documented
command runs it from there with its own expectations file and produces JUnit XML, JSON lines and the
compatibility matrix.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import pytest

from opi_bitrix24_conformance.runner.cases import SUITE, load_cases

ROOT = SUITE.parent

FAKE = """import sys
args = sys.argv[1:]
out = args[args.index("--out") + 1] if "--out" in args else None
if out:
    open(out, "w").write("{}")
else:
    print("{}")
"""

SELECTION = ["bitrix24/GetUsers/*", "bitrix24/ServerTime/*"]


def _outside_env() -> Dict[str, str]:
    """The environment without anything pointing at this checkout (no PYTHONPATH)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}


def _run(argv: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=_outside_env(), check=False, timeout=120)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    work = tmp_path / "their-repo"
    work.mkdir()
    assert ROOT not in work.parents and work != ROOT
    found = _run([sys.executable, "-c", "import opi_bitrix24_conformance; print(opi_bitrix24_conformance.SUITE)"], work)
    assert found.returncode == 0, (
        "the conformance package is not installed in this interpreter: pip install -e . (or the wheel)\n" + found.stderr
    )
    (work / "fake_cli.py").write_text(FAKE, encoding="utf-8")
    (work / "expected-failures.yaml").write_text(
        'xfail:\n  - id: "bitrix24/ServerTime/*"\n    reason: our fake has no clock\n', encoding="utf-8"
    )
    return work


def test_a_fake_implementation_runs_through_the_documented_command(outside: Path) -> None:
    selected = [c for c in load_cases() if c.matches(SELECTION)]
    server_time = [c for c in selected if c.method == "ServerTime"]
    tls_only = [c for c in selected if "tls" in c.tags or c.args_native is not None]  # skipped: TLS, native values
    assert selected and server_time
    done = _run(
        [
            sys.executable,
            "-m",
            "opi_bitrix24_conformance.runner",
            "--argv",
            f"{sys.executable} fake_cli.py",
            "--impl",
            "fake",
            "--expectations",
            "expected-failures.yaml",
            "--junit-xml",
            "junit.xml",
            "--results",
            "results.jsonl",
            *[arg for pattern in SELECTION for arg in ("--run", pattern)],
            "--json",
        ],
        outside,
    )
    assert done.returncode == 1, done.stderr
    # --json: every line of stdout is JSON; the last one is the summary.
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    records, summary = lines[:-1], lines[-1]
    assert [r["id"] for r in records] == [c.full_id for c in selected]
    assert summary["summary"] is True and summary["impl"] == "fake"
    assert summary["suite_version"] == (SUITE / "VERSION").read_text(encoding="utf-8").strip()
    xfailed = len([c for c in server_time if c not in tls_only])
    failed = len(selected) - xfailed - len(tls_only)
    assert summary["counts"] == {"pass": 0, "fail": failed, "xfail": xfailed, "xpass": 0, "skip": len(tls_only)}
    assert (summary["passed"], summary["failed"], summary["skipped"]) == (0, failed, xfailed + len(tls_only))
    by_id = {r["id"]: r for r in records}
    wrong = by_id["bitrix24/GetUsers/documented-webhook-list"]
    assert wrong["status"] == "fail" and wrong["section"] == "ChatsAndDialogsManagement"
    assert wrong["description"].startswith("A webhook call sends the ids as the ID array")
    assert wrong["argv"][1:3] == [str(outside / "fake_cli.py"), "GetUsers"] and "/rest/1/${SECRET}/" in wrong["argv"][4]
    missing = "expected 1 request(s); 0 arrived, request 1 (POST /rest/1/${SECRET}/im.user.list.get) never did"
    assert wrong["message"] == missing
    # --results holds the same JSON lines.
    assert [json.loads(x) for x in (outside / "results.jsonl").read_text(encoding="utf-8").splitlines()][:-1] == records
    # JUnit XML: one suite per section, failures and skips counted as a CI server reads them.
    tree = ET.parse(outside / "junit.xml").getroot()
    assert tree.tag == "testsuites"
    assert (tree.get("tests"), tree.get("failures"), tree.get("skipped")) == (
        str(len(selected)),
        str(failed),
        str(xfailed + len(tls_only)),
    )
    cases = {c.get("name"): c for c in tree.iter("testcase")}
    assert set(cases) == set(by_id)
    failure = cases["bitrix24/GetUsers/documented-webhook-list"].find("failure")
    assert failure is not None and failure.get("message") == missing
    assert "fake_cli.py GetUsers --url" in (failure.text or "")
    assert cases[server_time[0].full_id].find("skipped") is not None
    # The matrix from those results.
    matrix = _run(
        [
            sys.executable,
            "-m",
            "opi_bitrix24_conformance.runner.matrix",
            "results.jsonl",
            "-o",
            "COMPATIBILITY-MATRIX.md",
            "--html",
            "matrix.html",
        ],
        outside,
    )
    assert matrix.returncode == 0, matrix.stderr
    text = (outside / "COMPATIBILITY-MATRIX.md").read_text(encoding="utf-8")
    total_cases = len(load_cases())
    not_run = total_cases - len(selected)
    argv_shown = f"{sys.executable} {outside / 'fake_cli.py'}"
    assert f"| fake | {summary['suite_version']} | `{argv_shown}` | 0 | {failed} | {xfailed} |" in text
    assert text.split("| fake |", 1)[1].split("\n", 1)[0].endswith(f"| {len(tls_only)} | {not_run} |")
    assert f"| ServerTime | {xfailed} xfail |" in text or f"| ServerTime | {xfailed} xfail, " in text
    assert "<html" in (outside / "matrix.html").read_text(encoding="utf-8")


def test_the_console_script_finds_the_suite_from_anywhere(outside: Path) -> None:
    script = Path(sys.executable).with_name("opi-bitrix24-conformance")
    if not script.exists():
        pytest.skip(f"no console script at {script} (pip install -e . installs it)")
    done = _run(
        [str(script), "--argv", f"{sys.executable} fake_cli.py", "--impl", "fake", "--run", "bitrix24/ServerTime/*"],
        outside,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("opi-bitrix24 conformance suite ")
    assert "FAIL  bitrix24/ServerTime/" in done.stdout


def test_the_wheel_ships_every_file_of_the_suite() -> None:
    """setup.py's build step copies every tracked file of conformance/ into the wheel (as
    opi_bitrix24_conformance/suite/) but the measured oint runs; pyproject finds the runner's package
    (tests/test_suite_packaging.py builds both for real)."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = config["tool"]["setuptools"]["packages"]["find"]
    assert {"opi_bitrix24_conformance", "opi_bitrix24_conformance.*"} <= set(found["include"])
    assert not any(name.split(".")[0] == "conformance" for name in found["include"])
    build = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_check")  # defines, builds nothing
    assert build["SUITE"] == "conformance" and build["PACKAGED"] == ("opi_bitrix24_conformance", "suite")
    shipped = {path.as_posix() for path in build["suite_files"](SUITE)}
    listed = subprocess.run(["git", "ls-files", "-z", "conformance"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = {name[len("conformance/") :] for name in listed.stdout.decode("utf-8").split("\0") if name}
    # the measured runs of oint are this repository's test evidence, not part of the suite
    assert shipped == {name for name in tracked if not name.startswith("reference-runs/")}
    assert not any(name.endswith(".py") for name in tracked), "conformance/ is data and documents, no Python"
    assert config["project"]["scripts"]["opi-bitrix24-conformance"] == "opi_bitrix24_conformance.runner.__main__:run"
