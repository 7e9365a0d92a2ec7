"""One event loop, 200 portals at once (issue 22 item 3): each portal keeps its own limit, 0 x 503.

The portals are an ``opi_bitrix24.testing.SimFleet``: 200 simulated portals on 200 ports of 127.0.0.1
(200 origins, so 200 buckets on the portals' side and on the client's), served from a process of their own
(``python -m opi_bitrix24.testing --portals 200``: real portals are other machines; in this process they
would share the interpreter with the client and answer late). One ``asyncio.run`` drives an
``AsyncPortal`` per portal, all at once: twice the burst's room in calls, then an export of every lead.
Each portal must answer every call and every row exactly once without ever answering
``503 QUERY_LIMIT_EXCEEDED``; the fleet must have seen many portals busy at the same moment (a client that
shared one bucket between the origins, or served them one after the other, could not).
A control run without the client's limit shows the same portals do answer 503 when a client overruns them.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import opi_bitrix24 as b24

AsyncPortal: Any = getattr(b24, "AsyncPortal", None)
pytestmark = pytest.mark.skipif(
    AsyncPortal is None, reason="opi_bitrix24.AsyncPortal has not landed yet (issue 22 item 2, helper aio)"
)

PORTALS = 200
BURST = 3  # the portal's burst: the client keeps one slot free, so 2 go at once
CALLS = 4  # per portal, all at once: twice what the bucket lets through at once
RATE = 0.5  # requests per second per portal: a slot (2 s) longer than the machine's delays in sending
RECORDS = 120  # leads per portal: a fast export of them is one batch request
SERVER_TIME = 0.02  # seconds per command on the portal (a batch of 50 commands: 1 s): portals busy together


def _room_for_sockets(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


@pytest.fixture
def fleet() -> Iterator[Any]:
    """Start ``count`` portals in their own process; their webhook URLs."""
    started: List[subprocess.Popen[str]] = []

    def start(count: int) -> List[str]:
        options = [f"--portals={count}", f"--records={RECORDS}", f"--rate={RATE}", f"--burst={BURST}"]
        process = subprocess.Popen(
            [sys.executable, "-m", "opi_bitrix24.testing", *options, f"--command-time={SERVER_TIME}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        return [process.stdout.readline().strip() for _ in range(count)]

    yield start
    for process in started:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def _get(url: str) -> Dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as answer:
        result: Dict[str, Any] = json.load(answer)
        return result


def _base(webhook: str) -> str:
    return webhook.split("/rest/", 1)[0]


async def _work(url: str, limit: Optional[Tuple[float, int]]) -> Tuple[List[Any], List[Any]]:
    async with AsyncPortal(url, rate_limit=limit, retries=0) as portal:
        answers = await asyncio.gather(*(portal.call("crm.lead.get", {"id": n}) for n in range(1, CALLS + 1)))
        rows = [row async for row in portal.iterate("crm.lead.list")]
    return list(answers), rows


async def _all(urls: List[str], limited: bool) -> List[Any]:
    jobs = [_work(url, (RATE, BURST) if limited else None) for url in urls]
    return list(await asyncio.gather(*jobs, return_exceptions=True))


def test_one_event_loop_keeps_each_of_200_portals_within_its_limit(fleet: Any) -> None:
    _room_for_sockets(4 * PORTALS * BURST + 256)
    urls = fleet(PORTALS)
    assert len(set(urls)) == PORTALS  # 200 origins
    results = asyncio.run(_all(urls, limited=True))
    for number, (url, result) in enumerate(zip(urls, results)):
        assert not isinstance(result, BaseException), f"portal {number}: {result!r}"
        answers, rows = result
        assert [a["result"]["ID"] for a in answers] == [str(n) for n in range(1, CALLS + 1)], (number, answers)
        assert [row["ID"] for row in rows] == [str(n) for n in range(1, RECORDS + 1)], number
        stats = _get(_base(url) + "/_sim/stats")["stats"]
        assert (stats.get("503", 0), stats.get("429", 0)) == (0, 0), f"portal {number}: {stats}"
        assert stats["requests"] == CALLS + 1 and stats["batches"] == 1, f"portal {number}: {stats}"
    whole = _get(_base(urls[0]) + "/_sim/fleet")
    assert whole["total"]["requests"] == PORTALS * (CALLS + 1) and "503" not in whole["total"], whole
    # one bucket shared by all origins would let about BURST requests be in flight at once, in all
    assert whole["busy_peak"] > 10 * BURST, whole


def test_the_same_portals_answer_503_to_a_client_without_its_limit(fleet: Any) -> None:
    urls = fleet(3)
    results = asyncio.run(_all(urls, limited=False))
    stats = [_get(_base(url) + "/_sim/stats")["stats"] for url in urls]
    assert all(s.get("503", 0) > 0 for s in stats), stats
    assert any(isinstance(result, b24.APIError) for result in results), results  # retries=0: it surfaces
