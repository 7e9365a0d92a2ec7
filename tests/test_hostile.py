"""The hostile-portal harness itself (tests/hostile.py): Bitrix's batch semantics, the checks every kind
gets (secrets, repeats, wall time), and docs/hostile.md listing exactly the registered kinds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import hostile
import pytest
from hostile import KEY, TOKEN, UNANSWERED, Answer, Call, Check, Kind, fill_references, parse_str, run

ROOT = Path(__file__).resolve().parent.parent


def _post(url: str, body: Dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_parse_str_is_phps() -> None:
    assert parse_str("a[b][]=1&a[b][]=2&x.y=3&f+g=4&h[=5&id=1&id=2") == {
        "a": {"b": {"0": "1", "1": "2"}},
        "x_y": "3",
        "f_g": "4",
        "h_": "5",
        "id": "2",
    }


def test_references_are_filled_after_parsing_in_any_case() -> None:
    pools: Dict[str, Dict[str, Any]] = {
        "result": {"a": [{"ID": "7", "UF": "salary"}]},
        "next": {"a": 50},
        "total": {"a": 120},
        "time": {"a": {"start": 1.5}},
        "error": {"b": {"error": "NOT_FOUND"}},
    }
    params = parse_str(
        "t=x+%24RESULT%5Ba%5D%5B0%5D%5BUF%5D&n=$Next[a]&o=$total[a]&m=$time[a][start]&e=$ERROR[b][error]"
    )
    assert fill_references(params, pools) == {"t": "x salary", "n": 50, "o": 120, "m": 1.5, "e": "NOT_FOUND"}
    assert fill_references({"id": "$result[a][0][ID]", "gone": "$result[zz][ID]"}, pools) == {"id": "7", "gone": ""}


def test_batch_follows_bitrix(h_portal: Any) -> None:
    portal = h_portal(lambda call: UNANSWERED if call.params.get("id") == "3" else None)
    cmd = {"a": "crm.lead.get?id=1", "b": "crm.lead.get?id=%24Result%5Ba%5D%5BID%5D", "c": "crm.lead.get?id=3"}
    cmd["d"] = "crm.lead.get?id=999"
    cmd["e"] = "crm.lead.get?id=2"
    answer = _post(portal.webhook + "batch", {"halt": 0, "cmd": cmd})["result"]
    assert list(answer["result"]) == ["a", "b", "e"] and answer["result"]["b"]["ID"] == "1"
    assert answer["result_error"] == {"d": {"error": "NOT_FOUND", "error_description": "Not found"}}
    assert answer["result_next"] == [] and answer["result_total"] == []
    assert [(c.key, c.params) for c in portal.rest_calls()] == [
        ("a", {"id": "1"}),
        ("b", {"id": "1"}),
        ("c", {"id": "3"}),
        ("d", {"id": "999"}),
        ("e", {"id": "2"}),
    ]
    halted = _post(portal.webhook + "batch", {"halt": 1, "cmd": {"x": "crm.lead.get?id=0", "y": "profile"}})
    assert halted["result"]["result"] == [] and list(halted["result"]["result_error"]) == ["x"]
    listed = _post(portal.webhook + "batch", {"cmd": {"0": "profile", "1": "profile"}})["result"]["result"]
    assert isinstance(listed, list) and len(listed) == 2  # all-numeric keys: a list, as Bitrix answers


@pytest.fixture
def h_portal() -> Any:
    made: List[hostile.HostilePortal] = []

    def start(handler: Any = None) -> hostile.HostilePortal:
        made.append(hostile.HostilePortal(handler))
        return made[-1]

    yield start
    for portal in made:
        portal.close()


def _kind(function: Any, budget: float = 5.0) -> Kind:
    return Kind("batch", "synthetic", "none", budget, function, function.__name__, __name__)


def test_a_kind_fails_on_a_secret_in_any_output() -> None:
    def prints(h: Check) -> None:
        print("GET /rest/1/" + KEY + "/profile")

    def logs(h: Check) -> None:
        import logging

        logging.getLogger("opi_bitrix24.x").debug("token %s", TOKEN)

    def raises(h: Check) -> None:
        with h.raises(ValueError):
            raise ValueError("refused: auth=" + TOKEN)

    def encoded(h: Check) -> None:
        h.output({"u": "x%2F" + KEY})

    for function in (prints, logs, raises, encoded):
        result = run(_kind(function))
        assert isinstance(result.failure, AssertionError), function.__name__
        assert "a secret" in str(result.failure) and KEY not in str(result.failure) and TOKEN not in str(result.failure)
    assert run(_kind(lambda h: print("nothing secret"))).failure is None


def test_a_kind_fails_on_a_repeated_call_unless_allowed_and_on_its_budget() -> None:
    def twice(h: Check) -> None:
        portal = h.portal()
        for _ in range(2):
            urllib.request.urlopen(portal.webhook + "profile", timeout=5).read()

    result = run(_kind(twice))
    assert "the same call more than once" in str(result.failure) and result.requests == 2

    def allowed(h: Check) -> None:
        twice(h)
        h.allow_repeats("retries are the point")

    assert run(_kind(allowed)).failure is None
    slow = run(_kind(lambda h: __import__("time").sleep(0.3), budget=0.1))
    assert "over its budget of 0.1 s" in str(slow.failure) and slow.seconds >= 0.3
    failing = run(_kind(lambda h: h.once([{"ID": "1"}, {"ID": "1"}])))
    assert "rows yielded more than once: ['1']" in str(failing.failure)


def _rows(text: str) -> List[List[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| area |"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def test_docs_list_exactly_the_registered_kinds_and_the_command_prints_them() -> None:
    listed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "hostile.py"), "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(ROOT),
    ).stdout
    kinds = [row[:4] for row in _rows(listed)]
    assert kinds == [[k.area, k.title, k.outcome, ", ".join(k.drivers)] for k in hostile.load()]
    doc = (ROOT / "docs" / "hostile.md").read_text(encoding="utf-8")
    table = doc.split(hostile.MARK)[1]
    drivers = [d for d in hostile.DRIVERS if d == "sync" or hostile.async_available()]
    runs = [[k.area, k.title, k.outcome, d] for k in hostile.load() for d in k.drivers if d in drivers]
    assert [row[:4] for row in _rows(table)] == runs, "run: python tests/hostile.py --docs"
    for row in _rows(table):
        assert re.fullmatch(r"\d+", row[4]) and re.fullmatch(r"\d+\.\d\d s", row[5]) and row[6] == "pass", row
    assert len({(k[0], k[1]) for k in kinds}) == len(kinds)  # no kind twice
    names = {k.name for k in hostile.load()}
    for k in hostile.load():
        assert k.drivers == hostile.DRIVERS or k.area in SYNC_ONLY_AREAS or k.name in {**SYNC_ONLY, **ASYNC_ONLY}, k
    assert set(ASYNC_ONLY.values()) <= set(SYNC_ONLY) and set(ASYNC_ONLY) <= names


#: areas that exist on the blocking side only (the CLI, its recorder and scanner are blocking programs)
SYNC_ONLY_AREAS = ("cli", "recording", "scan")
#: kinds about what only the blocking driver has, each with its reason
SYNC_ONLY = {
    "test_trickle_with_the_callers_session": "a caller's own requests.Session",
    "test_200_trickling_calls": "200 threads and the watchdog",
    "test_refresh_failing_endpoint_with_waiting_threads": "8 threads",
}
#: kinds about what only the async driver has (tasks on one event loop), twins of sync-only kinds
ASYNC_ONLY = {
    "test_200_trickling_tasks": "test_200_trickling_calls",
    "test_refresh_failing_endpoint_with_waiting_tasks": "test_refresh_failing_endpoint_with_waiting_threads",
}


def test_every_kind_is_a_pytest_test_of_its_module_run_per_driver() -> None:
    for spec in hostile.load():
        module = sys.modules[spec.module]
        test: Optional[Any] = getattr(module, spec.name, None)
        assert test is not None and spec.name.startswith("test_") and test.kind is spec
        assert not isinstance(test, type) and test.__code__.co_varnames[: test.__code__.co_argcount] == ("driver",)
        (mark,) = test.pytestmark
        assert mark.name == "parametrize" and mark.args == ("driver", spec.drivers)


def test_the_async_api_yields_rows_one_by_one_and_closes_what_it_opened(h_portal: Any) -> None:
    if not hostile.async_available():
        pytest.skip(hostile.NO_ASYNC)
    portal = h_portal()
    api = hostile.AsyncApi()
    rows = api.iterate(portal.webhook, "crm.lead.list", fast=False, use_batch=False)
    assert next(rows)["ID"] == "1" and len(portal.requests) == 1  # one page asked for, not all of them
    assert [row["ID"] for row in rows][-1] == "120" and len(portal.requests) == 3
    assert api.post("crm.lead.get", portal.webhook, "", id=2)["result"]["ID"] == "2"
    assert api.portal(portal.webhook).call("crm.lead.get", {"id": 3})["result"]["ID"] == "3"
    api.close()
    assert api.loop.is_closed() and api.opened == []


_ = (Answer, Call)
