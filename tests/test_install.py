"""The documented installs, done for real in clean virtual environments (pip's cache makes them quick):

- the README's first command (``pip install .`` from the repository) installs a package whose demo runs;
- the development install (``pip install -e``) leaves a plain path entry, so mypy checks code outside the
  repository against the package's types (a misspelt setting is an error, not ``Any``).

The repository is copied first (its tracked files), so the builds never write into the work tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _copy_of_the_repository(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in listed.stdout.decode("utf-8").split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def _pip(environment: Path, *args: str) -> None:
    # this interpreter's pip installs into the new environment (no pip bootstrap there: faster)
    python = environment / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _run(command: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if sys.platform == "win32":
        pytest.skip("the venv layout below is POSIX's")
    return _copy_of_the_repository(tmp_path_factory.mktemp("repository"))


def test_the_readme_install_line_installs_a_working_package(source: Path, tmp_path: Path) -> None:
    line = "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
    assert line in README.split("## Calling a real portal")[0]  # on the first screen
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    _pip(environment, str(source))  # `pip install .` from the repository folder, dependencies included
    python = str(environment / "bin" / "python")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    demo = _run(
        [python, "-m", "opi_bitrix24_conformance.runner.portal", "--demo", "GetUsers", "--users", "10"], outside
    )
    assert demo.returncode == 0, demo.stderr
    assert '"id": 10' in demo.stdout and "portal: POST /rest/1/demo/im.user.list.get" in demo.stderr
    job = _run([python, "-m", "opi_bitrix24.demo", "--deals", "1000"], outside)  # the job, from the installed package
    assert job.returncode == 0, job.stderr
    assert "exported 1000 deals, updated 998, failed 2" in job.stdout
    installed = _run([python, "-c", "import opi_bitrix24, os; print(opi_bitrix24.__file__)"], outside)
    assert str(environment) in installed.stdout  # the installed copy, not the source folder


def test_the_editable_install_gives_types_to_code_outside_the_repository(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    _pip(environment, "--no-deps", "-e", str(source))
    pth = [p.read_text() for p in environment.glob("lib/python*/site-packages/__editable__*opi_bitrix24*.pth")]
    assert pth and pth[0].strip() == str(source), pth  # a path entry, not an import hook
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "job.py").write_text(
        "import opi_bitrix24 as b24\n\nb24.configure(timeuot=5)\nreveal_type(b24.get_users)\n", encoding="utf-8"
    )
    checked = _run(
        [sys.executable, "-m", "mypy", "--python-executable", str(environment / "bin" / "python"), "job.py"],
        project,
    )
    assert 'Unexpected keyword argument "timeuot" for "configure"; did you mean "timeout"?' in checked.stdout, (
        checked.stdout
    )
    assert "def (url: builtins.str, user_ids:" in checked.stdout or "def (url: str, user_ids:" in checked.stdout
    assert "import-not-found" not in checked.stdout
