"""tools/mutate.py itself: deterministic mutants for a fixed seed, applied and reverted in a copy, kills."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SOURCE = '''"""Docstring: never mutated."""

LIMIT = 3


def add(a, b):
    return a - b if a == 0 else a + b


def send(call):
    return call("crm.deal.add", {"auth": "t", "fields": 1}, timeout=LIMIT)
'''


@pytest.fixture(scope="module")
def mutate() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "tools" / "mutate.py"
    spec = importlib.util.spec_from_file_location("mutate_tool", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate_tool"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE, encoding="utf-8")
    return tmp_path


def test_mutants_are_the_expected_single_point_changes(mutate: ModuleType, project: Path) -> None:
    changes = [m.change for m in mutate.collect(project / "pkg", project)]
    assert "3 -> 4" in changes
    assert "a == 0 -> a != 0" in changes
    assert "\"crm.deal.add\" -> 'crm.deal.add_x'" in changes
    assert "\"auth\" -> 'auth_x'" in changes
    assert any(c.endswith("-> {'fields': 1}") for c in changes)  # dict entry dropped
    assert any(c.startswith('call("crm.deal.add"') and c.endswith("{'auth': 't', 'fields': 1})") for c in changes)
    assert not any("Docstring" in c for c in changes)


def test_sample_is_deterministic_for_a_seed(mutate: ModuleType, project: Path) -> None:
    mutants = mutate.collect(project / "pkg", project)
    first = [m.key for m in mutate.sample(mutants, 1, 5)]
    assert first == [m.key for m in mutate.sample(mutants, 1, 5)]
    assert len(first) == 5 and len(set(first)) == 5
    assert first != [m.key for m in mutate.sample(mutants, 2, 5)]


def test_a_breaking_mutant_is_killed_and_reverted(mutate: ModuleType, project: Path) -> None:
    work = mutate.copy_tree(project, project.parent / "work")
    original = (work / "pkg" / "mod.py").read_bytes()
    mutant = next(m for m in mutate.collect(work / "pkg", work) if m.change == "a == 0 -> a != 0")
    check = [sys.executable, "-c", "import sys; sys.path.insert(0, 'pkg'); import mod; assert mod.add(2, 1) == 3"]
    assert mutate.run_mutant(work, None, [("check", check)], 30) == (None, "")
    killed, _detail = mutate.run_mutant(work, mutant, [("check", check)], 30)
    assert killed == "check"
    assert (work / "pkg" / "mod.py").read_bytes() == original
    assert (project / "pkg" / "mod.py").read_bytes() == original


def test_equivalents_file_format(mutate: ModuleType, tmp_path: Path) -> None:
    listing = tmp_path / "eq.txt"
    listing.write_text("# comment\nopi_bitrix24/_x.py:3 | 1 -> 2 | same result\n", encoding="utf-8")
    assert mutate.load_equivalents(listing) == {"opi_bitrix24/_x.py:3 | 1 -> 2": "same result"}
