"""Execution: the CLI under test run once per case (a process, or a call to a persistent adapter) against the
loopback replay server, what it did collected into a ``Happened`` and handed to the judge.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .judging import judge
from .loading import expected_result
from .model import Case, Declared, Happened, cli_text, environment, expand
from .server import ReplayServer

__all__ = [
    "SCRIPT_SUFFIXES",
    "Done",
    "Worker",
    "absolute_if_file",
    "cannot_start",
    "mask",
    "run_case",
    "startable",
    "tls_context",
]


def tls_context() -> Tuple[Any, str]:
    import trustme  # test extra; only needed with --tls

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    bundle = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
    bundle.write(authority.cert_pem.bytes())
    bundle.close()
    return context, bundle.name


@dataclasses.dataclass
class Done:
    returncode: int
    stdout: bytes
    stderr: bytes


class Worker:
    """One persistent adapter process (opi_bitrix24_conformance/runner/worker.py): many calls, one interpreter."""

    def __init__(self, command: List[str]) -> None:
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, argv: List[str], env: Dict[str, str], cwd: str, timeout: float) -> Done:
        assert self._process.stdin is not None and self._process.stdout is not None
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode("utf-8") + b"\n"
        self._process.stdin.write(request)
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise OSError("the persistent adapter exited")
        answer = json.loads(line)
        return Done(int(answer["code"]), base64.b64decode(answer["stdout"]), base64.b64decode(answer["stderr"]))

    def close(self) -> None:
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


def absolute_if_file(part: str) -> str:
    path = Path(part)
    if not path.is_absolute() and (os.sep in part or path.suffix) and path.is_file():
        return str(path.resolve())
    return part


def startable(program: str) -> bool:
    """True if ``program`` names an executable file (a path) or a command on PATH."""
    if os.sep in program or (os.altsep and os.altsep in program):
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


#: File name endings of a script an interpreter runs (``node cli.js``): such an argv part must be a file.
SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".py", ".os", ".sh", ".rb", ".php", ".pl", ".ps1", ".jar", ".dll")


def cannot_start(prefix: List[str]) -> Optional[str]:
    """Why the CLI of ``prefix`` cannot be started at all (None: it can be tried): its program is no executable,
    or a script it names (``node cli.js``) is no file."""
    if not startable(prefix[0]):
        return f"{prefix[0]!r} is not an executable"
    for part in prefix[1:]:
        if not part.startswith("-") and part.lower().endswith(SCRIPT_SUFFIXES) and not os.path.isfile(part):
            return f"{part!r} is not a file"
    return None


def mask(text: str, secret: str, token: str) -> str:
    return text.replace(secret, "${SECRET}").replace(token, "${TOKEN}")


def run_case(
    case: Case,
    argv_prefix: List[str],
    server: ReplayServer,
    scheme: str,
    extra_env: Dict[str, str],
    timeout: float,
    declared: Declared,
    worker: Optional[Worker] = None,
) -> Tuple[bool, str, List[str]]:
    """Run one case (as the implementation must pass it: ``under_policy``); returns (passed, message, the argv run
    with secrets masked)."""
    secret = "k" + secrets.token_hex(8)
    token = "t" + secrets.token_hex(12)
    # ${OTHER_PORTAL} is another origin (localhost, not 127.0.0.1) served by the same server
    env = environment(scheme, f"127.0.0.1:{server.port}", secret, token, f"localhost:{server.port}")
    exchanges = expand(case.http, env)
    for exchange in exchanges:  # every request goes to the portal unless the case names another origin
        exchange["request"].setdefault("origin", env["PORTAL"])
    server.load(exchanges)
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "result.json"
        argv = list(argv_prefix) + [case.via or case.method]
        for option, value in case.args.items():
            argv += [f"--{option}", cli_text(expand(value, env))]
        argv += ["--out", str(out)]
        shown = [mask(part, secret, token) for part in argv]
        child_env = dict(os.environ, LANG="C.UTF-8", NO_COLOR="1", PYTHONIOENCODING="utf-8", **extra_env)
        child_env.update(expand(case.env, env))
        try:
            if worker is not None:
                done = worker.run(argv[len(argv_prefix) :], child_env, workdir, timeout)
            else:
                ran = subprocess.run(
                    argv, capture_output=True, timeout=timeout, env=child_env, cwd=workdir, check=False
                )
                done = Done(ran.returncode, ran.stdout, ran.stderr)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout}s", shown
        except OSError as exc:
            return False, f"cannot start {argv[0]!r}: {exc}", shown
        output = out.read_bytes() if out.exists() else None
    happened = Happened(done.returncode, done.stdout, done.stderr, output, server.received())
    resolved = dataclasses.replace(case, http=exchanges)
    expected = None if "error" in case.expect else expected_result(case, env)
    differences = judge(resolved, env, happened, declared, expected)
    return not differences, "; ".join(differences), shown
