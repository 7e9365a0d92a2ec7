"""The documentation site as a reader sees it, in headless Chromium (tests/browser.py): the install line,
a Cyrillic search, the language of the Russian pages and the METHODS layout at 1280 px.

The site is built once with ``mkdocs build --strict`` and served from 127.0.0.1 (the search index is
fetched by a web worker, which a file:// page cannot do). Skipped where Chromium or MkDocs is missing;
CI (.ci/run) installs both.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, List
from urllib.parse import quote

import pytest
from browser import Browser, Page, chromium

ROOT = Path(__file__).resolve().parent.parent

SEARCH_RESULTS = """(() => {
  const box = document.getElementById('mkdocs-search-results');
  const found = [...box.querySelectorAll('article h3')].map(h => h.innerText);
  if (found.length) return found;
  return box.innerText.includes('No results') ? ['(none)'] : null;
})()"""

LAYOUT = """(() => {
  const side = document.querySelector('.bs-sidebar');
  const main = document.querySelector('[role=main]');
  const s = side.getBoundingClientRect(), m = main.getBoundingClientRect();
  return {
    page: document.documentElement.scrollWidth,
    viewport: innerWidth,
    sidebar_spill: [...side.querySelectorAll('a')].filter(a => a.getBoundingClientRect().right > s.right + 1).length,
    overlap: s.right > m.left + 1,
    tables: main.querySelectorAll('table').length,
    clipped: [...main.querySelectorAll('table')].filter(t => t.scrollWidth > t.clientWidth + 1).length,
    broken_options: [...main.querySelectorAll('td .nobreak')].filter(o => o.getClientRects().length > 1).length,
    options: main.querySelectorAll('td .nobreak').length,
  };
})()"""


BUILT: List[Path] = []


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    if chromium() is None:
        pytest.skip("no headless Chromium here (Debian: apt-get install chromium; .ci/run installs it)")
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    BUILT[:] = [folder]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(site: str) -> Iterator[Browser]:
    with Browser() as running:
        yield running


def _search(browser: Browser, site: str, words: str) -> List[str]:
    page = browser.open(f"{site}?q={quote(words)}")
    found: List[str] = page.wait(SEARCH_RESULTS)
    return found


def _code_blocks(page: Page) -> List[str]:
    blocks: List[str] = page.evaluate("[...document.querySelectorAll('pre code')].map(c => c.innerText)")
    return blocks


def test_the_install_line_on_the_front_page_is_the_one_that_works(browser: Browser, site: str) -> None:
    page = browser.open(site)
    shown = "\n".join(_code_blocks(page))
    assert "pip install ." in shown and "pip wheel --no-deps -w dist ." in shown
    assert not re.search(r"pip install opi-bitrix24\b", page.evaluate("document.body.innerText"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install ." in readme
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install ." in shown  # the same line


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("вебхук", "Подключение: вебхук"),
        ("СоздатьСделку", "CreateDeal"),
        ("Соответствие", "Типы 1С и значения Python"),
        ("webhook", None),
    ],
)
def test_search_finds_russian_words(browser: Browser, site: str, words: str, expected: Any) -> None:
    found = _search(browser, site, words)
    assert found != ["(none)"] and len(found) >= 1, found
    if expected is not None:
        assert expected in found, found


def test_russian_pages_say_they_are_russian(browser: Browser, site: str) -> None:
    assert browser.open(site + "migration/ru/").evaluate("document.documentElement.lang") == "ru"
    assert browser.open(site + "migration/en/").evaluate("document.documentElement.lang") == "en"


@pytest.mark.parametrize(
    "path", ["METHODS/", "reference/CustomsTasksFieldsManagement/", "migration/ru/", "guides/bulk/", "guides/bulk.ru/"]
)
def test_pages_are_readable_at_1280_px(browser: Browser, site: str, path: str) -> None:
    layout = browser.open(site + path, width=1280, height=900).evaluate(LAYOUT)
    assert layout["page"] <= layout["viewport"], layout  # no sideways scrolling
    assert layout["sidebar_spill"] == 0 and not layout["overlap"], layout  # the sidebar keeps to its box
    assert layout["clipped"] == 0, layout  # every table fits the text column
    assert layout["broken_options"] == 0, layout  # no option split across lines
    if path == "METHODS/":
        assert layout["tables"] == 20 and layout["options"] > 500, layout


def test_the_bulk_guide_shows_the_job_the_demo_runs(browser: Browser, site: str) -> None:
    from opi_bitrix24.demo import JOB

    page = browser.open(site + "guides/bulk/")
    assert JOB.strip() in [block.strip() for block in _code_blocks(page)]
    assert "python -m opi_bitrix24.demo" in page.evaluate("document.body.innerText")
    russian = browser.open(site + "guides/bulk.ru/")
    assert russian.evaluate("document.documentElement.lang") == "ru"
    assert any("портал.ИзменитьСделку(" in block for block in _code_blocks(russian))


def test_every_page_written_in_russian_says_lang_ru(site: str) -> None:
    pages = sorted(BUILT[0].rglob("index.html"))
    russian = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        main = html.split('role="main"', 1)[-1]
        text = re.sub(r"<pre.*?</pre>|<code.*?</code>|<[^>]+>", " ", main, flags=re.S)
        letters = [c for c in text if c.isalpha()]
        cyrillic = sum(1 for c in letters if "\u0400" <= c <= "\u04ff")
        lang = re.search(r'<html lang="(\w+)"', html)
        assert lang is not None, page
        if letters and cyrillic / len(letters) > 0.5:
            russian.append(page.parent.relative_to(BUILT[0]).as_posix())
            assert lang.group(1) == "ru", page
        else:
            assert lang.group(1) == "en", page
    assert {"migration/ru", "guides/bulk.ru", "guides/workers.ru"} <= set(russian), russian


def test_no_page_scrolls_sideways_or_clips_a_table_at_1280_px(browser: Browser, site: str) -> None:
    pages = sorted(p.parent.relative_to(BUILT[0]).as_posix() for p in BUILT[0].rglob("index.html"))
    pages = [p for p in pages if not p.startswith(("conformance", "search"))]
    assert len(pages) > 30
    bad = {}
    for path in pages:
        layout = browser.open(site + ("" if path == "." else path + "/"), width=1280, height=900).evaluate(LAYOUT)
        # every page: no sideways scrolling, the sidebar in its box; the pages this project generates or
        # whose tables are reference material also fit every table in the text column
        ours = path.startswith(("METHODS", "reference", "guides/bulk", "guides/settings", "migration")) or path == "."
        if layout["page"] > layout["viewport"] or layout["sidebar_spill"] or layout["overlap"]:
            bad[path] = layout
        elif ours and layout["clipped"]:
            bad[path] = layout
    assert bad == {}
