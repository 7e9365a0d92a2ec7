# ruff: noqa: E501
"""Upload memory and time (issue 10): opi_bitrix24 vs plain requests vs a streamed body, per upload path.

    python benchmarks/uploads.py [--mib 200] [--repeat 3] [--conversion-only]

A file of --mib MiB is written to a temporary directory; a loopback server (in this process) reads and
discards every body. Each measurement runs in a FRESH Python process: it warms up (imports, one small
call), notes its peak RSS (VmHWM), does one upload, and reports the growth of the peak and the wall time
of the upload. Per path, the rows are:

- ours: the opi_bitrix24 function (file given as a path);
- requests: the same request built the usual way with requests (``files=`` for multipart, ``json=``
  with the base64 text for the JSON bodies);
- floor: the same bytes sent as a streamed body by hand (the file read in chunks, base64 encoded per
  chunk, ``Content-Length`` given): what the wire needs.

Growth is shown as a multiple of the file size, time in seconds; the ratio column is ours / floor time.
Also measured: single-quoted JSON text (the CLI accepts it) vs the same text double-quoted
(``--conversion-only``: that measurement alone, a few seconds).
Targets: growth <= 0.1x the file, time <= 1.2x the floor. Numbers are for one machine (Linux: /proc).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import timeit
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        self._answer({"result": {"field": "file", "uploadUrl": f"http://127.0.0.1:{port}/upload/"}})

    def do_POST(self) -> None:
        left = int(self.headers.get("Content-Length") or 0)
        while left:
            chunk = self.rfile.read(min(left, 2**20))
            if not chunk:
                break
            left -= len(chunk)
        self._answer({"result": {"ID": 1}})

    def _answer(self, payload: Dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


CHILD = textwrap.dedent(
    r'''
    import base64, json, sys, time
    import requests
    import opi_bitrix24 as b24

    def peak():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

    kind, base, path = sys.argv[1:4]
    webhook = base + "/rest/1/benchKey0123/"
    upload_url = base + "/upload/"
    RU = "Отчёт за 2026 год.bin"
    TEXT = "Годовой отчёт — во вложении"
    session = requests.Session()

    class Streamed:
        """The floor: chunks of the file (base64 per chunk where asked) between literal bytes."""
        def __init__(self, head, tail, encode):
            self.head, self.tail, self.encode = head, tail, encode
            size = __import__("os").path.getsize(path)
            self.length = len(head) + len(tail) + (4 * ((size + 2) // 3) if encode else size)
        def __len__(self):
            return self.length
        def __iter__(self):
            yield self.head
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(3 * 2**18), b""):
                    yield base64.b64encode(chunk) if self.encode else chunk
            yield self.tail

    def json_floor(url, before, after):
        head, tail = before.encode(), after.encode()
        return session.post(url, data=Streamed(head, tail, True), headers={"Content-Type": "application/json"})

    def run():
        if kind == "ours-folder":
            return b24.upload_file_to_folder(webhook, "report.bin", path, 50)
        if kind == "ours-storage":
            return b24.upload_file_to_storage(webhook, "report.bin", path, 3)
        if kind == "ours-storage-ru":
            return b24.upload_file_to_storage(webhook, RU, path, 3)
        if kind == "ours-picture":
            return b24.change_chat_picture(webhook, 7, path)
        if kind == "ours-post-ru":
            return b24.create_post(webhook, TEXT, ["UA"], {RU: path}, "Отчёт")
        if kind == "requests-folder":
            with open(path, "rb") as handle:
                return session.post(upload_url, files={"file": ("report.bin", handle)}).json()
        content = lambda: base64.b64encode(open(path, "rb").read()).decode()
        if kind == "requests-storage":
            return session.post(webhook + "disk.storage.uploadfile", json={"data": {"NAME": "report.bin"}, "id": "3", "fileContent": ["report.bin", content()]}).json()
        if kind == "requests-storage-ru":
            return session.post(webhook + "disk.storage.uploadfile", data=json.dumps({"data": {"NAME": RU}, "id": "3", "fileContent": [RU, content()]}, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"}).json()
        if kind == "requests-picture":
            return session.post(webhook + "im.chat.updateAvatar", json={"CHAT_ID": "7", "AVATAR": content()}).json()
        if kind == "requests-post-ru":
            body = {"POST_MESSAGE": TEXT, "POST_TITLE": "Отчёт", "DEST": ["UA"], "FILES": [[RU, content()]]}
            return session.post(webhook + "log.blogpost.add", data=json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"}).json()
        if kind == "floor-folder":
            boundary = "b" * 32
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="report.bin"\r\n\r\n'.encode()
            tail = f"\r\n--{boundary}--\r\n".encode()
            body = Streamed(head, tail, False)
            return session.post(upload_url, data=body, headers={"Content-Type": "multipart/form-data; boundary=" + boundary}).json()
        if kind == "floor-storage":
            return json_floor(webhook + "disk.storage.uploadfile", '{"data": {"NAME": "report.bin"}, "id": "3", "fileContent": ["report.bin", "', '"]}').json()
        if kind == "floor-storage-ru":
            return json_floor(webhook + "disk.storage.uploadfile", '{"data": {"NAME": "%s"}, "id": "3", "fileContent": ["%s", "' % (RU, RU), '"]}').json()
        if kind == "floor-picture":
            return json_floor(webhook + "im.chat.updateAvatar", '{"CHAT_ID": "7", "AVATAR": "', '"}').json()
        if kind == "floor-post-ru":
            return json_floor(webhook + "log.blogpost.add", '{"POST_MESSAGE": "%s", "POST_TITLE": "Отчёт", "DEST": ["UA"], "FILES": [["%s", "' % (TEXT, RU), '"]]}').json()
        raise SystemExit("unknown kind " + kind)

    with b24.settings(rate_limit=None, retries=0):
        b24.get_users(webhook, [1])
        session.get(webhook + "user.get").json()
        before = peak()
        started = time.perf_counter()
        answer = run()
        seconds = time.perf_counter() - started
        assert answer == {"result": {"ID": 1}}, answer
        print(json.dumps({"growth": peak() - before, "seconds": seconds}))
    '''
)

PATHS = [
    ("UploadFileToFolder (multipart, step 2)", "folder"),
    ("UploadFileToStorage (base64 in JSON)", "storage"),
    ("UploadFileToStorage, Cyrillic file name", "storage-ru"),
    ("ChangeChatPicture (base64 in JSON)", "picture"),
    ("CreatePost, Russian text + file", "post-ru"),
]


def measure(kinds: List[str], base: str, path: Path, repeat: int) -> Dict[str, Tuple[float, float]]:
    """Per kind, (peak growth in bytes, wall seconds): the median growth and the best time of ``repeat``
    runs; the kinds take turns (in a rotating order) so that a busy moment does not hit one of them only."""
    growths: Dict[str, List[float]] = {kind: [] for kind in kinds}
    times: Dict[str, List[float]] = {kind: [] for kind in kinds}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for turn in range(repeat):
        for kind in kinds[turn % len(kinds) :] + kinds[: turn % len(kinds)]:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, kind, base, str(path)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            growths[kind].append(result["growth"])
            times[kind].append(result["seconds"])
    return {kind: (statistics.median(growths[kind]), min(times[kind])) for kind in kinds}


def conversion(repeat: int) -> Tuple[int, float, float]:
    """Size of the structure and the time ratios single-quoted / double-quoted (plain, and with
    double quotes and escapes inside the single-quoted strings)."""
    from opi_bitrix24 import _convert as cv

    rows = [
        {
            "ID": i,
            "TITLE": f"Сделка номер {i}",
            "FIELDS": {"COMMENTS": "text, with: {braces}", "TAGS": ["a", "b"], "OK": True, "NONE": None},
        }
        for i in range(2200)
    ]
    double = json.dumps(rows, ensure_ascii=False)
    single = double.replace('"', "'")
    tricky_single = single.replace("text,", "text \"q\" \\'x\\',")
    tricky_double = double.replace("text,", "text \\\"q\\\" 'x',")
    assert cv.lenient_json(single) == json.loads(double)
    assert cv.lenient_json(tricky_single) == json.loads(tricky_double)

    def ratio(ours: Any, base: Any) -> float:
        """Best time of ``ours`` / best time of ``base``, measured in alternation (a busy moment of the
        machine hits both, not one of them only)."""
        ours_times, base_times = [], []
        for _ in range(repeat * 6):
            base_times.append(timeit.timeit(base, number=5))
            ours_times.append(timeit.timeit(ours, number=5))
        return min(ours_times) / min(base_times)

    plain = ratio(lambda: cv.lenient_json(single), lambda: json.loads(double))
    tricky = ratio(lambda: cv.lenient_json(tricky_single), lambda: json.loads(tricky_double))
    return len(double.encode()), plain, tricky


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--conversion-only", action="store_true", help="only the single-quoted JSON conversion")
    args = parser.parse_args()
    if args.conversion_only:
        return print_conversion(args.repeat)
    if not Path("/proc/self/status").exists():
        print("peak RSS is read from /proc/self/status (Linux only)")
        return 2
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    size = args.mib * 2**20
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.bin"
        block = os.urandom(2**20)
        with path.open("wb") as handle:
            for _ in range(args.mib):
                handle.write(block)
        print(f"file: {args.mib} MiB; peak RSS growth as a multiple of the file, wall seconds; best of {args.repeat}")
        print("| path | ours | requests | streamed floor | ours / floor time |")
        print("|---|---|---|---|---|")
        for title, suffix in PATHS:
            kinds = [f"{who}-{suffix}" for who in ("ours", "requests", "floor")]
            results = measure(kinds, base, path, args.repeat)
            cells = [f"{results[kind][0] / size:.3f}×, {results[kind][1]:.2f} s" for kind in kinds]
            ratio = results[kinds[0]][1] / results[kinds[2]][1]
            print(f"| {title} | {' | '.join(cells)} | {ratio:.2f} |", flush=True)
    server.shutdown()
    print()
    return print_conversion(args.repeat)


def print_conversion(repeat: int) -> int:
    size_bytes, plain, tricky = conversion(repeat)
    print(f"single-quoted JSON ({size_bytes // 1024} KiB): {plain:.2f}× json.loads of the double-quoted text;")
    print(f"with double quotes and \\' escapes inside the strings: {tricky:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
