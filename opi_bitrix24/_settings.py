"""The settings of every call: :class:`Settings`, global (:func:`configure`) or per block (:func:`settings`).

Moved out of the request core so that every layer (the flows, the drivers, the limits, the state
backends, the argument conversion) reads them without importing the core. ``_core`` re-exports the names.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, Iterator, Mapping, Optional, Set, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

from ._errors import InvalidArgument
from ._redact import shown_store

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ._progress import ProgressSetting

__all__ = [
    "SOURCES",
    "OAuthApp",
    "Overlay",
    "Result",
    "Settings",
    "Timeout",
    "configure",
    "current_settings",
    "parse_state",
    "settings",
]

Result = Dict[str, Any]
Timeout = Union[float, Tuple[float, float]]


class OAuthApp:
    """A Bitrix24 OAuth application and its current token pair.

    ``on_refresh`` is called with the token endpoint's answer (``access_token``, ``refresh_token``,
    ``expires_in``, ...) after every successful refresh, so the caller can persist the new pair
    (refresh tokens rotate: the old one stops working). With a shared state backend it is called once,
    in the process that refreshed.

    ``key`` names the pair in a shared state backend (default: the ``client_id``). An application that
    acts for several users or portals gives each user's ``OAuthApp`` its own key (``"<member_id>:<user>"``):
    apps with one key share one pair.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        access_token: str = "",
        on_refresh: Optional[Callable[[Dict[str, Any]], None]] = None,
        key: str = "",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.access_token = access_token
        self.on_refresh = on_refresh
        self.key = key or client_id
        self.lock = threading.Lock()
        #: The pair's fields (tokens, retired tokens), held only briefly: a call reading the token to send
        #: never waits for another thread's refresh (``lock`` is held across the token request).
        self.pair_lock = threading.RLock()
        self.retired: Set[str] = set()
        #: refreshes attempted, and the last failure (attempt number, status, body) for waiting threads
        self.attempts = 0
        self.failure: Optional[Tuple[int, int, Dict[str, Any]]] = None
        self.synced: Set[str] = set()

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, secrets hidden)"


#: The options a shared store's URL may carry (``?lock_ttl=30&timeout=5&prefix=...``).
STATE_OPTIONS = ("lock_ttl", "prefix", "timeout")
STATE_KINDS = "'memory', 'sqlite:///path/to/state.db' or 'redis://host:6379/0'"


def _state_options(query: str, setting: str) -> Dict[str, str]:
    options = dict(parse_qsl(query, keep_blank_values=True))
    for name, value in options.items():
        if name not in STATE_OPTIONS and name not in ("db", "password", "username"):
            raise InvalidArgument(setting, f"unknown option {name!r} (known: {', '.join(STATE_OPTIONS)})")
        if name in ("lock_ttl", "timeout"):
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if not 0 < number < 86400:
                raise InvalidArgument(setting, f"option {name} must be a number of seconds")
    return options


def parse_state(spec: Any, setting: str = "state") -> Tuple[str, str, Dict[str, str]]:
    """A ``state`` value read without connecting: ``(kind, target, options)``; InvalidArgument names ``setting``.

    ``kind`` is ``"memory"`` (target ``""``), ``"sqlite"`` (target: the absolute file path) or ``"redis"``
    (target: the whole URL). :mod:`._state` builds the backend from it.
    """
    if not isinstance(spec, str):
        raise InvalidArgument(setting, f"must be text: {STATE_KINDS}")
    text = spec.strip()
    if text in ("", "memory"):
        return "memory", "", {}
    base, _, query = text.partition("?")
    options = _state_options(query, setting)
    scheme = base.split(":", 1)[0].lower()
    if scheme == "sqlite":
        path = base[len("sqlite:") :]
        if path.startswith("///"):  # sqlite:///abs/path (and sqlite:////abs/path): absolute
            path = "/" + path.lstrip("/")
        elif path.startswith("//"):
            raise InvalidArgument(setting, "a SQLite file is 'sqlite:///absolute/path.db' or 'sqlite:relative/path.db'")
        if not path.strip():
            raise InvalidArgument(setting, "the SQLite file path is missing ('sqlite:///path/to/state.db')")
        return "sqlite", os.path.abspath(path), options
    if scheme in ("redis", "rediss", "unix"):
        parts = urlsplit(base)
        if scheme != "unix" and not parts.hostname:
            raise InvalidArgument(setting, "a Redis store is 'redis://host:port/db'")
        urlsplit(text).port  # noqa: B018 - a port that is not a number raises here, as the client would
        return "redis", text, options
    raise InvalidArgument(setting, f"must be {STATE_KINDS}")


class Settings:
    """How requests are sent. Change them globally with :func:`configure` or for a block with :func:`settings`.

    Transport:

    - ``timeout``: seconds per connect/read, or a ``(connect, read)`` pair. Default ``(10, 60)``.
    - ``deadline``: seconds for the whole call — the rate limiter's wait, the operating-time pause, the
      OAuth refresh and the repeated request, connect, send, every byte of the answer, retries and their
      waits. A wait before sending that cannot fit raises :class:`DeadlineExceeded` at once; a wait
      after an answer (``Retry-After``, ``OPERATION_TIME_LIMIT``) that cannot fit returns that answer.
      No thread per call: socket timeouts are capped by what is left and one watchdog thread shuts
      down the socket of a request still in flight past it (only the system's name lookup cannot be
      interrupted: the resolver's own timeout bounds it). ``None``: no deadline. Default 300.
    - ``retries``: re-sends after the first attempt, only where a re-send is safe: HTTP 503 or a
      ``QUERY_LIMIT_EXCEEDED`` answer, and connection failures before the request left (any transport
      failure for GET). Default 3.
    - ``backoff`` / ``max_backoff``: waits grow as ``backoff * 2**n`` (with jitter), capped at
      ``max_backoff``; a ``Retry-After`` header is honoured up to ``max_backoff``. Defaults 0.5 / 30.
    - ``verify``: ``True``, ``False`` or a CA bundle path (``REQUESTS_CA_BUNDLE`` is honoured).
    - ``proxies``: a requests proxies mapping. ``session``: your own ``requests.Session``.
    - ``max_answer_bytes``: the largest decoded answer accepted (bytes); reading stops there with an
      error. Default 128 MiB.
    - ``sources``: which text arguments are read as a file path or fetched as a URL where OPI takes a
      structure or a file: ``"all"`` (OPI's behaviour, the default), ``"files"`` (paths, no URLs) or
      ``"none"`` (text is only ever text).

    The portal's limits (additions beyond OPI):

    - ``rate_limit``: a client-side leaky bucket per portal, ``(requests per second, burst)``; ``None``
      turns it off (on-premise). Default ``(2.0, 50)``, the cloud standard plan; Enterprise ``(5.0, 250)``.
      One bucket per portal origin (scheme, host, port), whatever the settings of the calls using it:
      while it holds requests the strictest limit among them wins.
    - ``state``: where the rate bucket, the operating-time accounting and the OAuth token pair live:
      ``"memory"`` (this process, the default), ``"sqlite:///path/to/state.db"`` (the processes of one
      machine) or ``"redis://host:6379/0"`` (many machines; the ``redis`` extra). The CLI reads
      ``$OPI_BITRIX24_STATE``. A store that cannot be used raises :class:`StateUnavailable` before
      anything is sent. See the guide "Many workers, one portal".
    - ``operating_wait``: the longest wait (seconds) for a method's operating-time budget to reset
      after ``429 OPERATION_TIME_LIMIT``; ``0`` never waits (the answer is returned, as OPI does).
    - ``operating_budget``: the portal's operating-time budget per method, ``(seconds, window
      seconds)``, default ``(480.0, 600.0)`` (cloud). Bulk work (``batch``, ``iterate``, ``all_pages``,
      ``call_many``) paces every method it sends to stay within it, so a big job meets no ``429``;
      ``None`` turns the pacing off. OPI functions never pace.
    - ``concurrency``: how many independent bulk requests may be in flight at once (batch chunks, parts
      of an export, lists of calls), all inside the rate limit; results keep their order. Default 8;
      ``1`` sends them one after another.
    - ``raise_api_errors``: raise :class:`APIError` subclasses for error answers instead of returning
      the body (OPI returns the body: default ``False``).
    - ``oauth_app``: an :class:`OAuthApp` (client id, secret, refresh token); an ``expired_token``
      answer then triggers one refresh and one repeat of the call.
    - ``oauth_url``: the OAuth token endpoint of :func:`get_token` / :func:`refresh_token` and of the
      refresh (empty: ``$OPI_BITRIX24_OAUTH_URL``, else ``https://oauth.bitrix.info/oauth/token/``).
    - ``progress``: where bulk work (``batch``, ``iterate``, ``all_pages``) reports its progress:
      ``True`` one self-updating line on stderr when it is a terminal (the default), ``False`` nowhere,
      or a callable given a :class:`opi_bitrix24.Progress` after every page or chunk and at the end.

    Instances are immutable; :meth:`replace` returns a changed copy.
    """

    __slots__ = (
        "backoff",
        "concurrency",
        "deadline",
        "max_answer_bytes",
        "max_backoff",
        "oauth_app",
        "oauth_url",
        "operating_budget",
        "operating_wait",
        "progress",
        "proxies",
        "raise_api_errors",
        "rate_limit",
        "retries",
        "session",
        "sources",
        "state",
        "timeout",
        "verify",
    )

    timeout: Timeout
    deadline: Optional[float]
    retries: int
    backoff: float
    max_backoff: float
    verify: Union[bool, str]
    proxies: Optional[Mapping[str, str]]
    session: Optional[requests.Session]
    max_answer_bytes: int
    sources: str
    rate_limit: Optional[Tuple[float, int]]
    operating_wait: float
    operating_budget: Optional[Tuple[float, float]]
    concurrency: int
    raise_api_errors: bool
    oauth_app: Optional[OAuthApp]
    oauth_url: str
    state: str
    progress: ProgressSetting

    def __init__(
        self,
        timeout: Timeout = (10.0, 60.0),
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        verify: Union[bool, str] = True,
        proxies: Optional[Mapping[str, str]] = None,
        session: Optional[requests.Session] = None,
        oauth_url: str = "",
        deadline: Optional[float] = 300.0,
        max_answer_bytes: int = 128 * 2**20,
        sources: str = "all",
        rate_limit: Optional[Tuple[float, int]] = (2.0, 50),
        operating_wait: float = 0.0,
        raise_api_errors: bool = False,
        oauth_app: Optional[OAuthApp] = None,
        state: str = "memory",
        progress: ProgressSetting = True,
        operating_budget: Optional[Tuple[float, float]] = (480.0, 600.0),
        concurrency: int = 8,
    ) -> None:
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
            raise InvalidArgument("retries", "must be a whole number from 0 to 10")
        for name, seconds in (("backoff", backoff), ("max_backoff", max_backoff), ("operating_wait", operating_wait)):
            if not _is_number(seconds) or seconds < 0:
                raise InvalidArgument(name, "must be a number of seconds, not negative")
        timeouts = timeout if isinstance(timeout, tuple) else (timeout,)
        if not timeouts or len(timeouts) > 2 or any(not _is_number(t) or not 0 < t < float("inf") for t in timeouts):
            raise InvalidArgument("timeout", "must be a finite number of seconds (or a (connect, read) pair)")
        if deadline is not None and (not _is_number(deadline) or not 0 < deadline < float("inf")):
            raise InvalidArgument("deadline", "must be a finite number of seconds, or None for no deadline")
        if not isinstance(max_answer_bytes, int) or isinstance(max_answer_bytes, bool) or max_answer_bytes < 1024:
            raise InvalidArgument("max_answer_bytes", "must be a whole number of bytes, at least 1024")
        if sources not in SOURCES:
            raise InvalidArgument("sources", f"must be one of {', '.join(map(repr, SOURCES))}")
        if rate_limit is not None and not (
            isinstance(rate_limit, tuple)
            and len(rate_limit) == 2
            and _is_number(rate_limit[0])
            and 0 < rate_limit[0] < float("inf")
            and isinstance(rate_limit[1], int)
            and not isinstance(rate_limit[1], bool)
            and rate_limit[1] >= 1
        ):
            raise InvalidArgument("rate_limit", "must be (requests per second, burst), e.g. (2.0, 50), or None")
        if operating_budget is not None and not (
            isinstance(operating_budget, tuple)
            and len(operating_budget) == 2
            and all(_is_number(v) and 0 < v < float("inf") for v in operating_budget)
        ):
            raise InvalidArgument("operating_budget", "must be (seconds, window seconds), e.g. (480.0, 600.0), or None")
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= 50:
            raise InvalidArgument("concurrency", "must be a whole number from 1 to 50")
        if not isinstance(raise_api_errors, bool):
            raise InvalidArgument("raise_api_errors", "must be True or False")
        if not isinstance(progress, bool) and not callable(progress):
            raise InvalidArgument("progress", "must be True, False or a callable taking a Progress")
        if not isinstance(oauth_url, str):
            raise InvalidArgument("oauth_url", "must be a URL (text)")
        if state != "memory":
            parse_state(state)
        if oauth_app is not None and not isinstance(oauth_app, OAuthApp):
            raise InvalidArgument("oauth_app", "must be an OAuthApp")
        values = {
            "backoff": backoff,
            "concurrency": concurrency,
            "deadline": deadline,
            "max_answer_bytes": max_answer_bytes,
            "max_backoff": max_backoff,
            "oauth_app": oauth_app,
            "oauth_url": oauth_url,
            "operating_budget": operating_budget,
            "operating_wait": operating_wait,
            "progress": progress,
            "proxies": proxies,
            "raise_api_errors": raise_api_errors,
            "rate_limit": rate_limit,
            "retries": retries,
            "session": session,
            "sources": sources,
            "state": state,
            "timeout": timeout,
            "verify": verify,
        }
        for slot in self.__slots__:
            object.__setattr__(self, slot, values[slot])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Settings are immutable; use replace(), configure() or settings()")

    def replace(self, **changes: Unpack[SettingsChanges]) -> Settings:
        """A copy with some fields changed (an unknown name raises TypeError, with the closest known one)."""
        current: Dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        unknown = sorted(set(changes) - set(current))
        if unknown:
            import difflib

            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, self.__slots__, n=1)
                hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
            raise TypeError(f"unknown settings: {', '.join(hints)}; known: {', '.join(self.__slots__)}")
        current.update(changes)
        return Settings(**current)

    def __repr__(self) -> str:
        hidden = ("session", "oauth_app")
        values = {name: getattr(self, name) for name in self.__slots__ if name not in hidden}
        if values["state"] != "memory":
            values["state"] = shown_store(values["state"])  # a Redis URL may carry a password
        shown = ", ".join(f"{name}={value!r}" for name, value in values.items())
        return f"Settings({shown})"


SOURCES = ("all", "files", "none")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import TypedDict, Unpack

    class SettingsChanges(TypedDict, total=False):
        """The keyword arguments of :func:`configure`, :func:`settings` and ``Settings.replace``."""

        timeout: Timeout
        retries: int
        backoff: float
        max_backoff: float
        verify: Union[bool, str]
        proxies: Optional[Mapping[str, str]]
        session: Optional[requests.Session]
        oauth_url: str
        deadline: Optional[float]
        max_answer_bytes: int
        sources: str
        rate_limit: Optional[Tuple[float, int]]
        operating_wait: float
        operating_budget: Optional[Tuple[float, float]]
        concurrency: int
        raise_api_errors: bool
        oauth_app: Optional[OAuthApp]
        state: str
        progress: ProgressSetting


_global = Settings()
_scoped: contextvars.ContextVar[Optional[Settings]] = contextvars.ContextVar("opi_bitrix24_settings", default=None)


def current_settings() -> Settings:
    """The settings in force here: the innermost :func:`settings` block, else the global ones."""
    return _scoped.get() or _global


def configure(**changes: Unpack[SettingsChanges]) -> Settings:
    """Change the global settings; the names and their meaning are those of :class:`Settings`."""
    global _global
    _global = _global.replace(**changes)
    return _global


@contextlib.contextmanager
def settings(**changes: Unpack[SettingsChanges]) -> Iterator[Settings]:
    """Use changed settings (see :class:`Settings`) for the calls made inside the block (thread/task-local)."""
    with using(current_settings().replace(**changes)) as scoped:
        yield scoped


@contextlib.contextmanager
def using(scoped: Settings) -> Iterator[Settings]:
    """Use these settings for the calls made inside the block (thread/task-local)."""
    marker = _scoped.set(scoped)
    try:
        yield scoped
    finally:
        _scoped.reset(marker)


class Overlay:
    """A portal object's own settings changes, applied over the settings in force at each call.

    ``Settings.replace`` validates every field; a portal's ``iterate`` enters its scope once per row, so
    the changed settings are remembered for the base they were made from (settings are immutable: the
    same base object and the same changes give the same result) and only made again when either changes.
    """

    __slots__ = ("_made", "changes")

    def __init__(self, changes: Dict[str, Any]) -> None:
        self.changes = changes
        self._made: Optional[Tuple[Settings, Dict[str, Any], Settings]] = None

    def resolve(self) -> Settings:
        base = current_settings()
        made = self._made  # one read: another thread may replace it meanwhile, never half-way
        if made is not None and made[0] is base and made[1] == self.changes:
            return made[2]
        scoped = base.replace(**self.changes)
        self._made = (base, dict(self.changes), scoped)
        return scoped

    def scope(self) -> ContextManager[Any]:
        """The block in which this portal's calls run (nothing to change: a no-op block)."""
        if not self.changes:
            return contextlib.nullcontext()
        return using(self.resolve())
