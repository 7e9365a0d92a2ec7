"""Shared fixtures: a real loopback HTTP server and fast, isolated settings."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import opi_bitrix24  # noqa: E402

# The client-side leaky bucket (on by default: 2/s, burst 50) would throttle hundreds of loopback calls;
# tests that exercise it (tests/test_bulk.py) turn it on explicitly with settings(rate_limit=...).
opi_bitrix24.configure(rate_limit=None)
# Bulk work sends independent requests several at a time by default (concurrency 8), so the order in which
# they reach a portal varies; tests that pin request sequences run one at a time, and the tests of
# concurrency (tests/test_speed.py) turn it on explicitly with settings(concurrency=...).
opi_bitrix24.configure(concurrency=1)

#: OPI's catalog of the 179 functions (the contract), kept in the repository (see conformance/README.md).
CATALOG = ROOT / "conformance" / "catalog" / "opi_bitrix24.yaml"


@pytest.fixture(scope="session")
def catalog() -> Dict[str, Dict[str, Any]]:
    """Catalog entries by OPI English name (the repository's own copy: no file outside it is read)."""
    with CATALOG.open(encoding="utf-8") as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return {entry["name"]: entry for entry in yaml.load(handle, Loader=loader)}


Reply = Tuple[int, Dict[str, str], bytes]


class LoopbackServer(http.server.ThreadingHTTPServer):
    """A threaded loopback server with a deep accept queue: tests that start 8 or 200 clients at once must
    not have connections dropped by a full listen backlog (the default is 5) and retried a second later."""

    daemon_threads = True
    request_queue_size = 256


class Portal:
    """A loopback HTTP server that records requests and answers from a queue (or a default)."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.replies: List[Reply] = []
        self.default: Reply = (200, {"Content-Type": "application/json"}, b'{"result": true}')
        self.handler: Callable[[Dict[str, Any]], Reply] | None = None
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                seen = {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "body": body,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
                portal.requests.append(seen)
                if portal.handler is not None:
                    status, headers, payload = portal.handler(seen)
                else:
                    status, headers, payload = portal.replies.pop(0) if portal.replies else portal.default
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = LoopbackServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.webhook = f"{self.base}/rest/1/s3cretWebhookKey99/"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def reply(
        self, status: int = 200, payload: Any = None, raw: bytes | None = None, headers: Dict[str, str] | None = None
    ) -> None:
        body = raw if raw is not None else json.dumps(payload if payload is not None else {"result": True}).encode()
        self.replies.append((status, headers or {"Content-Type": "application/json"}, body))

    def json_body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index]["body"])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal()
    try:
        with opi_bitrix24.settings(backoff=0, retries=2):
            yield server
    finally:
        server.close()
