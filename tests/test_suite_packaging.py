"""How another implementation's CI gets the suite today (issue 23 item 6): a wheel built from this source,
installed by itself, runs the suite from a directory outside the repository. The build prints no setuptools
"Package would be ignored" warning (190 before: one per data folder), the console script names itself, and the
JUnit report carries the suite version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.runner.cases import SUITE, suite_version

ROOT = SUITE.parent
IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "site", ".tox", "*.egg-info", "__pycache__")
#: the only warnings left: MANIFEST.in's exclusions of byte code, which match nothing in a clean tree
MANIFEST_WARNINGS = {
    "warning: no previously-included files matching '*.py[cod]' found anywhere in distribution",
    "warning: no previously-included files matching '__pycache__' found anywhere in distribution",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "opi-bitrix24"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    dist = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    if built.returncode != 0 and "Could not find a version that satisfies" in built.stdout + built.stderr:
        pytest.skip("the build backend (setuptools) cannot be had from the package index here")
    assert built.returncode == 0, built.stderr[-3000:]
    log = built.stdout + built.stderr
    assert "would be ignored" not in log
    warnings = {line.strip() for line in log.splitlines() if "warning" in line.lower()}
    assert warnings <= MANIFEST_WARNINGS, sorted(warnings - MANIFEST_WARNINGS)[:5]
    wheels = list(dist.glob("opi_bitrix24-*.whl"))
    assert len(wheels) == 1
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheels[0])],
        check=True,
        timeout=300,
    )
    return target


def _outside(target: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
    env["PYTHONPATH"] = str(target)  # the wheel's files before this checkout's editable install
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=300)


def test_the_built_wheel_runs_the_suite_from_anywhere(installed: Path, tmp_path: Path) -> None:
    where = _outside(
        installed, tmp_path, sys.executable, "-c", "import conformance, opi_bitrix24; print(conformance.SUITE)"
    )
    assert where.stdout.strip() == str(installed / "conformance")
    assert not (installed / "conformance" / "reference-runs").exists()
    version = _outside(installed, tmp_path, sys.executable, "-m", "conformance.runner", "--version")
    assert version.stdout.startswith(f"python -m conformance.runner: conformance suite {suite_version()} (package ")
    script = installed / "bin" / "opi-bitrix24-conformance"
    shown = _outside(installed, tmp_path, sys.executable, str(script), "--help")
    assert shown.stdout.startswith("usage: opi-bitrix24-conformance ")
    run = _outside(
        installed,
        tmp_path,
        sys.executable,
        str(script),
        "--impl",
        "python",
        "--run",
        "bitrix24/ServerTime/*",
        "--junit-xml",
        "junit.xml",
        "--json",
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 0 and lines[-1]["failed"] == 0 and lines[-1]["passed"] > 5, run.stderr[-2000:]
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    properties = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert properties["suite_version"] == suite_version() and properties["impl"] == "python"
    assert properties["argv"].endswith(" -m opi_bitrix24")


def test_the_library_does_not_import_the_suite() -> None:
    # --version reads the suite's VERSION file; importing opi_bitrix24 or running its CLI never runs conformance
    probe = (
        "import sys, io, contextlib\n"
        "from opi_bitrix24 import _cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    _cli.main(['--version'])\n"
        "print(out.getvalue().strip(), 'conformance' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip().endswith(f"(conformance suite {suite_version()}) False")
