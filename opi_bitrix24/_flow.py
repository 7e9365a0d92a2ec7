"""The rules of a call, written once as sans-IO flows (issue 22; ARCHITECTURE.md "one core, two drivers").

A *flow* is a generator that never touches a socket, never sleeps, never takes a thread lock and never
starts a thread. It *yields effects* (what it needs done) and is *sent back* what the effect produced;
its return value is the flow's result. A driver performs the effects: :mod:`._sync` with ``requests``
in the calling thread, the async driver on an event loop. The exception an effect raised is thrown into
the flow at its ``yield`` (so a flow's ``try``/``except`` sees it and can still yield clean-up effects).

The effects (frozen dataclasses):

- :class:`Send` -> :class:`Reply` or :class:`Failure`: one HTTP request, no redirect followed, the whole
  decoded body read up to ``max_bytes``.
- :class:`Wait` -> ``None``: sleep; the flow has already checked that the wait fits the deadline.
- :class:`Do` -> the function's result: a state operation (bucket, operating time, token pair, the
  store's lock) -- ``function(*args)``.
- :class:`Acquire` -> ``True``/``False`` (timed out), :class:`Release` -> ``None``: the coalescing
  lock of one OAuth app's refresh. A driver also releases what a flow still holds when it is closed.
- :class:`Exchange` -> ``(HTTP status, parsed answer)``: one whole call (limits, refresh, repeats) under
  its own deadline; :class:`Parallel` -> a list, in order, of such pairs or of the exception each raised
  (bulk flows only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Generator,
    Hashable,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from ._stream import StreamedBody

__all__ = [
    "Acquire",
    "Do",
    "Effect",
    "Exchange",
    "Failure",
    "Flow",
    "Outcome",
    "Parallel",
    "Release",
    "Reply",
    "Send",
    "Wait",
    "drive",
]

T = TypeVar("T")

#: A request body: nothing, bytes, or a re-iterable body of byte chunks whose ``len()`` is its exact length.
Body = Union[None, bytes, StreamedBody]

#: The kinds of :class:`Failure`.
FAILURE_KINDS = ("connect", "tls", "connect_timeout", "read_timeout", "connection", "too_large", "deadline")


@dataclass(frozen=True)
class Send:
    """Send one request (never following a redirect) and read its whole decoded answer.

    ``timeout`` is ``(connect, read)`` seconds as configured: the driver caps both by what is left before
    ``deadline_at`` (:func:`time.monotonic`'s clock; ``None``: no deadline), which bounds the whole attempt
    (the blocking driver: capped socket timeouts and the watchdog; the async one: a timeout around it).
    The body of an answer whose status is in ``skip_body`` and that carries a ``Location`` header (a
    redirect, followed or refused by the flow) is never read: ``content`` is ``b""``. A decoded body
    larger than ``max_bytes`` stops the reading: :class:`Failure` ``too_large``.
    """

    verb: str
    url: str
    body: Body
    headers: Mapping[str, str]
    timeout: Tuple[float, float]
    deadline_at: Optional[float]
    max_bytes: int
    skip_body: FrozenSet[int]
    verify: Union[bool, str]
    proxies: Optional[Mapping[str, str]]


@dataclass(frozen=True)
class Reply:
    """The answer to a :class:`Send`: status, headers (a case-insensitive mapping), the decoded body.

    ``cut``: the body is empty although the answer had neither a ``Content-Length`` nor chunked transfer
    encoding (and its status is not 204/304): the connection closed before the answer was complete.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    cut: bool = False


@dataclass(frozen=True)
class Failure:
    """A :class:`Send` that got no usable answer.

    ``kind``: ``connect`` (the connection was never made), ``tls``, ``connect_timeout``, ``read_timeout``,
    ``connection`` (any other transport failure), ``too_large`` (the answer passed ``max_bytes``; ``status``
    is its status), ``deadline`` (the attempt was still running at ``deadline_at``). ``left``: False only
    when the request certainly never left (``connect``, ``connect_timeout``): then even a write may be
    sent again. ``detail``: the library's text, innermost cause first; the flow redacts it, not the driver.
    """

    kind: str
    left: bool
    detail: str
    status: int = 0


@dataclass(frozen=True)
class Wait:
    """Sleep ``seconds`` (``why`` says what for, for logs and errors). The flow checked that it fits."""

    seconds: float
    why: str


@dataclass(frozen=True)
class Do:
    """A state operation: ``function(*args)``; its result is sent back, its exception thrown into the flow.

    Blocking driver: called directly. Async driver: inline for the in-memory store, in a worker thread
    for SQLite and Redis (the context copied).
    """

    function: Callable[..., Any]
    args: Tuple[Any, ...] = ()


@dataclass(frozen=True)
class Acquire:
    """Take the coalescing lock named ``key`` (one per OAuth app), waiting at most ``timeout`` s (None: no limit).

    Sent back True when taken, False when the wait timed out. A ``threading.Lock`` in the blocking
    driver, an ``asyncio.Lock`` per event loop in the async one.
    """

    key: Hashable
    timeout: Optional[float]


@dataclass(frozen=True)
class Release:
    """Release the lock named ``key`` taken by :class:`Acquire` in the same flow."""

    key: Hashable


@dataclass(frozen=True)
class Exchange:
    """One whole call of a REST method (``_flow.exchange`` with its own deadline), for bulk flows.

    Sent back ``(HTTP status, parsed answer)``; its exception is thrown into the flow.
    """

    verb: str
    api_method: str
    url: Any
    token: Any
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parallel:
    """Several :class:`Exchange` effects, up to ``Settings.concurrency`` in flight at once.

    Sent back a list in the order of ``exchanges``: each item the ``(status, answer)`` pair, or the
    exception that exchange raised (the flow decides what a failure means for the others).
    """

    exchanges: Tuple[Exchange, ...]


Effect = Union[Send, Wait, Do, Acquire, Release, Exchange, Parallel]

#: What a :class:`Send` produces.
Outcome = Union[Reply, Failure]

#: A flow: yields effects, is sent what each produced, returns ``T``.
Flow = Generator[Effect, Any, T]

#: What a :class:`Parallel` produces: one item per exchange.
ParallelResult = List[Union[Tuple[int, Dict[str, Any]], BaseException]]


def drive(flow: Flow[T], perform: Callable[[Effect], Any]) -> T:
    """Run ``flow`` to its end, performing each effect with ``perform`` (a blocking driver's loop).

    What ``perform`` returns is sent into the flow; what it raises is thrown into the flow at its
    ``yield``. The flow's return value is returned, its exception raised.
    """
    value: Any = None
    error: Optional[BaseException] = None
    try:
        while True:
            try:
                if error is None:
                    effect = flow.send(value)
                else:
                    thrown, error = error, None
                    effect = flow.throw(thrown)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                value = perform(effect)
            except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
                value, error = None, exc
    finally:
        flow.close()
