"""A persistent adapter for this package's CLI: runs many CLI calls in one Python process.

The external runner starts one worker per job for an adapter with a ``persistent`` command
(adapters.yaml) instead of one interpreter per case. Protocol, one JSON object per line on stdin / stdout::

    -> {"argv": ["GetUsers", "--url", "...", "--out", "/tmp/x/result.json"], "env": {...}, "cwd": "/tmp/x"}
    <- {"code": 0, "stdout": "<base64>", "stderr": "<base64>"}

Each call gets exactly the environment and working directory given and fresh stdout/stderr buffers
(environment, directory and the ``opi_bitrix24`` logger are restored afterwards);
``opi_bitrix24._cli.main`` is the same entry point ``python -m opi_bitrix24`` runs. Client-side rate
limiting is switched off: a run of hundreds of calls to one loopback server is not a portal that needs
protecting; so is the retry backoff (the ``transport`` cases' re-sends go out at once; what is re-sent, and
how often, is unchanged — only the waits, which no case can observe, are gone).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import sys
import time
from typing import Any, Dict, List


def _zone_changed() -> None:
    """Local time follows ``TZ`` as in a fresh process (a case may pin OPI's machine-dependent date rules in a zone)."""
    if hasattr(time, "tzset"):
        time.tzset()


def _call(argv: List[str], env: Dict[str, str], cwd: str) -> Dict[str, Any]:
    from opi_bitrix24 import _cli

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    logger = logging.getLogger("opi_bitrix24")  # --debug adds a handler on the call's stderr
    saved_handlers, saved_level = list(logger.handlers), logger.level
    saved_out, saved_err = sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    text_out = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    text_err = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    sys.stdout, sys.stderr = text_out, text_err
    os.environ.clear()
    os.environ.update(env)
    _zone_changed()
    try:
        os.chdir(cwd)
        try:
            code = _cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - report like a crashed process would
            sys.stderr.write(f"worker: {type(exc).__name__}\n")
            code = 1
    finally:
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)
        sys.stdout, sys.stderr = saved_out, saved_err
        for wrapper in (text_out, text_err):
            wrapper.flush()
            wrapper.detach()  # keep the BytesIO open when the wrapper goes away
        os.environ.clear()
        os.environ.update(saved_env)
        _zone_changed()
        os.chdir(saved_cwd)
    return {
        "code": code,
        "stdout": base64.b64encode(out.getvalue()).decode("ascii"),
        "stderr": base64.b64encode(err.getvalue()).decode("ascii"),
    }


def main() -> int:
    os.environ["OPI_BITRIX24_RATE_LIMIT"] = "off"
    import opi_bitrix24

    configure: Any = getattr(opi_bitrix24, "configure", None)
    if configure is not None:
        try:
            configure(rate_limit=None, backoff=0)
        except TypeError:  # an older Settings without the field
            pass
    channel = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        env = dict(request["env"], OPI_BITRIX24_RATE_LIMIT="off")
        answer = _call(list(request["argv"]), env, request["cwd"])
        channel.write(json.dumps(answer).encode("ascii") + b"\n")
        channel.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
