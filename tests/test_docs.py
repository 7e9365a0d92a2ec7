"""The documentation site: it builds without a warning, every function has a reference entry, and the
Python examples of the guides run against the bundled demo portal (opi_bitrix24_conformance/runner/portal.py)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

import opi_bitrix24
from opi_bitrix24 import _cli, _settings
from opi_bitrix24._help import pageable
from opi_bitrix24._table import find, methods

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDES = [DOCS / "index.md", *sorted((DOCS / "guides").glob("*.md")), *sorted((DOCS / "migration").glob("*.md"))]
REFERENCE = sorted((DOCS / "reference").glob("*.md"))
EXAMPLE_ORIGIN = "https://example.bitrix24.ru"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

# The demo portal answers disk.folder.uploadFile with its case's "${PORTAL}/upload/..." URL unexpanded, so
# the second step of an upload cannot reach it; those blocks are checked for names (below), not run.
NOT_RUNNABLE: Tuple[str, ...] = ()


def _blocks(path: Path, language: str) -> List[str]:
    return [body for lang, body in FENCE.findall(path.read_text(encoding="utf-8")) if lang == language]


# --- the site builds --------------------------------------------------------------------------------


def test_the_site_builds_with_no_warning(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'); CI installs it and builds the site")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    for method in methods():
        page = tmp_path / "site" / "reference" / method.section / "index.html"
        assert f'id="{method.name.lower()}"' in page.read_text(encoding="utf-8"), method.name
    case = tmp_path / "site" / "conformance" / "cases" / "bitrix24" / "UsersManagement" / "GetUser.yaml"
    assert case.exists(), "the conformance case files are published with the site"


def test_the_nav_lists_every_reference_page() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in REFERENCE:
        assert f"reference/{page.name}" in config
    assert {page.stem for page in REFERENCE} == {m.section for m in methods()}


# --- the reference ----------------------------------------------------------------------------------


def test_every_function_has_one_reference_entry() -> None:
    text = {page.stem: page.read_text(encoding="utf-8") for page in REFERENCE}
    for method in methods():
        page = text[method.section]
        assert page.count(f"\n## {method.name}\n") == 1, method.name
        entry = page.split(f"\n## {method.name}\n", 1)[1].split("\n## ", 1)[0]
        assert f"`opi_bitrix24.{method.python}()`" in entry
        assert f"`opi_bitrix24.{method.ru}()`" in entry
        assert f"`opi-bitrix24 {method.name}`" in entry
        for api in method.api:
            assert f"`{api}`" in entry
        for param in method.params:
            assert f'| <span class="nobreak">`--{param.cli}`</span> | `{param.python}` | `{param.ru}` |' in entry
        assert "```python" in entry and "```sh" in entry, f"{method.name}: no example"
        link = re.search(r"Conformance cases: \[([^\]]+)\]\(\.\./([^)]+)\)", entry)
        assert link is not None and (ROOT / link.group(2)).is_file(), method.name


def test_the_generated_pages_are_fresh() -> None:
    run = subprocess.run(
        [sys.executable, "tools/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


# --- command lines in the docs name real methods and options ---------------------------------------


def _command_lines() -> Iterator[Tuple[str, List[str]]]:
    for path in GUIDES + REFERENCE:
        for body in _blocks(path, "sh"):
            for line in body.splitlines():
                words = shlex.split(line.split(" # ")[0].split("        #")[0])
                if words[:1] == ["opi-bitrix24"]:
                    yield path.name, words[1:]
                elif words[:2] == ["oint", "bitrix24"]:
                    yield path.name, words[2:]


def test_every_command_line_in_the_docs_is_valid() -> None:
    seen = 0
    for where, words in _command_lines():
        if not words or words[0].startswith("-"):
            continue
        flags = set(_cli._RESERVED)  # --out, --token-file, --debug, --help, --all, --quiet
        if words[0] == "Call":  # the bulk addition: any REST method
            options = {"url", "method", "params", "token"} | flags
        else:
            method = find(words[0])
            assert method is not None, (where, words)
            options = {p.cli for p in method.params} | flags
            if "--all" in words:
                assert pageable(method), (where, words, "--all on a method that is not a paged list")
        for word in words[1:]:
            if word.startswith("--"):
                assert word[2:].split("=")[0] in options, (where, words, word)
        seen += 1
    assert seen > 179


# --- the guides' Python examples run against the demo portal ----------------------------------------


def _examples() -> List[Any]:
    out = []
    for path in GUIDES:
        for number, body in enumerate(_blocks(path, "python"), 1):
            marks = []
            if any(name in body for name in NOT_RUNNABLE):
                marks.append(pytest.mark.skip(reason="the demo portal's upload URL is an unexpanded placeholder"))
            out.append(pytest.param(body, id=f"{path.relative_to(DOCS).as_posix()}#{number}", marks=marks))
    return out


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    from opi_bitrix24_conformance.runner.portal import serve

    server = serve(0, rate=1000.0, burst=1000)  # the docs' examples, not the rate limit, are under test here
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_guides_have_examples() -> None:
    assert len(_examples()) >= 20
    for path in (DOCS / "migration" / "en.md", DOCS / "migration" / "ru.md"):
        assert len(_blocks(path, "python")) >= 10 and len(_blocks(path, "bsl")) >= 8, path.name


def _reference_examples() -> List[Any]:
    out = []
    for path in REFERENCE:
        for number, body in enumerate(_blocks(path, "python"), 1):
            marks = []
            if any(name in body for name in NOT_RUNNABLE):
                marks.append(pytest.mark.skip(reason="the demo portal's upload URL is an unexpanded placeholder"))
            out.append(pytest.param(body, id=f"{path.stem}#{number}", marks=marks))
    return out


def test_every_reference_entry_has_a_python_example() -> None:
    assert len(_reference_examples()) == len(methods())


@pytest.mark.parametrize("code", _reference_examples())
def test_reference_example_runs(code: str, demo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from opi_bitrix24_conformance.runner.cases import FIXTURES

    _run_example(code, demo, FIXTURES, monkeypatch)  # the examples name the suite's fixture files


@pytest.mark.parametrize("code", _examples())
def test_guide_example_runs(code: str, demo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_example(code, demo, tmp_path, monkeypatch)


def _run_example(code: str, demo: str, where: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost"):
            raise OSError(f"the docs test reaches only the demo portal, not {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    monkeypatch.setenv("OPI_B24_URL", f"{demo}/rest/1/k3yk3y/")  # the nightly job reads its webhook from here
    monkeypatch.chdir(where)
    monkeypatch.setattr(_settings, "_global", _settings._global)  # configure() in an example is undone afterwards
    source = code.replace(EXAMPLE_ORIGIN, demo)
    with opi_bitrix24.settings(oauth_url=f"{demo}/oauth/token/", rate_limit=None, retries=0):
        exec(compile(source, "<docs example>", "exec"), {"__name__": "__docs__"})


# --- the README: its first screen, its length ------------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_and_its_first_screen_has_the_two_commands_and_a_real_portal() -> None:
    lines = README.splitlines()
    assert len(lines) <= 200
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert commands == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && python -m opi_bitrix24.demo",
        'pip install -e ".[test,lint,docs]" && scripts/test',
    ]
    assert lines.index("## Calling a real portal") < 45  # on the first screen


def test_the_readme_first_command_shows_what_the_readme_says() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.demo"], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    said = README.split("The first ends with", 1)[1].split("##", 1)[0]
    quoted = [" ".join(piece.split()) for piece in re.findall(r"`([^`]*)`", said)[:2]]
    assert quoted[0] == "exported 5000 deals, updated 998, failed 2" and quoted[0] in done.stdout
    assert quoted[1].startswith("the portal saw ") and quoted[1] in done.stdout


def test_the_readme_test_command_needs_only_what_the_extras_install() -> None:
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    tools = {"ruff", "mypy", "mkdocs", "pytest"}
    used = {word for word in re.findall(r"(?:^|\n|python -m )(ruff|mypy|mkdocs|pytest|tox)\b", script)}
    assert used <= tools, used
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extras = project.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    for tool in tools:
        assert f'"{tool}' in extras, tool  # `pip install -e ".[test,lint,docs]"` brings it
    test_extra = extras.split("test = [", 1)[1].split("]", 1)[0]
    assert '"aiohttp' in test_extra  # the async driver's tests need it: the README's command installs it
    assert re.search(r'^tox = \["tox', project, re.M)  # the README's tox line: pip install -e ".[tox]"


# --- the Portal's methods explain themselves in an IDE (hover, help()) -----------------------------


@pytest.mark.parametrize("method", methods(), ids=lambda m: m.name)
def test_portal_methods_carry_the_full_docstring(method: Any) -> None:
    import inspect

    from opi_bitrix24 import Portal

    bound = {"url", "token"} <= {p.python for p in method.params}
    for name, russian in ((method.python, False), (method.ru, True)):
        doc = inspect.getdoc(getattr(Portal, name)) or ""
        assert doc.splitlines()[0] == method.summary, name
        assert f"OPI: {method.name} / {method.ru}; CLI: opi-bitrix24 {method.name}" in doc
        for api in method.api:
            assert api in doc.split("Calls:", 1)[1].splitlines()[0], (name, api)
        assert "\nReturns:\n    " in doc and "\nRaises:\n    InvalidArgument: " in doc
        documented = (
            re.findall(r"^    (\w+):", doc.split("Args:", 1)[1].split("\n\n", 1)[0], re.M) if "Args:" in doc else []
        )
        wanted = [p.ru if russian else p.python for p in method.params if not (bound and p.python in ("url", "token"))]
        assert documented == wanted, (name, documented, wanted)
