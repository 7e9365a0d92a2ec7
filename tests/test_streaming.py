"""Streamed uploads (issue 10): exact bytes and Content-Length on the wire, retries, bounded memory."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, ClassVar, Dict, Iterator, List

import pytest
from test_requote import _slow_lenient, _slow_requote

import opi_bitrix24 as b24
from opi_bitrix24 import _convert as cv
from opi_bitrix24 import _core, _stream
from opi_bitrix24._errors import InvalidArgument
from opi_bitrix24._shared import file_pairs
from opi_bitrix24_conformance.runner.cases import parse_multipart

ROOT = Path(__file__).resolve().parent.parent


def old_body(params: Dict[str, Any]) -> bytes:
    """The in-memory encoding the streamed body must equal (the code before streaming)."""
    return json.dumps(params, ensure_ascii=False, default=_core._json_default).encode("utf-8")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "Отчёт.bin"
    path.write_bytes(bytes(range(256)) * 40 + b"\x01\x02")  # 10242 bytes: not a multiple of 3
    return path


@pytest.mark.parametrize(
    "size", [0, 1, 2, 3, 4, _stream.CHUNK - 1, _stream.CHUNK, _stream.CHUNK + 1, 2 * _stream.CHUNK + 2]
)
def test_base64_of_a_file_is_the_standard_encoding_at_any_size(tmp_path: Path, size: int) -> None:
    content = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(content)
    for value in (str(path), content):
        encoded = cv.base64_source(value, "file")
        assert b"".join(encoded.chunks()) == base64.b64encode(content)
        assert len(encoded) == len(base64.b64encode(content)) == 4 * -(-size // 3)


@pytest.mark.parametrize(
    ("name", "text"),
    [("picture.png", "plain text"), ("Отчёт 2026.png", 'Привет, мир — «тест» \u2028 "quoted" \\ ✓ 😀')],
)
def test_streamed_json_body_equals_the_in_memory_encoding(sample: Path, name: str, text: str) -> None:
    content = sample.read_bytes()
    streamed = {
        "data": {"NAME": name},
        "POST_MESSAGE": text,
        "fileContent": [name, cv.base64_source(str(sample), "file")],
        "FILES": [
            [name, cv.base64_source(content, "f")],
            ["b.txt", cv.base64_source(base64.b64encode(b"xy").decode(), "f")],
        ],
        "empty": cv.base64_source(b"", "f"),
    }
    in_memory = {
        "data": {"NAME": name},
        "POST_MESSAGE": text,
        "fileContent": [name, base64.b64encode(content).decode()],
        "FILES": [[name, base64.b64encode(content).decode()], ["b.txt", "eHk="]],
        "empty": "",
    }
    body = _core._json_body(streamed)
    assert isinstance(body, _stream.StreamedBody)
    wire = b"".join(body)
    assert wire == old_body(in_memory) == old_body(streamed)
    assert len(body) == len(wire)
    assert b"".join(body) == wire  # iterating again gives the same bytes (re-read from the start)


def test_user_text_like_a_placeholder_stays_text(sample: Path) -> None:
    fake = _stream.PLACEHOLDER.format(nonce="0" * 16, index=0)
    params = {"a": fake, "b": cv.base64_source(str(sample), "f"), "c": "\\u0000"}
    assert b"".join(_core._json_body(params)) == old_body(params)


def test_a_body_without_files_stays_bytes() -> None:
    assert _core._json_body({"NAME": "Отчёт", "n": 1}) == old_body({"NAME": "Отчёт", "n": 1})


def test_file_data_keeps_bytes_and_defers_paths(sample: Path) -> None:
    content = b"\x00\x01"
    assert cv.file_data(content, "f") is content
    source = cv.file_data(sample, "f")
    assert isinstance(source, _stream.FileSource) and len(source) == sample.stat().st_size
    assert cv.binary(str(sample), "f") == sample.read_bytes()
    assert file_pairs({"a": b"hello"}, "files") == [["a", "aGVsbG8="]]


def test_a_file_that_shrinks_while_sent_is_an_error(sample: Path) -> None:
    source = cv.file_data(str(sample), "file")
    sample.write_bytes(b"short")
    with pytest.raises(InvalidArgument, match="got shorter"):
        b"".join(_stream.Base64(source).chunks())


def test_a_file_that_grows_while_sent_is_an_error_before_its_last_bytes(sample: Path) -> None:
    source = cv.file_data(str(sample), "file")
    sample.write_bytes(sample.read_bytes() + b"more")
    with pytest.raises(InvalidArgument, match="grew"):
        next(source.chunks())


def test_a_changed_file_fails_the_call(portal: Any, sample: Path) -> None:
    source = cv.file_data(str(sample), "file")
    sample.write_bytes(b"x")
    with pytest.raises(InvalidArgument, match="got shorter"):
        _core.upload(f"{portal.base}/upload/", "file", "a.bin", source)


def _expect_content_length(request: Dict[str, Any]) -> None:
    assert request["headers"]["content-length"] == str(len(request["body"]))
    assert "transfer-encoding" not in request["headers"]


def test_storage_upload_on_the_wire_and_retried_in_full(portal: Any, sample: Path) -> None:
    portal.reply(503, {"error": "QUERY_LIMIT_EXCEEDED"})
    portal.reply(200, {"result": {"ID": 5}})
    answer = b24.upload_file_to_storage(portal.webhook, "Отчёт.bin", str(sample), 3, token="")
    assert answer == {"result": {"ID": 5}}
    expected = old_body(
        {
            "data": {"NAME": "Отчёт.bin"},
            "id": "3",
            "fileContent": ["Отчёт.bin", base64.b64encode(sample.read_bytes()).decode()],
        }
    )
    assert [r["body"] for r in portal.requests] == [expected, expected]
    for request in portal.requests:
        _expect_content_length(request)


def test_chat_picture_and_post_files_on_the_wire(portal: Any, sample: Path) -> None:
    b24.change_chat_picture(portal.webhook, 7, sample)
    assert portal.requests[-1]["body"] == old_body(
        {"CHAT_ID": "7", "AVATAR": base64.b64encode(sample.read_bytes()).decode()}
    )
    _expect_content_length(portal.requests[-1])
    b24.create_post(portal.webhook, "Текст", ["UA"], {"Отчёт.bin": str(sample)}, "Заголовок")
    sent = json.loads(portal.requests[-1]["body"])
    assert sent["FILES"] == [["Отчёт.bin", base64.b64encode(sample.read_bytes()).decode()]]
    _expect_content_length(portal.requests[-1])


def test_folder_upload_streams_the_file_and_retries_in_full(portal: Any, sample: Path) -> None:
    replies: List[int] = [503, 200]

    def handler(seen: Dict[str, Any]) -> Any:
        if seen["method"] == "GET":
            answer = {"result": {"field": "file", "uploadUrl": f"{portal.base}/upload/"}}
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        return replies.pop(0), {"Content-Type": "application/json"}, b'{"result": {"ID": 9}}'

    portal.handler = handler
    assert b24.upload_file_to_folder(portal.webhook, "Отчёт.bin", sample, 50) == {"result": {"ID": 9}}
    uploads = [r for r in portal.requests if r["method"] == "POST"]
    assert len(uploads) == 2 and uploads[0]["body"] == uploads[1]["body"]
    for request in uploads:
        _expect_content_length(request)
        (part,) = parse_multipart(request["body"])
        assert (part["field"], part["filename"], part["content"]) == ("file", "Отчёт.bin", sample.read_bytes())


# --- a large upload in a fresh process: byte-identical, bounded memory ------------------------------

SIZE = 40 * 2**20

CHILD = textwrap.dedent(
    """
    import json, sys
    import opi_bitrix24 as b24

    def peak():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

    kind, webhook, path = sys.argv[1:4]
    with b24.settings(rate_limit=None, retries=0):
        b24.get_users(webhook, [1])  # warm up: requests imported, a connection made
        before = peak()
        if kind == "folder":
            answer = b24.upload_file_to_folder(webhook, "big.bin", path, 50)
        else:
            answer = b24.upload_file_to_storage(webhook, "Отчёт.bin", path, 3)
        print(json.dumps({"growth": peak() - before, "answer": answer}))
    """
)


class _Hashing(http.server.BaseHTTPRequestHandler):
    """Hashes each POST body as it arrives (never holding it), keeping its head for the boundary."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    seen: ClassVar[List[Dict[str, Any]]] = []

    def do_GET(self) -> None:
        answer = {"result": {"field": "file", "uploadUrl": f"http://127.0.0.1:{self.server.server_address[1]}/upload/"}}
        self._answer(json.dumps(answer).encode())

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        digest, head, left = hashlib.sha256(), b"", length
        while left:
            chunk = self.rfile.read(min(left, 2**20))
            if not chunk:
                break
            head = head or chunk[:512]
            digest.update(chunk)
            left -= len(chunk)
        self.seen.append(
            {
                "length": length,
                "received": length - left,
                "sha256": digest.hexdigest(),
                "head": head,
                "headers": dict(self.headers),
            }
        )
        self._answer(b'{"result": {"ID": 1}}')

    def _answer(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hashing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hashing)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rest/1/key0123/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: Any) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB
    with path.open("wb") as handle:
        for index in range(SIZE // len(block)):
            handle.write(block[index % 7 :] + block[: index % 7])
    return path


def _run_child(kind: str, webhook: str, path: Path) -> Dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, webhook, str(path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")
def test_a_large_multipart_upload_arrives_intact_in_bounded_memory(hashing_server: str, big_file: Path) -> None:
    _Hashing.seen.clear()
    result = _run_child("folder", hashing_server, big_file)
    assert result["answer"] == {"result": {"ID": 1}}
    (seen,) = [s for s in _Hashing.seen if s["head"].startswith(b"--")]
    head = seen["head"][: seen["head"].index(b"\r\n\r\n") + 4]
    boundary = head.split(b"\r\n", 1)[0]
    expected = hashlib.sha256(head)
    with big_file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            expected.update(chunk)
    expected.update(b"\r\n" + boundary + b"--\r\n")
    assert seen["received"] == seen["length"] == len(head) + SIZE + len(boundary) + 6
    assert seen["sha256"] == expected.hexdigest()
    assert "Transfer-Encoding" not in seen["headers"]
    assert 0 <= result["growth"] < SIZE / 10, result["growth"]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")
def test_a_large_base64_upload_arrives_intact_in_bounded_memory(hashing_server: str, big_file: Path) -> None:
    _Hashing.seen.clear()
    result = _run_child("storage", hashing_server, big_file)
    assert result["answer"] == {"result": {"ID": 1}}
    expected = old_body(
        {
            "data": {"NAME": "Отчёт.bin"},
            "id": "3",
            "fileContent": ["Отчёт.bin", base64.b64encode(big_file.read_bytes()).decode()],
        }
    )
    (seen,) = [s for s in _Hashing.seen if s["head"].startswith(b'{"data"')]
    assert seen["received"] == seen["length"] == len(expected)
    assert seen["sha256"] == hashlib.sha256(expected).hexdigest()
    assert 0 <= result["growth"] < SIZE / 10, result["growth"]


# --- single-quoted JSON: the fast conversion keeps the tokenizer's exact results -------------------


def _outcome(parse: Any, text: str) -> Any:
    try:
        return json.dumps(parse(text))
    except ValueError:
        return ValueError


_reference_requote, _reference_lenient = (
    _slow_requote,
    _slow_lenient,
)  # the per-character references (tests/test_requote.py)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'abc", "abc"),
        ("{'a': 'He said \"hi\"'}", {"a": 'He said "hi"'}),
        ("{'a': 'it\\'s'}", {"a": "it's"}),
        ("{'a': '\\u0027\\u0022'}", {"a": "'\""}),
        ("{\"a\": 'b', 'c': \"it's\"}", {"a": "b", "c": "it's"}),
        ("{'a': 'x\\\\'}", {"a": "x\\"}),
        ("['\\\"']", ['"']),
        ("{'Сделка': 'Привет'}", {"Сделка": "Привет"}),
    ],
)
def test_single_quoted_json_cases(text: str, expected: Any) -> None:
    assert cv.lenient_json(text) == expected == _reference_lenient(text)


def test_single_quoted_json_matches_the_reference_on_random_text() -> None:
    import random

    pieces = [*"'\"\\a{}[]:,1 ", "\\'", '\\"', "\\u0027", "\\n", "é", "'a'", '"b"', "\\\\"]
    chooser = random.Random(10)
    parsed = 0
    for _ in range(20000):
        text = "".join(chooser.choice(pieces) for _ in range(chooser.randint(0, 12)))
        assert cv._requote(text) == _reference_requote(text), text
        outcome = _outcome(cv.lenient_json, text)
        assert outcome == _outcome(_reference_lenient, text), text
        parsed += outcome is not ValueError
    assert parsed > 300  # the random texts do reach the successful paths
