"""Progress of bulk work: a callback for programs, one terminal line that nested work never garbles,
off from Python (the ``progress`` setting) and from the CLI (``--quiet``).

The terminal tests replay what was written through a small terminal model (carriage return, line feed,
printable characters; the progress line uses nothing else) and look at the screen a person would see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from simportal import SimPortal

import opi_bitrix24 as b24
from opi_bitrix24 import _progress

ROOT = Path(__file__).resolve().parent.parent


def screen(written: str) -> List[str]:
    """The lines a terminal shows after ``written``: ``\\r`` returns to column 0, ``\\n`` starts a line."""
    lines: List[List[str]] = [[]]
    column = 0
    for char in written:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            if column < len(line):
                line[column] = char
            else:
                line.append(char)
            column += 1
    shown = ["".join(line).rstrip() for line in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown


class Terminal:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture
def sim() -> Iterator[SimPortal]:
    with SimPortal(records=5000, rate=1000, burst=1000) as portal:
        yield portal


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr is a terminal from here on (called in the test body: pytest re-sets sys.stderr per phase)."""
    shown = Terminal()
    monkeypatch.setattr("sys.stderr", shown)
    monkeypatch.setattr(_progress, "REDRAW", 0.0)  # every update redrawn: the worst case for garbling
    return shown


def test_the_model_terminal_overwrites_in_place() -> None:
    assert screen("\rbatch: 50/50 (53/s, ETA 0s)\rcrm.deal.list: 50 (53/s)") == ["crm.deal.list: 50 (53/s)0s)"]
    assert screen("abc\rx\n") == ["xbc"]


def test_nested_work_keeps_one_line(sim: SimPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    # classic paging: iterate sends the pages after the first as batch requests (nested work)
    rows = list(b24.iterate(sim.webhook, "crm.deal.list", {"order": {"ID": "ASC"}}))
    assert len(rows) == 5000 and sim.stats["batches"] >= 2, repr(terminal.text)
    assert screen(terminal.text) == [screen(terminal.text)[0]]
    assert screen(terminal.text)[0].startswith("crm.deal.list: 5000/5000 in ") and "batch" not in terminal.text
    assert terminal.text.count("\n") == 1 and terminal.text.endswith("\n")


def test_fast_paging_shows_rows_and_rate(sim: SimPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    assert len(b24.all_pages(b24.get_deals_list, sim.webhook)) == 5000
    updates = [part for part in terminal.text.split("\r") if part.strip()]
    assert updates[0].startswith("crm.deal.list: ") and "/s)" in updates[0]
    assert screen(terminal.text) == ["crm.deal.list: 5000 in " + screen(terminal.text)[0].split(" in ")[1]]


def test_a_shorter_update_leaves_nothing_of_a_longer_one(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    with _progress.Task("crm.deal.list", 100000) as task:
        task.add(99999)
        long_line = screen(terminal.text)[0]
        task.total = None
        task.add(1)
        assert len(screen(terminal.text)[0]) < len(long_line)  # padded over, not left behind
        assert screen(terminal.text)[0].startswith("crm.deal.list: 100000 (")
    assert len(screen(terminal.text)) == 1


def test_side_by_side_tasks_share_the_line(sim: SimPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    seen = []
    for number, deal in enumerate(b24.iterate(sim.webhook, "crm.deal.list"), 1):
        if number == 60:
            b24.batch(sim.webhook, [("crm.deal.update", {"id": deal["ID"], "fields": {"TITLE": "x"}})])
            seen = screen(terminal.text)
    shared = [part for part in terminal.text.split("\r") if " · batch: 1/1 (" in part]
    assert len(shared) == 1 and shared[0].startswith("crm.deal.list: 50 (")  # both on the one line
    assert len(seen) == 1 and seen[0].startswith("crm.deal.list: 50 (")  # the finished batch leaves it
    assert len(screen(terminal.text)) == 1


def test_the_line_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    monkeypatch.setenv("COLUMNS", "30")
    with _progress.Task("crm.activity.list.with.a.long.name", 10**9) as task:
        task.add(12345)
        assert all(len(part) <= 29 for part in terminal.text.split("\r"))


def test_callback_gets_every_page_and_the_end(sim: SimPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    events: List[_progress.Progress] = []
    with b24.settings(progress=events.append):
        rows = list(b24.iterate(sim.webhook, "crm.deal.list", {"order": {"ID": "ASC"}}))
    assert len(rows) == 5000
    assert {e.task for e in events} == {"crm.deal.list"}  # the inner batch requests do not report
    assert [e.done for e in events[:-1]] == list(range(50, 5001, 50))
    assert events[-1] == events[-1]._replace(done=5000, total=5000, finished=True) and events[-1].elapsed > 0
    assert not any(e.finished for e in events[:-1]) and terminal.text == ""


def test_callback_for_a_batch_run(sim: SimPortal) -> None:
    events: List[Any] = []
    portal = b24.Portal(sim.webhook, progress=events.append)
    commands = [("crm.deal.update", {"id": i, "fields": {"STAGE_ID": "WON"}}) for i in range(1, 121)]
    portal.batch(commands)
    assert [(e.task, e.done, e.total, e.finished) for e in events] == [
        ("batch", 50, 120, False),
        ("batch", 100, 120, False),
        ("batch", 120, 120, False),
        ("batch", 120, 120, True),
    ]


def test_off_from_python(sim: SimPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    b24.Portal(sim.webhook, progress=False).batch([("crm.deal.update", {"id": 1, "fields": {"TITLE": "x"}})])
    with b24.settings(progress=False):
        assert len(list(b24.iterate(sim.webhook, "crm.deal.list"))) == 5000
    assert terminal.text == ""
    b24.batch(sim.webhook, [("crm.deal.update", {"id": 1, "fields": {"TITLE": "x"}})])
    assert screen(terminal.text)[0].startswith("batch: 1/1 in ")  # on by default


def test_silent_when_stderr_is_not_a_terminal(sim: SimPortal, capsys: pytest.CaptureFixture[str]) -> None:
    assert len(list(b24.iterate(sim.webhook, "crm.deal.list"))) == 5000
    assert capsys.readouterr().err == ""


def test_the_setting_is_checked() -> None:
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.configure(progress="yes")  # type: ignore[arg-type]
    assert raised.value.parameter == "progress"


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
@pytest.mark.parametrize("quiet", [False, True])
def test_cli_all_on_a_real_terminal(sim: SimPortal, quiet: bool) -> None:
    import pty

    main, child = pty.openpty()
    command = [sys.executable, "-m", "opi_bitrix24", "GetDealsList", "--url", sim.webhook, "--all", "--out", os.devnull]
    environment = dict(os.environ, OPI_BITRIX24_RATE_LIMIT="off", COLUMNS="100")
    with subprocess.Popen(command + (["--quiet"] if quiet else []), stderr=child, cwd=ROOT, env=environment) as run:
        os.close(child)
        written = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            written += chunk
        assert run.wait(timeout=60) == 0
    os.close(main)
    shown = screen(written.decode("utf-8").replace("\r\n", "\n"))
    if quiet:
        assert shown == []
    else:
        assert len(shown) == 1 and shown[0].startswith("crm.deal.list: 5000 in "), shown
