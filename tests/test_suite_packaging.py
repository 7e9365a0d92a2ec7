"""How another implementation's CI gets the suite today (issue 23 item 6), done for real: the sdist and the wheel
are built from a copy of this repository's tracked files (as ``python -m build`` does: the sdist first, the wheel
from it) with no build warning at all, the wheel is installed into a fresh virtual environment (the pip cache
makes it quick; dependencies from the package index), and the suite runs from there, from a directory outside
the repository, against this package's CLI installed in the same environment.

The suite is the repository's ``conformance/`` folder (data and documents, no Python); its runner's import name is
``opi_bitrix24_conformance``, and the wheel carries the folder as ``opi_bitrix24_conformance/suite/`` (setup.py's build
step). Nothing named ``conformance`` is installed; in a checkout ``conformance/`` is a plain directory, which Python
can only see as an empty namespace portion (never a regular package, so it shadows no installed ``conformance``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

from opi_bitrix24_conformance.runner.cases import SUITE, suite_version

ROOT = SUITE.parent
PACKAGE = ROOT / "opi_bitrix24_conformance"
#: files of the repository the sdist leaves out on purpose (the sdist is the project, so that its tests run)
NOT_IN_SDIST = {".gitignore"}


def _tracked() -> List[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.decode("utf-8").split("\0") if name and os.path.lexists(ROOT / name)]


def _quiet_env() -> Dict[str, str]:
    # byte-compiling is part of a normal build (the check's PYTHONDONTWRITEBYTECODE would make setuptools say so)
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONSTARTUP")}


def _warnings(log: str) -> List[str]:
    return [line.strip() for line in log.splitlines() if "warning" in line.lower()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    if sys.platform == "win32":
        pytest.skip("the venv layout below is POSIX's")
    source = tmp_path_factory.mktemp("source") / "opi-bitrix24"
    for name in _tracked():  # the tracked files as they are (the suite's import name is a symlink to its folder)
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            os.symlink(os.readlink(ROOT / name), source / name)
        else:
            shutil.copy2(ROOT / name, source / name)
    backend = tmp_path_factory.mktemp("backend")  # the build backend pyproject asks for, as build isolation gets it
    requires = "setuptools>=77"
    got = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(backend), requires],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if got.returncode != 0:
        pytest.skip(f"the build backend ({requires}) cannot be had from the package index here")
    dist = tmp_path_factory.mktemp("dist")
    sdist = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"],
        cwd=source,
        env=dict(_quiet_env(), PYTHONPATH=str(backend)),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert sdist.returncode == 0, sdist.stderr[-3000:]
    assert _warnings(sdist.stdout + sdist.stderr) == []
    archive = dist / sdist.stdout.strip().splitlines()[-1]
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(dist), str(archive)],
        env=_quiet_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert wheel.returncode == 0, wheel.stderr[-3000:]
    log = wheel.stdout + wheel.stderr
    assert "would be ignored" not in log
    assert _warnings(log) == []
    wheels = list(dist.glob("opi_bitrix24-*.whl"))
    assert len(wheels) == 1
    return {"source": source, "sdist": archive, "wheel": wheels[0]}


@pytest.fixture(scope="module")
def environment(built: Dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its ``conformance`` extra (PyYAML, trustme) installed."""
    where = tmp_path_factory.mktemp("venv") / "ci"
    venv.create(where, with_pip=False)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(where / "bin" / "python"),
            "install",
            "--quiet",
            f"{built['wheel']}[conformance]",
        ],
        capture_output=True,
        text=True,
        env=_quiet_env(),
        check=False,
        timeout=600,
    )
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip("the wheel's dependencies cannot be had from the package index here")
    assert done.returncode == 0, done.stderr[-3000:]
    return where


def _in(environment: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = _quiet_env()
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # as an activated environment
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=300)


def test_the_sdist_is_the_whole_project_and_the_wheel_the_package_and_the_suite(built: Dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(_tracked()) - NOT_IN_SDIST - names == set()
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    with zipfile.ZipFile(built["wheel"]) as wheel:
        files = wheel.namelist()
        top_level = next(n for n in files if n.endswith(".dist-info/top_level.txt"))
        assert wheel.read(top_level).decode().split() == ["opi_bitrix24", "opi_bitrix24_conformance"]
        scripts = wheel.read(next(n for n in files if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "opi-bitrix24-conformance = opi_bitrix24_conformance.runner.__main__:run" in scripts
    assert {name.split("/")[0] for name in files if not name.startswith("opi_bitrix24-")} == {
        "opi_bitrix24",
        "opi_bitrix24_conformance",
    }
    # every module of both packages, and every file of conformance/ under opi_bitrix24_conformance/suite/ but the
    # measured oint runs (test evidence); nothing else
    expected = {
        f"{package}/{path.relative_to(folder).as_posix()}"
        for package, folder in (
            ("opi_bitrix24", ROOT / "opi_bitrix24"),
            ("opi_bitrix24_conformance", PACKAGE),
            ("opi_bitrix24_conformance/suite", SUITE),
        )
        for path in folder.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and "reference-runs" not in path.relative_to(folder).parts
        and (folder == SUITE or path.suffix == ".py" or path.name == "py.typed")
    }
    packaged = {name for name in files if not name.startswith("opi_bitrix24-")}
    assert packaged == expected, (sorted(expected - packaged)[:5], sorted(packaged - expected)[:5])
    suite = [name for name in packaged if name.startswith("opi_bitrix24_conformance/suite/")]
    assert not any(name.endswith(".py") for name in suite)
    print(f"wheel: {len(packaged)} files, {len(suite)} of them the suite's")


def test_a_fresh_environment_runs_the_suite_from_the_wheel(environment: Path, tmp_path: Path) -> None:
    python, script = str(environment / "bin" / "python"), str(environment / "bin" / "opi-bitrix24-conformance")
    where = _in(environment, tmp_path, python, "-c", "import opi_bitrix24_conformance as s; print(s.SUITE)")
    site = next(environment.glob("lib/python*/site-packages"))
    assert where.stdout.strip() == str(site / "opi_bitrix24_conformance" / "suite")
    assert not list(environment.glob("lib/python*/site-packages/conformance"))
    old = _in(environment, tmp_path, python, "-c", "import conformance")
    assert "ModuleNotFoundError: No module named 'conformance'" in old.stderr
    version = _in(environment, tmp_path, script, "--version")
    expected = (
        f"opi-bitrix24-conformance: conformance suite {suite_version()} (package opi-bitrix24 {_package_version()})"
    )
    assert version.stdout == expected + "\n"
    assert _in(environment, tmp_path, script, "--help").stdout.startswith("usage: opi-bitrix24-conformance ")
    module = _in(environment, tmp_path, python, "-m", "opi_bitrix24_conformance.runner", "--help")
    assert module.stdout.startswith("usage: python -m opi_bitrix24_conformance.runner ")
    # the suite through this package's CLI as another implementation's CI runs it: the installed script by path
    cli = str(environment / "bin" / "opi-bitrix24")
    run = _in(
        environment,
        tmp_path,
        script,
        *("--argv", cli, "--impl", "python-script", "--run", "bitrix24/ServerTime/*", "--run", "bitrix24/GetUsers/*"),
        *("--junit-xml", "junit.xml", "--results", "results.jsonl", "--jobs", "4", "-q"),
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.stdout.startswith(f"opi-bitrix24 conformance suite {suite_version()}: ")
    summary = json.loads((tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert summary["failed"] == 0 and summary["passed"] >= 10 and summary["suite_version"] == suite_version()
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    properties = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert properties == {
        "suite_version": suite_version(),
        "package_version": _package_version(),
        "impl": "python-script",
        "argv": cli,
    }
    assert summary["package_version"] == _package_version()
    matrix = _in(environment, tmp_path, script, "matrix", "results.jsonl", "-o", "matrix.md")
    assert matrix.returncode == 0 and "| python-script | " in (tmp_path / "matrix.md").read_text(encoding="utf-8")


def _package_version() -> str:
    from opi_bitrix24._version import __version__

    return __version__


def test_the_old_name_is_not_the_suite_in_a_checkout_either() -> None:
    # from the repository's root (a checkout, the editable install's path entry; both on the path here, so the one
    # folder may be listed twice), conformance/ is a plain directory:
    # no __init__.py, no Python in it, so `conformance` is at most an empty namespace portion (a regular package of
    # that name installed elsewhere on the path wins over it) and nothing of the suite imports under it
    assert not (SUITE / "__init__.py").exists() and not list(SUITE.rglob("*.py"))
    probe = (
        "import importlib.util, sys\n"
        "spec = importlib.util.find_spec('conformance')\n"
        "print(spec is not None and spec.origin is None and sorted(set(spec.submodule_search_locations or [])))\n"
        "import conformance.runner\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout.strip() == repr([str(SUITE)])
    assert done.stderr.strip().splitlines()[-1] == "ModuleNotFoundError: No module named 'conformance.runner'"


def test_the_library_does_not_import_the_suite() -> None:
    # --version reads the suite's VERSION file; importing opi_bitrix24 or running its CLI never runs the suite
    probe = (
        "import sys, io, contextlib\n"
        "from opi_bitrix24 import _cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    _cli.main(['--version'])\n"
        "print(out.getvalue().strip(), sorted(m for m in sys.modules if 'conformance' in m))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip().endswith(f"(conformance suite {suite_version()}) []")


def test_a_fresh_environment_gets_the_suite_from_the_git_url(tmp_path: Path) -> None:
    """The README's other way: ``pip install "opi-bitrix24[conformance] @ git+<url>@<commit>"``. A ``file://`` URL
    of this checkout stands in for the hosted one (no git host is reachable here); pip clones it at the commit,
    builds it as it would a hosted repository and the suite runs from the result."""
    if os.name != "posix":
        pytest.skip("the venv layout below is POSIX's")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: there is no git URL to install from")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    where = tmp_path / "venv"
    venv.create(where, with_pip=False)
    requirement = f"opi-bitrix24[conformance] @ git+{ROOT.as_uri()}@{commit}"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(where / "bin" / "python"), "install", "--quiet", requirement],
        capture_output=True,
        text=True,
        env=_quiet_env(),
        check=False,
        timeout=600,
    )
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip("the package's dependencies cannot be had from the package index here")
    assert done.returncode == 0, done.stderr[-3000:]
    site = next(where.glob("lib/python*/site-packages"))
    assert (site / "opi_bitrix24_conformance" / "suite" / "VERSION").read_text(
        encoding="utf-8"
    ).strip() == suite_version()
    script, cli = str(where / "bin" / "opi-bitrix24-conformance"), str(where / "bin" / "opi-bitrix24")
    run = _in(where, tmp_path, script, "--argv", cli, "--impl", "python-script", "--run", "bitrix24/ServerTime/*", "-q")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.stdout.startswith(f"opi-bitrix24 conformance suite {suite_version()}: ") and " 0 failed" in run.stdout
