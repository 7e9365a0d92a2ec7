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


# --- issue 18 item 9: checked before sending, closed pipes, exit codes for scripts, stderr redaction ---------

PORTAL_TOKEN = "tok-Secret-77aa"


def _clean_env(monkeypatch: Any) -> None:
    for name in ("OPI_B24_URL", "OPI_B24_TOKEN", "OPI_BITRIX24_FAIL_ON_API_ERROR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("where", ["folder", "missing folder", "under a file"])
def test_out_target_is_checked_before_anything_is_sent(
    portal: Any, capsys: Any, tmp_path: Path, monkeypatch: Any, where: str
) -> None:
    _clean_env(monkeypatch)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    target = {"folder": tmp_path, "missing folder": tmp_path / "no" / "r.json", "under a file": tmp_path / "file" / "r"}
    code, out, err = run(
        capsys, "CreateTask", "--url", portal.webhook, "--fields", "{'TITLE':'x'}", "--out", str(target[where])
    )
    assert (code, out, portal.requests) == (EXIT_USAGE, "", [])
    assert err.startswith("opi-bitrix24: error: --out: ") and err.count("\n") == 1
    reason = {"folder": "is a folder", "missing folder": "does not exist", "under a file": "is not a folder"}[where]
    assert reason in err
    # Call checks it too
    code, _, err = run(capsys, "Call", "--url", portal.webhook, "--method", "crm.lead.add", "--out", str(target[where]))
    assert (code, portal.requests) == (EXIT_USAGE, []) and "--out: " in err


def _python_cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "opi_bitrix24", *argv]


def test_a_closed_pipe_ends_quietly_with_the_shells_sigpipe_code(portal: Any) -> None:
    """`... | true`: the reader is gone before we write; no traceback, 141 as `cat` gives in the shell."""
    portal.reply(payload={"result": "x" * 100})
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            _python_cli("ServerTime", "--url", portal.webhook),
            stdout=write,
            stderr=subprocess.PIPE,
            check=False,
            cwd=Path(__file__).parent.parent,
            env={k: v for k, v in os.environ.items() if not k.startswith("OPI_B24")},
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, b"")
    assert len(portal.requests) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell pipeline")
def test_head_dash_1_reads_one_line_and_the_rest_ends_quietly(portal: Any) -> None:
    rows = {"result": [{"ID": str(i), "TITLE": "t" * 200} for i in range(2000)]}  # far more than a pipe buffer
    portal.reply(payload=rows)
    command = " ".join(f"'{part}'" for part in _python_cli("Call", "--url", portal.webhook, "--method", "x.list"))
    done = subprocess.run(
        ["bash", "-c", command + ' | head -1; echo "exit ${PIPESTATUS[0]}" >&2'],
        capture_output=True,
        check=False,
        cwd=Path(__file__).parent.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPI_B24")},
    )
    assert done.stdout == b"{\n"
    assert done.stderr == b"exit 141\n"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["GetTasksList", "--offset", "ten"], "--offset: expected a whole number"),
        (["GetTask", "--task", "12a"], "--task: expected a whole number"),
        (["GetLeadsList", "--offset", "1.5"], "--offset: expected a whole number"),
    ],
)
def test_numbers_are_checked_before_sending(
    portal: Any, capsys: Any, monkeypatch: Any, argv: list[str], named: str
) -> None:
    _clean_env(monkeypatch)
    code, out, err = run(capsys, *argv, "--url", portal.webhook)
    assert (code, out, portal.requests) == (EXIT_USAGE, "", [])
    assert err.startswith(f"opi-bitrix24: error: {named}") and err.count("\n") == 1


def test_whole_numbers_and_dialog_ids_still_go_out(portal: Any, capsys: Any, monkeypatch: Any) -> None:
    _clean_env(monkeypatch)
    assert run(capsys, "GetTasksList", "--url", portal.webhook, "--offset", " 50 ")[0] == EXIT_OK
    assert portal.json_body() == {"start": " 50 "}  # sent as OPI sends it
    assert run(capsys, "GetDialog", "--url", portal.webhook, "--chat", "chat4")[0] == EXIT_OK
    assert portal.requests[-1]["path"].endswith("/im.dialog.get")


def test_empty_tokens_are_refused_naming_what_was_set(
    portal: Any, capsys: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    _clean_env(monkeypatch)
    empty = tmp_path / "token"
    empty.write_text(" \n", encoding="utf-8")
    cases = [
        (["--url", portal.base, "--token", ""], {}, "--token is empty: --url is a portal address"),
        (["--url", portal.base, "--token=  "], {}, "--token is empty: --url is a portal address"),
        (["--url", portal.base, "--token-file", str(empty)], {}, f"--token-file: {str(empty)!r} is empty"),
        (["--url", portal.base], {"OPI_B24_TOKEN": ""}, "$OPI_B24_TOKEN is empty: --url is a portal address"),
        (["--url", portal.base], {}, "no token was given: --url is a portal address"),
        ([], {"OPI_B24_URL": portal.base}, "no token was given: $OPI_B24_URL is a portal address"),
    ]
    for argv, env, message in cases:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            code, out, err = run(capsys, "ServerTime", *argv)
        assert (code, out) == (EXIT_USAGE, ""), argv
        assert err.startswith(f"opi-bitrix24: error: {message}"), (argv, err)
        assert err.count("\n") == 1
    assert portal.requests == []


def test_conflicting_sources_are_refused_naming_each(
    portal: Any, capsys: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    _clean_env(monkeypatch)
    token_file = tmp_path / "token"
    token_file.write_text(PORTAL_TOKEN, encoding="utf-8")
    cases = [
        (["--url", portal.webhook], {"OPI_B24_TOKEN": PORTAL_TOKEN}, "$OPI_B24_TOKEN and --url conflict"),
        (["--token", PORTAL_TOKEN], {"OPI_B24_URL": portal.webhook}, "--token and $OPI_B24_URL conflict"),
        (["--url", portal.webhook, "--token-file", str(token_file)], {}, "--token-file and --url conflict"),
        ([], {"OPI_B24_URL": portal.webhook, "OPI_B24_TOKEN": PORTAL_TOKEN}, "$OPI_B24_TOKEN and $OPI_B24_URL"),
        (["--token", "", "--token-file", str(token_file), "--url", portal.base], {}, "give --token or --token-file"),
    ]
    for argv, env, message in cases:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            code, out, err = run(capsys, "ServerTime", *argv)
        assert (code, out) == (EXIT_USAGE, ""), argv
        assert err.startswith(f"opi-bitrix24: error: {message}"), (argv, err)
        assert PORTAL_TOKEN not in err and KEY not in err
    # the same for Call
    monkeypatch.setenv("OPI_B24_TOKEN", PORTAL_TOKEN)
    code, _, err = run(capsys, "Call", "--url", portal.webhook, "--method", "server.time")
    assert code == EXIT_USAGE and err.startswith("opi-bitrix24: error: $OPI_B24_TOKEN and --url conflict")
    monkeypatch.delenv("OPI_B24_TOKEN")
    code, _, err = run(capsys, "Call", "--url", portal.base, "--method", "server.time")
    assert code == EXIT_USAGE and "no token was given: --url is a portal address" in err
    assert portal.requests == []


def test_api_error_exit_code_is_opt_in(portal: Any, capsys: Any, monkeypatch: Any) -> None:
    _clean_env(monkeypatch)
    body = {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
    # default: OPI's behaviour, the body and exit 0
    portal.reply(401, body)
    code, out, err = run(capsys, "ServerTime", "--url", portal.webhook)
    assert (code, json.loads(out), err) == (EXIT_OK, body, "")
    # the flag: the body still printed, one line on stderr, exit 3
    portal.reply(401, body)
    code, out, err = run(capsys, "ServerTime", "--url", portal.webhook, "--fail-on-api-error")
    assert (code, json.loads(out)) == (3, body)
    assert err == "opi-bitrix24: error: API error INVALID_CREDENTIALS: Invalid request credentials\n"
    # the environment variable, for cron; 0 turns it off
    for value, expected in (("1", 3), ("yes", 3), ("0", EXIT_OK), ("", EXIT_OK)):
        monkeypatch.setenv("OPI_BITRIX24_FAIL_ON_API_ERROR", value)
        portal.reply(400, {"error": "ERROR_CORE"})
        assert run(capsys, "ServerTime", "--url", portal.webhook)[0] == expected, value
    # a success is still 0 with the flag; Call honours it too
    portal.reply(payload={"result": "2026-01-01"})
    monkeypatch.setenv("OPI_BITRIX24_FAIL_ON_API_ERROR", "1")
    assert run(capsys, "ServerTime", "--url", portal.webhook)[0] == EXIT_OK
    portal.reply(400, {"error": "ERROR_METHOD_NOT_FOUND"})
    assert run(capsys, "Call", "--url", portal.webhook, "--method", "no.such")[0] == 3
    sent = len(portal.requests)
    # a value that is neither on nor off is a usage error naming the variable, nothing sent
    monkeypatch.setenv("OPI_BITRIX24_FAIL_ON_API_ERROR", "maybe")
    code, _, err = run(capsys, "ServerTime", "--url", portal.webhook)
    assert code == EXIT_USAGE and "$OPI_BITRIX24_FAIL_ON_API_ERROR must be 1 or 0" in err
    assert len(portal.requests) == sent


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


def test_cli_stderr_goes_through_the_transports_redaction(portal: Any, capsys: Any, monkeypatch: Any) -> None:
    """A portal echoing the token (raw, JSON-escaped, percent-encoded) in an error: none of it on stderr."""
    _clean_env(monkeypatch)
    token = "tok/Se+cret 42"
    echo = f"bad auth {token} / {json.dumps(token)} / tok%2FSe%2Bcret%2042 / key {KEY}"
    portal.reply(400, {"error": "WRONG_AUTH", "error_description": echo})
    code, _, err = run(capsys, "Call", "--url", portal.base, "--token", token, "--method", "crm.lead.list", "--all")
    assert code == EXIT_ERROR and "WRONG_AUTH" in err
    assert token not in err and "tok%2FSe%2Bcret%2042" not in err and "Se+cret" not in err
    portal.reply(400, {"error": "WRONG_AUTH", "error_description": echo})
    code, _, err = run(capsys, "ServerTime", "--url", portal.webhook, "--fail-on-api-error")
    assert code == 3 and "WRONG_AUTH" in err and KEY not in err
