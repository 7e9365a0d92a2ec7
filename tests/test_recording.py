"""Record mode against a loopback portal that behaves like a real one and echoes the secrets everywhere:
nothing secret, no cookie and no personal value may reach the cassette (issue 12); and the secret scanner."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import quote

import pytest
import yaml

from opi_bitrix24_conformance.runner import recording, scan
from opi_bitrix24_conformance.runner.cases import CASSETTE_HOST, CASSETTE_SECRET

KEY = "k3yW3bh00kLive77"
TOKEN = "bafe5c69006e9f06006b4b1a00000001000007d1c2e8e0c2c1d9a6c4e8c9a0b3e6c"
REFRESH = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ffff"
CLIENT_SECRET = "Zx9Qw8Er7Ty6Ui5Op4As3Df2"
COOKIE = "sess1onC00kieValue42"
PEOPLE = [
    "Ivan",
    "Petrov",
    "Ivanovich",
    "ivan.petrov@realcorp.ru",
    "+7 912 345-67-89",
    "8 (495) 123-45-67",
    "ivan.skype.live",
    "Lead accountant",
    "Maria",
    "m.sidorova@realcorp.ru",
]


class RealPortal:
    """Answers disk.file.get like Bitrix24, echoing the live token and key in every place a portal does."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.extra: Dict[str, Any] = {}  # more fields of the answer's result
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                portal.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                payload = portal.answer().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Set-Cookie", f"PHPSESSID={COOKIE}; path=/; HttpOnly")
                self.send_header("Set-Cookie", f"BITRIX_SM_LOGIN={COOKIE}; path=/")
                self.send_header("X-Bitrix-Session-Id", COOKIE)
                self.send_header("Location", f"{portal.base}/rest/1/{KEY}/disk.file.get?auth={TOKEN}")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.hostport = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.base = f"http://{self.hostport}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self) -> str:
        person = {
            "ID": "1",
            "NAME": "Ivan",
            "LAST_NAME": "Petrov",
            "SECOND_NAME": "Ivanovich",
            "EMAIL": "ivan.petrov@realcorp.ru",
            "PERSONAL_MOBILE": "+7 912 345-67-89",
            "WORK_PHONE": "8 (495) 123-45-67",
            "WORK_POSITION": "Lead accountant",
            "UF_SKYPE": "ivan.skype.live",
            "UF_DEPARTMENT": [1, 7],
        }
        answer = {
            "result": {
                "ID": "8",
                "NAME": "Picture1.jpg",
                "DOWNLOAD_URL": f"{self.base}/rest/download.json?auth={TOKEN}&token=disk%7C{TOKEN}",
                "DETAIL_URL": f"{self.base}/rest/1/{KEY}/disk.file.get?id=8",
                "SHARE_URL": f"{self.base}/share/?back=%2Frest%2F1%2F{KEY}%2F&t={quote(TOKEN)}",
                "SEARCH_URL": f"{self.base}/company/?q=ivan.petrov%40realcorp.ru&auth={quote(TOKEN)}",
                "NOTE": f"uploaded by Ivan (ivan.petrov@realcorp.ru, +7 912 345-67-89) with {REFRESH}",
                "CREATED_BY": person,
                "SHARED_WITH": [{"ID": "3", "NAME": "Maria", "LAST_NAME": "", "EMAIL": "m.sidorova@realcorp.ru"}],
                "OAUTH": {"refresh_token": REFRESH, "client_secret": CLIENT_SECRET},
                "SECRET_AGAIN": f"{CLIENT_SECRET}/{COOKIE}",
                **self.extra,
            },
            "time": {"start": 1767709253, "finish": 1767709253.49902},
        }
        # PHP's json_encode escapes slashes: the key also appears as \/rest\/1\/KEY\/
        return json.dumps(answer).replace("/", "\\/")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def real() -> Iterator[RealPortal]:
    server = RealPortal()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def token_env(real: RealPortal, monkeypatch: pytest.MonkeyPatch) -> RealPortal:
    monkeypatch.delenv("OPI_B24_WEBHOOK", raising=False)
    monkeypatch.setenv("OPI_B24_PORTAL", real.base)
    monkeypatch.setenv("OPI_B24_TOKEN", TOKEN)
    monkeypatch.setenv("OPI_B24_REFRESH_TOKEN", REFRESH)
    monkeypatch.setenv("OPI_B24_CLIENT_SECRET", CLIENT_SECRET)
    return real


@pytest.fixture
def webhook_env(real: RealPortal, monkeypatch: pytest.MonkeyPatch) -> RealPortal:
    for name in ("OPI_B24_PORTAL", "OPI_B24_TOKEN", "OPI_B24_REFRESH_TOKEN", "OPI_B24_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPI_B24_WEBHOOK", f"{real.base}/rest/1/{KEY}/")
    return real


def _secrets_in(text: str, real: RealPortal) -> List[str]:
    values = [KEY, TOKEN, REFRESH, CLIENT_SECRET, COOKIE, quote(TOKEN), real.hostport, "127.0.0.1"]
    values += ["PHPSESSID", "BITRIX_SM", "Set-Cookie", "X-Bitrix", "User-Agent"]
    return [value for value in values if value.lower() in text.lower()]


def _record(tmp_path: Path, name: str, *extra: str) -> str:
    out = tmp_path / f"{name}.yaml"
    assert recording.main(["GetFileInformation", "--fileid", "8", "-o", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("mode", ["token_env", "webhook_env"])
def test_recording_writes_no_secret_cookie_or_personal_value(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real: RealPortal = request.getfixturevalue(mode)
    text = _record(tmp_path, mode)
    assert len(real.requests) == 1
    sent = real.requests[0]
    # the live call really carried the secrets (so the test can fail) ...
    assert (KEY in sent["path"]) if mode == "webhook_env" else (TOKEN.encode() in sent["body"])
    # ... and none of them, no cookie, no session header and no personal value reached the file
    assert _secrets_in(text, real) == []
    assert [value for value in PEOPLE if value in text] == []
    assert [value for value in ("912", "345-67", "realcorp") if value in text] == []
    # nor the terminal: the CLI's live answer is not shown
    shown = capsys.readouterr()
    assert _secrets_in(shown.out + shown.err, real) == [] and "Ivan" not in shown.out

    cassette = yaml.safe_load(text)
    (exchange,) = cassette["interactions"]
    uri = exchange["request"]["uri"]
    if mode == "webhook_env":
        assert uri == f"http://{CASSETTE_HOST}/rest/1/{CASSETTE_SECRET}/disk.file.get"
        assert json.loads(exchange["request"]["body"]) == {"id": "8"}
    else:
        assert uri == f"http://{CASSETTE_HOST}/rest/disk.file.get"
        assert json.loads(exchange["request"]["body"]) == {"auth": "REDACTED", "id": "8"}
    assert sorted(exchange["request"]["headers"]) == ["Accept", "Content-Length", "Content-Type"]
    assert sorted(exchange["response"]["headers"]) == ["Content-Length", "Content-Type", "Location"]
    assert exchange["response"]["headers"]["Location"] == [
        f"http://{CASSETTE_HOST}/rest/1/{CASSETTE_SECRET}/disk.file.get?auth=REDACTED"
    ]

    result = json.loads(exchange["response"]["body"]["string"])["result"]
    assert result["DOWNLOAD_URL"] == f"http://{CASSETTE_HOST}/rest/download.json?auth=REDACTED&token=REDACTED"
    assert result["DETAIL_URL"] == f"http://{CASSETTE_HOST}/rest/1/{CASSETTE_SECRET}/disk.file.get?id=8"
    assert result["SHARE_URL"] == f"http://{CASSETTE_HOST}/share/?back=%2Frest%2F1%2F{CASSETTE_SECRET}%2F&t=REDACTED"
    assert result["SEARCH_URL"] == f"http://{CASSETTE_HOST}/company/?q=person-r1%40example.com&auth=REDACTED"
    body = exchange["response"]["body"]["string"]
    assert exchange["response"]["headers"]["Content-Length"] == [str(len(body.encode("utf-8")))]
    assert result["OAUTH"] == {"refresh_token": "REDACTED", "client_secret": "REDACTED"}
    assert result["NAME"] == "Picture1.jpg"  # a file's name is not a person's
    person = result["CREATED_BY"]
    assert person == {
        "ID": "1",
        "NAME": "PERSON_NAME_R1",
        "LAST_NAME": "PERSON_NAME_R2",
        "SECOND_NAME": "PERSON_NAME_R3",
        "EMAIL": "person-r1@example.com",
        "PERSONAL_MOBILE": "PERSON_PHONE_R1",
        "WORK_PHONE": "PERSON_PHONE_R2",
        "WORK_POSITION": "PERSON_TEXT_R1",
        "UF_SKYPE": "PERSON_TEXT_R2",
        "UF_DEPARTMENT": [1, 7],
    }
    # the same value gets the same placeholder wherever it appears, free text included
    assert result["NOTE"] == "uploaded by PERSON_NAME_R1 (person-r1@example.com, PERSON_PHONE_R1) with REDACTED"
    assert result["SHARED_WITH"] == [
        {"ID": "3", "NAME": "PERSON_NAME_R4", "LAST_NAME": "", "EMAIL": "person-r2@example.com"}
    ]
    # a client secret seen in an answer and the cookie's value are secrets too, wherever they reappear
    assert result["SECRET_AGAIN"] == "REDACTED/REDACTED"
    # the file passes the scanner users run in their CI
    assert scan.scan_text(text) == []


def test_recorded_cassette_replays_with_other_secrets_and_with_the_placeholders(
    webhook_env: RealPortal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opi_bitrix24._cli import main as cli

    out = tmp_path / "live.yaml"
    assert recording.main(["GetFileInformation", "--fileid", "8", "-o", str(out)]) == 0
    capsys.readouterr()
    with recording.scrubbing_vcr("none").use_cassette(str(out)) as played:
        assert cli(["GetFileInformation", "--url", "https://elsewhere.test/rest/1/an0therKey1/", "--fileid", "8"]) == 0
    assert played.all_played
    answer = json.loads(capsys.readouterr().out)
    assert answer["result"]["CREATED_BY"]["EMAIL"] == "person-r1@example.com"
    # exact replay, as the committed cassettes are played: the placeholders are what is sent
    with recording.replay_vcr().use_cassette(str(out)) as played:
        webhook = f"https://{CASSETTE_HOST}/rest/1/{CASSETTE_SECRET}/"
        assert cli(["GetFileInformation", "--url", webhook, "--fileid", "8"]) == 0
    assert played.all_played and len(webhook_env.requests) == 1


def test_dry_run_prints_the_scrubbed_cassette_and_writes_nothing(
    token_env: RealPortal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dry.yaml"
    assert recording.main(["GetFileInformation", "--fileid", "8", "-o", str(out), "--dry-run"]) == 0
    shown = capsys.readouterr()
    assert not out.exists()
    assert shown.out.startswith(f"# would write {out}\n")
    cassette = yaml.safe_load(shown.out)
    assert cassette["interactions"][0]["request"]["uri"] == f"http://{CASSETTE_HOST}/rest/disk.file.get"
    assert _secrets_in(shown.out + shown.err, token_env) == []
    assert [value for value in PEOPLE if value in shown.out] == []
    assert "would record" in shown.err


def test_keep_personal_keeps_people_but_never_secrets(webhook_env: RealPortal, tmp_path: Path) -> None:
    text = _record(tmp_path, "private", "--keep-personal")
    assert _secrets_in(text, webhook_env) == []
    result = json.loads(yaml.safe_load(text)["interactions"][0]["response"]["body"]["string"])["result"]
    assert result["CREATED_BY"]["EMAIL"] == "ivan.petrov@realcorp.ru"
    assert result["CREATED_BY"]["PERSONAL_MOBILE"] == "+7 912 345-67-89"
    assert result["NOTE"] == "uploaded by Ivan (ivan.petrov@realcorp.ru, +7 912 345-67-89) with REDACTED"
    # ... and the scanner flags exactly those for a public repository
    kinds = sorted({finding.kind for finding in scan.scan_text(text)})
    assert kinds == ["e-mail", "phone"]


def test_scrubber_is_idempotent_and_requests_number_their_own_placeholders() -> None:
    scrubber = recording.Scrubber(secrets=[KEY])
    body = json.dumps({"FIELDS": {"NAME": "Ivan", "LAST_NAME": "Petrov", "EMAIL": "ivan@realcorp.ru"}})
    once = scrubber.body(body, "request")
    assert json.loads(once) == {
        "FIELDS": {"NAME": "PERSON_NAME_1", "LAST_NAME": "PERSON_NAME_2", "EMAIL": "person-1@example.com"}
    }
    assert scrubber.body(once, "request") == once
    # a replay scrubs its live requests with a fresh scrubber and gets the same placeholders
    assert recording.Scrubber(secrets=["other"]).body(body, "request") == once
    # the answer reuses the request's placeholder for the same value
    assert json.loads(scrubber.body(json.dumps({"result": {"EMAIL": "ivan@realcorp.ru"}})))["result"] == {
        "EMAIL": "person-1@example.com"
    }


def test_secrets_learnt_late_are_scrubbed_from_earlier_exchanges_when_written(tmp_path: Path) -> None:
    """A refresh token first seen in the second answer is also replaced in the first one."""
    late = "late.refresh/Value"  # no shape the scanner knows: only learning it catches it
    scrubber = recording.Scrubber()
    first = {"headers": {}, "body": {"string": json.dumps({"result": {"text": f"echo {late}"}})}}
    second = {"headers": {}, "body": {"string": json.dumps({"refresh_token": late})}}
    responses = [scrubber.response(first), scrubber.response(second)]
    assert late in responses[0]["body"]["string"]
    done = scrubber.finish({"requests": [], "responses": responses})
    assert [late in r["body"]["string"] for r in done["responses"]] == [False, False]


def test_the_portal_host_goes_but_an_address_at_it_is_still_personal() -> None:
    scrubber = recording.Scrubber(host="https://acme.bitrix24.ru/rest/1/abcdefgh12/")
    text = scrubber.text("see https://acme.bitrix24.ru/company/ or mail ivan@acme.bitrix24.ru")
    assert text == f"see https://{CASSETTE_HOST}/company/ or mail person-r1@example.com"


def test_binary_bodies_and_authorization_headers_lose_their_secrets() -> None:
    scrubber = recording.Scrubber(secrets=[TOKEN])
    request = recording.Request(
        "POST",
        "https://acme.test/rest/disk.folder.uploadfile",
        b"--b\r\n\xff\xfe" + TOKEN.encode() + b"\r\n--b--\r\n",
        {"Authorization": f"Bearer {REFRESH}", "Content-Type": "multipart/form-data; boundary=b"},
    )
    done = scrubber.request(request)
    assert done.body == b"--b\r\n\xff\xfeREDACTED\r\n--b--\r\n"
    assert dict(done.headers) == {"Content-Type": "multipart/form-data; boundary=b"}
    assert scrubber.text(f"x {REFRESH} y") == "x REDACTED y"


PLANTED = {
    "webhook key": 'uri: "https://acme.bitrix24.ru/rest/1/h0m3k3y1234abcd/user.get"',
    "token in a URL": "DOWNLOAD_URL: https://x.test/download.json?auth=bafe5c69006e9f0600",
    "secret field": '{"access_token": "bafe5c69006e9f06006b"}',
    "token": "note: 0123456789abcdef0123456789abcdef0123456789abcdef0123",
    "cookie": "    Set-Cookie:\n    - a=b",
    "e-mail": '"EMAIL": "ivan.petrov@realcorp.ru"',
    "e-mail (encoded)": "uri: https://b24.test/rest/user.get?EMAIL=ivan%40realcorp.ru",
    "phone": "call +7 912 345-67-89 today",
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_scanner_catches_a_planted_secret(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cassettes"
    folder.mkdir()
    (folder / "clean.yaml").write_text('uri: "https://b24.test/rest/1/WEBHOOK_KEY_PLACEHOLDER/x"\n', encoding="utf-8")
    assert scan.main([str(folder)]) == 0
    (folder / "planted.yaml").write_text(f"a: 1\n{PLANTED[kind]}\n", encoding="utf-8")
    assert scan.main([str(folder)]) == 1
    report = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1] for line in report] == [kind.partition(" (")[0]]
    assert report[0].startswith(f"{folder / 'planted.yaml'}:2: ")
    # the report masks the value it found
    assert "h0m3k3y1234abcd" not in report[0] and "bafe5c69006e9f06006b" not in report[0]


def test_scanner_allowlist_and_placeholders(tmp_path: Path) -> None:
    data = tmp_path / "case.yaml"
    data.write_text(
        "a: ${TOKEN}\nb: person-1@example.com\nc: x@portal.test\nd: auth=REDACTED\ne: real@corp.ru\n", encoding="utf-8"
    )
    assert [f.kind for f in scan.scan_paths([str(data)])] == ["e-mail"]
    allow = tmp_path / "allow"
    allow.write_text("# the fixture's address\n^real@corp\\.ru$\n", encoding="utf-8")
    assert scan.main([str(data), "--allowlist", str(allow)]) == 0
    assert scan.main([str(data), "--allow", "corp"]) == 0


def test_repository_cassettes_and_suite_pass_the_scanner() -> None:
    root = Path(__file__).resolve().parent.parent
    allow = scan.load_allowlist(root / scan.DEFAULT_ALLOWLIST)
    assert [str(f) for f in scan.scan_paths([str(root / "cassettes"), str(root / "conformance")], allow)] == []


# --- issue 18 item 8: every spelling of a secret is scrubbed, and the scanner flags each ------------------------

OTHER_KEY = "0therH00kKey9910"  # a webhook key the recording does not know (another portal user's)
OTHER_TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6"
MIXED = "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm12"  # 40 characters, both cases and digits


def _b64(data: bytes, urlsafe: bool = False) -> str:
    import base64

    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode("ascii")


def _echoes(base: str) -> Dict[str, str]:
    """The recording's key (KEY) and unknown secrets, in the spellings a portal or an app may echo."""
    key = KEY.encode()
    return {
        "KEY_BASE64": _b64(key),
        "KEY_BASE64URL_NO_PADDING": _b64(key, urlsafe=True).rstrip("="),
        "KEY_IN_BASE64_DATA_1": _b64(b"x" + key + b" z"),  # not a key by shape: the key's own base64 goes
        "KEY_IN_BASE64_DATA_2": _b64(b"ab" + key + b"!"),
        "KEY_HEX": key.hex(),
        "KEY_HEX_UPPER": key.hex().upper(),
        "DOWNLOAD": f"{base}/disk/downloadFile/8/?ncc=1&token=disk%7CaWQ9ODMmXz1Vc3FV%7CImRvd2",
        "FRAGMENT": f"https://app.example.com/done#access_token={OTHER_TOKEN}&expires_in=3600",
        "HOOK_NO_SLASH": f"{base}/rest/9/{OTHER_KEY}",
        "HOOK_WITH_QUERY": f"{base}/rest/9/{OTHER_KEY}?start=50",
        "HOOK_ENCODED_QUERY": f"{base}/share/?back=%2Frest%2F9%2F{OTHER_KEY}%3Fstart%3D50",
        "BEARER": f"sent with Bearer {OTHER_TOKEN}",
        "FIELDS": json.dumps({"password": "hunter2-Secret", "token": "Zx9Qw8Er7Ty6"}),
        "OTHER_BASE64_KEY": _b64(OTHER_KEY.encode()),
        "MIXED_TOKEN": f"api key {MIXED}",
        "OTHER_HEX_KEY": OTHER_KEY.encode().hex(),
    }


def test_scrubber_replaces_each_spelling_in_requests_and_free_text() -> None:
    """The same spellings through the scrubber's text pass (requests, headers, form bodies use it)."""
    scrubber = recording.Scrubber(secrets=[KEY])
    for name, value in _echoes("https://acme.bitrix24.ru").items():
        out = scrubber.text(f"x {value} y", "request")
        assert KEY not in out and OTHER_KEY not in out and OTHER_TOKEN not in out and MIXED not in out, name
        assert scan.scan_text(out) == [], (name, out)
    assert scrubber.body("client_id=app.1&client_secret=Qw8Er7Ty6Ui5Op&n=1", "request") == (
        "client_id=REDACTED&client_secret=REDACTED&n=1"
    )
