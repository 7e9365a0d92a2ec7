"""Checks on the conformance suite and the cassettes themselves, and on the runners."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from opi_bitrix24_conformance.runner.cases import RESPONSES, SUITE, load_cases
from opi_bitrix24_conformance.runner.cassettes import CASSETTES
from opi_bitrix24_conformance.runner.cassettes import main as cassettes_main

ROOT = SUITE.parent
CASE_FILES = sorted((SUITE / "cases").rglob("*.yaml"))


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_files_follow_the_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SUITE / "schema" / "case.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


def test_case_ids_are_unique_and_files_are_named_after_the_method() -> None:
    cases = load_cases()
    ids = [case.full_id for case in cases]
    assert len(ids) == len(set(ids))
    for case in cases:
        assert case.path.stem == case.method


def test_descriptions_are_declarative_sentences() -> None:
    modal = re.compile(r"\b(should|must|may|might|can|could)\b", re.IGNORECASE)
    for case in load_cases():
        assert case.description.endswith("."), case.full_id
        assert not modal.search(case.description), f"{case.full_id}: state what happens, without modal verbs"


def test_every_response_file_is_used_and_exists() -> None:
    used = {x["response"]["json_file"] for c in load_cases() for x in c.http if "json_file" in x["response"]}
    for name in used:
        assert (RESPONSES / "bitrix24" / name).exists(), name
    on_disk = {str(p.relative_to(RESPONSES / "bitrix24")) for p in (RESPONSES / "bitrix24").rglob("*.json")}
    assert on_disk == used, f"unused response files: {sorted(on_disk - used)}"


def test_cassettes_are_generated_from_the_cases() -> None:
    assert cassettes_main(["--check"]) == 0, "run: python -m opi_bitrix24_conformance.runner.cassettes"


SECRET_PATTERNS = [
    re.compile(r"/rest/\d+/(?!WEBHOOK_KEY_PLACEHOLDER/)(?!\$\{SECRET\})[A-Za-z0-9_]{6,}/"),
    re.compile(r'"auth": ?"(?!TOKEN_PLACEHOLDER|REDACTED|\$\{TOKEN\})[^"]{6,}"'),
    re.compile(r"auth=(?!TOKEN_PLACEHOLDER|REDACTED|\$\{TOKEN\}|a%20b)[^&\s'\"]{6,}"),
    re.compile(r"(access|refresh)_token\"?:\s*\"?(?!REDACTED)[0-9a-f]{20,}"),
]


def test_no_secret_in_recorded_data() -> None:
    hits = []
    for folder in (CASSETTES, SUITE):
        for path in folder.rglob("*"):
            if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
                text = path.read_text(encoding="utf-8")
                hits += [f"{path.relative_to(ROOT)}: {m.group(0)}" for p in SECRET_PATTERNS for m in p.finditer(text)]
    assert not hits, "\n".join(hits[:10])


def test_secret_scan_catches_a_planted_secret(tmp_path: Path) -> None:
    planted = '{"uri": "https://x.bitrix24.ru/rest/1/h0m3k3y1234/user.get", "auth": "bafe5c69006e9f06006b"}'
    assert sum(bool(p.search(planted)) for p in SECRET_PATTERNS) == 2


def test_recording_scrubs_the_key_and_auth_before_writing(portal: Any, tmp_path: Path) -> None:
    """Record against a loopback portal with real-looking secrets; the file holds placeholders only."""
    import opi_bitrix24
    from opi_bitrix24_conformance.runner.recording import scrubbing_vcr

    portal.reply(payload={"result": {"auth": "echoed-token-abcdef", "ok": 1}})
    portal.reply(payload={"result": "2026-01-06T14:19:18+00:00"})
    cassette = tmp_path / "live.yaml"
    with scrubbing_vcr().use_cassette(str(cassette)):
        opi_bitrix24.get_users(portal.webhook, 1)
        opi_bitrix24.server_time(portal.base, "echoed-token-abcdef")
    text = cassette.read_text(encoding="utf-8")
    assert "s3cretWebhookKey99" not in text and "echoed-token-abcdef" not in text
    assert "WEBHOOK_KEY_PLACEHOLDER" in text and "REDACTED" in text
    # ... and it replays with other real secrets, since live requests are scrubbed before matching.
    with scrubbing_vcr("none").use_cassette(str(cassette)) as played:
        other = portal.webhook.replace("s3cretWebhookKey99", "an0therKey")
        assert opi_bitrix24.get_users(other, 1)["result"]["ok"] == 1
        assert opi_bitrix24.server_time(portal.base, "another-token")["result"].startswith("2026")
    assert played.all_played and len(portal.requests) == 2


FAKE_CLI = r"""
import json, sys, urllib.request
args = sys.argv[1:]
opts = dict(zip(args[1::2], args[2::2]))
body = json.dumps({"ID": [1, 99]}).encode()
req = urllib.request.Request(opts["--url"] + "im.user.list.get", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
try:
    answer = urllib.request.urlopen(req).read()
except Exception as exc:
    answer = b"{}"
open(opts["--out"], "wb").write(answer)
"""


def test_external_runner_reports_a_wrong_request(tmp_path: Path) -> None:
    """The runner fails an implementation that sends the wrong body (a runner that cannot fail proves nothing)."""
    fake = tmp_path / "fake_cli.py"
    fake.write_text(FAKE_CLI, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "opi_bitrix24_conformance.runner",
            "--argv",
            f"{sys.executable} {fake}",
            "--impl",
            "fake",
            "--run",
            "bitrix24/GetUsers/documented-webhook-list",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "FAIL  bitrix24/GetUsers/documented-webhook-list" in done.stdout
    assert "$body.ID[1]: expected 10, got 99" in done.stdout
    assert re.search(r"^0 passed, 1 failed, 0 skipped in [0-9.]+s$", done.stdout, re.M)
    block = done.stdout.split("1 failure(s):", 1)[1]  # the failure block: id, description, masked argv, diff
    assert "\nFAIL bitrix24/GetUsers/documented-webhook-list\n  A webhook call sends the ids as the ID array" in block
    masked_url = r"'http://127\.0\.0\.1:\d+/rest/1/\$\{SECRET\}/'"
    assert re.search(r"\n  \$ \S+ \S+fake_cli.py GetUsers --url " + masked_url + " --users", block), block
    assert "\n  request 1: $body.ID[1]: expected 10, got 99\n" in block


def test_external_runner_passes_this_cli_on_a_sample() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24_conformance.runner", "--impl", "python", "--run", "bitrix24/GetUsers/*"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    sample = [case for case in load_cases() if case.method == "GetUsers"]
    native = [case for case in sample if case.args_native is not None]
    skipped = sum("tls" in case.tags or case.args_native is not None for case in sample)
    assert native and re.search(rf"^\d+ passed, 0 failed, {skipped} skipped in [0-9.]+s$", done.stdout, re.M)
    assert done.stdout.count("native values: in-process runners only") == len(native), done.stdout[-2000:]


def test_sample_portal_demo_prints_the_documented_answer() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24_conformance.runner.portal", "--demo", "GetUsers", "--users", "10"],
        capture_output=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    expected = json.loads((RESPONSES / "bitrix24" / "GetUsers" / "documented-2026.json").read_text(encoding="utf-8"))
    assert json.loads(done.stdout) == expected


def test_compatibility_md_points_at_tests_that_exist() -> None:
    """Every case id and pytest node that COMPATIBILITY.md names as pinning a deviation exists."""
    import ast

    text = (ROOT / "COMPATIBILITY.md").read_text(encoding="utf-8")
    case_ids = {case.full_id for case in load_cases()}
    named_cases = set(re.findall(r"`(bitrix24/[A-Za-z0-9]+/[a-z0-9-]+)`", text))
    assert named_cases, "no case ids found"
    assert not named_cases - case_ids, f"unknown cases: {sorted(named_cases - case_ids)}"
    current = None
    missing = []
    for file_part, test_name in re.findall(r"`(?:(tests/[a-z_]+\.py))?::([a-z0-9_]+)`", text):
        current = file_part or current
        assert current, test_name
        tree = ast.parse((ROOT / current).read_text(encoding="utf-8"))
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        if test_name not in names:
            missing.append(f"{current}::{test_name}")
    assert not missing, missing
    assert len(re.findall(r"`(?:tests/[a-z_]+\.py)?::[a-z0-9_]+`", text)) > 20


def test_json_twin_of_the_cases_is_current() -> None:
    """cases.json (for runtimes without YAML) matches cases/ (python -m opi_bitrix24_conformance.runner.cases)."""
    from opi_bitrix24_conformance.runner.cases import TWIN, twin_data
    from opi_bitrix24_conformance.runner.cases import main as twin_main

    assert twin_main(["--check"]) == 0, "run: python -m opi_bitrix24_conformance.runner.cases"
    twin = json.loads(TWIN.read_text(encoding="utf-8"))
    assert twin["version"] == (SUITE / "VERSION").read_text(encoding="utf-8").strip()
    assert [f["path"] for f in twin["files"]] == [p.relative_to(SUITE / "cases").as_posix() for p in CASE_FILES]
    assert twin == twin_data()


def test_a_case_file_newer_than_the_twin_is_read_from_yaml(tmp_path: Path) -> None:
    """The twin is a cache keyed by each file's hash: an edited case file is never served stale."""
    import shutil

    from opi_bitrix24_conformance.runner import loading as cases_module

    root = tmp_path / "cases"
    shutil.copytree(SUITE / "cases", root)
    edited = root / "bitrix24" / CASE_FILES[0].parent.name / CASE_FILES[0].name
    text = edited.read_text(encoding="utf-8")
    first = yaml.safe_load(text)["tests"][0]["description"]
    edited.write_text(text.replace(first, "Edited description.", 1), encoding="utf-8")
    original = cases_module.CASES
    cases_module.CASES = root  # the twin applies to the suite's own cases folder
    try:
        loaded = cases_module.load_cases(root)
    finally:
        cases_module.CASES = original
    assert loaded[0].description == "Edited description."
    assert [c.full_id for c in loaded] == [c.full_id for c in load_cases()]
    assert [c.description for c in loaded[1:]] == [c.description for c in load_cases()[1:]]


def test_version_names_the_package_and_the_suite(capsys: Any) -> None:
    import opi_bitrix24
    from opi_bitrix24._cli import main

    assert main(["--version"]) == 0
    suite = (SUITE / "VERSION").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", suite), "conformance/VERSION is a semantic version"
    assert capsys.readouterr().out == f"opi-bitrix24 {opi_bitrix24.__version__} (conformance suite {suite})\n"


def test_persistent_adapter_and_a_process_per_case_give_the_same_verdicts() -> None:
    """The python adapter's worker runs the CLI's own main(); one interpreter per case agrees on every test."""
    verdicts = []
    for extra in ([], ["--process-per-case"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "opi_bitrix24_conformance.runner",
                "--impl",
                "python",
                "--json",
                "--run",
                "bitrix24/GetUsers/*",
            ]
            + extra,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=120,
        )
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert done.returncode == 0 and lines[-1]["summary"] and lines[-1]["failed"] == 0, done.stdout[-2000:]
        verdicts.append([(r["id"], r["status"]) for r in lines[:-1]])
    assert len(verdicts[0]) > 10 and verdicts[0] == verdicts[1]


def test_readme_has_no_relative_links() -> None:
    """The README is the package index's project page, where a relative link leads nowhere."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = re.findall(r"\]\((?!https?://|#)[^)]*\)", text)
    assert not relative, relative
