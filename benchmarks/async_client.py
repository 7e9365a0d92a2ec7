# ruff: noqa: E501
"""Which async HTTP library drives AsyncPortal (issue 22 item 1): httpx vs aiohttp, measured side by side.

    python benchmarks/async_client.py [--requests 2000] [--concurrency 100] [--repeat 3] [--smoke]

A loopback HTTP/1.1 server runs in its own process (plain asyncio, keep-alive), so that the client's
process time is the client's own cost. Each library is measured in a FRESH Python process per repeat:

- import: seconds to import the library, and the peak RSS growth it costs;
- one at a time: --requests POSTs of a 200-byte JSON body over one keep-alive connection (process CPU
  microseconds per request; wall time is shown but shared with the server on a busy machine);
- concurrent: --requests POSTs with --concurrency in flight on one client (CPU per request, wall, and
  the peak RSS growth during the run).

The median of --repeat runs is printed, with the ratio aiohttp / httpx (below 1: aiohttp costs less).

Then what a driver of this project needs, checked against the same server (yes / no per library):
exact body bytes and headers (nothing changed, what the library adds), a streamed body sent with our
Content-Length (not chunked), redirects not followed, a gzip answer read decoded under a size cap while
streaming (the peak memory of reading a 64 MiB gzip bomb capped at 1 MiB), a timeout around the whole
attempt, a cancelled request closing its connection, whether the library's loggers write the URL (a
webhook key is in its path), and the oldest Python the latest release and the oldest usable release
support.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("httpx", "aiohttp")
SECRET = "k3y5ecr3tw3bh00k"
BODY = json.dumps({"fields": {"TITLE": "x" * 150, "RESPONSIBLE_ID": 1}}, separators=(",", ":")).encode()

# --- the loopback server (its own process) -----------------------------------------------------------

_OK = b'{"result":{"ID":1,"TITLE":"ok"},"time":{"start":1,"finish":1.001,"duration":0.001}}'
_BOMB: List[bytes] = []  # made by the server process only (64 MiB of zeros, 65 KiB gzipped)


class _Server:
    def __init__(self) -> None:
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
                body = b""
                if "content-length" in fields:
                    body = await reader.readexactly(int(fields["content-length"]))
                elif fields.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        body += (await reader.readexactly(size + 2))[:size]
                        if size == 0:
                            break
                if path.startswith("/stall"):  # headers and part of the body, then nothing
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10)
                    await writer.drain()
                    await reader.read()  # until the client hangs up
                    return
                if path.startswith("/open"):
                    answer = json.dumps({"open": self.open - 1}).encode()
                    extra = b""
                elif path.startswith("/redirect"):
                    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                elif path.startswith("/bomb"):
                    if not _BOMB:
                        _BOMB.append(gzip.compress(b"\0" * (64 * 2**20), 9))
                    answer, extra = _BOMB[0], b"Content-Encoding: gzip\r\n"
                elif path.startswith("/echo"):
                    answer = json.dumps({"head": head.decode("latin-1"), "body": body.decode("latin-1")}).encode()
                    extra = b""
                else:
                    answer, extra = _OK, b""
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + extra
                    + b"Content-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def _serve() -> None:
    server = _Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=512)
    print(listener.sockets[0].getsockname()[1], flush=True)
    async with listener:
        await listener.serve_forever()


# --- the clients, behind one small interface -----------------------------------------------------


class _Client:
    """One library's client: post(url, body, headers) -> (status, headers, bytes read up to cap)."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.client: Any = None

    async def __aenter__(self) -> _Client:
        if self.name == "httpx":
            import httpx

            self.client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=self.limit, max_keepalive_connections=self.limit),
                follow_redirects=False,
                trust_env=False,
            )
        else:
            import aiohttp

            self.client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit), trust_env=False, auto_decompress=True
            )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.name == "httpx":
            await self.client.aclose()
        else:
            await self.client.close()

    async def send(
        self, verb: str, url: str, body: Any, headers: Dict[str, str], cap: Optional[int] = None
    ) -> tuple[int, Dict[str, str], bytes]:
        chunks: List[bytes] = []
        size = 0
        if self.name == "httpx":
            request = self.client.build_request(verb, url, content=body, headers=headers)
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if cap is not None and size > cap:
                        break
                    chunks.append(chunk)
            finally:
                await response.aclose()
            return response.status_code, dict(response.headers), b"".join(chunks)
        async with self.client.request(verb, url, data=body, headers=headers, allow_redirects=False) as response:
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if cap is not None and size > cap:
                    response.close()
                    break
                chunks.append(chunk)
            return response.status, dict(response.headers), b"".join(chunks)


def _peak_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


def _measure(name: str, port: int, requests: int, concurrency: int) -> Dict[str, float]:
    base = _peak_kib()
    started = time.perf_counter()
    __import__(name)
    out: Dict[str, float] = {"import_s": time.perf_counter() - started, "import_kib": _peak_kib() - base}
    url = f"http://127.0.0.1:{port}/rest/1/{SECRET}/crm.deal.add"
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}

    async def sequential() -> None:
        async with _Client(name, 1) as client:
            for _ in range(20):
                await client.send("POST", url, BODY, headers)
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(requests):
                status, _, content = await client.send("POST", url, BODY, headers)
                assert status == 200 and content == _OK
            out["seq_cpu_us"] = (time.process_time() - cpu) / requests * 1e6
            out["seq_wall_us"] = (time.perf_counter() - wall) / requests * 1e6

    async def concurrent() -> None:
        async with _Client(name, concurrency) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with gate:
                    status, _, content = await client.send("POST", url, BODY, headers)
                    assert status == 200 and content == _OK

            await asyncio.gather(*(one() for _ in range(concurrency)))  # connections opened
            _reset_peak()
            before = _peak_kib()
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one() for _ in range(requests)))
            out["conc_cpu_us"] = (time.process_time() - cpu) / requests * 1e6
            out["conc_wall_s"] = time.perf_counter() - wall
            out["conc_kib"] = _peak_kib() - before

    asyncio.run(sequential())
    asyncio.run(concurrent())
    return out


# --- what the driver needs ------------------------------------------------------------------------


async def _features(name: str, port: int) -> Dict[str, str]:
    import logging

    base = f"http://127.0.0.1:{port}"
    found: Dict[str, str] = {}
    records: List[str] = []

    class _Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.name + ": " + record.getMessage())

    catcher = _Catch(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(catcher)
    root.setLevel(logging.DEBUG)
    try:
        async with _Client(name, 10) as client:
            # 1. exact bytes and headers
            body = '{"TITLE":"ünï","A":[1,2]}'.encode()
            ours = {
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "User-Agent": "opi-bitrix24/x",
            }
            _, _, content = await client.send("POST", f"{base}/echo/{SECRET}/x", body, ours)
            echo = json.loads(content)
            head = echo["head"].split("\r\n")[1:]
            sent = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in head if x)}
            exact = echo["body"].encode("latin-1") == body and all(sent.get(k.lower()) == v for k, v in ours.items())
            added = sorted(k for k in sent if k not in {h.lower() for h in ours} | {"host", "content-length"})
            found["exact body and our headers kept"] = "yes" if exact else "no"
            found["headers it adds"] = ", ".join(added) or "none"

            # 2. a streamed body with our Content-Length
            async def chunks() -> Any:
                for part in (b"abc", b"defg", b"hij"):
                    await asyncio.sleep(0)
                    yield part

            _, _, content = await client.send(
                "POST",
                f"{base}/echo/s",
                chunks(),
                {"Content-Type": "multipart/form-data; boundary=b", "Content-Length": "10"},
            )
            echo = json.loads(content)
            chunked = "transfer-encoding" in echo["head"].lower()
            found["streamed body sent with our Content-Length"] = (
                "yes"
                if echo["body"] == "abcdefghij" and "content-length: 10" in echo["head"].lower() and not chunked
                else "no"
            )

            # 3. redirects not followed
            status, headers, _ = await client.send("GET", f"{base}/redirect", None, {})
            found["redirect not followed"] = (
                "yes" if status == 302 and headers.get("location", headers.get("Location")) == "/ok" else "no"
            )

            # 4. decoded reading under a cap: a 64 MiB gzip bomb (65 KiB on the wire) capped at 1 MiB
            _reset_peak()
            before = _peak_kib()
            _, _, content = await client.send("GET", f"{base}/bomb", None, {}, cap=2**20)
            grew = _peak_kib() - before
            found["gzip decoded, read under a 1 MiB cap"] = "yes" if 0 < len(content) <= 2**20 else "no"
            found["peak memory reading the 64 MiB bomb (MiB)"] = f"{grew / 1024:.1f}"

            # 5. a timeout around the whole attempt, and the connection closed when it fires
            started = time.perf_counter()
            try:
                await asyncio.wait_for(client.send("GET", f"{base}/stall", None, {}), 0.3)
                stopped = False
            except asyncio.TimeoutError:
                stopped = True
            took = time.perf_counter() - started
            await asyncio.sleep(0.2)
            _, _, content = await client.send("GET", f"{base}/open", None, {})
            left_open = json.loads(content)["open"]
            found["timeout around the attempt"] = f"yes ({took:.2f} s for 0.3)" if stopped and took < 0.6 else "no"

            # 6. a cancelled task closes its connection
            task = asyncio.ensure_future(client.send("GET", f"{base}/stall", None, {}))
            await asyncio.sleep(0.2)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await asyncio.sleep(0.2)
            _, _, content = await client.send("GET", f"{base}/open", None, {})
            found["timed-out / cancelled request's connection closed"] = (
                "yes"
                if left_open <= 1 and json.loads(content)["open"] <= 1
                else f"no ({left_open}, {json.loads(content)['open']} idle+stalled open)"
            )
    finally:
        root.removeHandler(catcher)
    leaked = [r for r in records if SECRET in r and not r.startswith("asyncio")]
    found["its loggers write the URL with the key"] = (
        f"yes ({len(leaked)} records, e.g. {leaked[0][:60]!r})" if leaked else "no"
    )
    import importlib.metadata

    meta = importlib.metadata.metadata(name)
    found["installed version, its Requires-Python"] = f"{meta['Version']}, {meta['Requires-Python']}"
    deps = [r for r in (meta.get_all("Requires-Dist") or []) if "extra ==" not in r]
    found["direct dependencies"] = str(len(deps))
    return found


# --- the comparison ---------------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    if args.features:
        print(json.dumps(asyncio.run(_features(args.child, args.port))))
    else:
        print(json.dumps(_measure(args.child, args.port, args.requests, args.concurrency)))


def _run_child(name: str, port: int, args: argparse.Namespace, features: bool = False) -> Dict[str, Any]:
    command = [sys.executable, __file__, "--child", name, "--port", str(port), "--requests", str(args.requests)]
    command += ["--concurrency", str(args.concurrency)] + (["--features"] if features else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode:
        raise SystemExit(f"{name}: {done.stderr[-2000:]}")
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (the test suite's check that this works)")
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--features", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return 0
    if args.child:
        _child(args)
        return 0
    if args.smoke:
        args.requests, args.concurrency, args.repeat = 50, 10, 1
    missing = [name for name in LIBRARIES if not _installed(name)]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed (pip install httpx aiohttp)")
        return 0
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        runs: Dict[str, List[Dict[str, float]]] = {name: [] for name in LIBRARIES}
        for _ in range(args.repeat):
            for name in LIBRARIES:  # interleaved: a load change on the machine hits both
                runs[name].append(_run_child(name, port, args))
        features = {name: _run_child(name, port, args, features=True) for name in LIBRARIES}
    finally:
        server.terminate()
        server.wait()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.requests} requests, {args.concurrency} in flight, median of {args.repeat}"
    )
    print()
    print("| measure | httpx | aiohttp | aiohttp / httpx |")
    print("|---|---|---|---|")
    rows = (
        ("import (s)", "import_s", "{:.3f}"),
        ("import, peak RSS growth (KiB)", "import_kib", "{:.0f}"),
        ("one at a time: CPU per request (µs)", "seq_cpu_us", "{:.0f}"),
        ("one at a time: wall per request (µs)", "seq_wall_us", "{:.0f}"),
        (f"{args.concurrency} in flight: CPU per request (µs)", "conc_cpu_us", "{:.0f}"),
        (f"{args.concurrency} in flight: wall for all (s)", "conc_wall_s", "{:.2f}"),
        (f"{args.concurrency} in flight: peak RSS growth (KiB)", "conc_kib", "{:.0f}"),
    )
    for label, key, form in rows:
        values = [statistics.median(run[key] for run in runs[name]) for name in LIBRARIES]
        ratio = f"{values[1] / values[0]:.2f}" if values[0] else "-"
        print(f"| {label} | {form.format(values[0])} | {form.format(values[1])} | {ratio} |")
    print()
    print("| what the driver needs | httpx | aiohttp |")
    print("|---|---|---|")
    for key in features["httpx"]:
        print(f"| {key} | {features['httpx'][key]} | {features['aiohttp'][key]} |")
    return 0


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    raise SystemExit(main())
