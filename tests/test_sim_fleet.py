"""opi_bitrix24.testing.SimFleet: many simulated portals on one serving thread, each its own origin and
bucket (the 200-portals proof of tests/test_async_many.py and benchmarks/async_bench.py stand on it)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
from typing import Any, Dict, List, Tuple
from urllib.parse import urlsplit

import pytest

import opi_bitrix24 as b24
from opi_bitrix24.testing import WEBHOOK_KEY, SimFleet


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, **headers: str) -> Tuple[int, Dict[str, Any]]:
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
    answer = conn.getresponse()
    return answer.status, json.loads(answer.read())


OPEN: List[http.client.HTTPConnection] = []


def _conn(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    OPEN.append(http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30))
    return OPEN[-1]


@pytest.fixture(autouse=True)
def _close_connections() -> Any:
    yield
    while OPEN:
        OPEN.pop().close()


def test_each_portal_is_its_own_origin_with_its_own_bucket_and_data() -> None:
    with SimFleet(3, records=7, rate=0.001, burst=3) as fleet:
        origins = {urlsplit(p.base)[:2] for p in fleet}
        assert len(origins) == 3 and all(p.webhook == f"{p.base}/rest/1/{WEBHOOK_KEY}/" for p in fleet)
        first = _conn(fleet[0].base)
        path = f"/rest/1/{WEBHOOK_KEY}/crm.lead.get"
        statuses = [_post(first, path, b'{"id": 2}')[0] for _ in range(5)]  # one keep-alive connection
        assert statuses == [200, 200, 200, 503, 503]
        status, answer = _post(_conn(fleet[1].base), path, b'{"id": 7}')  # another portal: its bucket is full
        assert status == 200 and answer["result"]["ID"] == "7"
        status, answer = _post(_conn(fleet[2].base), path, b'{"id": 8}')  # 7 records each
        assert (status, answer["error"]) == (400, "NOT_FOUND")
        assert [(p.stats["requests"], p.stats["503"]) for p in fleet] == [(5, 2), (1, 0), (1, 0)]
        total = fleet.total()
        assert (total["requests"], total["503"], total["max_in_flight"]) == (7, 2, 1)
        stats = json.loads(urllib_get(fleet[0].base + "/_sim/stats"))["stats"]
        assert stats["requests"] == 5 and stats["503"] == 2  # not counted itself
        whole = json.loads(urllib_get(fleet[2].base + "/_sim/fleet"))
        assert whole == {"portals": 3, "busy_peak": 1, "total": {**total, "max_in_flight": 1}}
        fleet.reset_counters()
        assert fleet.total() == {} and fleet.busy_peak == 0


def urllib_get(url: str) -> bytes:
    conn = _conn(url)
    conn.request("GET", urlsplit(url).path)
    return conn.getresponse().read()


def test_a_chunked_body_and_connection_close_are_understood() -> None:
    with SimFleet(1, records=3, rate=1000, burst=1000) as fleet:
        conn = _conn(fleet[0].base)
        conn.putrequest("POST", f"/rest/1/{WEBHOOK_KEY}/crm.lead.update")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "application/json")
        conn.endheaders()
        for piece in (b'{"id": 3, ', b'"fields": {"TITLE": "x"}}'):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        answer = conn.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["result"] is True
        assert fleet[0].updates == {3: 1} and fleet[0].leads[2]["TITLE"] == "x"
        status, _ = _post(conn, f"/rest/1/{WEBHOOK_KEY}/profile", b"", Connection="close")
        assert status == 200
        assert conn.sock is None  # the server closed it: http.client saw "Connection: close"


def test_one_thread_serves_requests_to_many_portals_at_once() -> None:
    before = set(threading.enumerate())  # other tests' servers may still be winding down
    with SimFleet(4, records=3, rate=1000, burst=1000, command_time=0.5) as fleet:
        for portal in fleet:  # one after the other: never two portals busy
            assert b24.call(portal.webhook, "profile")["result"]["ID"] == "1"
        assert fleet.busy_peak == 1
        gate = threading.Barrier(4)
        done: List[str] = []

        def ask(url: str) -> None:
            gate.wait()
            done.append(b24.call(url, "server.time")["result"])

        threads = [threading.Thread(target=ask, args=(p.webhook,)) for p in fleet]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(done) == 4 and fleet.busy_peak >= 2  # each answer awaits 0.5 s: they overlap
        names = [thread.name for thread in set(threading.enumerate()) - before]
        assert names.count("SimFleet") == 1 and not [n for n in names if "process_request" in n]  # one thread
    assert fleet.total()["requests"] == 8


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        SimFleet(0)
    with pytest.raises(ValueError, match="own ports"):
        SimFleet(2, port=8080)
    with pytest.raises(ValueError, match="rate"):
        SimFleet(2, rate=0)


def test_command_line_serves_many_portals() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.testing", "--portals", "3", "--records", "1", "--for", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    urls = done.stdout.splitlines()
    assert done.returncode == 0 and len(urls) == 3 == len(set(urls)), done.stderr
    assert all(u.startswith("http://127.0.0.1:") and u.endswith(f"/rest/1/{WEBHOOK_KEY}/") for u in urls)
    assert "3 portals (" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "opi_bitrix24.testing", "--portals", "0"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and bad.stderr == "python -m opi_bitrix24.testing: --portals must be at least 1\n"
