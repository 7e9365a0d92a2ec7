"""One event loop, 200 portals at once (issue 22 item 3): each portal keeps its own limit, 0 x 503.

The portals are an ``opi_bitrix24.testing.SimFleet``: 200 simulated portals on 200 ports of 127.0.0.1
(200 origins, so 200 buckets on the portals' side and on the client's), served by one thread of their own.
One ``asyncio.run`` drives an ``AsyncPortal`` per portal, all at once: more calls than the portal's burst,
then an export of every lead. Each portal must answer every call and every row exactly once without ever
answering ``503 QUERY_LIMIT_EXCEEDED``; the fleet must have seen many portals busy at the same moment (a
client that shared one bucket between the origins, or served them one after the other, could not).
A control run without the client's limit shows the same portals do answer 503 when a client overruns them.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any, List, Optional, Tuple

import pytest

import opi_bitrix24 as b24
from opi_bitrix24.testing import SimFleet, SimPortal

AsyncPortal: Any = getattr(b24, "AsyncPortal", None)
pytestmark = pytest.mark.skipif(
    AsyncPortal is None, reason="opi_bitrix24.AsyncPortal has not landed yet (issue 22 item 2, helper aio)"
)

PORTALS = 200
CALLS = 6  # per portal, all at once: twice the burst, so the client's bucket must hold half of them back
BURST = 3
RATE = 2.0  # requests per second per portal, as a cloud portal
RECORDS = 120  # leads per portal: a fast export of them is one batch request
SERVER_TIME = 0.2  # seconds each request takes on the portal: requests to different portals overlap


def _room_for_sockets(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


async def _work(sim: SimPortal, limit: Optional[Tuple[float, int]]) -> Tuple[List[Any], List[Any]]:
    async with AsyncPortal(sim.webhook, rate_limit=limit, retries=0) as portal:
        answers = await asyncio.gather(*(portal.call("crm.lead.get", {"id": n}) for n in range(1, CALLS + 1)))
        rows = [row async for row in portal.iterate("crm.lead.list")]
    return list(answers), rows


async def _all(fleet: SimFleet, limited: bool) -> List[Any]:
    jobs = [_work(sim, sim.client_rate_limit if limited else None) for sim in fleet]
    return list(await asyncio.gather(*jobs, return_exceptions=True))


def test_one_event_loop_keeps_each_of_200_portals_within_its_limit() -> None:
    _room_for_sockets(4 * PORTALS * BURST + 256)
    with SimFleet(PORTALS, records=RECORDS, rate=RATE, burst=BURST, command_time=SERVER_TIME) as fleet:
        results = asyncio.run(_all(fleet, limited=True))
        for number, (sim, result) in enumerate(zip(fleet, results)):
            assert not isinstance(result, BaseException), f"portal {number}: {result!r}"
            answers, rows = result
            assert [a["result"]["ID"] for a in answers] == [str(n) for n in range(1, CALLS + 1)], number
            assert [row["ID"] for row in rows] == [str(n) for n in range(1, RECORDS + 1)], number
            stats = sim.stats
            assert (stats["503"], stats["429"]) == (0, 0), f"portal {number}: {dict(stats)}"
            assert stats["requests"] == CALLS + 1 and stats["batches"] == 1, f"portal {number}: {dict(stats)}"
        assert fleet.total()["requests"] == PORTALS * (CALLS + 1)
        # one bucket shared by all origins would let about BURST requests be in flight at once, in all
        assert fleet.busy_peak > 10 * BURST, fleet.busy_peak


def test_the_same_portals_answer_503_to_a_client_without_its_limit() -> None:
    with SimFleet(3, records=RECORDS, rate=RATE, burst=BURST, command_time=SERVER_TIME) as fleet:
        results = asyncio.run(_all(fleet, limited=False))
        assert all(sim.stats["503"] > 0 for sim in fleet), [dict(sim.stats) for sim in fleet]
        assert any(isinstance(result, b24.APIError) for result in results), results  # retries=0: it surfaces
