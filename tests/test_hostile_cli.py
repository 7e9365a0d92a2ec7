"""Hostile kinds for record mode, the secret scanner and the CLI (issue 18 items 8 and 9; tests/hostile.py).

Each kind is also a pytest test; the harness adds its checks (no secret in anything printed, logged or
handed to ``h.output``, no REST call received twice, the wall-time budget).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

from hostile import CLIENT_SECRET, KEY, REFRESH, TOKEN, Answer, Call, Check, kind

from opi_bitrix24._cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main
from opi_bitrix24_conformance.runner import recording, scan
from opi_bitrix24_conformance.runner.cases import CASSETTE_HOST, CASSETTE_SECRET

EXIT_API_ERROR = 3  # the documented codes (tests/test_cli.py::test_api_error_exit_is_documented)
EXIT_PIPE = 141

ROOT = Path(__file__).resolve().parent.parent
#: The variables the CLI and the recorder read; each kind starts without them.
VARIABLES = (
    "OPI_B24_URL",
    "OPI_B24_TOKEN",
    "OPI_B24_WEBHOOK",
    "OPI_B24_PORTAL",
    "OPI_B24_CLIENT_ID",
    "OPI_B24_CLIENT_SECRET",
    "OPI_B24_REFRESH_TOKEN",
    "OPI_B24_CODE",
    "OPI_BITRIX24_FAIL_ON_API_ERROR",
)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Exactly ``values`` of :data:`VARIABLES` set for the block; the rest unset; all restored after."""
    saved = {name: os.environ.get(name) for name in VARIABLES}
    try:
        for name in VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cli(h: Check, *argv: str, **env: str) -> Tuple[int, str, str]:
    """One in-process run of the CLI; what it printed goes to the harness's secret check."""
    out, err = io.StringIO(), io.StringIO()
    with environment(**env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    h.output(out.getvalue(), err.getvalue())
    return code, out.getvalue(), err.getvalue()


def one_line_error(err: str, start: str) -> bool:
    return err.startswith(f"opi-bitrix24: error: {start}") and err.count("\n") == 1


# --- recording ------------------------------------------------------------------------------------


def _b64(data: bytes, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode("ascii")


OTHER_KEY = "0therH00kKey9910"  # a webhook key the recording never saw (another user's)
MIXED = "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm12"  # 40 characters, both cases and digits


def _record(h: Check, answer: Dict[str, str]) -> Tuple[Dict[str, str], str]:
    """Record GetLead against a portal whose lead carries ``answer``; the scrubbed result and cassette text."""

    def echoing(call: Call) -> Optional[Answer]:
        return (200, {"result": {"ID": "1", **answer}}) if call.method == "crm.lead.get" else None

    portal = h.portal(echoing)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "GetLead.yaml"
        secrets = {"OPI_B24_CLIENT_SECRET": CLIENT_SECRET, "OPI_B24_REFRESH_TOKEN": REFRESH}
        with environment(OPI_B24_WEBHOOK=portal.webhook, **secrets), contextlib.redirect_stderr(io.StringIO()):
            assert recording.main(["GetLead", "--lead", "1", "-o", str(target)]) == EXIT_OK
        text = target.read_text(encoding="utf-8")
    h.output(text)  # the harness looks for every secret in every spelling in the cassette
    assert [(seen.verb, seen.path) for seen in portal.requests] == [("POST", f"/rest/1/{KEY}/crm.lead.get")]
    import yaml

    (exchange,) = yaml.safe_load(text)["interactions"]
    assert exchange["request"]["uri"] == f"http://{CASSETTE_HOST}/rest/1/{CASSETTE_SECRET}/crm.lead.get"
    result = json.loads(exchange["response"]["body"]["string"])["result"]
    assert scan.scan_text(text) == []
    return {name: result[name] for name in answer}, text


@kind(
    "recording",
    "the portal echoes the recording's secrets as hex, base64 (alone, URL-safe, inside base64 data), "
    "percent-encoded and JSON-escaped",
    "none reaches the cassette (what depends only on the other bytes stays); it passes scan",
    drivers=("sync",),
)
def test_recording_scrubs_every_encoding_of_its_secrets(h: Check) -> None:
    key = KEY.encode()
    scrubbed, _ = _record(
        h,
        {
            "BASE64": _b64(key),
            "BASE64URL": _b64(CLIENT_SECRET.encode(), urlsafe=True).rstrip("="),
            "IN_BASE64_DATA_1": _b64(b"x" + key + b" z"),
            "IN_BASE64_DATA_2": _b64(b"ab" + REFRESH.encode() + b"!"),
            "HEX": key.hex(),
            "HEX_UPPER": REFRESH.encode().hex().upper(),
            "ENCODED": f"see https%3A%2F%2Fx.test%2F%3Fs%3D{CLIENT_SECRET}",
            "ESCAPED": json.dumps(f"/rest/1/{KEY}/")[1:-1].replace("/", "\\/"),
        },
    )
    assert scrubbed == {
        "BASE64": "REDACTED",
        "BASE64URL": "REDACTED",
        "IN_BASE64_DATA_1": "eG" + "REDACTED" + "kgeg==",
        "IN_BASE64_DATA_2": "YWJ" + "REDACTED" + "IQ==",
        "HEX": "REDACTED",
        "HEX_UPPER": "REDACTED",
        "ENCODED": "see https%3A%2F%2Fx.test%2F%3Fs%3DREDACTED",
        "ESCAPED": f"\\/rest\\/1\\/{CASSETTE_SECRET}\\/",
    }


@kind(
    "recording",
    "the portal echoes credentials it names: a ?token= download link, a #access_token= fragment, a Bearer "
    "credential, password/token fields, webhook URLs without the trailing slash or with a query",
    "each value REDACTED (a webhook key WEBHOOK_KEY_PLACEHOLDER), by key, whether known or not",
    drivers=("sync",),
)
def test_recording_scrubs_credentials_by_key(h: Check) -> None:
    scrubbed, _ = _record(
        h,
        {
            "DOWNLOAD": "https://b24.test/disk/downloadFile/8/?ncc=1&token=disk%7CaWQ9ODMmXz1Vc3FV%7CImRvd2",
            "FRAGMENT": f"https://app.example.com/done#access_token={TOKEN}&expires_in=3600",
            "BEARER": f"sent with Bearer {TOKEN}",
            "FIELDS": json.dumps({"password": "hunter2-Secret", "token": TOKEN}),
            "PASSWORD": "hunter2-Secret",
            "HOOK_NO_SLASH": f"https://b24.test/rest/9/{OTHER_KEY}",
            "HOOK_WITH_QUERY": f"https://b24.test/rest/9/{OTHER_KEY}?start=50",
            "HOOK_ENCODED": f"https://b24.test/share/?back=%2Frest%2F9%2F{OTHER_KEY}%3Fstart%3D50",
        },
    )
    assert scrubbed == {
        "DOWNLOAD": "https://b24.test/disk/downloadFile/8/?ncc=1&token=REDACTED",
        "FRAGMENT": "https://app.example.com/done#access_token=REDACTED&expires_in=3600",
        "BEARER": "sent with Bearer REDACTED",
        "FIELDS": json.dumps({"password": "REDACTED", "token": "REDACTED"}),
        "PASSWORD": "REDACTED",
        "HOOK_NO_SLASH": f"https://b24.test/rest/9/{CASSETTE_SECRET}",
        "HOOK_WITH_QUERY": f"https://b24.test/rest/9/{CASSETTE_SECRET}?start=50",
        "HOOK_ENCODED": f"https://b24.test/share/?back=%2Frest%2F9%2F{CASSETTE_SECRET}%3Fstart%3D50",
    }


@kind(
    "recording",
    "the portal shows secrets the recorder never saw, by shape only: a 40-character mixed-case token, "
    "a base64 key, a key written as hex",
    "each REDACTED; the cassette passes scan",
    drivers=("sync",),
)
def test_recording_scrubs_unknown_secrets_by_shape(h: Check) -> None:
    scrubbed, text = _record(
        h,
        {"MIXED": f"api key {MIXED}", "BASE64_KEY": _b64(OTHER_KEY.encode()), "HEX_KEY": OTHER_KEY.encode().hex()},
    )
    assert scrubbed == {"MIXED": "api key REDACTED", "BASE64_KEY": "REDACTED", "HEX_KEY": "REDACTED"}
    assert MIXED not in text and OTHER_KEY not in text


# --- scan -----------------------------------------------------------------------------------------

PLANTED = [  # (kind reported, line): one secret or personal value per line
    ("webhook key", 'uri: "https://acme.bitrix24.ru/rest/1/h0m3k3y1234abcd/user.get"'),
    ("webhook key", "hook: https://acme.bitrix24.ru/rest/1/h0m3k3y1234abcd"),
    ("webhook key", "link: https://acme.bitrix24.ru/rest/7/h0m3k3y1234abcd?start=50"),
    ("webhook key", '"DETAIL_URL": "https:\\/\\/acme.bitrix24.ru\\/rest\\/1\\/h0m3k3y1234abcd\\/disk.file.get"'),
    ("webhook key", "SHARE: https://b24.test/share/?back=%2Frest%2F1%2Fh0m3k3y1234abcd%3Fx%3D1"),
    ("token in a URL", "DOWNLOAD_URL: https://b24.test/download.json?auth=bafe5c69006e9f0600"),
    ("token in a URL", "https://acme.bitrix24.ru/disk/downloadFile/8/?ncc=1&token=disk%7CaWQ9ODMmXz1Vc3FV%7CImRvd2"),
    ("token in a URL", "redirect: https://app.example.com/done#access_token=7d6f5e4d3c2b1a00&expires_in=3600"),
    ("token in a URL", "body: client_id=app.123&client_secret=Qw8Er7Ty6Ui5Op"),
    ("authorization", "Authorization: Bearer 7d6f5e4d3c2b1a00ffee"),
    ("authorization", "note: sent with Bearer abcDEF123456ghi as usual"),
    ("secret field", '{"password": "hunter2-Secret"}'),
    ("secret field", '{"token": "Zx9Qw8Er7Ty6"}'),
    ("secret field", "refresh_token: ab12cd34ef56ab12cd34"),
    ("secret field", '{"access_token": "bafe5c69006e9f06006b"}'),
    ("base64 secret", '"key_b64": "azN5VzNiaDAwa0xpdmU3Nw=="'),  # base64 of a 16-character key
    ("token", "note: 0123456789abcdef0123456789abcdef0123456789abcdef0123"),
    ("token", "key_hex: 6b33795733626830306b4c6976653737"),  # a 16-character key as hex
    ("token", f"api: {MIXED}"),
    ("cookie", "Set-Cookie: a=b"),
    ("cookie", "seen: PHPSESSID"),
    ("e-mail", '"EMAIL": "ivan.petrov@realcorp.ru"'),
    ("e-mail", "uri: https://b24.test/rest/user.get?EMAIL=ivan%40realcorp.ru"),
    ("phone", "call +7 912 345-67-89 today"),
    # a webhook URL written as base64url: a base64 secret, and a long mixed-case token as well
    ("base64 secret", "saved: aHR0cHM6Ly9hY21lLmJpdHJpeDI0LnJ1L3Jlc3QvMS9oMG0zazN5MTIzNGFiY2Qv"),
]
#: Look-alikes that are not secrets: placeholders, base64 file data, path hashes, an iCalendar UID, checksums.
CLEAN = [
    "uri: https://b24.test/rest/1/WEBHOOK_KEY_PLACEHOLDER",
    "url: https://b24.test/rest/user.get?auth=REDACTED&token=disk%7CREDACTED#access_token=REDACTED",
    "query: {token: '${TOKEN}', auth: REDACTED}",
    "Authorization: Bearer REDACTED",
    "icon: https://b24.test/resize_cache/30/c0120a8d7c10d63c83e32398d1ec4d9e/main/a7e0af6899300e3c684caeca5c334d81.jpg",
    '"DAV_XML_ID": "20260107T112500Z-7694030863e701c3b0a7ad9a02b614e3@b24.test"',
    '"etag": "e08ff077495935546a14540040680916"',
    '"sha256": "e729fccca2ffbf1f7c56bfe9b6e9091bd3e597ef1410967e39119ee820b6a4db"',
    "png: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "method: tasks.task.getFilterStructureAndFields, name: GetTasksFilterStructure",
]


@kind(
    "scan",
    f"{len(PLANTED)} planted secrets and personal values, one per line, beside look-alikes that are not",
    "exit 1; each planted line reported as file:line: kind with its value masked; no look-alike reported",
    drivers=("sync",),
)
def test_scan_flags_every_planted_form_with_its_file_and_line(h: Check) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clean, planted = Path(folder) / "clean.yaml", Path(folder) / "planted.yaml"
        clean.write_text("\n".join(CLEAN) + "\n", encoding="utf-8")
        planted.write_text("a: 1\n" + "".join(line + "\n" for _, line in PLANTED), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert scan.main([str(clean)]) == 0
            assert scan.main([folder]) == 1
        h.output(out.getvalue(), err.getvalue())
    report = out.getvalue().splitlines()
    assert err.getvalue() == f"scan: clean\nscan: {len(report)} finding(s)\n"
    assert all(line.startswith(f"{planted}:") for line in report)
    found = {(int(line.split(":")[1]), line.split(": ")[1]) for line in report}
    expected = {(number, kind) for number, (kind, _) in enumerate(PLANTED, start=2)}
    assert found == expected | {(len(PLANTED) + 1, "token")}
    for secret in ("h0m3k3y1234abcd", "hunter2-Secret", MIXED, "7d6f5e4d3c2b1a00ffee", "azN5VzNiaDAwa0xpdmU3Nw=="):
        assert secret not in out.getvalue()  # masked


# --- the CLI --------------------------------------------------------------------------------------


@kind(
    "cli",
    "--out onto a folder, into a missing folder, under a file (CreateTask, Call)",
    "exit 2 naming --out before anything is sent",
    drivers=("sync",),
)
def test_cli_checks_the_output_target_before_sending(h: Check) -> None:
    portal = h.portal()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "file").write_text("x", encoding="utf-8")
        targets = {
            "is a folder, not a file": folder,
            "does not exist": str(Path(folder) / "no" / "r.json"),
            "is not a folder": str(Path(folder) / "file" / "r.json"),
        }
        for reason, target in targets.items():
            code, out, err = cli(h, "CreateTask", "--url", portal.webhook, "--fields", "{'TITLE':'x'}", "--out", target)
            assert (code, out) == (EXIT_USAGE, "") and one_line_error(err, "--out: ") and reason in err, err
            code, _, err = cli(h, "Call", "--url", portal.webhook, "--method", "crm.lead.add", "--out", target)
            assert code == EXIT_USAGE and one_line_error(err, "--out: ") and reason in err, err
    assert portal.requests == []


def _shell(command: str) -> subprocess.CompletedProcess[bytes]:
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    return subprocess.run(["bash", "-c", command], capture_output=True, check=False, cwd=ROOT, env=env, timeout=30)


@kind(
    "cli",
    "the reader closes the output pipe: piped into true (gone before the answer), into head -1 (a 500 KB answer)",
    "no traceback, exit 141 (128 + SIGPIPE, as the shell shows for cat); one request each",
    budget=10.0,
    drivers=("sync",),
)
def test_cli_ends_quietly_on_a_closed_pipe(h: Check) -> None:
    big = [{"ID": str(i), "TITLE": "t" * 200} for i in range(2000)]
    portal = h.portal(lambda call: (200, {"result": big}) if call.method == "x.list" else None)
    python = f"'{sys.executable}' -m opi_bitrix24"
    status = 'echo "exit ${PIPESTATUS[0]}" >&2'
    done = _shell(f"{python} Call --url '{portal.webhook}' --method profile | true; {status}")
    assert (done.stdout, done.stderr) == (b"", f"exit {EXIT_PIPE}\n".encode())
    done = _shell(f"{python} Call --url '{portal.webhook}' --method x.list | head -1; {status}")
    assert (done.stdout, done.stderr) == (b"{\n", f"exit {EXIT_PIPE}\n".encode())
    h.output(done.stderr.decode())
    assert [call.method for call in portal.calls] == ["profile", "x.list"]


@kind(
    "cli",
    "an id or offset that is no number: --offset ten, --task 12a, --offset 1.5",
    "exit 2 naming the option, nothing sent (a dialog id such as chat4 still goes out)",
    drivers=("sync",),
)
def test_cli_refuses_numbers_that_are_not(h: Check) -> None:
    portal = h.portal()
    for argv in (
        ["GetTasksList", "--offset", "ten"],
        ["GetTask", "--task", "12a"],
        ["GetLeadsList", "--offset", "1.5"],
    ):
        code, out, err = cli(h, *argv, "--url", portal.webhook)
        assert (code, out) == (EXIT_USAGE, "") and one_line_error(err, f"{argv[1]}: expected a whole number"), err
    assert portal.requests == []
    assert cli(h, "GetLeadsList", "--url", portal.webhook, "--offset", " 50 ")[0] == EXIT_OK
    assert portal.calls[-1].params == {"start": " 50 "}  # sent as OPI sends it


@kind(
    "cli",
    'empty tokens: --token "", a blank --token-file, $OPI_B24_TOKEN="", no token at all with a portal address',
    "exit 2 naming what the user set (--token, --token-file, $OPI_B24_TOKEN, --url, $OPI_B24_URL); nothing sent",
    drivers=("sync",),
)
def test_cli_refuses_empty_tokens(h: Check) -> None:
    portal = h.portal()
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "token"
        empty.write_text(" \n", encoding="utf-8")
        cases: List[Tuple[List[str], Dict[str, str], str]] = [
            (["--url", portal.base, "--token", ""], {}, "--token is empty: --url is a portal address"),
            (["--url", portal.base, "--token=  "], {}, "--token is empty: --url is a portal address"),
            (["--url", portal.base, "--token-file", str(empty)], {}, f"--token-file: {str(empty)!r} is empty"),
            (["--url", portal.base], {"OPI_B24_TOKEN": ""}, "$OPI_B24_TOKEN is empty: --url is a portal address"),
            (["--url", portal.base], {}, "no token was given: --url is a portal address"),
            ([], {"OPI_B24_URL": portal.base}, "no token was given: $OPI_B24_URL is a portal address"),
        ]
        for argv, env, message in cases:
            code, out, err = cli(h, "ServerTime", *argv, **env)
            assert (code, out) == (EXIT_USAGE, "") and one_line_error(err, message), (argv, env, err)
    assert portal.requests == []


@kind(
    "cli",
    "conflicting sources: a webhook URL (--url or $OPI_B24_URL) with a token from --token, --token-file or "
    "$OPI_B24_TOKEN; --token with --token-file",
    "exit 2 naming both sources, no token shown; nothing sent",
    drivers=("sync",),
)
def test_cli_refuses_conflicting_sources(h: Check) -> None:
    portal = h.portal()
    with tempfile.TemporaryDirectory() as folder:
        token_file = Path(folder) / "token"
        token_file.write_text(TOKEN, encoding="utf-8")
        cases: List[Tuple[List[str], Dict[str, str], str]] = [
            (["--url", portal.webhook], {"OPI_B24_TOKEN": TOKEN}, "$OPI_B24_TOKEN and --url conflict"),
            (["--token", TOKEN], {"OPI_B24_URL": portal.webhook}, "--token and $OPI_B24_URL conflict"),
            (["--url", portal.webhook, "--token-file", str(token_file)], {}, "--token-file and --url conflict"),
            ([], {"OPI_B24_URL": portal.webhook, "OPI_B24_TOKEN": TOKEN}, "$OPI_B24_TOKEN and $OPI_B24_URL"),
            (
                ["--url", portal.base, "--token", "", "--token-file", str(token_file)],
                {},
                "give --token or --token-file",
            ),
        ]
        for argv, env, message in cases:
            code, out, err = cli(h, "ServerTime", *argv, **env)
            assert (code, out) == (EXIT_USAGE, "") and one_line_error(err, message), (argv, env, err)
        code, _, err = cli(h, "Call", "--url", portal.webhook, "--method", "profile", OPI_B24_TOKEN=TOKEN)
        assert code == EXIT_USAGE and one_line_error(err, "$OPI_B24_TOKEN and --url conflict")
        code, _, err = cli(h, "Call", "--url", portal.base, "--method", "profile")
        assert code == EXIT_USAGE and one_line_error(err, "no token was given: --url is a portal address")
    assert portal.requests == []


@kind(
    "cli",
    "a wrong webhook key: the portal answers INVALID_CREDENTIALS",
    "exit 0 and the body by default (OPI); exit 3 with --fail-on-api-error or $OPI_BITRIX24_FAIL_ON_API_ERROR=1",
    drivers=("sync",),
)
def test_cli_api_error_exit_is_opt_in(h: Check) -> None:
    portal = h.portal()
    h.allow_repeats("the same wrong call, once per setting")
    wrong = f"{portal.base}/rest/1/wrongKey123/"
    body = {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
    code, out, err = cli(h, "Call", "--url", wrong, "--method", "profile")
    assert (code, json.loads(out), err) == (EXIT_OK, body, "")
    code, out, err = cli(h, "Call", "--url", wrong, "--method", "profile", "--fail-on-api-error")
    assert (code, json.loads(out)) == (EXIT_API_ERROR, body)
    assert err == "opi-bitrix24: error: API error INVALID_CREDENTIALS: Invalid request credentials\n"
    for value, expected in (("1", EXIT_API_ERROR), ("yes", EXIT_API_ERROR), ("0", EXIT_OK), ("", EXIT_OK)):
        code, _, _ = cli(h, "ServerTime", "--url", wrong, OPI_BITRIX24_FAIL_ON_API_ERROR=value)
        assert code == expected, value
    code, _, _ = cli(h, "Call", "--url", portal.webhook, "--method", "profile", "--fail-on-api-error")
    assert code == EXIT_OK  # a success stays 0
    sent = len(portal.requests)
    code, _, err = cli(h, "ServerTime", "--url", wrong, OPI_BITRIX24_FAIL_ON_API_ERROR="maybe")
    assert code == EXIT_USAGE and one_line_error(err, "$OPI_BITRIX24_FAIL_ON_API_ERROR must be 1 or 0")
    assert len(portal.requests) == sent == 7


@kind(
    "cli",
    "the portal echoes the token and the webhook key (raw, JSON-escaped, percent-encoded) in an error: "
    "Call --all, and --fail-on-api-error with --out",
    "one stderr line without them (the transport's redaction); exit 99 and 3",
    drivers=("sync",),
)
def test_cli_stderr_is_redacted(h: Check) -> None:
    token = TOKEN + "/+ x"  # characters that each spelling writes differently

    def echo(call: Call) -> Optional[Answer]:  # the credential the call came with, in three spellings
        text = f"bad auth {call.auth} / {json.dumps(call.auth)} / {quote(call.auth, safe='')}"
        return 400, {"error": "WRONG_AUTH", "error_description": text}

    h.secrets.append(token)
    portal = h.portal(echo)
    code, out, err = cli(h, "Call", "--url", portal.base, "--token", token, "--method", "crm.lead.list", "--all")
    assert (code, out) == (EXIT_ERROR, "") and one_line_error(err, "") and "WRONG_AUTH" in err, err
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "answer.json"
        code, out, err = cli(h, "ServerTime", "--url", portal.webhook, "--fail-on-api-error", "--out", str(target))
        assert json.loads(target.read_text(encoding="utf-8"))["error"] == "WRONG_AUTH"  # the body, as asked
    assert (code, out) == (EXIT_API_ERROR, "") and one_line_error(err, "API error WRONG_AUTH: bad auth "), err
    assert [call.method for call in portal.calls] == ["batch", "server.time"]  # --all pages through batch
