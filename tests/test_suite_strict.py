"""The external runner is as strict as the in-process one (issue 13): JSON key order, query order and the
origin (scheme, host, port) of every request are checked; an expectations file may relax the two orders
explicitly, and the report says so. A fake CLI sends the right requests, then each kind of wrong one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from opi_bitrix24_conformance.runner.cases import SUITE, json_diff, origin_of, request_diff

ROOT = SUITE.parent

# A fake implementation of two methods; FAKE_MODE says which mistake it makes.
FAKE_CLI = r"""
import json, os, sys, urllib.error, urllib.parse, urllib.request
args = sys.argv[1:]
method, opts = args[0], dict(zip(args[1::2], args[2::2]))
mode = os.environ.get("FAKE_MODE", "")

def send(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json; charset=utf-8"}
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers=headers)
    try:
        return urllib.request.urlopen(req).read()
    except urllib.error.HTTPError as exc:
        return exc.read()

if method == "GetUsers":
    url = opts["--url"].rstrip("/") + "/rest/im.user.list.get"
    if mode == "wrong-host":
        url = url.replace("127.0.0.1", "localhost")
    body = {"auth": opts["--token"], "ID": [opts["--users"]]}
    if mode == "reordered-body":
        body = {"ID": [opts["--users"]], "auth": opts["--token"]}
    answer = send(url, body)
else:  # GetToken
    pairs = [("grant_type", "authorization_code"), ("client_id", opts["--clientid"]),
             ("client_secret", opts["--clientsecret"]), ("code", opts["--code"])]
    if mode == "reordered-query":
        pairs.reverse()
    answer = send(os.environ["OPI_BITRIX24_OAUTH_URL"] + "?" + urllib.parse.urlencode(pairs))
open(opts["--out"], "wb").write(answer)
"""

BODY_CASE = "bitrix24/GetUsers/documented-token-single-id"
QUERY_CASE = "bitrix24/GetToken/token-pair"


def _run(tmp_path: Path, mode: str, expectations: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    fake = tmp_path / "fake_cli.py"
    fake.write_text(FAKE_CLI, encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "opi_bitrix24_conformance.runner",
        "--argv",
        f"{sys.executable} {fake}",
        "--impl",
        "fake",
    ]
    if expectations is not None:
        path = tmp_path / "expected.json"
        path.write_text(json.dumps(expectations), encoding="utf-8")
        argv += ["--expectations", str(path)]
    argv += ["--run", BODY_CASE, "--run", QUERY_CASE, "--json", "--jobs", "1"]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, FAKE_MODE=mode),
        check=False,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _verdicts(lines: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {line["id"]: (line["status"], line["message"]) for line in lines if not line.get("summary")}


def test_the_fake_passes_when_it_sends_what_opi_sends(tmp_path: Path) -> None:
    lines = _run(tmp_path, "")
    assert _verdicts(lines) == {BODY_CASE: ("pass", ""), QUERY_CASE: ("pass", "")}
    assert lines[-1]["relaxed"] == [] and lines[-1]["policy"] == "opi"


def test_a_reordered_json_body_fails_unless_the_expectations_relax_it(tmp_path: Path) -> None:
    status, message = _verdicts(_run(tmp_path, "reordered-body"))[BODY_CASE]
    assert status == "fail"
    assert message == "request 1: $body: key order expected ['auth', 'ID'], got ['ID', 'auth']"
    lines = _run(tmp_path, "reordered-body", {"relax": ["json-key-order"]})
    assert _verdicts(lines)[BODY_CASE] == ("pass", "")
    assert lines[-1]["relaxed"] == ["json-key-order"]


def test_a_reordered_query_fails_unless_the_expectations_relax_it(tmp_path: Path) -> None:
    status, message = _verdicts(_run(tmp_path, "reordered-query"))[QUERY_CASE]
    assert status == "fail"
    assert message == (
        "request 1: query order: expected ['grant_type', 'client_id', 'client_secret', 'code'], "
        "got ['code', 'client_secret', 'client_id', 'grant_type']"
    )
    # relaxing the other order does not help; relaxing this one does
    assert _verdicts(_run(tmp_path, "reordered-query", {"relax": ["json-key-order"]}))[QUERY_CASE][0] == "fail"
    lines = _run(tmp_path, "reordered-query", {"relax": ["query-order"]})
    assert _verdicts(lines)[QUERY_CASE] == ("pass", "")
    assert lines[-1]["relaxed"] == ["query-order"]


def test_a_request_to_another_host_fails_and_cannot_be_relaxed(tmp_path: Path) -> None:
    status, message = _verdicts(_run(tmp_path, "wrong-host"))[BODY_CASE]
    assert status == "fail"
    assert message.startswith("request 1: origin (scheme, host, port): expected http://127.0.0.1:")
    assert ", got http://localhost:" in message
    relaxed = _run(tmp_path, "wrong-host", {"relax": ["json-key-order", "query-order"]})
    assert _verdicts(relaxed)[BODY_CASE][0] == "fail"


def test_an_unknown_relaxation_or_policy_is_refused(tmp_path: Path) -> None:
    for data, word in (({"relax": ["origin"]}, "unknown relaxation"), ({"policy": "mine"}, "unknown policy")):
        path = tmp_path / "expected.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--impl", "python", "--expectations", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=60,
        )
        assert done.returncode == 2 and word in done.stderr, done.stderr


def test_request_diff_is_strict_on_nested_key_order_and_duplicate_query_fields() -> None:
    want = {"method": "POST", "path": "/rest/x", "json": {"auth": "t", "fields": {"A": 1, "B": 2}}}
    assert request_diff(want, "POST", "/rest/x", b'{"auth":"t","fields":{"A":1,"B":2}}') is None
    nested = request_diff(want, "POST", "/rest/x", b'{"auth":"t","fields":{"B":2,"A":1}}')
    assert nested == "$body.fields: key order expected ['A', 'B'], got ['B', 'A']"
    swapped = b'{"auth":"t","fields":{"B":2,"A":1}}'
    assert request_diff(want, "POST", "/rest/x", swapped, relax=["json-key-order"]) is None
    get = {"method": "GET", "path": "/q", "query": {"a": 1, "b": "x"}}
    assert request_diff(get, "GET", "/q?a=1&b=x", b"") is None
    assert request_diff(get, "GET", "/q?b=x&a=1", b"") == "query order: expected ['a', 'b'], got ['b', 'a']"
    assert request_diff(get, "GET", "/q?b=x&a=1", b"", relax=["query-order"]) is None
    assert request_diff(get, "GET", "/q?a=1&b=x&a=1", b"", relax=["query-order"]) is not None  # a repeated field


@pytest.mark.parametrize(
    ("expected", "reached", "same"),
    [
        ("https://portal.test", "https://PORTAL.test:443", True),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", True),
        ("https://127.0.0.1:8080", "http://127.0.0.1:8080", False),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081", False),
        ("http://127.0.0.1:8080", "http://localhost:8080", False),
    ],
)
def test_origins_compare_scheme_host_and_port(expected: str, reached: str, same: bool) -> None:
    want = {"method": "GET", "path": "/", "origin": expected}
    problem = request_diff(want, "GET", "/", b"", origin=reached)
    assert (problem is None) is same, problem
    assert (origin_of(expected) == origin_of(reached)) is same


def test_results_still_ignore_key_order() -> None:
    assert json_diff({"a": 1, "b": 2}, {"b": 2, "a": 1}) is None
    assert json_diff({"a": 1, "b": 2}, {"b": 2, "a": 1}, ordered=True) is not None


# --- transport-policy cases: one server script, an outcome per policy -----------------------------


def _transport_cases() -> List[Any]:
    from opi_bitrix24_conformance.runner.cases import load_cases

    return [case for case in load_cases() if "transport" in case.tags]


def test_transport_cases_give_both_policies_and_differ_where_the_policies_do() -> None:
    cases = {case.id: case for case in _transport_cases() if case.method in ("GetUsers", "CreateTask", "ServerTime")}
    assert len(cases) >= 9
    for case in cases.values():
        assert set(case.policy) == {"opi", "opi-bitrix24"} and case.policy["opi"]["requests"] == len(case.http)
    requests = {name: (c.policy["opi"]["requests"], c.policy["opi-bitrix24"]["requests"]) for name, c in cases.items()}
    assert requests["transport-503-forever"] == (6, 4)  # OPI: 1 + 5 re-sends; this package: retries=3
    assert requests["transport-500-on-write"] == (6, 1)
    assert requests["transport-cross-origin-307"] == (2, 1)
    assert cases["transport-cross-origin-307"].http[1]["request"]["origin"] == "${OTHER_PORTAL}"


def test_under_policy_cuts_the_script_and_takes_the_outcome() -> None:
    from opi_bitrix24_conformance.runner.cases import under_policy

    case = next(c for c in _transport_cases() if c.id == "transport-503-forever")
    ours = under_policy(case, "opi-bitrix24")
    assert len(ours.http) == 4 and ours.expect == {"result_from": "response"}
    assert len(under_policy(case, "opi").http) == 6
    override = {case.full_id: {"requests": 3, "expect": {"error": {"kind": "runtime"}}}}
    theirs = under_policy(case, "opi", override)
    assert len(theirs.http) == 3 and theirs.expect == {"error": {"kind": "runtime"}}
    with pytest.raises(ValueError, match="script has 6"):
        under_policy(case, "opi", {case.full_id: {"requests": 7}})


def _run_python(tmp_path: Path, *extra: str, expectations: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    argv = [
        sys.executable,
        "-m",
        "opi_bitrix24_conformance.runner",
        "--impl",
        "python",
        "--run",
        "bitrix24/*/transport-*",
        "--json",
    ]
    if expectations is not None:
        path = tmp_path / "expected.json"
        path.write_text(json.dumps(expectations), encoding="utf-8")
        argv += ["--expectations", str(path)]
    done = subprocess.run([*argv, *extra], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_this_package_passes_its_policy_and_fails_opis_where_they_differ(tmp_path: Path) -> None:
    cases = _transport_cases()
    differ = {c.full_id for c in cases if c.policy["opi"] != c.policy.get("opi-bitrix24", c.policy["opi"])}
    assert len(differ) >= 6
    ours = _run_python(tmp_path)
    assert ours[-1]["policy"] == "opi-bitrix24" and ours[-1]["counts"]["pass"] == len(cases), ours[-1]
    opis = _run_python(tmp_path, "--policy", "opi")
    assert opis[-1]["policy"] == "opi"
    assert {r["id"] for r in opis[:-1] if r["status"] == "fail"} == differ
    by_id = {r["id"]: r["message"] for r in opis[:-1]}
    tail = " (the opi outcome)"  # a failed transport case names the policy it was judged by
    users = "POST /rest/1/${SECRET}/im.user.list.get"
    assert by_id["bitrix24/GetUsers/transport-503-forever"] == (
        f"expected 6 request(s); 4 arrived, request 5 ({users}) never did" + tail
    )
    assert by_id["bitrix24/CreateTask/transport-500-on-write"] == (
        "expected 6 request(s); 1 arrived, request 2 (POST /rest/1/${SECRET}/tasks.task.add) never did" + tail
    )
    non_json = by_id["bitrix24/GetUsers/transport-non-json-200"]
    assert non_json.startswith('expected exit 0 and a result; got exit 99, stderr: "opi-bitrix24: error: HTTP 200')
    assert non_json.endswith(f"sent {users}" + tail)
    # a runtime error is judged after the listed exchanges: this package gives up after one send of a write
    drop = by_id["bitrix24/CreateTask/transport-drop-on-write"]
    assert drop.startswith("expected a runtime error (exit 99 after 6 request(s)); got exit 99, stderr: ")
    assert drop.endswith(
        ", sent POST /rest/1/${SECRET}/tasks.task.add: 1 arrived, "
        "request 2 (POST /rest/1/${SECRET}/tasks.task.add) never did" + tail
    )
    # an implementation of OPI's policy that differs on some cases says so per case in its expectations file
    outcomes = {}
    for case in cases:
        if case.full_id in differ:
            outcomes[case.full_id] = dict(case.policy["opi-bitrix24"], reason="retries=3, no unsafe re-sends")
    overridden = _run_python(tmp_path, expectations={"policy": "opi", "outcomes": outcomes})
    assert overridden[-1]["policy"] == "opi" and overridden[-1]["counts"]["pass"] == len(cases), overridden[-1]


# --- URL arguments: the download is part of the exchange ------------------------------------------

URL_CASES = {
    "bitrix24/UploadFileToStorage/file-given-as-url": "disk-picture.png",
    "bitrix24/ChangeChatPicture/picture-given-as-url": "picture.png",
    "bitrix24/CreateUser/structure-given-as-url": "user-fields.json",
    "bitrix24/GetFolderItems/filter-given-as-url": "disk-filter.json",
}

FETCHING_CLI = r"""
import json, os, sys, urllib.request
args = sys.argv[1:]
opts = dict(zip(args[1::2], args[2::2]))
fetch = opts["--fields"] + ("?auth=" + opts["--token"] if os.environ.get("FAKE_MODE") == "credentials" else "")
fields = json.loads(urllib.request.urlopen(fetch).read())
body = json.dumps(dict({"auth": opts["--token"]}, **fields)).encode()
req = urllib.request.Request(opts["--url"] + "/rest/user.add", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
open(opts["--out"], "wb").write(urllib.request.urlopen(req).read())
"""


def test_url_argument_cases_fetch_first_without_credentials() -> None:
    import base64

    from opi_bitrix24_conformance.runner.cases import FIXTURES, load_cases

    cases = {case.full_id: case for case in load_cases() if case.full_id in URL_CASES}
    assert set(cases) == set(URL_CASES)
    for full_id, case in cases.items():
        assert "url-argument" in case.tags
        fetch, call = case.http[0], case.http[1]
        assert fetch["request"]["method"] == "GET" and fetch["request"]["body"] == "none"
        assert "query" not in fetch["request"] and "${" not in fetch["request"]["path"]
        assert fetch["response"]["fixture"] == URL_CASES[full_id]
        assert any(value == "${PORTAL}" + fetch["request"]["path"] for value in case.args.values())
        content = (FIXTURES / URL_CASES[full_id]).read_bytes()
        sent = json.dumps(call["request"]["json"], ensure_ascii=False)
        body = call["request"]["json"]
        if URL_CASES[full_id].endswith(".json"):  # a structure: its keys at the top, or the object under a key
            fetched = json.loads(content)
            assert set(fetched) <= set(body) or fetched in body.values(), full_id
        else:  # a file: its base64 text in the body
            assert base64.b64encode(content).decode() in sent, full_id


def test_a_download_carrying_the_token_fails_the_case(tmp_path: Path) -> None:
    fake = tmp_path / "fetching_cli.py"
    fake.write_text(FETCHING_CLI, encoding="utf-8")
    verdicts = {}
    for mode in ("", "credentials"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "opi_bitrix24_conformance.runner",
                "--argv",
                f"{sys.executable} {fake}",
                "--impl",
                "fake",
            ]
            + ["--run", "bitrix24/CreateUser/structure-given-as-url", "--json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, FAKE_MODE=mode),
            check=False,
            timeout=60,
        )
        verdicts[mode] = _verdicts([json.loads(line) for line in done.stdout.splitlines()])
    assert verdicts[""] == {"bitrix24/CreateUser/structure-given-as-url": ("pass", "")}
    status, message = verdicts["credentials"]["bitrix24/CreateUser/structure-given-as-url"]
    assert status == "fail" and message.startswith("request 1: query: expected {}, got {'auth': '${TOKEN}'}"), message


# A fake implementation of OPI's own transport policy (1 send + 5 immediate re-sends on any 5xx or a send
# that threw, redirects followed to any origin (307/308 with the same method and body, 301-303 as a GET
# without one), a non-JSON answer written out raw): it passes the `opi` outcomes, so they are consistent
# with the policy they describe.
OPI_POLICY_CLI = r"""
import http.client, json, sys, urllib.parse
args = sys.argv[1:]
method, opts = args[0], dict(zip(args[1::2], args[2::2]))
base = opts["--url"].rstrip("/") + "/"
if method == "GetUsers":
    verb, url, body = "POST", base + "im.user.list.get", {"ID": [opts["--users"]]}
elif method == "CreateTask":
    verb, url, body = "POST", base + "tasks.task.add", {"fields": json.loads(opts["--fields"])}
else:
    verb, url, body = "GET", base + "server.time", None

def once(url, verb, body):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json; charset=utf-8"}
    conn.request(verb, parts.path + ("?" + parts.query if parts.query else ""), body=data, headers=headers)
    try:
        answer = conn.getresponse()
        return answer.status, answer.getheader("Location"), answer.read()
    except OSError:  # the connection closed without an answer: a send that threw
        return 0, None, b""

for attempt in range(6):
    target, how, data = url, verb, body
    status, location, payload = once(target, how, data)
    for _ in range(5):
        if status not in (301, 302, 303, 307, 308) or not location:
            break
        target = urllib.parse.urljoin(target, location)
        if status in (301, 302, 303):  # as .NET does: the POST becomes a GET without a body
            how, data = "GET", None
        status, location, payload = once(target, how, data)
    if 0 < status < 500:
        break
if status == 0:
    sys.exit(99)  # every attempt threw: OPI raises its client log
open(opts["--out"], "wb").write(payload)
"""


def test_a_fake_of_opis_policy_passes_the_opi_outcomes_and_fails_ours(tmp_path: Path) -> None:
    fake = tmp_path / "opi_policy_cli.py"
    fake.write_text(OPI_POLICY_CLI, encoding="utf-8")
    cases = [c for c in _transport_cases() if c.method in ("GetUsers", "CreateTask", "ServerTime")]
    differ = {c.full_id for c in cases if c.policy["opi"] != c.policy["opi-bitrix24"]}
    results = {}
    for policy in ("opi", "opi-bitrix24"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "opi_bitrix24_conformance.runner",
                "--argv",
                f"{sys.executable} {fake}",
                "--impl",
                "fake",
            ]
            + ["--policy", policy, "--json"]
            + [arg for c in cases for arg in ("--run", c.full_id)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=120,
        )
        results[policy] = [json.loads(line) for line in done.stdout.splitlines()]
    assert results["opi"][-1]["counts"]["pass"] == len(cases), [r for r in results["opi"] if r.get("status") == "fail"]
    assert {r["id"] for r in results["opi-bitrix24"][:-1] if r["status"] == "fail"} == differ
