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


SECTION = '''"""An endpoint module."""

endpoint = section("Deals", "Сделки")


@endpoint("GetDeal", "ПолучитьСделку")
def get_deal(url, deal_id, token=""):
    return post("crm.deal.get", url, token, id=deal_id)
'''


@pytest.fixture()
def package(tmp_path: Path) -> Path:
    """opi_bitrix24-like layout: a section module, a core module, generated files, tests naming them."""
    root = tmp_path / "proj"
    (root / "opi_bitrix24" / "_sections").mkdir(parents=True)
    (root / "opi_bitrix24" / "_sections" / "deals.py").write_text(SECTION, encoding="utf-8")
    core = "def _send(a):\n    return a == 1\n\n\ndef post(a):\n    return a\n"
    (root / "opi_bitrix24" / "_core.py").write_text(core, encoding="utf-8")
    for generated in ("_aliases.py", "_portal.py", "__main__.py"):
        (root / "opi_bitrix24" / generated).write_text("X = 1\n", encoding="utf-8")
    (root / "tests").mkdir()
    (root / "tests" / "test_deals.py").write_text("def test():\n    get_deal(1)\n    get_deal(2)\n")
    (root / "tests" / "test_core.py").write_text("from opi_bitrix24 import _core\n_core._send(1)\nget_deal\n")
    (root / "tests" / "test_other.py").write_text("def test():\n    pass\n")
    (root / "tests" / "test_conformance.py").write_text("get_deal get_deal get_deal get_deal\n")
    return root


def test_the_section_modules_are_mutated_and_generated_files_are_not(mutate: ModuleType, package: Path) -> None:
    mutants = mutate.collect(package / "opi_bitrix24", package)
    assert {m.path for m in mutants} == {"opi_bitrix24/_core.py", "opi_bitrix24/_sections/deals.py"}
    methods = [m for m in mutants if m.change == "\"crm.deal.get\" -> 'crm.deal.get_x'"]
    assert [(m.line, m.where) for m in methods] == [(8, "get_deal")]
    decorator = next(m for m in mutants if m.change == "\"GetDeal\" -> 'GetDeal_x'")
    assert decorator.where == "get_deal"  # a decorator belongs to the function it decorates
    assert next(m for m in mutants if m.change == "\"Deals\" -> 'Deals_x'").where == "endpoint"


def test_scope_is_opi_for_endpoints_and_the_opi_path_of_core(mutate: ModuleType, package: Path) -> None:
    scopes = {(m.path, m.where): m.scope for m in mutate.collect(package / "opi_bitrix24", package)}
    assert scopes[("opi_bitrix24/_sections/deals.py", "get_deal")] == "opi"
    assert scopes[("opi_bitrix24/_sections/deals.py", "endpoint")] == "opi"
    assert scopes[("opi_bitrix24/_core.py", "_send")] == "beyond"  # transport policy: retries, redirects
    assert "post" in mutate.SCOPE_OPI["opi_bitrix24/_core.py"]


def test_the_pytest_stage_runs_the_related_test_files_first(mutate: ModuleType, package: Path) -> None:
    mutants = mutate.collect(package / "opi_bitrix24", package)
    endpoint = next(m for m in mutants if m.where == "get_deal")
    core = next(m for m in mutants if m.where == "_send")
    assert mutate.related_tests(endpoint, package) == ["tests/test_deals.py", "tests/test_core.py"]
    assert mutate.related_tests(core, package) == ["tests/test_core.py"]
    pytest_stage = ("pytest", ["py", "-x", "tests", "--ignore=tests/test_conformance.py", "--deselect=t::a"])
    assert mutate.commands_for(core, [("suite", ["py", "a"]), pytest_stage], package) == [
        ("suite", ["py", "a"]),
        ("pytest", ["py", "-x", "--deselect=t::a", "tests/test_core.py"]),
        ("pytest", [*pytest_stage[1], "--ignore=tests/test_core.py"]),
    ]


def test_a_small_sample_draws_its_modules_with_the_seed(mutate: ModuleType, package: Path) -> None:
    mutants = mutate.collect(package / "opi_bitrix24", package)
    picks = {tuple(m.path for m in mutate.sample(mutants, seed, 1)) for seed in range(20)}
    assert picks == {("opi_bitrix24/_core.py",), ("opi_bitrix24/_sections/deals.py",)}
    both = mutate.sample(mutants, 3, 2)
    assert sorted(m.path for m in both) == ["opi_bitrix24/_core.py", "opi_bitrix24/_sections/deals.py"]


def test_report_per_module_and_scope_and_strict_exit(
    mutate: ModuleType, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutants = mutate.collect(package / "opi_bitrix24", package)
    opi = [m for m in mutants if m.scope == "opi"][:4]
    beyond = [m for m in mutants if m.scope == "beyond"][:1]
    results = {opi[0]: ("conformance", ""), opi[1]: ("conformance", ""), opi[2]: ("pytest", ""), opi[3]: (None, "")}
    results[beyond[0]] = ("pytest", "")
    args = mutate.argparse.Namespace(seed=1, count=5, suite="all", strict=True)
    stages = ["conformance", "pytest"]
    assert mutate.report([*opi, *beyond], results, {}, stages, args) == 1
    out = capsys.readouterr().out
    assert "scope opi" in out and "2/4  50.0%" in out and "3/4  75.0%" in out
    assert "opi scope, conformance suite alone >= 95%: 50.0% NOT MET" in out
    assert "beyond scope, conformance+pytest = 100%: 100.0% met" in out
    assert f"[opi] {opi[3].key}" in out
    assert mutate.report([*opi, *beyond], results, {opi[3].key: "same"}, stages, args) == 0
    assert "2/3  66.7%" in capsys.readouterr().out  # the equivalent one counts as neither
