"""The nightly job of the bulk guide, run offline against the bundled limit-enforcing portal (CI runs it
here), the demo portal's bulk methods, and what a portal without ``batch`` tells the user."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import demo
from opi_bitrix24.testing import SimPortal

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _job_block(page: str) -> str:
    text = (ROOT / "docs" / "guides" / page).read_text(encoding="utf-8")
    blocks = [body for lang, body in FENCE.findall(text) if lang == "python" and "deferred()" in body]
    return blocks[0]


def test_the_guide_prints_the_job_the_demo_runs() -> None:
    assert _job_block("bulk.md") == demo.JOB


def test_the_russian_guide_has_the_same_job() -> None:
    russian = _job_block("bulk.ru.md")
    for line in ('portal.iterate("crm.deal.list"', "b24.deferred()", "portal.update_deal(", 'answer["result_error"]'):
        assert line in demo.JOB
    for line in ('портал.iterate("crm.deal.list"', "b24.deferred()", "портал.ИзменитьСделку(", 'ответ["result_error"]'):
        assert line in russian


@pytest.fixture
def portal() -> Iterator[SimPortal]:
    with SimPortal(records=3000) as running:  # the cloud's limits: 2 requests/s, burst 50
        yield running


def test_the_job_exports_updates_and_reports(portal: SimPortal, tmp_path: Path, capsys: Any) -> None:
    names = demo.run_job(portal.webhook, str(tmp_path))
    lines = (tmp_path / "deals.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3000 and [json.loads(line)["ID"] for line in lines] == [str(i) for i in range(1, 3001)]
    assert sorted(portal.updates) == list(range(1, 999)) and set(portal.updates.values()) == {1}
    assert portal.deals.row(5)["STAGE_ID"] == "WON"
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "deal 99999998: NOT_FOUND: Not found",
        "deal 99999999: NOT_FOUND: Not found",
        "exported 3000 deals, updated 998, failed 2",
    ]
    assert sorted(names["failed"]) == [998, 999]
    # 2 export requests of 50 pages each and 20 batch requests of 50 updates: within the burst, no 503
    assert portal.stats["503"] == 0 and portal.stats["requests"] == 22 and portal.stats["batches"] == 22


def test_the_demo_command_runs_the_job_offline(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.demo", "--deals", "3000", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "exported 3000 deals, updated 998, failed 2" in done.stdout
    assert "deal 99999999: NOT_FOUND: Not found" in done.stdout
    assert re.search(r"the portal saw 22 requests \(22 batch, \d+ commands inside them\), 0 refused", done.stdout)
    assert len((tmp_path / "deals.jsonl").read_text(encoding="utf-8").splitlines()) == 3000


def test_the_demo_portal_pages_and_batches() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24_conformance.runner.portal", "--demo", "GetDealsList", "--all", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 5000 and rows[0]["ID"] == "1" and rows[-1]["ID"] == "5000"
    # 2,500 rows per request; the third finds the end
    assert done.stderr.count("portal: POST /rest/1/demo/batch") == 3 and "crm.deal.list" not in done.stderr


def test_a_portal_without_batch_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    from opi_bitrix24_conformance.runner.portal import serve

    server = serve(0, records=120, rate=1000, burst=1000)
    import threading

    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        # token mode: the demo portal answers from its samples only, and has no batch there
        app = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(b24.MethodNotFound) as raised:
            list(b24.iterate(app, "crm.deal.list", token="demo-token"))
        text = str(raised.value)
        assert text.startswith("batch: HTTP 404 ERROR_METHOD_NOT_FOUND: this portal has no batch method")
        assert "iterate(url, method, params, use_batch=False)" in text and "demo-token" not in text
        capsys.readouterr()
        list(b24.iterate(app, "crm.deal.list", token="demo-token", use_batch=False))  # what it says works
        assert capsys.readouterr().err == "portal: POST /rest/crm.deal.list\n"  # one page request, no batch
    finally:
        server.shutdown()
        server.server_close()
