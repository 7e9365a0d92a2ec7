"""The compatibility matrix: merged results in Markdown, and the HTML page as a person sees it in Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from opi_bitrix24_conformance.runner.cases import load_cases, section_of
from opi_bitrix24_conformance.runner.matrix import main as matrix_main

CASES = load_cases()
GET_USERS = [c for c in CASES if c.method == "GetUsers"]
BROKEN = "bitrix24/GetUsers/documented-webhook-list"


def _record(case: Any, impl: str, status: str, message: str = "") -> Dict[str, Any]:
    return {
        "id": case.full_id,
        "impl": impl,
        "section": section_of(case),
        "method": case.method,
        "status": status,
        "message": message,
        "description": case.description,
        "argv": ["their-cli", case.method, "--url", "http://127.0.0.1:1/rest/1/${SECRET}/"],
        "ms": 1,
    }


def _write(path: Path, records: List[Dict[str, Any]], impl: str) -> Path:
    summary = {"summary": True, "impl": impl, "suite_version": "9.9.9", "argv": ["their-cli"]}
    path.write_text("".join(json.dumps(r) + "\n" for r in [*records, summary]), encoding="utf-8")
    return path


@pytest.fixture
def results(tmp_path: Path) -> List[Path]:
    """'good' passes every case; 'other' ran GetUsers only: one failure, one expected failure, rest passes."""
    good = _write(tmp_path / "good.jsonl", [_record(c, "good", "pass") for c in CASES], "good")
    other_records = []
    for index, case in enumerate(GET_USERS):
        if case.full_id == BROKEN:
            other_records.append(_record(case, "other", "fail", "request 1: $body.ID[1]: expected 10, got 99"))
        elif index == len(GET_USERS) - 1:
            other_records.append(_record(case, "other", "xfail", "exit 99 (expected: no local validation)"))
        else:
            other_records.append(_record(case, "other", "pass"))
    other = _write(tmp_path / "other.jsonl", other_records, "other")
    return [good, other]


def test_markdown_counts_per_function_and_implementation(results: List[Path], tmp_path: Path) -> None:
    out = tmp_path / "COMPATIBILITY-MATRIX.md"
    assert matrix_main([str(p) for p in results] + ["-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    n, total = len(GET_USERS), len(CASES)
    assert f"| good | 9.9.9 | `their-cli` | {total} | 0 | 0 | 0 | 0 |" in text
    assert f"| other | 9.9.9 | `their-cli` | {n - 2} | 1 | 1 | 0 | {total - n} |" in text
    assert f"| GetUsers | {n} pass | {n - 2} pass, 1 FAIL, 1 xfail |" in text
    server_time = len([c for c in CASES if c.method == "ServerTime"])
    assert f"| ServerTime | {server_time} pass | {server_time} not run |" in text
    assert "## ChatsAndDialogsManagement" in text
    assert f"- **other** `{BROKEN}`: " in text and "expected 10, got 99" in text


def test_a_line_that_is_not_json_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("42 passed, 0 failed, 0 skipped\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"bad\.jsonl:1: not a JSON line"):
        matrix_main([str(bad), "-o", str(tmp_path / "m.md")])


CLICK = """
<script>
window.addEventListener('load', function () {
  var cell = document.querySelector('td.cell.fail');
  var id = cell.getAttribute('onclick').match(/'(d[0-9]+)'/)[1];
  var row = document.getElementById(id);
  var body = document.body;
  body.setAttribute('data-cell', cell.getAttribute('data-impl') + ' ' + cell.getAttribute('data-method') + ': '
    + cell.innerText);
  body.setAttribute('data-before', getComputedStyle(row).display);
  cell.click();
  body.setAttribute('data-after', getComputedStyle(row).display);
  body.setAttribute('data-detail', row.innerText);
  var totals = [];
  document.querySelectorAll('#totals tr[data-impl]').forEach(function (tr) {
    totals.push(tr.innerText.replace(/\\s+/g, ' ').trim());
  });
  body.setAttribute('data-totals', totals.join(' | '));
});
</script>
"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium here (Debian: apt-get install chromium; .ci/run installs it)")


def test_the_html_page_in_a_browser_shows_counts_and_a_failure_on_click(results: List[Path], tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "matrix.html"
    assert matrix_main([str(p) for p in results] + ["-o", str(tmp_path / "m.md"), "--html", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "the page must be self-contained"
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body></html>", CLICK + "</body></html>"), encoding="utf-8")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r"<body([^>]*)>", done.stdout)
    assert found, done.stdout[:500]
    attrs = {k: html.unescape(v) for k, v in re.findall(r'(data-[a-z]+)="([^"]*)"', found.group(1))}
    n, total = len(GET_USERS), len(CASES)
    assert attrs["data-totals"] == f"good 9.9.9 {total} 0 0 0 0 | other 9.9.9 {n - 2} 1 1 0 {total - n}"
    assert attrs["data-cell"] == f"other GetUsers: {n - 2} pass, 1 FAIL, 1 xfail"
    assert (attrs["data-before"], attrs["data-after"]) == ("none", "table-row")
    detail = attrs["data-detail"]
    broken = next(c for c in GET_USERS if c.full_id == BROKEN)
    assert f"{BROKEN} fail" in detail
    assert broken.description in detail
    assert "$ their-cli GetUsers --url 'http://127.0.0.1:1/rest/1/${SECRET}/'" in detail  # quoted as a shell line
    assert "request 1: $body.ID[1]: expected 10, got 99" in detail
    assert "exit 99 (expected: no local validation)" in detail


def test_the_matrix_splits_opi_and_port_cases_and_quotes_argv(results: List[Path], tmp_path: Path) -> None:
    out, page = tmp_path / "matrix.md", tmp_path / "matrix.html"
    assert matrix_main([*map(str, results), "-o", str(out), "--html", str(page)]) == 0
    text = out.read_text(encoding="utf-8")
    opi, port = (sum(c.origin == origin for c in CASES) for origin in ("opi", "port"))
    assert opi + port == len(CASES) and opi and port
    assert f"| good | opi | {opi} | 0 | 0 | 0 | 0 |" in text and f"| good | port | {port} | 0 | 0 | 0 | 0 |" in text
    broken = next(c for c in GET_USERS if c.full_id == BROKEN)
    users_opi = sum(c.origin == "opi" for c in GET_USERS)
    other_opi = [line for line in text.splitlines() if line.startswith("| other | opi |")]
    assert other_opi == [
        f"| other | opi | {users_opi - (broken.origin == 'opi') - (GET_USERS[-1].origin == 'opi')} | "
        f"{int(broken.origin == 'opi')} | {int(GET_USERS[-1].origin == 'opi')} | 0 | {opi - users_opi} |"
    ]
    shown = page.read_text(encoding="utf-8")
    assert 'data-origin="port"' in shown
    assert html.escape("their-cli GetUsers --url 'http://127.0.0.1:1/rest/1/${SECRET}/'") in shown
