"""The CLI contract: names, options, values, output and exit codes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opi_bitrix24._cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main

KEY = "s3cretWebhookKey99"


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_call_prints_the_result_as_utf8_json(portal: Any, capsys: Any) -> None:
    portal.reply(payload={"result": {"10": {"name": "Пётр"}}})
    code, out, err = run(capsys, "GetUsers", "--url", portal.webhook, "--users", "10")
    assert (code, err) == (EXIT_OK, "")
    assert "Пётр" in out and out.endswith("\n")
    assert json.loads(out) == {"result": {"10": {"name": "Пётр"}}}
    assert portal.json_body() == {"ID": ["10"]}


@pytest.mark.parametrize("name", ["GetUsers", "getusers", "GETUSERS", "get_users", "ПолучитьПользователей"])
def test_method_names(portal: Any, capsys: Any, name: str) -> None:
    assert run(capsys, name, "--url", portal.webhook, "--users", "1")[0] == EXIT_OK


def test_library_word_and_inline_values(portal: Any, capsys: Any) -> None:
    code, _, _ = run(capsys, "bitrix24", "GetUsers", f"--url={portal.base}", "--users=[1,2]", "--token", "T")
    assert code == EXIT_OK
    assert portal.json_body() == {"auth": "T", "ID": [1, 2]}


def test_single_quoted_json_value(portal: Any, capsys: Any) -> None:
    run(capsys, "GetUsers", "--url", portal.webhook, "--users", "['1','2']")
    assert portal.json_body() == {"ID": ["1", "2"]}


def test_api_error_body_exits_zero(portal: Any, capsys: Any) -> None:
    portal.reply(401, {"error": "expired_token"})
    code, out, _ = run(capsys, "ServerTime", "--url", portal.base, "--token", "T")
    assert code == EXIT_OK and json.loads(out) == {"error": "expired_token"}


def test_out_file(portal: Any, capsys: Any, tmp_path: Path) -> None:
    portal.reply(payload={"result": "время"})
    target = tmp_path / "r.json"
    code, out, err = run(capsys, "ServerTime", "--url", portal.webhook, "--out", str(target))
    assert (code, out, err) == (EXIT_OK, "", "")
    assert json.loads(target.read_text(encoding="utf-8")) == {"result": "время"}


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["NoSuchMethod", "--url", "x"], "unknown method 'NoSuchMethod'"),
        (["GetUsers", "--url", "x"], "needs --users"),
        (["GetUsers", "--url", "x", "--users", "1", "--color", "RED"], "unknown option --color"),
        (["GetUsers", "--url", "x", "--users"], "--users needs a value"),
        (["GetUsers", "--url", "x", "--users", "1", "--users", "2"], "given twice"),
        (["GetUsers", "stray", "--url", "x"], "unexpected argument 'stray'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys: Any, argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE and out == ""
    assert needle in err and err.count("\n") == 1


def test_malformed_value_is_a_usage_error_and_sends_nothing(portal: Any, capsys: Any) -> None:
    code, out, err = run(capsys, "GetUsers", "--url", portal.webhook, "--users", "[1,")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("opi-bitrix24: error: --users:")
    assert portal.requests == []


def test_token_with_webhook_is_a_usage_error_without_secrets(portal: Any, capsys: Any) -> None:
    code, _, err = run(capsys, "GetUsers", "--url", portal.webhook, "--users", "1", "--token", "tok-secret-1")
    assert code == EXIT_USAGE and "--token" in err
    assert KEY not in err and "tok-secret-1" not in err


def test_transport_error_exits_99_with_one_line_and_no_secret(capsys: Any) -> None:
    url = f"http://127.0.0.1:9/rest/1/{KEY}/"
    import opi_bitrix24

    with opi_bitrix24.settings(retries=0):
        code, out, err = run(capsys, "GetUsers", "--url", url, "--users", "1")
    assert (code, out) == (EXIT_ERROR, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert KEY not in err and "connection error" in err


def test_unexpected_answer_exits_99(portal: Any, capsys: Any) -> None:
    portal.reply(502, raw=b"<html>", headers={"Content-Type": "text/html"})
    code, _, err = run(capsys, "ServerTime", "--url", portal.webhook)
    assert code == EXIT_ERROR and "HTTP 502" in err and KEY not in err


def test_debug_logs_requests_without_secrets(portal: Any, capsys: Any) -> None:
    import logging

    logger = logging.getLogger("opi_bitrix24")
    handlers = list(logger.handlers)
    try:
        code, _, err = run(capsys, "ServerTime", "--url", portal.base, "--token", "tok-secret-2", "--debug")
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(logging.NOTSET)
    assert code == EXIT_OK
    assert f"GET http://127.0.0.1:{portal.port}/rest/server.time (attempt 1)" in err
    assert "tok-secret-2" not in err


def test_help_screens(capsys: Any) -> None:
    code, out, _ = run(capsys)
    assert code == EXIT_OK and "GetUsers" in out and "ServerTime" in out
    code, out, _ = run(capsys, "GetUsers", "--help")
    assert code == EXIT_OK
    for word in ("--url", "--users", "--token", "im.user.list.get", "ПолучитьПользователей", "IDПользователей"):
        assert word in out
    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK and out.startswith("opi-bitrix24 ")


def test_escape_sequences_become_characters(portal: Any, capsys: Any) -> None:
    run(capsys, "GetUsers", "--url", portal.webhook, "--users", "a\\nb")
    run(capsys, "GetUsers", "--url", portal.webhook, "--users", "a\\\\nb")
    run(capsys, "GetUsers", "--url", portal.webhook, "--users", "['a\\nb']")
    assert portal.json_body(0) == {"ID": ["a\nb"]}
    assert portal.json_body(1) == {"ID": ["a\\nb"]}
    assert portal.json_body(2) == {"ID": ["a\nb"]}  # JSON text keeps its own escapes


def test_python_dash_m_entry_point(portal: Any) -> None:
    portal.reply(payload={"result": "Привет"})
    env = dict(os.environ, PYTHONIOENCODING="ascii")  # the CLI writes UTF-8 whatever the console says
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24", "ServerTime", "--url", portal.webhook],
        capture_output=True,
        env=env,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("utf-8") == '{\n  "result": "Привет"\n}\n'
    assert done.stderr == b""


def test_every_method_has_help_and_checks_required_options(capsys: Any) -> None:
    from opi_bitrix24._table import methods

    for method in methods():
        code, out, _ = run(capsys, method.name, "--help")
        assert code == EXIT_OK, method.name
        for param in method.params:
            assert f"--{param.cli}" in out and param.ru in out, (method.name, param.cli)
        required = [p for p in method.params if p.required]
        if required:
            code, out, err = run(capsys, method.ru)
            assert (code, out) == (EXIT_USAGE, ""), method.name
            assert " ".join(f"--{p.cli}" for p in required) in err, method.name


def test_structure_helpers_run_offline(capsys: Any) -> None:
    code, out, err = run(capsys, "GetTasksFilterStructure", "--empty", "true")
    assert (code, err) == (EXIT_OK, "")
    result = json.loads(out)
    assert result and set(result.values()) == {""}


def test_debug_shows_a_traceback_without_secrets(capsys: Any) -> None:
    import logging

    import opi_bitrix24

    logger = logging.getLogger("opi_bitrix24")
    handlers = list(logger.handlers)
    url = f"http://127.0.0.1:9/rest/1/{KEY}/"
    try:
        with opi_bitrix24.settings(retries=0):
            code, out, err = run(capsys, "GetUsers", "--url", url, "--users", "1", "--debug")
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(logging.NOTSET)
    assert (code, out) == (EXIT_ERROR, "")
    assert "Traceback" in err and "TransportError" in err
    assert KEY not in err


def test_debug_handler_lasts_for_one_run_only(portal: Any) -> None:
    logger = logging.getLogger("opi_bitrix24")
    before, level = list(logger.handlers), logger.level
    for _ in range(3):
        assert main(["ServerTime", "--url", portal.webhook, "--debug"]) == EXIT_OK
    assert len(portal.requests) == 3
    assert logger.handlers == before and logger.level == level


# --- issue 18 item 9 (the hostile kinds are in tests/test_hostile_cli.py) -----------------------------------


def _clean_env(monkeypatch: Any) -> None:
    for name in ("OPI_B24_URL", "OPI_B24_TOKEN", "OPI_BITRIX24_FAIL_ON_API_ERROR"):
        monkeypatch.delenv(name, raising=False)


def test_whole_numbers_and_dialog_ids_still_go_out(portal: Any, capsys: Any, monkeypatch: Any) -> None:
    _clean_env(monkeypatch)
    assert run(capsys, "GetTasksList", "--url", portal.webhook, "--offset", " 50 ")[0] == EXIT_OK
    assert portal.json_body() == {"start": " 50 "}  # sent as OPI sends it
    assert run(capsys, "GetDialog", "--url", portal.webhook, "--chat", "chat4")[0] == EXIT_OK
    assert portal.requests[-1]["path"].endswith("/im.dialog.get")


def test_api_error_exit_is_documented(capsys: Any) -> None:
    from opi_bitrix24 import _cli

    assert _cli.EXIT_API_ERROR == 3 and _cli.EXIT_PIPE == 141
    helps = {name: run(capsys, *argv) for name, argv in {"all": ["--help"], "Call": ["Call", "--help"]}.items()}
    helps["GetUsers"] = run(capsys, "GetUsers", "--help")
    assert {name: code for name, (code, _, _) in helps.items()} == {"all": 0, "Call": 0, "GetUsers": 0}
    overview = helps["all"][1]
    assert "--fail-on-api-error (or $OPI_BITRIX24_FAIL_ON_API_ERROR=1)" in overview
    assert "3 API error body" in overview and "141 output pipe closed" in overview
    assert "--fail-on-api-error  exit 3 when the answer is an API error body" in helps["Call"][1]
    assert "  --fail-on-api-error\n      exit 3 when the answer is an API error body" in helps["GetUsers"][1]
