"""Real state stores for the tests: a Redis server of their own on a free loopback port, SQLite files."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Iterator

import pytest

NO_SERVER = "redis-server is not installed (apt-get install redis-server; .ci/run installs it)"
NO_CLIENT = "the redis client is not installed (pip install 'opi-bitrix24[redis]')"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A started ``redis-server`` (no persistence) on a free 127.0.0.1 port: yields ``redis://127.0.0.1:<port>/0``;
    skips the test with the reason when the server or the client cannot be had."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(NO_SERVER)
    try:
        import redis
    except ImportError:
        pytest.skip(NO_CLIENT)
    folder = tempfile.mkdtemp(prefix="opi-redis-")
    for _ in range(5):  # another process may take the free port between the probe and the start
        port = free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", folder, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        up = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                up = bool(client.ping())
                break
            except redis.RedisError:
                time.sleep(0.05)
        client.close()
        if up:
            break
        process.kill()
        process.wait()
    else:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail("redis-server did not start on a free port")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"
