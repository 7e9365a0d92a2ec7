"""The simulated portal: a loopback HTTP server that answers like a cloud Bitrix24 portal and binds like one."""

from __future__ import annotations

import bisect
import http.server
import json
import re
import ssl
import threading
import time
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlsplit

from ._records import Records, Row, deal, lead, task

__all__ = ["PAGE", "WEBHOOK_KEY", "SimPortal", "parse_str", "start"]

#: The secret part of the simulated inbound webhook (``/rest/1/<key>/``).
WEBHOOK_KEY = "s1mP0rtalKey42"
#: Rows per page of a list method.
PAGE = 50
#: Commands per batch request.
BATCH_LIMIT = 50

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
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    break
                node = child
    return out


class _Server(http.server.ThreadingHTTPServer):
    """Many connections at once (a deep accept queue), TLS set up on each connection's own thread, and a
    client that hangs up counted in ``stats["disconnects"]`` instead of printed."""

    daemon_threads = True
    request_queue_size = 512

    def __init__(
        self,
        address: Tuple[str, int],
        handler: Any,
        context: Optional[ssl.SSLContext],
        stats: Counter[str],
    ) -> None:
        self.context = context
        self.stats = stats
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is not None:
            request = self.context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.stats["disconnects"] += 1


class _Table:
    """A data set and how a list method wraps it."""

    def __init__(self, records: Records, wrap: str) -> None:
        self.records = records
        self.wrap = wrap  # "" = the result is the list; else the key of the list inside the result
        self.matches: Dict[Tuple[int, str], List[int]] = {}


class SimPortal:
    """A limit-enforcing Bitrix24 portal on ``127.0.0.1`` (in memory; started on construction).

    ``SimPortal(records=10_000)`` serves that many generated leads, deals and tasks; :attr:`webhook` is its
    inbound-webhook URL (``base`` + ``/rest/1/<key>/``), :attr:`base` the portal address for OAuth calls
    (``auth`` = an access token), :attr:`oauth_url` its token endpoint. Close it with :meth:`close` or use
    it as a context manager.

    Limits (all durations in *portal* seconds; ``time_scale`` portal seconds pass per wall second):

    - ``rate`` / ``burst``: the leaky bucket of request intensity (cloud: 2/s, 50; Enterprise 5/s, 250);
      past it ``503 QUERY_LIMIT_EXCEEDED``. A ``batch`` request counts as one request.
    - ``command_time`` + ``row_time`` × rows: the server time of one command (a method call, or one
      command of a batch, which runs its commands one after the other). The answer is sent when that
      time has passed, so requests in flight at once overlap as on a real portal.
    - ``budget`` / ``window``: per method, at most ``budget`` seconds of server time within ``window``
      (cloud: 480 s per 600 s); a method past it answers ``429 OPERATION_TIME_LIMIT`` until enough of
      its time leaves the window; other methods keep working. Every answer's ``time`` block carries
      ``operating`` (the method's seconds within the window, this call included) and
      ``operating_reset_at`` (Unix time when its oldest recorded time leaves the window, in wall-clock
      time, so a client waiting for it waits the right amount). ``cost`` adds that many seconds of
      operating time per command without taking time (a model of a heavy method in a fast test).
    - ``ssl_context``: a server :class:`ssl.SSLContext` serves HTTPS (clients that insist on https).
    - ``serve=False``: no server of its own (:class:`SimFleet` serves many portals from one thread);
      :attr:`base` and :attr:`webhook` are empty until it is bound.
    - OAuth: a token older than ``token_ttl`` (or every token after :meth:`expire`) answers
      ``401 expired_token``; ``/oauth/token/`` rotates the refresh token (an old one is refused).

    :attr:`stats` counts ``requests``, ``503``, ``429``, ``batches``, ``commands``, ``rows`` (list rows
    served), ``refreshes``, ``expired``, ``bad_refresh`` and ``max_in_flight`` (the most requests served
    at once); :attr:`updates` counts updates per ID; :attr:`spent` sums the server seconds charged.
    ``GET /_sim/stats`` answers the counters as JSON (not counted), for a portal run in another process
    (``python -m opi_bitrix24.testing``).
    """

    def __init__(
        self,
        records: int = 1000,
        rate: float = 2.0,
        burst: int = 50,
        cost: float = 0.0,
        budget: float = 480.0,
        window: float = 600.0,
        token_ttl: float = 3600.0,
        *,
        command_time: float = 0.0,
        row_time: float = 0.0,
        time_scale: float = 1.0,
        port: int = 0,
        ssl_context: Optional[ssl.SSLContext] = None,
        serve: bool = True,
    ) -> None:
        for name, value in (
            ("records", records),
            ("cost", cost),
            ("command_time", command_time),
            ("row_time", row_time),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative")
        for name, value in (("rate", rate), ("burst", burst), ("budget", budget), ("window", window)):
            if not value > 0:
                raise ValueError(f"{name} must be positive")
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.rate, self.burst = float(rate), int(burst)
        self.cost, self.budget, self.window = float(cost), float(budget), float(window)
        self.command_time, self.row_time = float(command_time), float(row_time)
        self.time_scale = float(time_scale)
        self.token_ttl = token_ttl
        self.lock = threading.Lock()
        self._wall0 = time.time()
        self._mono0 = time.monotonic()
        self.level = 0.0
        self.stamp = self._mono0
        self.stats: Counter[str] = Counter()
        self.updates: Counter[int] = Counter()
        self.operating: Dict[str, List[Tuple[float, float]]] = {}
        self.spent = 0.0  # server seconds charged to every method since the start (or reset_counters)
        self.in_flight = 0
        self.client_id, self.client_secret = "app.sim", "simSecretValue"
        self.refresh_token = "refresh-0"
        self.tokens: Dict[str, float] = {}
        self.generation = 0
        self.access_token = self._issue()
        self.leads = Records(records, lead)
        self.deals = Records(records, deal)
        self.tasks = Records(records, task, "id")
        self._tables: Dict[str, _Table] = {
            "lead": _Table(self.leads, ""),
            "deal": _Table(self.deals, ""),
            "task": _Table(self.tasks, "tasks"),
        }
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

        self.httpd: Optional[_Server] = None
        self.base = self.webhook = self.oauth_url = ""
        if not serve:
            return
        self.httpd = _Server(("127.0.0.1", port), Handler, ssl_context, self.stats)
        self.bind(("https" if ssl_context is not None else "http"), self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def bind(self, scheme: str, port: int) -> None:
        """Set the portal's addresses: ``scheme://127.0.0.1:port`` (done by whatever serves it)."""
        self.base = f"{scheme}://127.0.0.1:{port}"
        self.webhook = f"{self.base}/rest/1/{WEBHOOK_KEY}/"
        self.oauth_url = f"{self.base}/oauth/token/"

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and release the port."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> SimPortal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client_rate_limit(self) -> Tuple[float, int]:
        """The portal's bucket in wall-clock terms, as the client's ``rate_limit`` setting takes it."""
        return (self.rate * self.time_scale, self.burst)

    def reset_counters(self) -> None:
        """Empty the bucket, the operating-time records, :attr:`stats` and :attr:`updates`."""
        with self.lock:
            self.level = 0.0
            self.stamp = time.monotonic()
            self.operating.clear()
            self.spent = 0.0
            self.stats.clear()
            self.updates.clear()

    def expire(self) -> None:
        """Every access token issued so far answers ``expired_token`` from now on."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = float("-inf")

    def _issue(self) -> str:
        self.generation += 1
        token = f"access-{self.generation}"
        self.tokens[token] = self.now() + self.token_ttl
        return token

    # --- the portal's clock --------------------------------------------------------------------

    def now(self) -> float:
        """Portal time (Unix seconds; runs ``time_scale`` times as fast as the wall clock)."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.time_scale

    def wall(self, portal_time: float) -> float:
        """The wall-clock Unix time of a portal time."""
        return self._wall0 + (portal_time - self._wall0) / self.time_scale

    def _wait_until(self, portal_time: float) -> None:
        left = (portal_time - self.now()) / self.time_scale
        if left > 0:
            time.sleep(left)

    # --- request handling --------------------------------------------------------------------

    def handle(self, verb: str, target: str, body: bytes) -> Answer:
        """Answer one HTTP request (taking its server time); ``(status, JSON object)``."""
        shown = self.stats_answer(target)
        if shown is not None:
            return shown
        self.enter()
        try:
            status, answer, finished = self.answer(target, body)
            self._wait_until(finished)
            return status, answer
        finally:
            self.leave()

    def stats_answer(self, target: str) -> Optional[Answer]:
        """The answer of ``GET /_sim/stats`` (not counted as a request); None for any other target."""
        if urlsplit(target).path.rstrip("/") != "/_sim/stats":
            return None
        with self.lock:
            return 200, {"stats": dict(self.stats), "updates": {str(k): v for k, v in self.updates.items()}}

    def enter(self) -> None:
        """Count a request arriving (``requests``, the requests in flight)."""
        with self.lock:
            self.stats["requests"] += 1
            self.in_flight += 1
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.in_flight)

    def leave(self) -> None:
        """Count a request answered."""
        with self.lock:
            self.in_flight -= 1

    def answer(self, target: str, body: bytes) -> Tuple[int, Dict[str, Any], float]:
        """Answer one request without waiting for its server time: ``(status, JSON object, portal time at
        which the answer is due)``; :meth:`handle` and :class:`SimFleet` wait until then."""
        parts = urlsplit(target)
        return self._handle(parts.path, parts.query, body)

    def due_in(self, portal_time: float) -> float:
        """Wall-clock seconds from now until ``portal_time`` (0 if it has passed)."""
        return max(0.0, (portal_time - self.now()) / self.time_scale)

    def _handle(self, path: str, query: str, body: bytes) -> Tuple[int, Dict[str, Any], float]:
        if path.rstrip("/") == "/oauth/token":
            return (*self._token(parse_str(query)), self.now())
        params: Dict[str, Any] = parse_str(query)
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                loaded = parse_str(body.decode("utf-8", "replace"))
            if isinstance(loaded, dict):
                params.update(loaded)
        match = re.fullmatch(r"/rest/(?:1/([^/]+)/)?([A-Za-z0-9_.]+?)(?:\.json)?", path)
        if not match:
            return (*self._error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!"), self.now())
        key, method = match.groups()
        method = method.lower()
        if not self._take():
            with self.lock:
                self.stats["503"] += 1
            return (*self._error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), self.now())
        if key is not None:
            if key != WEBHOOK_KEY:
                return (*self._error(401, "INVALID_CREDENTIALS", "Invalid request credentials"), self.now())
        else:
            token = str(params.pop("auth", ""))
            with self.lock:
                expiry = self.tokens.get(token)
            if expiry is None:
                return (*self._error(401, "invalid_token", "The access token provided is invalid."), self.now())
            if expiry <= self.now():
                with self.lock:
                    self.stats["expired"] += 1
                return (*self._error(401, "expired_token", "The access token provided has expired."), self.now())
        arrived = self.now()
        if method == "batch":
            status, answer, finished = self._batch(params, arrived)
        else:
            status, answer, finished = self._run(method, params, arrived)
        return status, answer, finished

    def _take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.stamp) * self.rate * self.time_scale)
            self.stamp = now
            if self.level + 1 > self.burst + 1e-9:
                return False
            self.level += 1
            return True

    @staticmethod
    def _error(status: int, code: str, text: str) -> Answer:
        return status, {"error": code, "error_description": text}

    def _spent(self, method: str, at: float) -> List[Tuple[float, float]]:
        """The method's recorded server times still inside the window at portal time ``at`` (under the lock)."""
        spent = [(t, c) for t, c in self.operating.get(method, []) if t > at - self.window]
        self.operating[method] = spent
        return spent

    def _block(self, start: float, finish: float, operating: float, reset_at: float) -> Dict[str, Any]:
        """A ``time`` block as the portal sends it (moments in wall-clock time, durations in portal seconds)."""
        began, ended, reset = self.wall(start), self.wall(finish), self.wall(reset_at)
        return {
            "start": round(began, 6),
            "finish": round(ended, 6),
            "duration": round(finish - start, 6),
            "processing": round(finish - start, 6),
            "date_start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(began)),
            "date_finish": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ended)),
            # Unix seconds as the portal sends them (whole); to the microsecond when time is scaled, where a
            # whole wall-clock second would be time_scale portal seconds
            "operating_reset_at": int(reset) + 1 if self.time_scale == 1 else round(reset, 6),
            "operating": round(operating, 6),
        }

    def run(self, method: str, params: Dict[str, Any]) -> Answer:
        """One method call now, without waiting for its server time (see :meth:`handle`)."""
        status, answer, _ = self._run(method.lower(), params, self.now())
        return status, answer

    def _run(self, method: str, params: Dict[str, Any], at: float) -> Tuple[int, Dict[str, Any], float]:
        """One method call starting at portal time ``at``: ``(status, answer, portal time it finishes)``."""
        with self.lock:
            used = sum(c for _, c in self._spent(method, at))
        if used >= self.budget - 1e-9:
            with self.lock:
                self.stats["429"] += 1
            status, answer = self._error(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
            return status, answer, at
        handler = self._handlers().get(method)
        if handler is None:
            status, answer = self._error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
            return status, answer, at
        status, answer, rows = handler(params)
        duration = self.command_time + self.row_time * rows
        finish = at + duration
        charge = duration + self.cost
        with self.lock:
            self.stats["rows"] += rows if status == 200 and method.endswith((".list", ".get")) else 0
            spent = self._spent(method, finish)
            if charge:
                spent.append((finish, charge))
                self.spent += charge
            used = sum(c for _, c in spent)
            reset_at = (spent[0][0] if spent else finish) + self.window
        answer["time"] = self._block(at, finish, used, reset_at)
        return status, answer, finish

    def _handlers(self) -> Dict[str, Callable[[Dict[str, Any]], Tuple[int, Dict[str, Any], int]]]:
        return {
            "crm.lead.list": lambda p: self._list(self._tables["lead"], "ID", p),
            "crm.deal.list": lambda p: self._list(self._tables["deal"], "ID", p),
            "tasks.task.list": lambda p: self._list(self._tables["task"], "id", p),
            "crm.lead.get": lambda p: self._get(self.leads, p),
            "crm.deal.get": lambda p: self._get(self.deals, p),
            "crm.lead.update": lambda p: self._update(self.leads, p),
            "crm.deal.update": lambda p: self._update(self.deals, p),
            "crm.lead.add": lambda p: self._add(self.leads, p),
            "crm.deal.add": lambda p: self._add(self.deals, p),
            "profile": lambda p: (200, {"result": {"ID": "1", "ADMIN": True, "NAME": "Sim", "LAST_NAME": "Admin"}}, 0),
            "server.time": lambda p: (200, {"result": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}, 0),
        }

    # --- methods ---------------------------------------------------------------------------------

    def _list(self, table: _Table, id_field: str, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any], int]:
        flt = params.get("filter") or {}
        if not isinstance(flt, dict):
            status, refused = self._error(400, "INVALID_ARG_VALUE", "filter must be an object")
            return status, refused, 0
        order = params.get("order") or {}
        descending = isinstance(order, dict) and any(str(v).upper() == "DESC" for v in order.values())
        lo, hi = 1, len(table.records)  # the ID range, inclusive
        checks: List[Tuple[str, str, Any]] = []
        for key, value in flt.items():
            bare = str(key).lstrip("<>=!%")
            op = str(key)[: len(str(key)) - len(bare)]
            if bare.upper() == id_field.upper() and op in (">", ">=", "<", "<="):
                bound = int(value) if str(value).strip().lstrip("-").isdigit() else 0
                if op == ">":
                    lo = max(lo, bound + 1)
                elif op == ">=":
                    lo = max(lo, bound)
                elif op == "<":
                    hi = min(hi, bound - 1)
                else:
                    hi = min(hi, bound)
            else:
                checks.append((bare, op, value))
        ids: Sequence[int] = range(lo, hi + 1) if lo <= hi else range(0)
        if checks:
            matching = self._matching(table, checks)
            ids = matching[bisect.bisect_left(matching, lo) : bisect.bisect_right(matching, hi)]
        if descending:
            ids = ids[::-1]
        select = params.get("select")
        fields = None
        if isinstance(select, dict):
            select = list(select.values())
        if isinstance(select, list) and select and "*" not in select:
            fields = [id_field] + [str(f) for f in select if str(f) != id_field]
        start = int(params.get("start", 0) or 0) if str(params.get("start", 0)).lstrip("-").isdigit() else 0
        chosen = ids[:PAGE] if start < 0 else ids[start : start + PAGE]
        page: List[Row] = []
        for number in chosen:
            row = table.records.row(number)
            if row is not None:
                page.append({f: row.get(f) for f in fields} if fields else row)
        answer: Dict[str, Any] = {"result": {table.wrap: page} if table.wrap else page}
        if start < 0:
            answer["total"] = 0
        else:
            answer["total"] = len(ids)
            if start + PAGE < len(ids):
                answer["next"] = start + PAGE
        return 200, answer, len(page)

    def _matching(self, table: _Table, checks: List[Tuple[str, str, Any]]) -> List[int]:
        """The IDs whose row passes every non-ID condition (cached until the table changes)."""
        key = (table.records.version, json.dumps(checks, sort_keys=True, default=str))
        found = table.matches.get(key)
        if found is None:
            found = [
                number
                for number in range(1, len(table.records) + 1)
                if all(_passes(table.records[number - 1].get(f), op, v) for f, op, v in checks)
            ]
            table.matches = {key: found}
        return found

    def _get(self, rows: Records, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any], int]:
        row = rows.row(_number(params.get("id") or params.get("ID")))
        if row is None:
            status, answer = self._error(400, "NOT_FOUND", "Not found")
            return status, answer, 0
        return 200, {"result": row}, 1

    def _update(self, rows: Records, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any], int]:
        number = _number(params.get("id") or params.get("ID"))
        fields = params.get("fields") or {}
        with self.lock:
            done = rows.update(number, fields if isinstance(fields, dict) else {})
            if done:
                self.updates[number] += 1
        if not done:
            status, answer = self._error(400, "NOT_FOUND", "Not found")
            return status, answer, 0
        return 200, {"result": True}, 1

    def _add(self, rows: Records, params: Dict[str, Any]) -> Tuple[int, Dict[str, Any], int]:
        fields = params.get("fields") or {}
        if not isinstance(fields, dict):
            status, answer = self._error(400, "INVALID_ARG_VALUE", "fields must be an object")
            return status, answer, 0
        with self.lock:
            number = rows.add(fields)
        return 200, {"result": number}, 1

    # --- batch -------------------------------------------------------------------------------------

    def _batch(self, params: Dict[str, Any], arrived: float) -> Tuple[int, Dict[str, Any], float]:
        with self.lock:
            self.stats["batches"] += 1
        commands = params.get("cmd") or {}
        halt = str(params.get("halt", "0")).lower() in ("1", "true", "y")
        if isinstance(commands, list):
            commands = {str(i): c for i, c in enumerate(commands)}
        if not isinstance(commands, dict):
            status, answer = self._error(400, "INVALID_ARG_VALUE", "cmd must be an object")
            return status, answer, arrived
        out: Dict[str, Dict[str, Any]] = {
            p: {} for p in ("result", "result_error", "result_total", "result_next", "result_time")
        }
        clock = arrived
        for index, (key, text) in enumerate(commands.items()):
            if index >= BATCH_LIMIT:
                out["result_error"][key] = {
                    "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                    "error_description": "Max batch length exceeded",
                }
                continue
            method, _, query = str(text).partition("?")
            method = method.strip().lower()
            if method == "batch":
                out["result_error"][key] = {
                    "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
                    "error_description": "Method is not allowed for batch usage",
                }
                continue
            sub = self._resolve(parse_str(query), out)
            with self.lock:
                self.stats["commands"] += 1
            _, answer, clock = self._run(method, sub, clock)
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
        with self.lock:
            used = sum(c for _, c in self._spent("batch", clock))
        return 200, {"result": result, "time": self._block(arrived, clock, used, clock + self.window)}, clock

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
            if isinstance(node, str):
                return node
            return json.dumps(node) if isinstance(node, (dict, list)) else str(node)

        return self._REF.sub(lookup, value)

    # --- OAuth -------------------------------------------------------------------------------------

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


def _number(value: Any) -> int:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else 0


def _passes(actual: Any, op: str, wanted: Any) -> bool:
    """One filter condition: ``=``/none exact (a list: any of), ``!`` not, ``%`` contains, ``<``/``>`` compare."""
    if op in ("", "="):
        return str(actual) in [str(w) for w in wanted] if isinstance(wanted, list) else str(actual) == str(wanted)
    if op in ("!", "!="):
        return str(actual) not in [str(w) for w in wanted] if isinstance(wanted, list) else str(actual) != str(wanted)
    if op == "%":
        return str(wanted).lower() in str(actual).lower()
    try:
        left, right = float(str(actual)), float(str(wanted))
    except ValueError:
        left_text, right_text = str(actual), str(wanted)
        return {
            ">": left_text > right_text,
            ">=": left_text >= right_text,
            "<": left_text < right_text,
            "<=": left_text <= right_text,
        }.get(op, False)
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}.get(op, False)


def start(records: int = 1000, **options: Any) -> SimPortal:
    """A started portal (close it with ``.close()`` or use it as a context manager)."""
    return SimPortal(records=records, **options)
