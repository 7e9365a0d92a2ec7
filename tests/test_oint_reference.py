"""Every failure of the measured run of OPI's own ``oint`` is explained by the suite as it is now (issue 17).

Real ``oint`` cannot run here (no OneScript), so this test replays the measured results kept in the
repository (conformance/reference-runs/oint-a52335e: the runner's JSON lines of that run, and of the same
oint writing double quotes). For every case that failed (or was an expected failure) there, one of:

- the case is now tagged ``port`` (this package's addition or stricter choice: oint is judged with ``--tags opi``);
- ``expectations/oint.yaml`` lists it as an OPI bug, with the measured reason;
- the suite now expects what oint was measured to do, checked per class of failure below (A0 the output
  format, A2/A2b the blank option values, A3 the doubled bracket, A4/B1 the machine's zone, the exit codes).
"""

from __future__ import annotations

import collections
import datetime
import gzip
import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from opi_bitrix24_conformance.runner.cases import SUITE, Case, load_cases
from opi_bitrix24_conformance.runner.loading import adapters, expectations_file

RUN = SUITE / "reference-runs" / "oint-a52335e"
CASES = {case.full_id: case for case in load_cases()}
OINT = expectations_file(SUITE / "expectations" / "oint.yaml")
#: cases renamed since the run because what they expect changed (A4: machine-local time, pinned in Moscow)
RENAMED = {
    "bitrix24/StopTimekeeping/time-offset-not-converted": (
        "bitrix24/StopTimekeeping/time-offset-converted-to-local-time"
    ),
    "bitrix24/StartTimekeeping/time-offset-not-converted": (
        "bitrix24/StartTimekeeping/time-offset-converted-to-local-time"
    ),
    "bitrix24/AddTaskTimeAccounting/date-with-offset-keeps-wall-clock": (
        "bitrix24/AddTaskTimeAccounting/date-with-offset-converted-to-local-time"
    ),
    # a transport-policy case now (issue 23): suite 1.0.0 expected one request from every implementation
    "bitrix24/GetUsers/non-json-answer": "bitrix24/GetUsers/transport-non-json-502",
    # blank option values are oint's parser's business now: CLI cases (opi), no longer bad input
    "bitrix24/GetAppAuthLink/bad-empty-domain": "bitrix24/GetAppAuthLink/cli-empty-domain-refused",
    "bitrix24/ChangeChatPicture/bad-picture-empty": "bitrix24/ChangeChatPicture/cli-empty-picture-refused",
    "bitrix24/UploadFileToStorage/bad-file-empty": "bitrix24/UploadFileToStorage/cli-empty-file-refused",
}
#: renamed cases whose failure is explained by the machine's zone (the others by their class below)
ZONE_RENAMED = {old for old in RENAMED if "offset" in old}
MOSCOW = datetime.timedelta(hours=3)  # Europe/Moscow: UTC+3 all year since 2014


def _records(name: str) -> Dict[str, Dict[str, Any]]:
    with gzip.open(RUN / name, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    assert records[-1]["summary"] is True and records[-1]["impl"] == "oint"
    return {record["id"]: record for record in records[:-1]}


REAL = _records("oint-with.jsonl.gz")
DOUBLE_QUOTES = _records("oint-dq-with.jsonl.gz")


def _listed(case_id: str) -> str:
    entry = next((x for x in OINT["xfail"] if CASES[case_id].matches([x["id"]])), None)
    return str(entry["reason"]) if entry else ""


def _cli_twin(case: Case) -> Case:
    """The ``cli-only`` case that types the same blank option values on a command line."""
    twins = [
        other
        for other in CASES.values()
        if other.method == case.method and "cli-only" in other.tags and other.args == case.args_native
    ]
    assert len(twins) == 1, f"{case.full_id}: no cli-only case with the same blank values"
    return twins[0]


def _dates(message: str) -> List[datetime.datetime]:
    found = re.search(r'expected "([^"]+)", got "([^"]+)"', message)
    assert found, message
    return [datetime.datetime.fromisoformat(text.replace("Z", "")) for text in found.groups()]


def explain(case_id: str, message: str, run: str = "real") -> str:
    """The class that explains one measured failure in today's suite (an AssertionError if none does)."""
    case = CASES[RENAMED.get(case_id, case_id)]
    if case.origin == "port":
        return "port"
    reason = _listed(case.full_id)
    if reason:
        assert "measured" in reason and "OPI bug" in reason, f"{case.full_id}: {reason}"
        return "oint.yaml"
    if message.startswith("the result is not JSON: b\"{\\r\\n '"):  # A0: OPI's writer format
        assert OINT["output"] == "opi" and adapters()["oint"]["output"] == "opi"
        twin = DOUBLE_QUOTES[case_id]  # the same oint writing double quotes: passed, or failed on a class below
        return "A0" if twin["status"] == "pass" else "A0+" + explain(case_id, twin["message"], "dq")
    if message.startswith("exit 99: ") or re.match(
        r"request 1: \$body: unexpected keys \['(entityId|after)'\]", message
    ):
        # A2 / A2b: a blank option dropped by oint's parser; the function rule moved to a native case and the
        # CLI's reading is pinned by a cli-only twin, refused (exit 99 for oint: usage) or sent with the default
        assert case.args_native is not None, case.full_id
        twin = _cli_twin(case)
        if message.startswith("exit 99: "):
            assert twin.expect["error"]["kind"] == "usage" and not twin.http and OINT["exit_codes"]["usage"] == 99
            assert OINT["names_options"] is False  # oint names the position of a missing parameter
            return "A2"
        sent = twin.http[0]["request"]["json"]
        assert sent[re.findall(r"'(\w+)'", message)[0]] == "0", sent
        return "A2b"
    if message.startswith("expected exit 2 for a usage error, got 99"):  # the exit codes were not applied
        assert case.expect["error"]["kind"] == "usage" and OINT["exit_codes"]["usage"] == 99
        return "exit-codes"
    if "(Y|N))" in message:  # A3: OPI's doubled bracket
        assert "(Y|N))>" in json.dumps(case.expect["result"])
        return "A3"
    if case_id in ZONE_RENAMED:  # A4: OPI converted the offset to the machine's time (UTC there); pinned in Moscow
        _, got_utc = _dates(message)
        assert case.env == {"TZ": "Europe/Moscow"}
        body = json.dumps(case.http[0]["request"]["json"])
        assert (got_utc + MOSCOW).isoformat() in body, body
        return "A4"
    if re.search(r'expected "[^"]+\+03:00", got "[^"]+\+00:00"', message):  # B1: answer dates in the machine's zone
        expected, got = (moment for moment in _dates(message))
        assert expected.astimezone(datetime.timezone.utc) == got.astimezone(datetime.timezone.utc)
        assert OINT["env"]["TZ"] == "Europe/Moscow"
        return "B1"
    if case.full_id == "bitrix24/GetUsers/transport-non-json-502":  # a transport-policy case now: oint sent it 6 times
        assert message.count("unexpected request POST") == 5 and case.policy["opi"]["requests"] == 6
        assert case.policy["opi"]["expect"] == {"result": "<html><body>502 Bad Gateway</body></html>"}
        return "policy"
    raise AssertionError(f"{case_id} ({run} run) is not explained by the suite: {message[:200]}")


def test_every_measured_failure_of_oint_is_explained() -> None:
    assert len(REAL) == len(DOUBLE_QUOTES) == 1336
    classes: Dict[str, int] = collections.Counter()
    for case_id, record in REAL.items():
        if record["status"] in ("fail", "xfail"):
            classes[explain(case_id, record["message"])] += 1
    assert sum(classes.values()) == 682 + 95
    assert dict(classes) == {
        "A0": 482,  # passed with double quotes: the format was the only difference
        "A0+B1": 11,
        "A0+A3": 3,
        "port": 156 + 95 - 2 - 4 + 1,  # names (A1) and the earlier expected failures, less those now opi
        "A2": 18,
        "A2b": 2,
        "A4": 3,
        "oint.yaml": 7,  # C1 (5) and C2 (2)
        "exit-codes": 4,  # GetUsers/empty-url and the three bad-*-empty cases now read as blank options
        "policy": 1,
    }


def test_every_opi_case_the_measured_run_passed_is_still_an_opi_case() -> None:
    passed = [case_id for case_id, record in REAL.items() if record["status"] == "pass"]
    assert len(passed) == 4 and all(CASES[case_id].origin == "opi" for case_id in passed)


def test_oint_yaml_lists_only_measured_opi_bugs_on_opi_cases() -> None:
    assert OINT["tags"] == ["opi"] and OINT["output"] == "opi" and OINT["policy"] == "opi"
    for entry in OINT["xfail"]:
        matched = [case for case in CASES.values() if case.matches([entry["id"]])]
        assert matched and all(case.origin == "opi" for case in matched), entry["id"]
        assert all(REAL[case.full_id]["status"] == "fail" for case in matched), entry["id"]
        assert "OPI bug" in entry["reason"] and "measured" in entry["reason"]


@pytest.mark.parametrize("path", sorted(RUN.glob("*.jsonl.gz")), ids=lambda p: Path(p).name)
def test_the_copied_results_are_the_measured_files(path: Path) -> None:
    import hashlib

    digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    assert f"`{digest}`" in (RUN / "README.md").read_text(encoding="utf-8")
