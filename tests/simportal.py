"""A limit-enforcing loopback Bitrix24 portal for tests and benchmarks (127.0.0.1 only, in memory).

What it enforces, as the cloud platform documents it:

- a leaky bucket per portal (``rate`` requests/s, ``burst``): past it ``503 QUERY_LIMIT_EXCEEDED``;
  a ``batch`` request counts as one;
- list methods: 50 rows per page with ``total`` / ``next``; ``start=-1`` gives no count and no
  ``next``; ``filter`` with ``>ID`` / ``<ID`` / ``>=ID`` / exact fields; ``order`` by ID;
  ``crm.lead.list`` / ``crm.deal.list`` answer a bare list, ``tasks.task.list`` ``{"tasks": [...]}``;
- ``batch``: at most 50 commands (the rest get ``ERROR_BATCH_LENGTH_EXCEEDED``), ``method?query``
  strings parsed like PHP's ``parse_str``, ``$result[key][...]`` references to earlier commands
  (an unresolvable one becomes an empty value), ``result_error`` / ``result_total`` / ``result_next``
  / ``result_time``, ``halt``; all-numeric keys come back as lists (the portal's quirk);
- operating time: every call of a method costs ``cost`` seconds; past ``budget`` within
  ``window`` seconds that method answers ``429 OPERATION_TIME_LIMIT``; every answer has a ``time``
  block with ``operating`` and ``operating_reset_at``;
- OAuth: ``/rest/<method>`` with ``auth``; a token past ``token_ttl`` (or after :meth:`expire`)
  answers ``401 expired_token``; ``/oauth/token/`` rotates refresh tokens (an old one is refused).

Data: ``records`` generated leads/deals/tasks (IDs 1..N), built in memory in well under a second
for 100,000. Counters (:attr:`stats`) record requests, 503s, 429s and updates per ID.
"""

from __future__ import annotations

import bisect
import http.server
import json
import re
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qsl, urlsplit

WEBHOOK_KEY = "s1mP0rtalKey42"
PAGE = 50

Answer = Tuple[int, Dict[str, Any]]


def parse_str(query: str) -> Dict[str, Any]:
    """PHP ``parse_str``: ``a[b][]=1&a[b][]=2`` → ``{"a": {"b": {"0": "1", "1": "2"}}}``."""
    out: Dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        head, _, tail = raw_key.partition("[")
        keys = [head] + (re.findall(r"\[([^\]]*)\]", "[" + tail) if tail else [])
        node = out
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            name = str(len(node)) if key == "" else key
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
                if not isinstance(node, dict):
                    break
    return out


class SimPortal:
    """Start with ``SimPortal(records=10_000, rate=50, burst=10)``; ``.webhook`` is the webhook URL."""

    def __init__(
        self,
        records: int = 1000,
        rate: float = 2.0,
        burst: int = 50,
        cost: float = 0.0,
        budget: float = 480.0,
        window: float = 600.0,
        token_ttl: float = 3600.0,
    ) -> None:
        self.rate, self.burst = float(rate), int(burst)
        self.cost, self.budget, self.window = cost, budget, window
        self.token_ttl = token_ttl
        self.lock = threading.Lock()
        self.level = 0.0
        self.stamp = time.monotonic()
        self.stats: Counter[str] = Counter()
        self.updates: Counter[int] = Counter()
        self.operating: Dict[str, List[Tuple[float, float]]] = {}
        self.client_id, self.client_secret = "app.sim", "simSecretValue"
        self.refresh_token = "refresh-0"
        self.tokens: Dict[str, float] = {}
        self.generation = 0
        self.access_token = self._issue()
        self.leads = [
            {"ID": str(i), "TITLE": f"Lead {i}", "STATUS_ID": ("NEW", "IN_PROCESS")[i % 2]}
            for i in range(1, records + 1)
        ]
        self.deals = [{"ID": str(i), "TITLE": f"Deal {i}", "STAGE_ID": "NEW"} for i in range(1, records + 1)]
        self._id_cache: Dict[int, List[int]] = {}
        self.tasks = [{"id": str(i), "title": f"Task {i}"} for i in range(1, records + 1)]
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = portal.handle(self.command, self.path, body)
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.webhook = f"{self.base}/rest/1/{WEBHOOK_KEY}/"
        self.oauth_url = f"{self.base}/oauth/token/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SimPortal:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def expire(self) -> None:
        """Every access token issued so far answers ``expired_token`` from now on."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def _issue(self) -> str:
        self.generation += 1
        token = f"access-{self.generation}"
        self.tokens[token] = time.monotonic() + self.token_ttl
        return token

    # --- request handling --------------------------------------------------------------------

    def handle(self, verb: str, target: str, body: bytes) -> Answer:
        parts = urlsplit(target)
        self.stats["requests"] += 1
        if parts.path.rstrip("/") == "/oauth/token":
            return self._token(parse_str(parts.query))
        params: Dict[str, Any] = parse_str(parts.query)
        if body:
            try:
                params.update(json.loads(body))
            except ValueError:
                params.update(parse_str(body.decode("utf-8")))
        match = re.fullmatch(r"/rest/(?:1/([^/]+)/)?([A-Za-z0-9_.]+)", parts.path)
        if not match:
            return self._error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        key, method = match.groups()
        if not self._take():
            self.stats["503"] += 1
            return self._error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        if key is not None:
            if key != WEBHOOK_KEY:
                return self._error(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        else:
            token = str(params.pop("auth", ""))
            with self.lock:
                expiry = self.tokens.get(token)
            if expiry is None:
                return self._error(401, "invalid_token", "The access token provided is invalid.")
            if expiry <= time.monotonic():
                self.stats["expired"] += 1
                return self._error(401, "expired_token", "The access token provided has expired.")
        if method == "batch":
            return self._batch(params)
        status, answer = self.run(method, params)
        if status == 429:
            self.stats["429"] += 1
        return status, answer

    def _take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
            self.stamp = now
            if self.level + 1 > self.burst + 1e-9:
                return False
            self.level += 1
            return True

    @staticmethod
    def _error(status: int, code: str, text: str) -> Answer:
        return status, {"error": code, "error_description": text}

    def _time(self, method: str, charge: bool = True) -> Tuple[bool, Dict[str, Any]]:
        now = time.time()
        with self.lock:
            spent = [(t, c) for t, c in self.operating.get(method, []) if t > now - self.window]
            used = sum(c for _, c in spent)
            reset_at = (spent[0][0] + self.window) if spent else now + self.window
            cost = self.cost if charge else 0.0
            if used + cost > self.budget + 1e-9:
                return False, {"operating": used, "operating_reset_at": reset_at}
            if cost:
                spent.append((now, cost))
            self.operating[method] = spent
            used += cost
        block = {
            "start": now,
            "finish": now,
            "duration": 0.0,
            "processing": 0.0,
            "operating": used,
            "operating_reset_at": int(reset_at),
        }
        return True, block

    def run(self, method: str, params: Dict[str, Any]) -> Answer:
        """One method call (also each command of a batch)."""
        allowed, block = self._time(method)
        if not allowed:
            return 429, {
                "error": "OPERATION_TIME_LIMIT",
                "error_description": "Method is blocked due to operation time limit.",
            }
        handler = {
            "crm.lead.list": lambda p: self._list(self.leads, "ID", p, ""),
            "crm.deal.list": lambda p: self._list(self.deals, "ID", p, ""),
            "tasks.task.list": lambda p: self._list(self.tasks, "id", p, "tasks"),
            "crm.lead.get": lambda p: self._get(self.leads, p),
            "crm.lead.update": lambda p: self._update(self.leads, p),
            "crm.deal.update": lambda p: self._update(self.deals, p),
            "profile": lambda p: (200, {"result": {"ID": "1", "ADMIN": True}}),
        }.get(method)
        if handler is None:
            return self._error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        status, answer = handler(params)
        answer["time"] = block
        return status, answer

    def _list(self, rows: List[Dict[str, Any]], id_field: str, params: Dict[str, Any], wrap: str) -> Answer:
        flt = params.get("filter") or {}
        if not isinstance(flt, dict):
            return self._error(400, "INVALID_ARG_VALUE", "filter must be an object")
        order = params.get("order") or {}
        descending = isinstance(order, dict) and any(str(v).upper() == "DESC" for v in order.values())
        lo, hi = 0, len(rows)
        ids = None
        checks = []
        for key, value in flt.items():
            bare = key.lstrip("<>=!")
            op = key[: len(key) - len(bare)]
            if bare.upper() == "ID" and op in (">", ">=", "<", "<="):
                bound = int(value) if str(value).strip().lstrip("-").isdigit() else 0
                if ids is None:
                    ids = self._ids(rows, id_field)
                if op == ">":
                    lo = max(lo, bisect.bisect_right(ids, bound))
                elif op == ">=":
                    lo = max(lo, bisect.bisect_left(ids, bound))
                elif op == "<":
                    hi = min(hi, bisect.bisect_left(ids, bound))
                else:
                    hi = min(hi, bisect.bisect_right(ids, bound))
            else:
                checks.append((bare, str(value)))
        selected = rows[lo:hi] if lo < hi else []
        if checks:
            selected = [r for r in selected if all(str(r.get(f)) == v for f, v in checks)]
        if descending:
            selected = selected[::-1]
        start = int(params.get("start", 0) or 0)
        if start < 0:
            page = selected[:PAGE]
            answer: Dict[str, Any] = {"result": {wrap: page} if wrap else page, "total": 0}
            return 200, answer
        page = selected[start : start + PAGE]
        answer = {"result": {wrap: page} if wrap else page, "total": len(selected)}
        if start + PAGE < len(selected):
            answer["next"] = start + PAGE
        return 200, answer

    def _ids(self, rows: List[Dict[str, Any]], id_field: str) -> List[int]:
        """The sorted IDs of a data set (cached: the generated sets only change in their fields)."""
        cached = self._id_cache.get(id(rows))
        if cached is None or len(cached) != len(rows):
            cached = self._id_cache[id(rows)] = [int(r[id_field]) for r in rows]
        return cached

    def _get(self, rows: List[Dict[str, Any]], params: Dict[str, Any]) -> Answer:
        index = int(params.get("id") or params.get("ID") or 0) - 1
        if not 0 <= index < len(rows):
            return self._error(400, "NOT_FOUND", "Not found")
        return 200, {"result": rows[index]}

    def _update(self, rows: List[Dict[str, Any]], params: Dict[str, Any]) -> Answer:
        index = int(params.get("id") or params.get("ID") or 0) - 1
        if not 0 <= index < len(rows):
            return self._error(400, "NOT_FOUND", "Not found")
        fields = params.get("fields") or {}
        with self.lock:
            rows[index].update({str(k): v for k, v in fields.items()} if isinstance(fields, dict) else {})
            self.updates[index + 1] += 1
        return 200, {"result": True}

    def _batch(self, params: Dict[str, Any]) -> Answer:
        self.stats["batches"] += 1
        commands = params.get("cmd") or {}
        halt = str(params.get("halt", "0")) in ("1", "true", "True")
        if not isinstance(commands, dict):
            return self._error(400, "INVALID_ARG_VALUE", "cmd must be an object")
        out: Dict[str, Dict[str, Any]] = {
            p: {} for p in ("result", "result_error", "result_total", "result_next", "result_time")
        }
        for index, (key, text) in enumerate(commands.items()):
            if index >= 50:
                out["result_error"][key] = {
                    "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                    "error_description": "Max batch length exceeded",
                }
                continue
            method, _, query = str(text).partition("?")
            if method == "batch":
                out["result_error"][key] = {
                    "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
                    "error_description": "Method is not allowed for batch usage",
                }
                continue
            sub = self._resolve(parse_str(query), out)
            self.stats["commands"] += 1
            status, answer = self.run(method, sub)
            if status == 429:
                self.stats["429"] += 1
            if "error" in answer:
                out["result_error"][key] = {
                    "error": answer["error"],
                    "error_description": answer.get("error_description", ""),
                }
                if halt:
                    break
                continue
            out["result"][key] = answer.get("result")
            if "total" in answer:
                out["result_total"][key] = answer["total"]
            if "next" in answer:
                out["result_next"][key] = answer["next"]
            out["result_time"][key] = answer.get("time")
        listed = bool(commands) and all(str(k).isdigit() for k in commands)
        result: Dict[str, Any] = {}
        for part, values in out.items():
            # PHP arrays: an empty one is [] in JSON, and numeric keys come back as a list.
            result[part] = list(values.values()) if (listed or not values) else values
        _, block = self._time("batch", charge=False)
        return 200, {"result": result, "time": block}

    _REF = re.compile(r"\$(result|result_error|result_total|result_next|result_time)((?:\[[^\]]*\])+)")

    def _resolve(self, value: Any, out: Dict[str, Dict[str, Any]]) -> Any:
        if isinstance(value, dict):
            return {k: self._resolve(v, out) for k, v in value.items()}
        if not isinstance(value, str) or "$" not in value:
            return value

        def lookup(match: re.Match[str]) -> str:
            node: Any = out[match.group(1)]
            for step in re.findall(r"\[([^\]]*)\]", match.group(2)):
                if isinstance(node, dict) and step in node:
                    node = node[step]
                elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                    node = node[int(step)]
                else:
                    return ""  # unresolvable: empty, as the portal does
            return node if isinstance(node, str) else json.dumps(node) if isinstance(node, (dict, list)) else str(node)

        return self._REF.sub(lookup, value)

    def _token(self, params: Dict[str, Any]) -> Answer:
        if params.get("grant_type") != "refresh_token" or params.get("client_id") != self.client_id:
            return self._error(400, "invalid_client", "Invalid client")
        if params.get("client_secret") != self.client_secret:
            return self._error(401, "invalid_client", "Invalid client secret")
        with self.lock:
            if params.get("refresh_token") != self.refresh_token:
                self.stats["bad_refresh"] += 1
                return self._error(400, "invalid_grant", "The refresh token is invalid")
            self.stats["refreshes"] += 1
            self.access_token = self._issue()
            self.refresh_token = f"refresh-{self.generation}"
            return 200, {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": int(self.token_ttl),
                "domain": "127.0.0.1",
            }


def start(records: int = 1000, **options: Any) -> SimPortal:
    """A started portal (close it with ``.close()`` or use it as a context manager)."""
    return SimPortal(records=records, **options)


__all__ = ["SimPortal", "parse_str", "start"]
