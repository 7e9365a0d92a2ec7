"""The package's layering (issue 22 item 0), read from the source with ``ast``: no import cycle, no module
below the core importing the core or the package root, and the sans-IO flows free of I/O.

Every import counts, those inside functions too (a cycle through a lazy import is still a cycle); only
the imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "opi_bitrix24"
#: The package root, the generated modules it loads and the entry points: above everything else.
TOP = {"__init__", "__main__", "_aliases", "_portal", "demo"}


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    return ".".join(relative.parts)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree except what sits under ``if TYPE_CHECKING:``."""
    stack: List[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _resolve(module: str, node: ast.ImportFrom) -> List[str]:
    """The package modules an ``from ... import ...`` names (relative or absolute)."""
    if node.level:
        base = module.split(".")
        package = base[: len(base) - node.level] if module.count(".") or node.level > 1 else []
        if PACKAGE.joinpath(*module.split(".")).is_dir():  # a package's __init__: its own level
            package = base[: len(base) - node.level + 1]
        prefix = ".".join(package + ([node.module] if node.module else []))
    elif node.module and (node.module == "opi_bitrix24" or node.module.startswith("opi_bitrix24.")):
        prefix = node.module[len("opi_bitrix24") :].lstrip(".")
    else:
        return []
    found = []
    for alias in node.names:
        candidate = f"{prefix}.{alias.name}" if prefix else alias.name
        if _exists(candidate):
            found.append(candidate)
        else:
            found.append(prefix or "__init__")
    return found


def _exists(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(module: str, path: Path) -> Set[str]:
    """The package modules ``module`` imports at run time (top level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: Set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, node))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "opi_bitrix24":
                    found.add("__init__")
                elif alias.name.startswith("opi_bitrix24."):
                    found.add(alias.name[len("opi_bitrix24.") :])
    found.discard(module)
    return found


@functools.cache
def graph() -> Dict[str, Set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(name, path) if m in modules} for name, path in modules.items()}


def _cycle(edges: Dict[str, Set[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}
    trail: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        trail.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_private_modules_form_no_import_cycle() -> None:
    edges = graph()
    inner = {name: {m for m in deps if m not in TOP} for name, deps in edges.items() if name not in TOP}
    assert _cycle(inner) is None, " -> ".join(_cycle(inner) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", ["_limits", "_auth", "_state", "_settings", "_flow", "_wire", "_sync", "_deadline"])
def test_no_module_below_the_core_imports_it_or_the_package_root(module: str) -> None:
    deps = graph()[module]
    assert not deps & {"_core", "_bulk", "__init__", "_portal", "_aliases"}, deps


def test_nothing_in_the_package_imports_the_package_root() -> None:
    # the version is read from _version (the CLI included), never from the root
    edges = graph()
    assert sorted(name for name, deps in edges.items() if "__init__" in deps) == []


def test_the_flows_touch_no_socket_no_thread_no_sleep() -> None:
    tree = ast.parse((PACKAGE / "_flow.py").read_text(encoding="utf-8"))
    banned = {"requests", "urllib3", "asyncio", "threading", "socket", "time", "http", "ssl", "selectors"}
    imported = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & banned, imported & banned
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not {c for c in calls if c.endswith("sleep") or c.endswith(".acquire") or c == "open"}, calls


def test_the_import_reader_sees_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    source = tmp_path / "_limits.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nfrom ._state import origin\nif TYPE_CHECKING:\n    from . import _bulk\n"
        "def f():\n    from . import _core\n    import opi_bitrix24\n",
        encoding="utf-8",
    )
    assert imports("_limits", source) == {"_state", "_core", "__init__"}
