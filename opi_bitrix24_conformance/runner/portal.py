"""A sample portal on loopback: answers every REST method the suite knows with its documented response.

    python -m opi_bitrix24_conformance.runner.portal                 # serves on http://127.0.0.1:8024 until Ctrl-C
    opi-bitrix24 GetUsers --url http://127.0.0.1:8024/rest/1/demo/ --users 10

    python -m opi_bitrix24_conformance.runner.portal --demo GetUsers --users 10    # start, run one CLI call, stop

Any webhook key or token is accepted (it is a demo, not an auth check); the answer is the documented
sample of the first case tagged ``documented`` whose request calls that REST method. Through a webhook,
``batch`` and the methods of the bundled limit-enforcing portal (opi_bitrix24.testing: ``crm.deal.*``,
``crm.lead.*``, ``tasks.task.list``) are answered by it instead, from thousands of generated records with
real paging and the cloud's rate limit, so bulk work (``--all``, ``iterate``, ``batch``) can be tried here:

    python -m opi_bitrix24_conformance.runner.portal --demo GetDealsList --all --quiet
"""

from __future__ import annotations

import argparse
import http.server
import json
import re
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


#: REST methods answered by the limit-enforcing portal (generated records, paging) rather than by a sample.
SIMULATED = frozenset(
    {
        "batch",
        "crm.deal.list",
        "crm.deal.get",
        "crm.deal.add",
        "crm.deal.update",
        "crm.lead.list",
        "crm.lead.get",
        "crm.lead.add",
        "crm.lead.update",
        "tasks.task.list",
    }
)
_WEBHOOK_PATH = re.compile(r"^/rest/1/[^/?]+/")


def serve(port: int, records: int = 5000, rate: float = 2.0, burst: int = 50) -> http.server.ThreadingHTTPServer:
    """The demo portal on 127.0.0.1 (``port`` 0: a free one). ``records``, ``rate`` and ``burst`` are those of
    the limit-enforcing portal behind ``batch`` and the list methods (the cloud's 2 requests/s, burst 50)."""
    from opi_bitrix24.testing import WEBHOOK_KEY, SimPortal

    answers = documented_responses()
    simulated = SimPortal(records=records, rate=rate, burst=burst)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rest_method = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
            response = answers.get(rest_method)
            if rest_method.lower() in SIMULATED and _WEBHOOK_PATH.match(self.path):
                target = _WEBHOOK_PATH.sub(f"/rest/1/{WEBHOOK_KEY}/", self.path, count=1)
                status, payload = simulated.handle(self.command, target, body)
                self._answer(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json")
                return
            if response is None:
                status, body, kind = 404, b'{"error": "ERROR_METHOD_NOT_FOUND"}', "application/json"
            else:
                # links in answers (the disk upload URL) point back at this portal
                bound = self.server.server_address
                address = f"127.0.0.1:{bound[1] if isinstance(bound, tuple) else 0}"  # served on 127.0.0.1 only
                here = expand(response, environment("http", address, "demo", "demo-token"))
                status, body, kind = 200, response_bytes(here), response_content_type(here)
            self._answer(status, body, kind)

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _any  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            # on a terminal, first clear the line: the CLI's progress line may be on it (it redraws below)
            clear = "\r\x1b[K" if getattr(sys.stderr, "isatty", lambda: False)() else ""
            sys.stderr.write(f"{clear}portal: {self.command} {self.path.split('?')[0]}\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    closing = server.server_close

    def server_close() -> None:  # the portal behind batch stops with this one
        closing()
        simulated.close()

    server.server_close = server_close  # type: ignore[method-assign]
    return server


def execute(args: argparse.Namespace) -> int:
    """The ``portal`` subcommand (options: options.py)."""
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
            server.server_close()
    print(f"sample portal: webhook URL {url} (token mode: --url 127.0.0.1:... is HTTPS; use http://)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m opi_bitrix24_conformance.runner.portal``: the same as ``opi-bitrix24-conformance portal``."""
    from .options import module_main

    return module_main("portal", argv)


if __name__ == "__main__":
    raise SystemExit(main())
