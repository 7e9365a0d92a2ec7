"""The state contract on each backend (memory, SQLite, Redis), the ``state`` setting and honest failure."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import opi_bitrix24 as b24
from opi_bitrix24 import InvalidArgument, OAuthApp, StateUnavailable, _cli, _state, call
from tests._stores import free_port, redis_server, unique_prefix
from tests.simportal import SimPortal


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: Any, tmp_path: Path) -> _state.State:
    if request.param == "memory":
        backend: _state.State = _state.MemoryState()
    elif request.param == "sqlite":
        backend = _state.build(f"sqlite:///{tmp_path / 'state.db'}")
    else:
        backend = _state.build(f"{request.getfixturevalue('redis_url')}?prefix={unique_prefix()}")
    return backend


@pytest.fixture(params=["sqlite", "redis"])
def shared(request: Any, tmp_path: Path) -> str:
    """The ``state`` value of a fresh shared store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return f"{request.getfixturevalue('redis_url')}?prefix={unique_prefix()}"


# --- the contract ---------------------------------------------------------------------------------


def within(wait: float, exact: float, since: float, rate: float) -> bool:
    """``wait`` is ``exact`` less what the bucket drained (at ``rate``) in the real time since ``since``."""
    drained = (time.monotonic() - since) * rate
    return exact - drained / rate - 1e-6 <= wait <= exact + 1e-6


def test_take_lets_the_burst_but_one_through_then_spaces_requests(store: _state.State) -> None:
    since = time.monotonic()
    assert [store.take("https://a.test:443", 2.0, 10) for _ in range(9)] == [0.0] * 9
    assert within(store.take("https://a.test:443", 2.0, 10), 0.5, since, 2.0)
    assert within(store.take("https://a.test:443", 2.0, 10), 1.0, since, 2.0)
    store.refund("https://a.test:443")  # that request was not sent (its wait could not fit the deadline)
    assert within(store.take("https://a.test:443", 2.0, 10), 1.0, since, 2.0)
    assert store.take("https://b.test:443", 2.0, 10) == 0.0  # another origin, another bucket


def test_take_holds_everyone_to_the_strictest_limit_until_the_bucket_drains(store: _state.State) -> None:
    since = time.monotonic()
    for _ in range(5):
        assert store.take("https://a.test:443", 50.0, 10) == 0.0
    # 5 in the bucket, a burst of 4 keeps 3 slots, 5/s: (5 + 1 - 3) / 5; what drained since (at 50/s
    # before the stricter limit came, at 5/s after) can only shorten the wait
    wait = store.take("https://a.test:443", 5.0, 4)
    assert 0.6 - (time.monotonic() - since) * 50 / 5 - 1e-6 <= wait <= 0.6 + 1e-6
    wait = store.take("https://a.test:443", 50.0, 10)
    assert 0.8 - (time.monotonic() - since) * 50 / 5 - 1e-6 <= wait <= 0.8 + 1e-6


def test_operating_time_is_merged_per_window(store: _state.State) -> None:
    now = time.time()
    assert store.operating("https://a.test:443", "crm.lead.list") is None
    store.note_operating("https://a.test:443", "crm.lead.list", 440.0, now + 300)
    store.note_operating("https://a.test:443", "crm.lead.list", 12.0, now + 300)
    assert store.operating("https://a.test:443", "crm.lead.list") == (440.0, now + 300)
    store.note_operating("https://a.test:443", "crm.lead.list", 3.0, now + 900)
    assert store.operating("https://a.test:443", "crm.lead.list") == (3.0, now + 900)
    store.note_operating("https://a.test:443", "crm.lead.list", 470.0, now + 300)  # late, older window
    assert store.operating("https://a.test:443", "crm.lead.list") == (3.0, now + 900)
    store.clear_operating("https://a.test:443", "crm.lead.list", now + 300)  # not that window: kept
    assert store.operating("https://a.test:443", "crm.lead.list") == (3.0, now + 900)
    store.clear_operating("https://a.test:443", "crm.lead.list", now + 900)
    assert store.operating("https://a.test:443", "crm.lead.list") is None


def test_pairs_and_the_refresh_lock(store: _state.State) -> None:
    assert store.load_pair("app") is None
    store.save_pair("app", "A-1", "R-1", 1234.5)
    assert store.load_pair("app") == ("A-1", "R-1", 1234.5)
    owner = store.lock("app", 0.3)
    assert owner is not None and owner.startswith(f"{os.getpid()}:")
    assert store.lock("app", 0.3) is None  # held
    store.unlock("app", "someone-else")  # only the owner releases
    assert store.lock("app", 0.3) is None
    time.sleep(0.4)  # the holder died: the lock expires by itself
    second = store.lock("app", 5)
    assert second is not None and second != owner
    store.unlock("app", second)
    assert store.lock("app", 5) is not None


# --- the setting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("bogus", "must be 'memory', 'sqlite:///path/to/state.db' or 'redis://host:6379/0'"),
        ("sqlite:", "the SQLite file path is missing ('sqlite:///path/to/state.db')"),
        ("sqlite://host/x.db", "a SQLite file is 'sqlite:///absolute/path.db' or 'sqlite:relative/path.db'"),
        ("redis://", "a Redis store is 'redis://host:port/db'"),
        ("redis://h:6379/0?lock_tll=3", "unknown option 'lock_tll' (known: lock_ttl, prefix, timeout)"),
        ("redis://h:6379/0?lock_ttl=0", "option lock_ttl must be a number of seconds"),
        ("sqlite:///x.db?timeout=soon", "option timeout must be a number of seconds"),
    ],
)
def test_a_bad_state_value_is_refused_naming_the_setting(value: str, problem: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        b24.Settings(state=value)
    assert (caught.value.parameter, caught.value.problem) == ("state", problem)


def test_the_default_state_is_in_process() -> None:
    assert b24.Settings().state == "memory"
    assert _state.current() is _state._memory


def test_one_backend_object_per_value(tmp_path: Path) -> None:
    spec = f"sqlite:///{tmp_path / 's.db'}"
    with b24.settings(state=spec):
        first = _state.current()
    with b24.settings(state=spec):
        assert _state.current() is first
    assert isinstance(first, _state.SQLiteState) and first.name == f"sqlite:{tmp_path / 's.db'}"


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path, portal: Any) -> None:
    path = tmp_path / "state.db"
    with b24.settings(state=f"sqlite:///{path}", rate_limit=(2.0, 50)):
        call(portal.webhook, "profile")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- honest failure ---------------------------------------------------------------------------------


def test_an_unreachable_redis_raises_before_anything_is_sent(portal: Any) -> None:
    port = free_port()
    spec = f"redis://:pa55word-XYZ@127.0.0.1:{port}/3?timeout=1"
    with b24.settings(state=spec, rate_limit=(2.0, 50)), pytest.raises(StateUnavailable) as caught:
        call(portal.webhook, "profile")
    assert portal.requests == []
    assert caught.value.store == f"redis://127.0.0.1:{port}/3"
    assert str(caught.value).startswith(f"the state store redis://127.0.0.1:{port}/3 cannot be used (ConnectionError: ")
    assert "pa55word" not in str(caught.value) and "pa55word" not in repr(caught.value)


def test_an_unusable_sqlite_file_raises_before_anything_is_sent(portal: Any, tmp_path: Path) -> None:
    path = tmp_path / "missing-folder" / "state.db"
    with b24.settings(state=f"sqlite:///{path}", rate_limit=(2.0, 50)), pytest.raises(StateUnavailable) as caught:
        call(portal.webhook, "profile")
    assert portal.requests == []
    assert caught.value.store == f"sqlite:{path}"
    assert str(caught.value) == (
        f"the state store sqlite:{path} cannot be used "
        f"(FileNotFoundError: [Errno 2] No such file or directory: '{path}')"
    )


def test_a_store_failing_after_the_answer_keeps_the_answer(portal: Any, monkeypatch: Any, caplog: Any) -> None:
    failing = _state.MemoryState()

    def broken(*_: Any) -> None:
        raise StateUnavailable("the state store test cannot be used (down)", "test")

    monkeypatch.setattr(failing, "note_operating", broken)
    monkeypatch.setattr(_state, "current", lambda: failing)
    portal.reply(200, {"result": 7, "time": {"operating": 1.0, "operating_reset_at": time.time() + 600}})
    with caplog.at_level(logging.WARNING, logger="opi_bitrix24"):
        assert call(portal.webhook, "crm.task.add")["result"] == 7
    assert "operating time not recorded: the state store test cannot be used (down)" in caplog.text


def test_the_cli_reads_the_state_from_the_environment(monkeypatch: Any, tmp_path: Path, capsys: Any) -> None:
    before = b24.current_settings().state
    try:
        monkeypatch.setenv("OPI_BITRIX24_STATE", "bogus")
        assert _cli.main(["Call", "--url", "https://b24.example/rest/1/k/", "--method", "profile"]) == _cli.EXIT_USAGE
        assert "OPI_BITRIX24_STATE: must be 'memory'" in capsys.readouterr().err
        with SimPortal(records=1, rate=100, burst=100) as sim:
            path = tmp_path / "cli.db"
            monkeypatch.setenv("OPI_BITRIX24_STATE", f"sqlite:///{path}")
            monkeypatch.setenv("OPI_BITRIX24_RATE_LIMIT", "100/100")
            assert _cli.main(["Call", "--url", sim.webhook, "--method", "profile"]) == 0
            assert json.loads(capsys.readouterr().out)["result"]["ID"] == "1"
        origin = _state.origin(sim.base)
        stored = _state.build(f"sqlite:///{path}")
        rows = stored._run(lambda db: db.execute("SELECT origin, burst FROM bucket").fetchall(), write=False)
        assert rows == [(origin, 100)]
    finally:
        b24.configure(state=before, rate_limit=None)


# --- the OAuth pair in a shared store --------------------------------------------------------------


def test_a_shared_refresh_stores_the_pair_and_logs_no_token(shared: str, caplog: Any) -> None:
    spec = shared
    store = _state.build(spec)
    saved: List[Dict[str, Any]] = []
    with SimPortal(records=1, rate=100, burst=100) as sim:
        app = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1", on_refresh=saved.append)
        sim.expire()
        with caplog.at_level(logging.DEBUG), b24.settings(state=spec, oauth_app=app, oauth_url=sim.oauth_url):
            assert call(sim.base, "profile", token="access-1")["result"]["ID"] == "1"
            # a second app object (another process, another worker) starts from the stored pair at once
            other = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1")
            with b24.settings(oauth_app=other):
                assert call(sim.base, "profile", token="access-1")["result"]["ID"] == "1"
        assert (sim.stats["refreshes"], sim.stats["expired"]) == (1, 1)
    assert [s["refresh_token"] for s in saved] == ["refresh-2"]
    pair = store.load_pair("app.sim\x1fapp.sim")
    assert pair is not None and pair[:2] == ("access-2", "refresh-2") and pair[2] > time.time() + 3000
    assert (other.access_token, other.refresh_token) == ("access-2", "refresh-2")
    for secret in ("access-1", "access-2", "refresh-0", "refresh-2", sim.client_secret):
        assert secret not in caplog.text
    assert store.lock("app.sim\x1fapp.sim", 1) is not None  # the refresh released its lock


def test_what_redis_holds_is_what_the_docs_say(redis_url: str) -> None:
    prefix = unique_prefix()
    spec = f"{redis_url}?prefix={prefix}"
    with SimPortal(records=1, rate=100, burst=100) as sim:
        app = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1", key="user-7")
        sim.expire()
        with b24.settings(state=spec, oauth_app=app, oauth_url=sim.oauth_url, rate_limit=(100.0, 100)):
            call(sim.base, "crm.lead.get", {"id": 1}, token="access-1")
        origin = _state.origin(sim.base)
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = sorted(client.scan_iter(match=prefix + "*"))
    assert keys == [
        f"{prefix}bucket:{origin}",
        f"{prefix}operating:{origin}|crm.lead.get",
        f"{prefix}pair:app.sim\x1fuser-7",
    ]
    assert sorted(client.hgetall(keys[0])) == ["burst", "level", "rate", "stamp"]
    assert client.pttl(keys[0]) > 0 and client.ttl(keys[1]) > 0 and client.ttl(keys[2]) == -1
    pair = client.hgetall(keys[2])
    assert (sorted(pair), pair["access"], pair["refresh"]) == (
        ["access", "expires_at", "refresh"],
        "access-2",
        "refresh-2",
    )
    assert float(pair["expires_at"]) > time.time() + 3000
    client.close()


def test_settings_never_show_a_redis_password() -> None:
    config = b24.Settings(state="redis://user:pa55-word@10.0.0.5:6379/2?password=pa55-word&timeout=2")
    assert "state='redis://user:***@10.0.0.5:6379/2?password=***&timeout=2'" in repr(config)
    assert "pa55" not in repr(config) and "pa55" not in repr(_state.build(config.state))
    assert _state.build(config.state).name == "redis://10.0.0.5:6379/2"


def test_redis_without_its_client_says_how_to_install_it(portal: Any, monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    with b24.settings(state="redis://127.0.0.1:6379/9?prefix=none:", rate_limit=(2.0, 50)):
        with pytest.raises(StateUnavailable) as caught:
            call(portal.webhook, "profile")
    assert str(caught.value) == (
        "the state store redis://127.0.0.1:6379/9 needs the redis client: pip install 'opi-bitrix24[redis]'"
    )
    assert portal.requests == []


def test_waiting_for_another_workers_refresh_ends_at_the_deadline(shared: str) -> None:
    from opi_bitrix24 import DeadlineExceeded

    with SimPortal(records=1, rate=100, burst=100) as sim:
        store = _state.build(shared)
        owner = store.lock("app.sim\x1fapp.sim", 30)  # another worker is refreshing (and takes its time)
        assert owner is not None
        app = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1")
        sim.expire()
        started = time.monotonic()
        with b24.settings(state=shared, oauth_app=app, oauth_url=sim.oauth_url, deadline=1):
            with pytest.raises(DeadlineExceeded) as caught:
                call(sim.base, "profile", token="access-1")
        assert time.monotonic() - started < 5  # bounded by the deadline, not by the lock's 30 s
        assert "waiting for another worker's token refresh" in str(caught.value)
        assert (sim.stats["requests"], sim.stats["refreshes"]) == (1, 0)  # the first call only; no refresh
        store.unlock("app.sim\x1fapp.sim", owner)


def test_a_store_failing_after_the_portal_rotated_hands_the_pair_to_on_refresh(monkeypatch: Any) -> None:
    class Failing(_state.MemoryState):
        shared = True
        name = "failing"

        def save_pair(self, key: str, access: str, refresh: str, expires_at: float) -> None:
            raise StateUnavailable("the state store failing cannot be used (down)", "failing")

        def unlock(self, key: str, owner: str) -> None:
            raise StateUnavailable("the state store failing cannot be used (down)", "failing")

    store = Failing()
    monkeypatch.setattr(_state, "current", lambda: store)
    saved: List[Dict[str, Any]] = []
    with SimPortal(records=1, rate=100, burst=100) as sim:
        app = OAuthApp(sim.client_id, sim.client_secret, "refresh-0", "access-1", on_refresh=saved.append)
        sim.expire()
        with b24.settings(oauth_app=app, oauth_url=sim.oauth_url), pytest.raises(StateUnavailable) as caught:
            call(sim.base, "profile", token="access-1")
        assert sim.stats["refreshes"] == 1
    assert str(caught.value) == "the state store failing cannot be used (down)"
    assert [(s["access_token"], s["refresh_token"]) for s in saved] == [("access-2", "refresh-2")]
    assert (app.access_token, app.refresh_token) == ("access-2", "refresh-2")  # kept in this process
