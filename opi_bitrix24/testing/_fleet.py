"""Many simulated portals served by one thread: for clients that talk to hundreds of portals at once."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
from collections import Counter
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ._portal import SimPortal

__all__ = ["SimFleet"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
_REASONS[503] = "Service Unavailable"


class SimFleet:
    """``count`` :class:`SimPortal` portals, each on its own port of ``127.0.0.1`` (its own origin, so its
    own bucket, data, operating time and :attr:`SimPortal.stats`), all served by one asyncio event loop in
    one background thread (hundreds of portals without hundreds of server threads)::

        with SimFleet(200, records=120, rate=20, burst=10) as fleet:
            for portal in fleet:                  # SimPortal objects: .webhook, .stats, .client_rate_limit
                ...
            assert fleet.total()["503"] == 0

    ``options`` are :class:`SimPortal`'s (``rate``, ``burst``, ``command_time``, ``time_scale``,
    ``ssl_context``...), the same for every portal. A request's server time is awaited, not slept, so
    requests to all portals overlap. :attr:`busy_peak` is the most portals that had a request in flight
    at the same moment (a client that served them one after the other would leave it at 1).

    HTTP/1.1 with keep-alive, ``Content-Length`` or chunked request bodies; ``GET /_sim/stats`` as for
    :class:`SimPortal`; ``GET /_sim/fleet`` on any portal answers the fleet's ``{"portals", "busy_peak",
    "total"}`` (for a fleet run in another process: ``python -m opi_bitrix24.testing --portals N``).
    """

    def __init__(self, count: int, records: int = 1000, **options: Any) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        context: Optional[ssl.SSLContext] = options.pop("ssl_context", None)
        if "port" in options or "serve" in options:
            raise ValueError("a fleet chooses its own ports (one free port per portal)")
        self.portals: List[SimPortal] = [SimPortal(records=records, serve=False, **options) for _ in range(count)]
        self.busy_peak = 0
        self._busy: Counter[int] = Counter()  # requests in flight per portal (by index)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._servers: List[asyncio.AbstractServer] = []
        self._writers: List[asyncio.StreamWriter] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="SimFleet", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(context), self._loop).result()
        except BaseException:
            self.close()
            raise

    # --- lifecycle ------------------------------------------------------------------------------

    async def _start(self, context: Optional[ssl.SSLContext]) -> None:
        scheme = "http" if context is None else "https"
        for index, portal in enumerate(self.portals):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            listener.listen(512)
            listener.setblocking(False)

            async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int = index) -> None:
                await self._connection(index, reader, writer)

            server = await asyncio.start_server(connected, sock=listener, ssl=context)
            self._servers.append(server)
            portal.bind(scheme, listener.getsockname()[1])

    def close(self) -> None:
        """Stop serving every portal and release the ports."""
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):
                writer.close()
            for server in self._servers:
                await server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> SimFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[SimPortal]:
        return iter(self.portals)

    def __len__(self) -> int:
        return len(self.portals)

    def __getitem__(self, index: int) -> SimPortal:
        return self.portals[index]

    def total(self) -> Counter[str]:
        """Every portal's :attr:`SimPortal.stats` summed (``max_in_flight``: the highest of them)."""
        out: Counter[str] = Counter()
        for portal in self.portals:
            with portal.lock:
                stats = dict(portal.stats)
            peak = max(out["max_in_flight"], stats.pop("max_in_flight", 0))
            out.update(stats)
            if peak:
                out["max_in_flight"] = peak
        return out

    def reset_counters(self) -> None:
        """:meth:`SimPortal.reset_counters` of every portal, and :attr:`busy_peak`."""
        for portal in self.portals:
            portal.reset_counters()
        with self._lock:
            self.busy_peak = 0

    # --- serving ----------------------------------------------------------------------------------

    async def _connection(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        portal = self.portals[index]
        self._writers.append(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                target, body, close = request
                shown = self._fleet_answer(target) or portal.stats_answer(target)
                if shown is not None:
                    status, payload = shown
                else:
                    status, payload = await self._answer(index, portal, target, body)
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                head = (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
                )
                writer.write(head.encode("latin-1") + data)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
            with portal.lock:
                portal.stats["disconnects"] += 1
        finally:
            self._writers.remove(writer)
            writer.close()

    def _fleet_answer(self, target: str) -> Optional[Tuple[int, Dict[str, Any]]]:
        if target.split("?", 1)[0].rstrip("/") != "/_sim/fleet":
            return None
        with self._lock:
            peak = self.busy_peak
        return 200, {"portals": len(self.portals), "busy_peak": peak, "total": dict(self.total())}

    async def _answer(self, index: int, portal: SimPortal, target: str, body: bytes) -> Tuple[int, Dict[str, Any]]:
        portal.enter()
        with self._lock:
            self._busy[index] += 1
            self.busy_peak = max(self.busy_peak, sum(1 for n in self._busy.values() if n))
        try:
            status, payload, finished = portal.answer(target, body)
            wait = portal.due_in(finished)
            if wait:
                await asyncio.sleep(wait)
            return status, payload
        finally:
            with self._lock:
                self._busy[index] -= 1
                if not self._busy[index]:
                    del self._busy[index]
            portal.leave()


async def _read_request(reader: asyncio.StreamReader) -> Optional[Tuple[str, bytes, bool]]:
    """One request: ``(target, body, close after answering)``; None when the client closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as cut:
        if not cut.partial:
            return None
        raise
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"a malformed request line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if not size:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length else b""
    close = headers.get("connection", "").lower() == "close" or parts[2] == "HTTP/1.0"
    return parts[1], body, close
