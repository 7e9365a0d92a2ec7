"""Where the client-side limits and the OAuth token pair live (additions beyond OPI).

One contract, :class:`State`, stands behind the portal's rate bucket, the per-method operating-time
accounting and the OAuth token pair. The backend is chosen by the ``state`` setting (and
``$OPI_BITRIX24_STATE`` for the CLI):

- ``"memory"`` (the default): in this process, as before; nothing is written anywhere.
- ``"sqlite:///path/to/state.db"`` (or ``"sqlite:relative/path.db"``): a SQLite file shared by the
  processes of one machine (stdlib ``sqlite3``, WAL journal; created with mode 0600).
- ``"redis://[:password@]host:port/db"`` (``rediss://`` for TLS, ``unix:///path.sock?db=0``): a Redis
  server shared by processes on many machines (the ``redis`` extra: ``pip install "opi-bitrix24[redis]"``).

Options go in the query: ``lock_ttl`` (seconds the refresh lock lives without its holder, default 30),
``timeout`` (seconds to wait for the store: Redis 5, SQLite's write lock 15), ``prefix`` (Redis key prefix, default
``opi-bitrix24:``), e.g. ``redis://10.0.0.5:6379/2?lock_ttl=20``.

Keys are the portal's origin: ``scheme://host:port`` with the host in lower case and the default port
written out (``https://b24.example`` and ``https://B24.example:443/rest/`` are one portal).

What a shared store holds: per origin, the bucket (level, time stamp, rate, burst; it expires a minute
after it has drained); per origin and REST method, the last operating time and its reset time (it
expires a minute after the reset); per OAuth app key, the access token, the refresh token and the access
token's expiry time (kept until replaced: they are secrets — protect the store like a password file);
per app key while a refresh runs, the lock (its owner: process id and a random value; it expires after
``lock_ttl``). Nothing from the store is ever logged; errors name the store without its password.

A store that cannot be reached raises :class:`StateUnavailable` before the request is sent: there is no
silent fallback to per-process state, because that would bring back exactly the 503s and the lost refresh
tokens the store is there to prevent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ._errors import StateUnavailable
from ._redact import shown_store
from ._settings import STATE_OPTIONS as OPTIONS
from ._settings import current_settings, parse_state

__all__ = ["MemoryState", "RedisState", "SQLiteState", "State", "check", "current", "origin"]

log = logging.getLogger("opi_bitrix24")
T = TypeVar("T")
#: The in-process bucket's clock and the rate limiter's late-wake check (looked up at each use: tests replace it).
clock = time.monotonic

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(address: str) -> str:
    """``scheme://host:port`` of a portal address (default port written out, host in lower case)."""
    text = address.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or _DEFAULT_PORTS.get(scheme, 0)
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def take_slot(
    level: float, stamp: float, rate: float, burst: int, now: float, want_rate: float, want_burst: int
) -> Tuple[float, float, float, int]:
    """One request's take from a leaky bucket: ``(wait, new level, rate, burst)``.

    The bucket drains at ``rate`` per second. While it holds requests, the strictest limit of those using it
    wins (the lower rate, the lower burst); once it has drained empty it takes the limit of the next
    request. One slot of the burst is kept free: requests reach the portal with jitter (a late one can
    arrive right before the next) and the portal's bucket must never see more than its burst.
    """
    level = max(0.0, level - max(0.0, now - stamp) * rate)
    if level <= 0.0:
        rate, burst = want_rate, want_burst
    else:
        rate, burst = min(rate, want_rate), min(burst, want_burst)
    room = max(1, burst - 1)
    wait = max(0.0, (level + 1 - room) / rate)
    return wait, level + 1, rate, burst


def merge_operating(old: Optional[Tuple[float, float]], operating: float, reset_at: float) -> Tuple[float, float]:
    """The operating time to keep after an answer: answers of one window arrive in any order, so the
    larger figure of that window stays; an answer with a later reset (beyond a second of jitter) starts
    a new window."""
    if old is None or reset_at > old[1] + 1.0:
        return operating, reset_at
    if reset_at < old[1] - 1.0:  # an answer of an older window arriving late
        return old
    return max(old[0], operating), max(old[1], reset_at)


class State:
    """The contract of a state backend. Every method is atomic with respect to every other user of the
    same store (threads, processes, machines, as far as the backend reaches).

    - ``take(origin, rate, burst)``: take one slot of the origin's bucket; the seconds to wait before sending.
    - ``refund(origin)``: give a slot back (its request will not be sent: the wait could not fit the deadline).
    - ``note_operating(origin, method, operating, reset_at)``: record what an answer said about the
      method's operating time (merged with :func:`merge_operating`).
    - ``operating(origin, method)``: ``(operating seconds, reset Unix time)`` or None.
    - ``clear_operating(origin, method, reset_at)``: forget the record of that window (after the reset).
    - ``load_pair(key)`` / ``save_pair(key, access, refresh, expires_at)``: the OAuth token pair of an app.
    - ``lock(key, ttl)`` / ``unlock(key, owner)``: the refresh lock (an owner string, or None when held
      by someone else); it expires by itself after ``ttl`` seconds.
    - ``shared``: False for the in-process backend (the pair then lives in the :class:`OAuthApp` itself).
    """

    name = "state"
    shared = False
    lock_ttl = 30.0
    poll = 0.05

    def take(self, origin: str, rate: float, burst: int) -> float:
        raise NotImplementedError

    def refund(self, origin: str) -> None:
        raise NotImplementedError

    def note_operating(self, origin: str, method: str, operating: float, reset_at: float) -> None:
        raise NotImplementedError

    def operating(self, origin: str, method: str) -> Optional[Tuple[float, float]]:
        raise NotImplementedError

    def clear_operating(self, origin: str, method: str, reset_at: float) -> None:
        raise NotImplementedError

    def load_pair(self, key: str) -> Optional[Tuple[str, str, float]]:
        raise NotImplementedError

    def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
        raise NotImplementedError

    def lock(self, key: str, ttl: float) -> Optional[str]:
        raise NotImplementedError

    def unlock(self, key: str, owner: str) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def _owner(self) -> str:
        """A lock owner: the process id (for the operator) and a random part."""
        return f"{os.getpid()}:{os.urandom(8).hex()}"

    def __repr__(self) -> str:
        return f"<opi_bitrix24 state {self.name}>"


class MemoryState(State):
    """The in-process backend (the default): one process, every thread of it."""

    name = "memory"
    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: Dict[str, Tuple[float, float, float, int]] = {}
        self._operating: Dict[Tuple[str, str], Tuple[float, float]] = {}
        self._pairs: Dict[str, Tuple[str, str, float]] = {}
        self._locks: Dict[str, Tuple[str, float]] = {}

    def take(self, origin: str, rate: float, burst: int) -> float:
        with self._lock:
            now = clock()
            level, stamp, old_rate, old_burst = self._buckets.get(origin, (0.0, now, rate, burst))
            wait, level, rate, burst = take_slot(level, stamp, old_rate, old_burst, now, rate, burst)
            self._buckets[origin] = (level, now, rate, burst)
            return wait

    def refund(self, origin: str) -> None:
        with self._lock:
            held = self._buckets.get(origin)
            if held is not None:
                self._buckets[origin] = (max(0.0, held[0] - 1), *held[1:])

    def note_operating(self, origin: str, method: str, operating: float, reset_at: float) -> None:
        with self._lock:
            key = (origin, method)
            self._operating[key] = merge_operating(self._operating.get(key), operating, reset_at)

    def operating(self, origin: str, method: str) -> Optional[Tuple[float, float]]:
        with self._lock:
            return self._operating.get((origin, method))

    def clear_operating(self, origin: str, method: str, reset_at: float) -> None:
        with self._lock:
            record = self._operating.get((origin, method))
            if record is not None and record[1] <= reset_at + 1.0:
                del self._operating[(origin, method)]

    def load_pair(self, key: str) -> Optional[Tuple[str, str, float]]:
        with self._lock:
            return self._pairs.get(key)

    def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
        with self._lock:
            self._pairs[key] = (access, refresh, expires_at)

    def lock(self, key: str, ttl: float) -> Optional[str]:
        with self._lock:
            now = time.monotonic()
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return None
            owner = self._owner()
            self._locks[key] = (owner, now + ttl)
            return owner

    def unlock(self, key: str, owner: str) -> None:
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[0] == owner:
                del self._locks[key]

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._operating.clear()
            self._pairs.clear()
            self._locks.clear()


# --- shared backends -------------------------------------------------------------------------------


class _Shared(State):
    """What the SQLite and Redis backends have in common: options, error mapping, owners."""

    shared = True
    default_timeout = 5.0

    def __init__(self, name: str, options: Dict[str, str]) -> None:
        self.name = name
        self.lock_ttl = float(options.get("lock_ttl", 30.0))
        self.timeout = float(options.get("timeout", self.default_timeout))

    def _fail(self, exc: BaseException, hidden: Tuple[str, ...] = ()) -> StateUnavailable:
        from ._redact import redact

        detail = redact(f"{type(exc).__name__}: {exc}", *hidden)[:300]
        return StateUnavailable(f"the state store {self.name} cannot be used ({detail})", self.name)


class SQLiteState(_Shared):
    """One SQLite file for the processes of one machine (atomic by ``BEGIN IMMEDIATE`` transactions)."""

    default_timeout = 15.0  # how long a write waits for the file's write lock (busy machines included)

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS bucket (origin TEXT PRIMARY KEY, level REAL, stamp REAL, rate REAL, burst INTEGER)",
        "CREATE TABLE IF NOT EXISTS operating (origin TEXT, method TEXT, operating REAL, reset_at REAL,"
        " PRIMARY KEY (origin, method))",
        "CREATE TABLE IF NOT EXISTS pair (key TEXT PRIMARY KEY, access TEXT, refresh TEXT, expires_at REAL)",
        "CREATE TABLE IF NOT EXISTS lock (key TEXT PRIMARY KEY, owner TEXT, expires REAL)",
    )

    def __init__(self, path: str, options: Dict[str, str]) -> None:
        super().__init__(f"sqlite:{path}", options)
        self.path = path
        self._local = threading.local()
        self._ready = False

    def _connection(self) -> Any:
        import sqlite3

        connection = getattr(self._local, "connection", None)
        if connection is not None and getattr(self._local, "pid", None) == os.getpid():
            return connection
        if not os.path.exists(self.path):  # the file holds tokens: readable by its owner only
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        if not self._ready:
            if connection.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                log.debug("state store %s: WAL journal not available", self.name)
            for statement in self.SCHEMA:
                connection.execute(statement)
            self._ready = True
        connection.execute("PRAGMA synchronous = NORMAL")
        self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _run(self, work: Callable[[Any], T], write: bool = True) -> T:
        import sqlite3

        try:
            connection = self._connection()
            if not write:
                return work(connection)
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result
        except (sqlite3.Error, OSError) as exc:
            self._local.connection = None
            raise self._fail(exc) from None

    def take(self, origin: str, rate: float, burst: int) -> float:
        def work(db: Any) -> float:
            now = time.time()
            row = db.execute("SELECT level, stamp, rate, burst FROM bucket WHERE origin = ?", (origin,)).fetchone()
            level, stamp, old_rate, old_burst = row if row is not None else (0.0, now, rate, burst)
            wait, level, new_rate, new_burst = take_slot(level, stamp, old_rate, int(old_burst), now, rate, burst)
            db.execute(
                "INSERT OR REPLACE INTO bucket (origin, level, stamp, rate, burst) VALUES (?, ?, ?, ?, ?)",
                (origin, level, now, new_rate, new_burst),
            )
            return wait

        return self._run(work)

    def refund(self, origin: str) -> None:
        self._run(lambda db: db.execute("UPDATE bucket SET level = MAX(0, level - 1) WHERE origin = ?", (origin,)))

    def note_operating(self, origin: str, method: str, operating: float, reset_at: float) -> None:
        def work(db: Any) -> None:
            row = db.execute(
                "SELECT operating, reset_at FROM operating WHERE origin = ? AND method = ?", (origin, method)
            ).fetchone()
            merged = merge_operating(tuple(row) if row is not None else None, operating, reset_at)
            db.execute(
                "INSERT OR REPLACE INTO operating (origin, method, operating, reset_at) VALUES (?, ?, ?, ?)",
                (origin, method, merged[0], merged[1]),
            )

        self._run(work)

    def operating(self, origin: str, method: str) -> Optional[Tuple[float, float]]:
        def work(db: Any) -> Optional[Tuple[float, float]]:
            row = db.execute(
                "SELECT operating, reset_at FROM operating WHERE origin = ? AND method = ?", (origin, method)
            ).fetchone()
            return None if row is None else (float(row[0]), float(row[1]))

        return self._run(work, write=False)

    def clear_operating(self, origin: str, method: str, reset_at: float) -> None:
        self._run(
            lambda db: db.execute(
                "DELETE FROM operating WHERE origin = ? AND method = ? AND reset_at <= ?",
                (origin, method, reset_at + 1),
            )
        )

    def load_pair(self, key: str) -> Optional[Tuple[str, str, float]]:
        def work(db: Any) -> Optional[Tuple[str, str, float]]:
            row = db.execute("SELECT access, refresh, expires_at FROM pair WHERE key = ?", (key,)).fetchone()
            return None if row is None else (str(row[0]), str(row[1]), float(row[2] or 0.0))

        return self._run(work, write=False)

    def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
        self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO pair (key, access, refresh, expires_at) VALUES (?, ?, ?, ?)",
                (key, access, refresh, expires_at),
            )
        )

    def lock(self, key: str, ttl: float) -> Optional[str]:
        owner = self._owner()

        def held(db: Any) -> bool:
            row = db.execute("SELECT expires FROM lock WHERE key = ?", (key,)).fetchone()
            return row is not None and float(row[0]) > time.time()

        if self._run(held, write=False):  # waiting workers only read: no write lock taken while they poll
            return None

        def work(db: Any) -> Optional[str]:
            if held(db):
                return None
            now = time.time()
            db.execute("INSERT OR REPLACE INTO lock (key, owner, expires) VALUES (?, ?, ?)", (key, owner, now + ttl))
            return owner

        return self._run(work)

    def unlock(self, key: str, owner: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM lock WHERE key = ? AND owner = ?", (key, owner)))

    def reset(self) -> None:
        def work(db: Any) -> None:
            for table in ("bucket", "operating", "pair", "lock"):
                db.execute(f"DELETE FROM {table}")  # fixed table names

        self._run(work)


_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local want_rate = tonumber(ARGV[1])
local want_burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'level', 'stamp', 'rate', 'burst')
local level = tonumber(v[1]) or 0
local stamp = tonumber(v[2]) or now
local rate = tonumber(v[3]) or want_rate
local burst = tonumber(v[4]) or want_burst
local elapsed = now - stamp
if elapsed < 0 then elapsed = 0 end
level = level - elapsed * rate
if level < 0 then level = 0 end
if level <= 0 then
  rate = want_rate
  burst = want_burst
else
  if want_rate < rate then rate = want_rate end
  if want_burst < burst then burst = want_burst end
end
local room = burst - 1
if room < 1 then room = 1 end
local wait = (level + 1 - room) / rate
if wait < 0 then wait = 0 end
level = level + 1
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'stamp', string.format('%.17g', now),
  'rate', string.format('%.17g', rate), 'burst', tostring(burst))
redis.call('PEXPIRE', KEYS[1], math.ceil((level / rate + 60) * 1000))
return string.format('%.17g', wait)
"""

_REFUND = """
local level = tonumber(redis.call('HGET', KEYS[1], 'level'))
if level then
  level = level - 1
  if level < 0 then level = 0 end
  redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level))
end
return 1
"""

_NOTE = """
local op = tonumber(ARGV[1])
local reset = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'operating', 'reset_at')
local old_op = tonumber(v[1])
local old_reset = tonumber(v[2])
if old_op and old_reset then
  if reset < old_reset - 1 then return 0 end
  if reset <= old_reset + 1 then
    if old_op > op then op = old_op end
    if old_reset > reset then reset = old_reset end
  end
end
redis.call('HSET', KEYS[1], 'operating', string.format('%.17g', op), 'reset_at', string.format('%.17g', reset))
redis.call('EXPIREAT', KEYS[1], math.ceil(reset) + 60)
return 1
"""

_CLEAR = """
local reset = tonumber(redis.call('HGET', KEYS[1], 'reset_at'))
if reset and reset <= tonumber(ARGV[1]) + 1 then redis.call('DEL', KEYS[1]) end
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisState(_Shared):
    """A Redis server for processes on many machines (atomic by Lua scripts and ``SET NX PX``; the bucket
    uses the server's clock, so the machines' clocks need not agree)."""

    def __init__(self, url: str, options: Dict[str, str]) -> None:
        parts = urlsplit(url)
        shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
        if parts.scheme == "unix":
            shown = f"unix://{parts.path}"
        db = options.get("db") or parts.path.strip("/") if parts.scheme != "unix" else options.get("db", "0")
        super().__init__(f"{shown}/{db or 0}", options)
        self.url = url
        self.prefix = options.get("prefix", "opi-bitrix24:")
        self._hidden = tuple(s for s in (parts.password, options.get("password")) if s)
        self._client: Any = None
        self._scripts: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def _redis(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import redis
                    except ImportError:
                        raise StateUnavailable(
                            f"the state store {self.name} needs the redis client: pip install 'opi-bitrix24[redis]'",
                            self.name,
                        ) from None
                    url = self.url.split("?", 1)[0]
                    query = [(k, v) for k, v in parse_qsl(urlsplit(self.url).query) if k not in OPTIONS]
                    if query:
                        from urllib.parse import urlencode

                        url += "?" + urlencode(query)
                    client = redis.Redis.from_url(
                        url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout, decode_responses=True
                    )
                    for name, script in (
                        ("take", _TAKE),
                        ("refund", _REFUND),
                        ("note", _NOTE),
                        ("clear", _CLEAR),
                        ("unlock", _UNLOCK),
                    ):
                        self._scripts[name] = client.register_script(script)
                    self._client = client
        return self._client

    def _run(self, work: Callable[[Any], T]) -> T:
        client = self._redis()
        import redis

        try:
            return work(client)
        except (redis.RedisError, OSError) as exc:
            raise self._fail(exc, self._hidden) from None

    def _key(self, kind: str, *parts: str) -> str:
        return self.prefix + kind + ":" + "|".join(parts)

    def take(self, origin: str, rate: float, burst: int) -> float:
        key = self._key("bucket", origin)
        return self._run(lambda r: float(self._scripts["take"](keys=[key], args=[repr(float(rate)), int(burst)])))

    def refund(self, origin: str) -> None:
        key = self._key("bucket", origin)
        self._run(lambda r: self._scripts["refund"](keys=[key]))

    def note_operating(self, origin: str, method: str, operating: float, reset_at: float) -> None:
        key = self._key("operating", origin, method)
        self._run(lambda r: self._scripts["note"](keys=[key], args=[repr(float(operating)), repr(float(reset_at))]))

    def operating(self, origin: str, method: str) -> Optional[Tuple[float, float]]:
        key = self._key("operating", origin, method)
        values = self._run(lambda r: r.hmget(key, "operating", "reset_at"))
        if values[0] is None or values[1] is None:
            return None
        return float(values[0]), float(values[1])

    def clear_operating(self, origin: str, method: str, reset_at: float) -> None:
        key = self._key("operating", origin, method)
        self._run(lambda r: self._scripts["clear"](keys=[key], args=[repr(float(reset_at))]))

    def load_pair(self, key: str) -> Optional[Tuple[str, str, float]]:
        values = self._run(lambda r: r.hmget(self._key("pair", key), "access", "refresh", "expires_at"))
        if values[0] is None or values[1] is None:
            return None
        return str(values[0]), str(values[1]), float(values[2] or 0.0)

    def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
        mapping = {"access": access, "refresh": refresh, "expires_at": repr(float(expires_at))}
        self._run(lambda r: r.hset(self._key("pair", key), mapping=mapping))

    def lock(self, key: str, ttl: float) -> Optional[str]:
        owner = self._owner()
        taken = self._run(lambda r: r.set(self._key("lock", key), owner, nx=True, px=max(1, int(ttl * 1000))))
        return owner if taken else None

    def unlock(self, key: str, owner: str) -> None:
        self._run(lambda r: self._scripts["unlock"](keys=[self._key("lock", key)], args=[owner]))

    def reset(self) -> None:
        def work(r: Any) -> None:
            keys = list(r.scan_iter(match=self.prefix + "*", count=500))
            if keys:
                r.delete(*keys)

        self._run(work)


# --- choosing the backend ---------------------------------------------------------------------------

_memory = MemoryState()
_stores: Dict[str, State] = {}
_stores_lock = threading.Lock()


def build(spec: str, setting: str = "state") -> State:
    """The backend a ``state`` value names (a new object; :func:`current` keeps one per value)."""
    kind, target, options = parse_state(spec, setting)
    if kind == "memory":
        return _memory
    if kind == "sqlite":
        return SQLiteState(target, options)
    return RedisState(target, options)


#: A ``state`` value as it may be shown: a password in a Redis URL (user info or query) is ``***``.
shown = shown_store


def check(spec: str, setting: str = "state") -> None:
    """Validate a ``state`` value without connecting (InvalidArgument names ``setting``)."""
    build(spec, setting)


def current() -> State:
    """The backend the current settings choose (the in-process one by default)."""
    spec = current_settings().state
    if spec in ("", "memory"):
        return _memory
    store = _stores.get(spec)
    if store is None:
        with _stores_lock:
            store = _stores.get(spec)
            if store is None:
                store = _stores[spec] = build(spec)
    return store
