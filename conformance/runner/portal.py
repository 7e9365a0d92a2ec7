"""A sample portal on loopback: answers every REST method the suite knows with its documented response.

    python -m conformance.runner.portal                 # serves on http://127.0.0.1:8024 until Ctrl-C
    opi-bitrix24 GetUsers --url http://127.0.0.1:8024/rest/1/demo/ --users 10

    python -m conformance.runner.portal --demo GetUsers --users 10    # start, run one CLI call, stop

Any webhook key or token is accepted (it is a demo, not an auth check); the answer is the documented
sample of the first case tagged ``documented`` whose request calls that REST method.
"""

from __future__ import annotations

import argparse
import http.server
import subprocess
import sys
import threading
from typing import Any, Dict, List, Optional

from .cases import environment, expand, load_cases, response_bytes, response_content_type


def documented_responses() -> Dict[str, Dict[str, Any]]:
    """REST method name → the canned response of its documented case."""
    answers: Dict[str, Dict[str, Any]] = {}
    for case in load_cases():
        if "documented" not in case.tags:
            continue
        for exchange in case.http:
            rest_method = exchange["request"]["path"].rsplit("/", 1)[-1]
            answers.setdefault(rest_method, exchange["response"])
    return answers


def serve(port: int) -> http.server.ThreadingHTTPServer:
    answers = documented_responses()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            rest_method = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
            response = answers.get(rest_method)
            if response is None:
                status, body, kind = 404, b'{"error": "ERROR_METHOD_NOT_FOUND"}', "application/json"
            else:
                # links in answers (the disk upload URL) point back at this portal
                host, port = self.server.server_address[:2]
                here = expand(response, environment("http", f"{host}:{port}", "demo", "demo-token"))
                status, body, kind = 200, response_bytes(here), response_content_type(here)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _any  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"portal: {self.command} {self.path.split('?')[0]}\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8024)
    parser.add_argument("--demo", nargs=argparse.REMAINDER, help="run `opi-bitrix24 <Method> ...` once against it")
    args = parser.parse_args(argv)
    server = serve(0 if args.demo else args.port)
    url = f"http://127.0.0.1:{server.server_address[1]}/rest/1/demo/"
    if args.demo:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        command = [sys.executable, "-m", "opi_bitrix24", *args.demo, "--url", url]
        print("$ opi-bitrix24", " ".join(args.demo), "--url", url, file=sys.stderr)
        try:
            return subprocess.run(command, check=False).returncode
        finally:
            server.shutdown()
    print(f"sample portal: webhook URL {url} (token mode: --url 127.0.0.1:... is HTTPS; use http://)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
