"""A loopback replay server: serves a case's canned responses in order and records every request it receives.

It answers a request that differs from the script (or one too many) with a 4xx that no transport policy re-sends;
the verdict is not the server's: ``judging.judge`` compares the recorded requests with the case.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from .judging import request_diff
from .loading import response_bytes, response_content_type
from .model import Received

#: The status ``_answer`` gives for an exchange whose response is ``{drop: true}``.
DROP = 0
#: The answer to a request the case did not expect (or one that differs from it): a 4xx that no transport
#: policy re-sends (OPI re-sends any 5xx), with a JSON error body, so the failure is reported once.
REFUSED_STATUS = 400


#: its body: no detail of the request (the path holds the webhook key, which a CLI may write to --out)
REFUSAL = (
    b'{"error": "CONFORMANCE_UNEXPECTED_REQUEST", '
    b'"error_description": "this request differs from the case: see the conformance report"}'
)


class ReplayServer:
    """Plain HTTP or TLS on 127.0.0.1, one expected exchange list at a time (``load``).

    The server answers on every name of the loopback address: ``127.0.0.1`` is the portal, ``localhost``
    another origin (a redirect target). A request's origin is the server's scheme plus its ``Host`` header;
    it is compared with the exchange's ``origin`` when the exchange names one (the runner fills in the portal).
    """

    def __init__(self, tls_context: Optional[ssl.SSLContext] = None, relax: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._exchanges: List[Dict[str, Any]] = []
        self.served = 0
        self._refusing = False
        self._received: List[Received] = []
        self.scheme = "https" if tls_context is not None else "http"
        self.relax = tuple(relax)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                origin = f"{server.scheme}://{self.headers.get('Host') or ''}"
                status, payload, content_type, extra = server._answer(
                    self.command, self.path, body, origin, self.headers.get("Content-Type", "")
                )
                if status == DROP:  # the script says: close the connection without an answer
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls_context is not None:
            self._httpd.socket = tls_context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def load(self, exchanges: List[Dict[str, Any]]) -> None:
        with self._lock:
            self._exchanges = list(exchanges)
            self.served = 0
            self._refusing = False
            self._received = []

    def _answer(
        self, verb: str, target: str, body: bytes, origin: str, content_type: str = ""
    ) -> Tuple[int, bytes, str, Dict[str, str]]:
        with self._lock:
            self._received.append(Received(verb, target, body, origin, content_type))
            if self._refusing or self.served >= len(self._exchanges):  # after the first difference: refused
                self._refusing = True
                return REFUSED_STATUS, REFUSAL, "application/json", {}
            exchange = self._exchanges[self.served]
            self.served += 1
            if request_diff(exchange["request"], verb, target, body, origin, self.relax, content_type):
                self._refusing = True
                return REFUSED_STATUS, REFUSAL, "application/json", {}
            response: Mapping[str, Any] = exchange["response"]
            if response.get("drop"):
                return DROP, b"", "", {}
            extra = {
                str(k): str(v) for k, v in (response.get("headers") or {}).items() if str(k).lower() != "content-type"
            }
            status = int(response.get("status", 200))
            return status, response_bytes(response), response_content_type(response), extra

    def received(self) -> Tuple[Received, ...]:
        """Every request received since ``load``, in order."""
        with self._lock:
            return tuple(self._received)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
