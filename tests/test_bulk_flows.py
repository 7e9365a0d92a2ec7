"""The bulk rules as flows (issue 22): generators that yield effects and never touch a socket.

These tests drive the flows by hand, answering each effect with a scripted outcome: the exact requests a
flow asks for (and which of them may be in flight together), what it does with each answer, and that the
blocking driver performs the same effects (the sync entry points' own tests are tests/test_bulk.py).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import _bulk, _pace
from opi_bitrix24._bulk import Do, Exchange, Parallel, Rows, Wait
from opi_bitrix24._errors import APIError, TransportError, UnexpectedResponse

WH = "https://example.bitrix24.ru/rest/1/hookKey123/"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    _pace.reset()
    with b24.settings(progress=False, operating_budget=None):
        yield
    _pace.reset()


def drive(flow: Any, answer: Callable[[Any], Any]) -> Tuple[List[Any], List[Any], Any]:
    """Run ``flow`` with ``answer(effect)`` as every effect's outcome (an exception is thrown in):
    ``(effects, rows, value)``."""
    effects: List[Any] = []
    rows: List[Any] = []
    sending: Any = None
    error: Any = None
    while True:
        try:
            item = flow.send(sending) if error is None else flow.throw(error)
        except StopIteration as stop:
            return effects, rows, stop.value
        sending = error = None
        if isinstance(item, Rows):
            rows.extend(item.rows)
            continue
        effects.append(item)
        outcome = answer(item)
        if isinstance(outcome, BaseException):
            error = outcome
        else:
            sending = outcome


def batch_answer(exchange: Exchange, fail: Tuple[str, ...] = ()) -> Tuple[int, Dict[str, Any]]:
    """A batch request answered: every command's result is its wire key, those in ``fail`` fail."""
    assert exchange.api_method == "batch"
    wires = list(exchange.fields["cmd"])
    inner = {
        "result": {w: w for w in wires if w not in fail},
        "result_error": {w: {"error": "NOT_FOUND", "error_description": "no"} for w in wires if w in fail},
        "result_total": [],
        "result_next": [],
        "result_time": {w: {"duration": 0.01} for w in wires},
    }
    return 200, {"result": inner, "time": {}}


def answers(effect: Any) -> Any:
    if isinstance(effect, Parallel):
        return [batch_answer(e) for e in effect.exchanges]
    if isinstance(effect, Do):
        return effect.function(*effect.args)
    return batch_answer(effect)


def test_batch_flow_asks_for_up_to_concurrency_chunks_together_and_accounts_every_command() -> None:
    commands = [("crm.lead.get", {"id": n}) for n in range(1, 181)]  # 4 chunks: 50, 50, 50, 30
    with b24.settings(concurrency=3):
        effects, rows, out = drive(_bulk._batch_flow(WH, commands, "", False), answers)
    requests = [e for e in effects if not isinstance(e, Do)]
    assert [type(e) for e in requests] == [Parallel, Exchange]
    first = requests[0].exchanges
    assert [len(e.fields["cmd"]) for e in first] == [50, 50, 50] and len(requests[1].fields["cmd"]) == 30
    assert first[0] == Exchange(
        "POST", "batch", WH, "", {"halt": 0, "cmd": {f"k{i}": f"crm.lead.get?id={i + 1}" for i in range(50)}}
    )
    assert "k100" in first[2].fields["cmd"] and list(requests[1].fields["cmd"])[-1] == "k179"
    assert rows == [] and list(out["result"]) == list(range(180)) and out["result"][179] == "k179"
    # the commands' time blocks are recorded, one state operation per round
    assert [e.function for e in effects if isinstance(e, Do)] == [_bulk._note_times] * 2


def test_batch_flow_with_halt_or_raising_sends_one_chunk_at_a_time() -> None:
    commands = [("crm.lead.get", {"id": n}) for n in range(1, 121)]
    for changes in ({"halt": True}, {"raising": True}):
        with b24.settings(concurrency=8, raise_api_errors="raising" in changes):
            effects, _, _ = drive(_bulk._batch_flow(WH, commands, "", "halt" in changes), answers)
        assert [type(e) for e in effects if not isinstance(e, Do)] == [Exchange] * 3


def test_a_failed_request_of_a_round_raises_at_its_turn() -> None:
    commands = [("crm.lead.get", {"id": n}) for n in range(1, 151)]
    down = TransportError("connection refused")

    def second_fails(effect: Any) -> Any:
        if isinstance(effect, Parallel):
            return [batch_answer(effect.exchanges[0]), down, batch_answer(effect.exchanges[2])]
        return answers(effect)

    progress: List[Any] = []
    with b24.settings(concurrency=3, progress=progress.append), pytest.raises(TransportError) as caught:
        drive(_bulk._batch_flow(WH, commands, "", False), second_fails)
    assert caught.value is down
    assert [(p.done, p.finished) for p in progress] == [(50, False), (50, True)]  # the first chunk, then the end


def test_a_driver_that_throws_into_the_flow_is_understood_too() -> None:
    down = TransportError("connection refused")
    with b24.settings(concurrency=3), pytest.raises(TransportError) as caught:
        drive(_bulk._batch_flow(WH, [("profile", {})] * 120, "", False), lambda e: down)
    assert caught.value is down


def test_classic_flow_hands_out_rows_and_sends_the_first_group_alone_then_concurrency_groups() -> None:
    def page(offset: int) -> Dict[str, Any]:
        rows = [{"ID": str(offset + i + 1)} for i in range(min(50, 6000 - offset))]
        return {"result": rows, "total": 6000, **({"next": offset + 50} if offset + 50 < 6000 else {})}

    def portal(effect: Any) -> Any:
        if isinstance(effect, Parallel):
            return [portal(e) for e in effect.exchanges]
        if isinstance(effect, Do):
            return None
        if effect.api_method == "user.get":
            return 200, page(effect.fields["start"])
        inner: Dict[str, Any] = {"result": {}, "result_next": {}}
        for wire, text in effect.fields["cmd"].items():
            offset = int(text.split("start=")[1])
            answer = page(offset)
            inner["result"][wire] = answer["result"]
            if "next" in answer:
                inner["result_next"][wire] = answer["next"]
        return 200, {"result": inner}

    with b24.settings(concurrency=2):
        flow = _bulk._iterate_flow(WH, "user.get", {"FILTER": {"ACTIVE": True}}, "", None, True)
        first = next(flow)
        assert first == Exchange("POST", "user.get", WH, "", {"FILTER": {"ACTIVE": True}, "start": 0})
        assert flow.send(portal(first)) == Rows([{"ID": str(n)} for n in range(1, 51)])
        effects, rows, _ = drive(flow, portal)
    assert [row["ID"] for row in rows] == [str(n) for n in range(51, 6001)]
    # 119 pages left, 50 per batch request: the first group alone, then the other two together
    assert [type(e) for e in effects] == [Exchange, Parallel]
    groups = [effects[0].fields["cmd"], *(e.fields["cmd"] for e in effects[1].exchanges)]
    assert [len(g) for g in groups] == [50, 50, 19]
    assert groups[0]["s50"] == "user.get?FILTER%5BACTIVE%5D=1&start=50" and list(groups[2])[-1] == "s5950"


def test_iterate_flow_checks_its_arguments_before_the_first_request() -> None:
    with pytest.raises(b24.InvalidArgument, match=r"params\.filter\.@ID"):
        _bulk._iterate_flow(WH, "crm.lead.list", {"filter": {"@ID": []}}, "", None, True)
    with pytest.raises(b24.InvalidArgument, match="method"):
        _bulk.iterate(WH, "crm lead list")  # at the call, as before: not at the first row


def test_pacing_asks_one_request_while_the_cost_is_unknown_then_waits_for_room() -> None:
    commands = [("crm.lead.update", {"id": n, "fields": {"TITLE": "x"}}) for n in range(1, 201)]
    with b24.settings(concurrency=4, operating_budget=(1.6, 600.0)):
        flow = _bulk._batch_flow(WH, commands, "", False)
        first = next(flow)
        assert isinstance(first, Exchange)  # the cost of crm.lead.update is not known yet: one request
        assert isinstance(flow.send(batch_answer(first)), Do)
        # each command took 0.01 s: a chunk of 50 costs 0.5 s of the 1.584 s allowed (1 % headroom): with
        # 0.5 s used, two more fit together, then none until time leaves the window
        together = flow.send(None)
        assert isinstance(together, Parallel) and len(together.exchanges) == 2
        assert isinstance(flow.send(answers(together)), Do)
        assert flow.send(None) == Wait(_bulk.POLL, "operating time")
        flow.close()


def test_the_blocking_driver_refuses_what_is_not_an_effect() -> None:
    with pytest.raises(TypeError, match="not an effect of a bulk flow: 'send me'"):
        _bulk._perform("send me")


def test_the_blocking_driver_runs_a_parallel_on_threads_in_the_callers_settings() -> None:
    threads: List[str] = []
    seen: List[Any] = []

    def exchange(verb: str, api_method: str, url: Any, token: Any, fields: Any) -> Tuple[int, Dict[str, Any]]:
        threads.append(threading.current_thread().name)
        seen.append(b24.current_settings().timeout)
        if fields["n"] == 1:
            raise TransportError("down")
        return 200, {"result": fields["n"]}

    effects = [Exchange("POST", "x.y", WH, "", {"n": n}) for n in range(3)]
    original = _bulk._core._exchange
    _bulk._core._exchange = exchange  # type: ignore[assignment]
    try:
        with b24.settings(timeout=7.5):
            out = _bulk._perform(Parallel(tuple(effects)))
    finally:
        _bulk._core._exchange = original  # type: ignore[assignment]
    assert out[0] == (200, {"result": 0}) and isinstance(out[1], TransportError) and out[2] == (200, {"result": 2})
    assert seen == [7.5] * 3 and all(name.startswith("opi_bitrix24-bulk") for name in threads)


def test_a_page_error_in_a_flow_is_typed_and_a_row_without_its_id_stops_the_loop() -> None:
    def error_page(effect: Any) -> Any:
        return 400, {"error": "INVALID_FILTER", "error_description": "bad filter hookKey123"}

    with pytest.raises(APIError, match="INVALID_FILTER") as caught:
        drive(_bulk._iterate_flow(WH, "user.get", None, "", False, False), error_page)
    assert "hookKey123" not in str(caught.value)
    with pytest.raises(UnexpectedResponse, match="has no 'ID' field"):
        drive(_bulk._iterate_flow(WH, "user.get", None, "", False, False), lambda e: (200, {"result": [{"X": 1}]}))
