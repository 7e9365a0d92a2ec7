"""opi_bitrix24.testing: the simulated portal as a public module (data, limits, server time, command line)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from typing import Any, Dict, List

import pytest

import opi_bitrix24 as b24
from opi_bitrix24.testing import Records, SimPortal, deal, lead, parse_str

DEAL_7 = {
    "ID": "7",
    "TITLE": "CRM licence for Kama Soft #7",
    "TYPE_ID": "GOODS",
    "CATEGORY_ID": "0",
    "STAGE_ID": "WON",
    "STAGE_SEMANTIC_ID": "S",
    "IS_NEW": "N",
    "PROBABILITY": None,
    "CURRENCY_ID": "RUB",
    "OPPORTUNITY": "55500.00",
    "IS_MANUAL_OPPORTUNITY": "N",
    "TAX_VALUE": "9250.00",
    "COMPANY_ID": "456",
    "CONTACT_ID": "682",
    "BEGINDATE": "2023-01-09T03:00:00+03:00",
    "CLOSEDATE": "2023-02-10T03:00:00+03:00",
    "OPENED": "Y",
    "CLOSED": "Y",
    "COMMENTS": "Call back about the CRM licence",
    "ASSIGNED_BY_ID": "21",
    "CREATED_BY_ID": "18",
    "MODIFY_BY_ID": "22",
    "DATE_CREATE": "2023-01-09T09:11:50+03:00",
    "DATE_MODIFY": "2023-02-05T04:11:50+03:00",
    "SOURCE_ID": "RECOMMENDATION",
    "SOURCE_DESCRIPTION": None,
    "ORIGINATOR_ID": None,
    "ORIGIN_ID": None,
}


def post(url: str, body: Dict[str, Any]) -> Dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return dict(json.load(answer))
    except urllib.error.HTTPError as error:
        return dict(json.load(error))


def test_import_opi_bitrix24_does_not_load_the_simulator() -> None:
    code = "import sys, opi_bitrix24; print(sorted(m for m in sys.modules if 'testing' in m or m == 'http.server'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tests_simportal_is_the_package_module() -> None:
    import simportal

    assert simportal.SimPortal is SimPortal and simportal.parse_str is parse_str


def test_generated_deals_are_realistic_and_stable() -> None:
    assert deal(7) == DEAL_7
    assert deal(7) == deal(7) and deal(7) is not deal(7)
    stages = {deal(i)["STAGE_ID"] for i in range(1, 200)}
    assert stages == {"NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE"}
    assert all(deal(i)["CLOSED"] == ("Y" if deal(i)["STAGE_ID"] in ("WON", "LOSE") else "N") for i in range(1, 200))
    assert lead(3) == {"ID": "3", "TITLE": "Lead 3", "STATUS_ID": "IN_PROCESS"}


def test_records_cost_no_memory_until_changed() -> None:
    tracemalloc.start()
    try:
        table = Records(1_000_000, deal)
        assert len(table) == 1_000_000 and table[999_999]["ID"] == "1000000" and table[-1]["ID"] == "1000000"
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size < 100_000
    assert table.update(5, {"TITLE": "x", "ID": "99"}) and table.row(5) == dict(deal(5), TITLE="x")
    assert not table.update(1_000_001, {"TITLE": "x"})
    assert table.add({"TITLE": "new"}) == 1_000_001 and table.row(1_000_001) == dict(deal(1_000_001), TITLE="new")
    table[10:] = []
    assert len(table) == 10 and table.row(11) is None and [r["ID"] for r in table][-1] == "10"
    with pytest.raises(TypeError):
        table[2:4] = []


def test_list_filters_select_order_and_pages() -> None:
    with SimPortal(records=300, rate=1000, burst=1000) as sim:
        answer = post(
            sim.webhook + "crm.deal.list",
            {"filter": {"STAGE_ID": "WON", ">ID": 100}, "select": ["TITLE"], "order": {"ID": "DESC"}, "start": 0},
        )
        won = [i for i in range(300, 100, -1) if deal(i)["STAGE_ID"] == "WON"]
        assert answer["result"] == [{"ID": str(i), "TITLE": deal(i)["TITLE"]} for i in won[:50]]
        assert answer["total"] == len(won) and "next" not in answer
        fast = post(sim.webhook + "crm.lead.list", {"filter": {">ID": 250}, "start": -1})
        assert [r["ID"] for r in fast["result"]] == [str(i) for i in range(251, 301)] and fast["total"] == 0
        assert "next" not in fast
        paged = post(sim.webhook + "crm.lead.list", {"start": 50})
        assert paged["next"] == 100 and paged["total"] == 300 and paged["result"][0] == lead(51)
        assert sim.stats["rows"] == len(won[:50]) + 100


def test_server_time_is_taken_and_overlaps_for_requests_in_flight() -> None:
    with SimPortal(records=100, rate=1000, burst=1000, command_time=0.05, row_time=0.01) as sim:
        answer = post(sim.webhook + "crm.deal.list", {})
        assert answer["time"]["duration"] == 0.55 and answer["time"]["operating"] == 0.55
        assert answer["time"]["finish"] - answer["time"]["start"] == pytest.approx(0.55, abs=1e-5)
        sim.reset_counters()
        threads = [threading.Thread(target=post, args=(sim.webhook + "crm.deal.list", {})) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sim.stats["requests"] == 3 and sim.stats["max_in_flight"] == 3


def test_operating_time_blocks_the_method_with_the_real_answer_and_time_block() -> None:
    # 100 portal seconds per wall second: 10 s commands take 0.1 s; the 600 s window is 6 s of wall time
    with SimPortal(records=10, rate=1000, burst=1000, command_time=10.0, budget=30.0, time_scale=100) as sim:
        blocks = [post(sim.webhook + "crm.lead.get", {"id": 1})["time"] for _ in range(3)]
        assert [b["operating"] for b in blocks] == [10.0, 20.0, 30.0]
        assert [b["duration"] for b in blocks] == [10.0, 10.0, 10.0]
        first_finish = blocks[0]["finish"]
        assert all(b["operating_reset_at"] == pytest.approx(first_finish + 6.0, abs=1e-3) for b in blocks)
        assert post(sim.webhook + "crm.lead.get", {"id": 1}) == {
            "error": "OPERATION_TIME_LIMIT",
            "error_description": "Method is blocked due to operation time limit.",
        }
        other = post(sim.webhook + "crm.deal.get", {"id": 1})  # other methods keep working
        assert other["result"]["ID"] == "1" and other["time"]["operating"] == 10.0
        batch = post(sim.webhook + "batch", {"cmd": {"a": "crm.lead.get?id=2", "b": "crm.deal.get?id=2"}})
        assert batch["result"]["result_error"] == {
            "a": {
                "error": "OPERATION_TIME_LIMIT",
                "error_description": "Method is blocked due to operation time limit.",
            }
        }
        assert batch["result"]["result_time"]["b"]["operating"] == 20.0 and batch["time"]["duration"] == 10.0
        assert sim.stats["429"] == 2 and sim.stats["requests"] == 6 and sim.stats["commands"] == 2


def test_batch_runs_commands_one_after_another_in_server_time() -> None:
    with SimPortal(records=10, rate=1000, burst=1000, command_time=1.0, time_scale=50) as sim:
        answer = post(
            sim.webhook + "batch", {"cmd": {"a": "crm.lead.get?id=1", "b": "crm.lead.update?id=$result[a][ID]"}}
        )
        times = answer["result"]["result_time"]
        assert times["b"]["start"] == pytest.approx(times["a"]["finish"], abs=1e-5)
        assert [times["a"]["operating"], times["b"]["operating"]] == [1.0, 1.0]
        assert answer["time"]["duration"] == 2.0 and sim.updates == {1: 1}


def test_time_scale_speeds_up_the_bucket() -> None:
    with SimPortal(records=1, rate=2, burst=50, time_scale=10) as sim:
        assert sim.client_rate_limit == (20.0, 50)


def test_bad_options_are_refused() -> None:
    for options in ({"rate": 0}, {"time_scale": 0}, {"row_time": -1}, {"records": -1}):
        with pytest.raises(ValueError, match=next(iter(options))):
            SimPortal(**options)


def test_command_line_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "opi_bitrix24.testing", "--records", "120", "--rate", "1000", "--burst", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        webhook = process.stdout.readline().strip()
        assert webhook.startswith("http://127.0.0.1:") and webhook.endswith("/rest/1/s1mP0rtalKey42/")
        with b24.settings(rate_limit=None):
            ids: List[str] = [row["ID"] for row in b24.iterate(webhook, "crm.deal.list")]
        assert ids == [str(i) for i in range(1, 121)]
        stats = json.load(urllib.request.urlopen(webhook.split("/rest/")[0] + "/_sim/stats", timeout=30))
        assert stats["stats"]["requests"] == 1 and stats["stats"]["commands"] == 50
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "120 deals, leads and tasks; 1000 requests/s, burst 1000" in err and "simSecretValue" not in err


def test_command_line_help_and_for() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.testing", "--help"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("usage: python -m opi_bitrix24.testing") and "--time-scale" in done.stdout
    started = time.monotonic()
    quick = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.testing", "--records", "1", "--for", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert quick.returncode == 0 and quick.stdout.count("\n") == 1 and time.monotonic() - started >= 0.2
    bad = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.testing", "--rate", "0"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and bad.stderr == "python -m opi_bitrix24.testing: rate must be positive\n"
