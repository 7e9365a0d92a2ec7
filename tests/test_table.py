"""The method table against the catalog (the contract), the public surface and the derived files."""

from __future__ import annotations

import inspect
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any, Dict, List

import pytest

import opi_bitrix24
from opi_bitrix24._table import REQUIRED, methods
from opi_bitrix24_conformance.runner.cases import load_cases

ROOT = Path(__file__).resolve().parent.parent


def _default(literal: Any) -> Any:
    if literal is None:
        return REQUIRED
    return (
        {"False": False, "True": True}.get(literal, None)
        if literal in ("False", "True")
        else (literal[1:-1] if literal.startswith('"') else int(literal))
    )


def test_every_ported_function_matches_the_catalog(catalog: Dict[str, Dict[str, Any]]) -> None:
    problems: List[str] = []
    for method in methods():
        entry = catalog.get(method.name)
        if entry is None:
            problems.append(f"{method.name}: not an OPI function")
            continue
        for field, ours in (
            ("python", method.python),
            ("ru", method.ru),
            ("section", method.section),
            ("section_ru", method.section_ru),
        ):
            if unicodedata.normalize("NFKC", entry[field]) != ours:
                problems.append(f"{method.name}: {field} {ours!r} != catalog {entry[field]!r}")
        if list(method.api) != list(entry["api"]):
            problems.append(f"{method.name}: api {list(method.api)} != catalog {entry['api']}")
        theirs = [
            (p["python"], unicodedata.normalize("NFKC", p["ru"]), p["cli"], _default(p["default"]))
            for p in entry["params"]
        ]
        ours_params = [(p.python, p.ru, p.cli, p.default) for p in method.params]
        if ours_params != theirs:
            problems.append(f"{method.name}: parameters {ours_params} != catalog {theirs}")
    assert not problems, "\n".join(problems)
    print(f"\ncoverage: {len(methods())}/{len(catalog)} OPI functions ported")


def test_method_names_are_unique() -> None:
    for attribute in ("name", "python", "ru"):
        names = [getattr(m, attribute) for m in methods()]
        assert len(names) == len(set(names)), attribute


def test_all_is_sorted_and_complete() -> None:
    hidden = {"annotations", "TYPE_CHECKING", "Any"}
    public = {name for name in dir(opi_bitrix24) if not name.startswith("_") and name not in hidden}
    public = {name for name in public if not inspect.ismodule(getattr(opi_bitrix24, name))}
    assert opi_bitrix24.__all__ == sorted(opi_bitrix24.__all__)
    assert set(opi_bitrix24.__all__) == public | {"__version__"}
    for method in methods():
        assert method.python in opi_bitrix24.__all__ and method.ru in opi_bitrix24.__all__
    with pytest.raises(AttributeError):
        opi_bitrix24.НетТакойФункции  # noqa: B018


def test_russian_aliases_load_on_first_use() -> None:
    code = (
        "import sys, opi_bitrix24 as b; loaded = 'opi_bitrix24._aliases' in sys.modules; "
        "f = b.ПолучитьПользователей; from opi_bitrix24 import СерверноеВремя; "
        "print(loaded, 'opi_bitrix24._aliases' in sys.modules, f.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.split() == ["False", "True", "opi_bitrix24._aliases"]


def test_aliases_have_russian_parameters_and_call_the_function() -> None:
    for method in methods():
        alias = getattr(opi_bitrix24, method.ru)
        signature = inspect.signature(alias)
        assert [p.name for p in signature.parameters.values()] == [p.ru for p in method.params]
        assert [p.default for p in signature.parameters.values()] == [
            inspect.Parameter.empty if p.required else p.default for p in method.params
        ]
        assert getattr(opi_bitrix24, method.python) is method.func
        assert f"return {method.python}(" in inspect.getsource(alias)


def test_russian_alias_with_keywords_makes_the_same_request(portal: Any) -> None:
    opi_bitrix24.ПолучитьПользователей(URL=portal.base, IDПользователей=[1, 10], Токен="T")
    opi_bitrix24.get_users(portal.base, [1, 10], "T")
    assert portal.requests[0]["body"] == portal.requests[1]["body"]
    assert portal.requests[0]["path"] == portal.requests[1]["path"] == "/rest/im.user.list.get"


def test_docstrings_name_the_rest_method() -> None:
    for method in methods():
        doc = inspect.getdoc(method.func) or ""
        assert method.summary and doc, method.name
        expected = f"Calls: {', '.join(method.api)}" if method.api else "Calls: "
        assert expected in doc, f"{method.name}: docstring lacks '{expected}'"


def test_every_function_has_conformance_cases() -> None:
    cases = load_cases()
    for method in methods():
        mine = [c for c in cases if c.method == method.name]
        assert mine, f"{method.name} has no conformance case"
        if method.api:
            assert any("documented" in c.tags for c in mine), f"{method.name}: no case replays the documented sample"
            assert any("token" in c.tags for c in mine), f"{method.name}: no token-mode case"
            for case in mine:
                for exchange in case.http:
                    if "fixture" in exchange["response"]:  # the download of an argument given as a URL
                        continue
                    if "multipart" not in exchange["request"]:  # an upload goes to the URL the portal gave
                        assert exchange["request"]["path"].rsplit("/", 1)[-1] in method.api, case.full_id


def test_generated_files_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_is_light() -> None:
    code = "import sys, opi_bitrix24; print(sorted(m for m in ('requests', 'yaml', 'urllib3') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
