"""Independent bulk requests with a bounded number in flight, results in order (additions beyond OPI).

:func:`ordered` runs jobs (functions of no arguments, each one request or a short chain of them) on at
most ``workers`` threads and yields their results in the order of the jobs, lazily: at most ``workers``
jobs are started ahead of the consumer, so a long stream holds a bounded number of answers. Every job
runs in a copy of the caller's :mod:`contextvars` context taken when it is started, so ``settings()``
blocks, the quiet flag and the other context variables reach the worker threads. The requests still
wait in the portal's bucket (``rate_limit``) as any request does: ``workers`` bounds what is in flight
inside it.

On an error the first failing job in order raises, after every job already started has finished (no
request is left running behind the caller); no further job is started. Closing the iterator early does
the same without raising.
"""

from __future__ import annotations

import collections
import contextvars
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Deque, Generator, Iterable, TypeVar

__all__ = ["ordered"]

T = TypeVar("T")


def ordered(jobs: Iterable[Callable[[], T]], workers: int) -> Generator[T, None, None]:
    """Yield ``job()`` for each job in order, with at most ``workers`` running at once (1: one after another)."""
    if workers <= 1:
        for job in jobs:
            yield job()
        return
    source = iter(jobs)
    pending: Deque[Future[T]] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="opi_bitrix24-bulk")
    failed = threading.Event()

    def note(future: Future[T]) -> None:
        if not future.cancelled() and future.exception() is not None:
            failed.set()

    try:

        def start() -> bool:
            if failed.is_set():
                return False  # a job failed: start nothing more
            job = next(source, None)
            if job is None:
                return False
            future = pool.submit(contextvars.copy_context().run, job)
            future.add_done_callback(note)
            pending.append(future)
            return True

        while len(pending) < workers and start():
            pass
        while pending:
            head = pending[0]
            error = head.exception()
            if error is not None:
                raise error
            pending.popleft()
            start()
            yield head.result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
