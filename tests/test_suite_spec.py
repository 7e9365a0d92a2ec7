"""conformance/SPEC.md, the contract a second implementation is written from, points at cases that
exist and says what they pin (issue 23 item 3)."""

from __future__ import annotations

import re

from opi_bitrix24_conformance.runner.cases import SUITE, load_cases

SPEC = (SUITE / "SPEC.md").read_text(encoding="utf-8")
CASES = load_cases()


def test_every_case_the_spec_names_exists() -> None:
    named = set(re.findall(r"`([A-Z][A-Za-z]+/[a-z0-9*…-]+(?:-[a-z0-9*]+)*)`", SPEC))
    assert len(named) >= 12
    for pattern in named:
        glob = "bitrix24/" + pattern.replace("…", "*")
        assert any(case.matches([glob]) for case in CASES), pattern


def test_the_spec_marks_port_rules_as_the_cases_do() -> None:
    # a case the spec gives as OPI's behaviour is an opi case; the refusals it marks (port) are port cases
    by_id = {case.full_id: case for case in CASES}
    for opi in ("GetUsers/empty-url", "GetTask/cli-empty-task-refused", "CreateTask/number-like-keys-keep-their-order"):
        assert by_id["bitrix24/" + opi].origin == "opi", opi
    for port in ("ServerTime/unknown-option", "GetUsers/snake-case-name"):
        assert by_id["bitrix24/" + port].origin == "port", port
    assert all(case.origin == "port" for case in CASES if case.id.startswith("bad-"))
    for section in ("## 1. The command line", "## 2. Values", "## 3. The address", "## 5. Transport", "## 6. Results"):
        assert section in SPEC
