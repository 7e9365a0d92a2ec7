"""Progress of bulk work (batch, iterate, all_pages, the CLI's ``--all``): a callback or one terminal line.

The ``progress`` setting decides where it goes:

- ``True`` (default): one line on stderr, rewritten in place, and only when stderr is a terminal;
- ``False``: nowhere (the CLI's ``--quiet``);
- a callable: called with a :class:`Progress` value after every page or chunk of 50 commands, and once
  more with ``finished=True``; nothing is written to the terminal.

Nested work reports once: when ``iterate`` sends its pages as ``batch`` requests, only the outer
task (the rows of the list) is reported; tasks running side by side (a ``batch`` inside a loop over
``iterate``) share the one line. Each rewrite pads the line to the length of the one before and stays within the
terminal's width, so nothing is left over and nothing wraps onto a second line (plain ``\\r`` and
spaces: no ANSI sequences, which old Windows consoles print as text).

Why not tqdm: the one line we need is about forty lines of code here; tqdm's nested bars take one
terminal line per level (``position=``), so keeping one line would need this same outermost-only
logic on top of it, and a new dependency for a library whose only one is requests. A program that
wants tqdm's bar gets it from the callback (see the bulk guide).
"""

from __future__ import annotations

import contextlib
import contextvars
import shutil
import sys
import threading
import time
from typing import IO, Callable, Iterator, List, NamedTuple, Optional, Union

__all__ = ["Progress", "ProgressCallback", "ProgressSetting", "Task", "inner", "quiet"]


class Progress(NamedTuple):
    """One report: ``task`` (``"batch"`` or the list method), items ``done`` of ``total`` (``None``:
    unknown, as with fast paging), seconds ``elapsed`` since it started, and ``finished``."""

    task: str
    done: int
    total: Optional[int]
    elapsed: float
    finished: bool

    @property
    def rate(self) -> float:
        """Items per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def text(self) -> str:
        """The terminal wording: ``crm.deal.list: 2500/10000 (830/s, ETA 9 s)``; at the end
        ``crm.deal.list: 10000 in 12.0 s``."""
        line = f"{self.task}: {self.done}" + (f"/{self.total}" if self.total else "")
        if self.finished:
            return f"{line} in {self.elapsed:.1f} s"
        if self.total and self.rate:
            return f"{line} ({self.rate:.0f}/s, ETA {max(self.total - self.done, 0) / self.rate:.0f} s)"
        return f"{line} ({self.rate:.0f}/s)"


ProgressCallback = Callable[[Progress], None]
ProgressSetting = Union[bool, ProgressCallback]

#: The CLI's ``--quiet`` (kept as its own switch so that the CLI need not build settings): True hides the line.
quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("opi_bitrix24_quiet", default=False)
_quiet = quiet
#: Bulk work started by other bulk work (``iterate`` sending its pages as ``batch``): it does not report.
_inner: contextvars.ContextVar[bool] = contextvars.ContextVar("opi_bitrix24_progress_inner", default=False)

#: The least time between two terminal rewrites (seconds); callbacks get every update.
REDRAW = 0.2


@contextlib.contextmanager
def inner() -> Iterator[None]:
    """Bulk work done on behalf of an outer task (set only around the inner call, never across a yield)."""
    marker = _inner.set(True)
    try:
        yield
    finally:
        _inner.reset(marker)


class Task:
    """Progress of one bulk task: :meth:`add` as items complete, :meth:`close` at the end (or ``with``)."""

    def __init__(
        self, what: str, total: Optional[int] = None, quiet: Optional[bool] = None, stream: Optional[IO[str]] = None
    ) -> None:
        from . import _core

        self.what = what
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.stream = stream if stream is not None else sys.stderr
        self.callback: Optional[ProgressCallback] = None
        self.draw = False
        self.last = 0.0
        setting = _core.current_settings().progress
        hidden = _quiet.get() if quiet is None else quiet
        if not _inner.get() and not hidden and setting is not False:
            if callable(setting):
                self.callback = setting
            else:
                self.draw = bool(getattr(self.stream, "isatty", lambda: False)())
        if self.draw:
            _LINE.open(self)

    @property
    def on(self) -> bool:
        """Whether this task reports anywhere (a callback or the terminal line)."""
        return self.draw or self.callback is not None

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self, finished: bool = False) -> Progress:
        return Progress(self.what, self.done, self.total, time.monotonic() - self.start, finished)

    def add(self, count: int) -> None:
        self.done += count
        if self.callback is not None:
            self.callback(self.snapshot())
        elif self.draw:
            now = time.monotonic()
            if now - self.last >= REDRAW:
                self.last = now
                _LINE.redraw()

    def close(self) -> None:
        if self.callback is not None:
            callback, self.callback = self.callback, None
            callback(self.snapshot(finished=True))
        elif self.draw:
            self.draw = False
            _LINE.close(self)


class _Line:
    """The one terminal line: every open top-level task, joined (a batch run inside an export loop
    shares the line with the export), rewritten in place."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: List[Task] = []
        self.width = 0

    def open(self, task: Task) -> None:
        with self.lock:
            self.tasks.append(task)

    def redraw(self) -> None:
        with self.lock:
            self._write(" · ".join(t.snapshot().text() for t in self.tasks))

    def close(self, task: Task) -> None:
        with self.lock:
            if task not in self.tasks:
                return
            self.tasks.remove(task)
            stream = task.stream
            if self.tasks:  # others still run: the line goes on without this one
                self._write(" · ".join(t.snapshot().text() for t in self.tasks))
            elif task.done or self.width:
                self._write(task.snapshot(finished=True).text())
                stream.write("\n")
                stream.flush()
                self.width = 0

    def _write(self, text: str) -> None:
        if not self.tasks and not text:
            return
        stream = self.tasks[-1].stream if self.tasks else sys.stderr
        columns = shutil.get_terminal_size((80, 24)).columns
        text = text[: max(columns - 1, 10)]
        stream.write("\r" + text.ljust(self.width))
        stream.flush()
        self.width = len(text)


_LINE = _Line()
