"""The runner shaped by role (issue 23 item 7): judging is pure functions (a case and what happened in, the list of
differences out; no I/O), unit-tested here without a server or a process; one option parser serves every
subcommand, each ``--help`` naming the command it belongs to.
"""

from __future__ import annotations

import ast
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from opi_bitrix24_conformance.runner import judging
from opi_bitrix24_conformance.runner.judging import (
    happened_phrase,
    json_diff,
    judge,
    leaks,
    request_diff,
    requests_diff,
)
from opi_bitrix24_conformance.runner.model import Case, Declared, Happened, Received, environment, expand
from opi_bitrix24_conformance.runner.options import COMMANDS, PROG, parse, parser

ENV = environment("http", "127.0.0.1:8000", "kSECRET123", "tTOKEN456")
PORTAL = "http://127.0.0.1:8000"
HOOK = "/rest/1/kSECRET123"
MASKED = "/rest/1/${SECRET}"  # as the judge shows it


def _case(http: List[Dict[str, Any]], expect: Optional[Dict[str, Any]] = None, **more: Any) -> Case:
    fields: Dict[str, Any] = {
        "module": "bitrix24",
        "method": "GetUsers",
        "id": "unit",
        "description": "a unit case",
        "args": {},
        "http": expand(http, ENV),
        "expect": expect or {"result_from": "response"},
        "tags": ["opi"],
        "via": None,
        "path": Path("cases/bitrix24/UsersManagement/GetUsers.yaml"),
    }
    fields.update(more)
    return Case(**fields)


def _exchange(body: Any) -> Dict[str, Any]:
    request = {"method": "POST", "path": HOOK + "/user.get", "json": body, "origin": PORTAL}
    return {"request": request, "response": {"json": {"result": []}}}


def _sent(body: bytes = b'{"ID": 1}', **more: Any) -> Received:
    fields: Dict[str, Any] = {
        "method": "POST",
        "target": HOOK + "/user.get",
        "body": body,
        "origin": PORTAL,
        "content_type": "application/json",
    }
    fields.update(more)
    return Received(**fields)


def _happened(code: int = 0, out: Optional[bytes] = b'{"result": []}', *requests: Received, **more: Any) -> Happened:
    fields: Dict[str, Any] = {"stdout": b"", "stderr": b""}
    fields.update(more)
    return Happened(code, fields["stdout"], fields["stderr"], out, tuple(requests))


# ---------------------------------------------------------------- json_diff, request_diff: one value, one request


def test_json_diff_compares_numbers_as_decimals_and_names_the_first_place_that_differs() -> None:
    assert json_diff({"a": 1, "b": [1.0, "x"]}, {"b": [Decimal("1"), "x"], "a": Decimal("1.00")}) is None
    assert json_diff({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}) == "$.a.b[1]: expected 2, got 3"
    assert json_diff({"a": 1}, {}) == "$.a: missing"
    assert json_diff({"a": 1}, {"a": 1, "z": 2}) == "$: unexpected keys ['z']"
    assert json_diff([1, 2], [1]) == "$: 2 items expected, got 1"
    assert json_diff({"a": "1"}, {"a": 1}) == '$.a: expected "1", got 1'
    assert json_diff(True, 1) == "$: expected true, got 1"  # a boolean is not a number
    assert json_diff("é", "e\u0301") is None  # Unicode normalised (NFC)


def test_json_diff_checks_key_order_only_when_asked() -> None:
    assert json_diff({"TITLE": "x", "10": "y"}, {"10": "y", "TITLE": "x"}) is None
    found = json_diff({"TITLE": "x", "10": "y"}, {"10": "y", "TITLE": "x"}, "$body", ordered=True)
    assert found == "$body: key order expected ['TITLE', '10'], got ['10', 'TITLE']"


def test_request_diff_names_what_differs() -> None:
    want = {"method": "POST", "path": HOOK + "/user.get", "json": {"ID": 1}, "origin": PORTAL}
    target = HOOK + "/user.get"
    assert request_diff(want, "POST", target, b'{"ID": 1}', PORTAL, (), "application/json") is None
    assert request_diff(want, "GET", target, b"", PORTAL) == "method: expected POST, got GET"
    assert request_diff(want, "POST", "/rest/1/other/user.get", b'{"ID": 1}') == (
        f"path: expected {HOOK}/user.get, got /rest/1/other/user.get"
    )
    assert request_diff(want, "POST", target, b'{"ID": 1}', "http://localhost:8000") == (
        "origin (scheme, host, port): expected http://127.0.0.1:8000, got http://localhost:8000"
    )
    assert request_diff(want, "POST", target, b'{"ID": 1}', None, (), "text/plain") == (
        "Content-Type: expected application/json (OPI sends JSON bodies so), got 'text/plain'"
    )
    assert request_diff(want, "POST", target, b"", None) == "body: expected JSON, got none"
    assert request_diff(want, "POST", target, b'{"ID": 2}') == "$body.ID: expected 1, got 2"


def test_request_diff_checks_query_fields_and_their_order_unless_relaxed() -> None:
    want = {"method": "GET", "path": "/rest/server.time", "query": {"auth": "t", "b": 2}, "body": "none"}
    assert request_diff(want, "GET", "/rest/server.time?auth=t&b=2", b"") is None
    assert request_diff(want, "GET", "/rest/server.time?b=2&auth=t", b"") == (
        "query order: expected ['auth', 'b'], got ['b', 'auth']"
    )
    assert request_diff(want, "GET", "/rest/server.time?b=2&auth=t", b"", relax=["query-order"]) is None
    assert request_diff(want, "GET", "/rest/server.time?auth=t", b"") == (
        "query: expected {'auth': 't', 'b': '2'}, got {'auth': 't'}"
    )
    assert request_diff(want, "GET", "/rest/server.time?auth=t&b=2", b"x") == "body: expected none, got b'x'"


# ---------------------------------------------------------------- requests_diff, leaks, the phrase


def test_requests_diff_reports_the_first_difference_once_with_what_followed() -> None:
    exchanges = [_exchange({"ID": 1}), _exchange({"ID": 2})]
    assert requests_diff(exchanges, [_sent(b'{"ID": 1}'), _sent(b'{"ID": 2}')]) == (None, 2)
    assert requests_diff(exchanges, [_sent(b'{"ID": 1}')]) == (None, 1)
    wrong = [_sent(b'{"ID": 1}'), _sent(b'{"ID": 3}'), _sent(b'{"ID": 3}'), _sent(b'{"ID": 3}')]
    assert requests_diff(exchanges, wrong) == ("request 2: $body.ID: expected 2, got 3 (2 more requests after it)", 2)
    extra = [_sent(b'{"ID": 1}'), _sent(b'{"ID": 2}'), _sent(b'{"ID": 9}')]
    assert requests_diff(exchanges, extra) == (
        f"request 3: none expected (the case has 2 requests), got POST {HOOK}/user.get",
        2,
    )
    assert requests_diff([], [_sent(), _sent()])[0] == (
        f"request 1: none expected (the case has 0 requests), got POST {HOOK}/user.get (1 more request after it)"
    )


def test_leaks_and_the_phrase_of_what_happened() -> None:
    happened = _happened(2, None, stderr=b"error: bad kSECRET123\nmore", stdout=b"tTOKEN456")
    assert leaks(happened, "kSECRET123", "tTOKEN456") == [
        "the token appears in stdout",
        "the webhook key appears in stderr",
    ]
    assert happened_phrase(_happened(2, None, stderr=b"\n  usage: --url is required \n")) == (
        "exit 2, stderr: 'usage: --url is required', sent nothing"
    )
    sent = _happened(1, None, _sent(), _sent(), stdout=b"oops")
    assert happened_phrase(sent) == f"exit 1, stdout: 'oops', sent POST {HOOK}/user.get and 1 more request"


# ---------------------------------------------------------------- judge: a case and what happened


def test_judge_passes_a_case_done_right_and_needs_no_server_or_file() -> None:
    case = _case([_exchange({"ID": 1})])
    assert judge(case, ENV, _happened(0, b'{"result": []}', _sent()), Declared(), {"result": []}) == []
    # the result in OPI's writer format, declared so
    opi = Declared(output="opi")
    assert judge(case, ENV, _happened(0, b"{\r\n 'result': []\r\n}", _sent()), opi, {"result": []}) == []


def test_judge_says_what_was_expected_and_what_happened() -> None:
    case = _case([_exchange({"ID": 1})])
    expected = {"result": []}
    assert judge(case, ENV, _happened(1, None, _sent(), stderr=b"boom"), Declared(), expected) == [
        f"expected exit 0 and a result; got exit 1, stderr: 'boom', sent POST {MASKED}/user.get"
    ]
    assert judge(case, ENV, _happened(0, b"{}"), Declared(), expected) == [
        f"expected 1 request(s); 0 arrived, request 1 (POST {MASKED}/user.get) never did"
    ]
    assert judge(case, ENV, _happened(0, None, _sent(), stdout=b'{"result": []}'), Declared(), expected) == [
        "expected the result in the --out file; none was written (stdout: '{\"result\": []}')"
    ]
    noisy = _happened(0, b'{"result": []}', _sent(), stdout=b"done\n")
    assert judge(case, ENV, noisy, Declared(), expected) == ["expected nothing on stdout with --out; got 'done'"]
    assert judge(case, ENV, noisy, Declared(stdout_with_out="any"), expected) == []
    assert judge(case, ENV, _happened(0, b'{"result": [1]}', _sent()), Declared(), expected) == [
        "$.result: 0 items expected, got 1"
    ]
    assert judge(case, ENV, _happened(0, b"{'result': []}", _sent()), Declared(), expected)[0].startswith(
        "the result is not JSON ("
    )


def test_judge_a_usage_error_case() -> None:
    case = _case([], {"error": {"kind": "usage", "parameter": "url"}})
    said = b"error: --url: not a webhook URL"
    assert judge(case, ENV, _happened(2, None, stderr=said), Declared()) == []
    assert judge(case, ENV, _happened(2, None, stderr=b"error: bad"), Declared()) == [
        "expected the error to name --url; got exit 2, stderr: 'error: bad', sent nothing"
    ]
    assert judge(case, ENV, _happened(2, None, stderr=b"error: bad"), Declared(names_options=False)) == []
    assert judge(case, ENV, _happened(1, None, stderr=said), Declared()) == [
        "expected a usage error (exit 2, nothing sent); got exit 1, stderr: 'error: --url: not a webhook URL', "
        "sent nothing"
    ]
    assert judge(case, ENV, _happened(99, None, stderr=said), Declared(exit_codes={"usage": 99})) == []
    sent = _happened(2, None, _sent(), _sent(), stderr=said)
    assert judge(case, ENV, sent, Declared()) == [
        "expected a usage error (exit 2, nothing sent); got exit 2, stderr: 'error: --url: not a webhook URL', "
        f"sent POST {MASKED}/user.get and 1 more request"
    ]


def test_judge_a_runtime_error_after_every_listed_request() -> None:
    case = _case([_exchange({"ID": 1}), _exchange({"ID": 1})], {"error": {"kind": "runtime"}})
    assert judge(case, ENV, _happened(99, None, _sent(), _sent()), Declared()) == []
    early = judge(case, ENV, _happened(99, None, _sent()), Declared())
    assert early == [
        "expected a runtime error (exit 99 after 2 request(s)); got exit 99, sent POST /rest/1/${SECRET}/user.get: "
        "1 arrived, request 2 (POST /rest/1/${SECRET}/user.get) never did"
    ]
    assert judge(case, ENV, _happened(0, b"{}", _sent(), _sent()), Declared())[0].startswith(
        "expected a runtime error (exit 99 after 2 request(s)); got exit 0"
    )


def test_judge_masks_the_secrets_and_reports_a_leak_first() -> None:
    case = _case([_exchange({"ID": 1})])
    leaked = _happened(0, b'{"result": "kSECRET123"}', _sent())
    assert judge(case, ENV, leaked, Declared(), {"result": []}) == ["the webhook key appears in --out file"]
    other = dataclasses.replace(_sent(), target="/rest/1/kSECRET123/user.add")
    message = judge(case, ENV, _happened(0, b"{}", other), Declared(), {})[0]
    assert "kSECRET123" not in message and message == (
        "request 1: path: expected /rest/1/${SECRET}/user.get, got /rest/1/${SECRET}/user.add"
    )


def test_judge_applies_the_declared_relaxations() -> None:
    case = _case([_exchange({"TITLE": "x", "10": "y"})])
    swapped = _happened(0, b'{"result": []}', _sent(b'{"10": "y", "TITLE": "x"}'))
    assert judge(case, ENV, swapped, Declared(), {"result": []}) == [
        "request 1: $body: key order expected ['TITLE', '10'], got ['10', 'TITLE']"
    ]
    assert judge(case, ENV, swapped, Declared(relax=("json-key-order",)), {"result": []}) == []


def test_judging_does_no_io() -> None:
    tree = ast.parse(Path(judging.__file__).read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not names & {"open", "print", "input"}
    assert not attributes & {"read_bytes", "read_text", "write_text", "write_bytes", "run", "Popen"}
    assert not imported & {"subprocess", "socket", "os", "pathlib", "http", "threading", "tempfile"}
    assert imported <= {"__future__", "base64", "json", "re", "unicodedata", "decimal", "typing", "urllib.parse"} | {
        "model",
        "opiformat",
    }


# ---------------------------------------------------------------- one option parser


def test_one_option_parser_serves_every_subcommand_under_its_own_name() -> None:
    top, subparsers = parser(PROG)
    assert set(subparsers) == set(COMMANDS) == {"run", "matrix", "scan", "record", "cassettes", "portal", "twin"}
    for name, sub in subparsers.items():
        assert sub.format_usage().startswith(f"usage: {PROG} {name} "), name
        assert "--version" in sub.format_help()
    assert top.format_usage().startswith(f"usage: {PROG} ")
    assert parse(["--impl", "oint", "--jobs", "8"]).command == "run"  # run is the default
    assert parse(["run", "--impl", "oint"]).impl == "oint"
    recorded = parse(["record", "GetUsers", "-o", "x.yaml", "--users", "1"])
    assert (recorded.command, recorded.method, recorded.rest) == ("record", "GetUsers", ["--users", "1"])
    with pytest.raises(SystemExit) as stopped:
        parse(["matrix", "r.jsonl", "--users", "1"])
    assert stopped.value.code == 2


def test_more_jobs_than_cpus_is_allowed() -> None:
    import os

    many = (os.cpu_count() or 1) * 4
    assert parse(["--jobs", str(many)]).jobs == many
