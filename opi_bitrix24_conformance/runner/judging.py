"""Judging: pure functions from a case and what happened to the list of differences (empty: the case passed).

No I/O, no server, no process: ``judge(case, env, happened, declared, expected)`` reads only its arguments, so
an implementation's run can be judged again from a record of it, and every rule here has unit tests of its own
(tests/test_suite_judging.py). The replay server uses ``request_diff`` to decide its answers; the verdict is
``judge``'s, computed from every request received.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlsplit

from .model import EXIT_FOR_KIND, Case, Declared, Happened, Received, cli_text
from .opiformat import parse as parse_opi

__all__ = [
    "RELAXATIONS",
    "canonical",
    "happened_phrase",
    "json_diff",
    "judge",
    "leaks",
    "multipart_diff",
    "multipart_header_problem",
    "origin_of",
    "parse_json",
    "parse_multipart",
    "read_result",
    "request_diff",
    "requests_diff",
    "split_uri",
]


def parse_json(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8-sig"), parse_float=Decimal)


def canonical(value: Any) -> Any:
    """Numbers as Decimal, strings NFC, so that 1C, JS and Python results compare equal."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if isinstance(value, dict):
        return {canonical(key): canonical(item) for key, item in value.items()}
    return value


def json_diff(expected: Any, actual: Any, where: str = "$", ordered: bool = False) -> Optional[str]:
    """None when equal (numbers as decimals), else where they first differ.

    Key order is ignored unless ``ordered``: then every object's keys must also come in the expected
    order (request bodies: OPI sends ``auth`` first, then the fields in ``AddField`` order).
    """
    exp, act = canonical(expected), canonical(actual)
    if isinstance(exp, dict) and isinstance(act, dict):
        for key in exp:
            if key not in act:
                return f"{where}.{key}: missing"
            found = json_diff(exp[key], act[key], f"{where}.{key}", ordered)
            if found:
                return found
        extra = [key for key in act if key not in exp]
        if extra:
            return f"{where}: unexpected keys {extra}"
        if ordered and list(exp) != list(act):
            return f"{where}: key order expected {list(exp)}, got {list(act)}"
        return None
    if isinstance(exp, list) and isinstance(act, list):
        if len(exp) != len(act):
            return f"{where}: {len(exp)} items expected, got {len(act)}"
        for index, (left, right) in enumerate(zip(exp, act)):
            found = json_diff(left, right, f"{where}[{index}]", ordered)
            if found:
                return found
        return None
    if type(exp) is not type(act) or exp != act:
        return f"{where}: expected {_short(exp)}, got {_short(act)}"
    return None


def _short(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) < 120 else text[:117] + "..."


#: What an expectations file may relax (``relax: [...]``): for runtimes that cannot keep an order.
RELAXATIONS = ("json-key-order", "query-order")


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-case, with the default port written out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def request_diff(
    expected: Mapping[str, Any],
    verb: str,
    target: str,
    body: bytes,
    origin: Optional[str] = None,
    relax: Iterable[str] = (),
    content_type: Optional[str] = None,
) -> Optional[str]:
    """Compare one received request with the case's expected (already expanded) request.

    Strict by default: the query fields in order, JSON body keys in order (``relax`` may name
    ``query-order`` / ``json-key-order``), and, when ``origin`` (the ``scheme://host:port`` the request
    reached) is given, the request's ``origin`` (default: the portal, ``${PORTAL}``). When the request's
    ``content_type`` header is given, a multipart upload must declare ``multipart/form-data`` with the
    boundary its body uses (a server cannot read the parts otherwise), and a JSON body must be declared
    ``application/json`` (any parameters, e.g. ``charset=utf-8``).
    """
    relaxed = set(relax)
    path, _, query = target.partition("?")
    if verb.upper() != str(expected["method"]).upper():
        return f"method: expected {expected['method']}, got {verb}"
    if origin is not None and "origin" in expected:
        want, got = origin_of(str(expected["origin"])), origin_of(origin)
        if want != got:
            return f"origin (scheme, host, port): expected {want}, got {got}"
    if path != expected["path"]:
        return f"path: expected {expected['path']}, got {path}"
    if "query_raw" in expected:
        if query != expected["query_raw"]:
            return f"raw query: expected {expected['query_raw']!r}, got {query!r}"
    else:
        want_pairs = [(str(k), cli_text(v)) for k, v in (expected.get("query") or {}).items()]
        got_pairs = parse_qsl(query, keep_blank_values=True)
        if dict(want_pairs) != dict(got_pairs) or len(want_pairs) != len(got_pairs):
            return f"query: expected {dict(want_pairs)}, got {dict(got_pairs)}"
        if "query-order" not in relaxed and want_pairs != got_pairs:
            return f"query order: expected {[k for k, _ in want_pairs]}, got {[k for k, _ in got_pairs]}"
    if "multipart" in expected:
        return multipart_diff(expected["multipart"], body, content_type)
    if expected.get("body") == "none":
        return None if not body else f"body: expected none, got {body[:80]!r}"
    if "json" in expected:
        if not body:
            return "body: expected JSON, got none"
        if content_type is not None and content_type.partition(";")[0].strip().lower() != "application/json":
            return f"Content-Type: expected application/json (OPI sends JSON bodies so), got {content_type!r}"
        try:
            actual = parse_json(body)
        except ValueError:
            return f"body: not JSON: {body[:80]!r}"
        return json_diff(expected["json"], actual, "$body", ordered="json-key-order" not in relaxed)
    return None


_DISPOSITION = re.compile(r'name="([^"]*)"(?:; filename="([^"]*)")?')


def parse_multipart(body: bytes) -> List[Dict[str, Any]]:
    """The parts of a ``multipart/form-data`` body: field, filename, content type and content bytes."""
    if not body.startswith(b"--"):
        raise ValueError("not a multipart body")
    boundary = body.split(b"\r\n", 1)[0]
    parts: List[Dict[str, Any]] = []
    for chunk in body.split(boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk[2:].partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        found = _DISPOSITION.search(headers.get("content-disposition", ""))
        parts.append(
            {
                "field": found.group(1) if found else "",
                "filename": found.group(2) if found else None,
                "content_type": headers.get("content-type", ""),
                "content": content[:-2] if content.endswith(b"\r\n") else content,
            }
        )
    return parts


def multipart_header_problem(content_type: str, body: bytes) -> Optional[str]:
    """None if the Content-Type header declares multipart/form-data with the boundary the body uses."""
    media, _, params = content_type.partition(";")
    found = re.search(r'boundary="?([^";]+)"?', params)
    used = body.split(b"\r\n", 1)[0][2:].decode("latin-1")
    if media.strip().lower() != "multipart/form-data" or found is None or found.group(1) != used:
        return f"Content-Type: expected multipart/form-data; boundary={used}, got {content_type!r}"
    return None


def multipart_diff(expected: List[Dict[str, Any]], body: bytes, content_type: Optional[str] = None) -> Optional[str]:
    """Compare a multipart body with ``[{field, filename, content_base64}]`` (part content types not compared);
    with ``content_type`` (the request's header), its media type and boundary too."""
    try:
        parts = parse_multipart(body)
    except ValueError:
        return f"body: expected multipart, got {body[:60]!r}"
    if content_type is not None:
        problem = multipart_header_problem(content_type, body)
        if problem:
            return problem
    if len(parts) != len(expected):
        return f"multipart: {len(expected)} parts expected, got {len(parts)}"
    for index, (want, got) in enumerate(zip(expected, parts)):
        for key in ("field", "filename"):
            if want.get(key) != got[key]:
                return f"multipart part {index}: {key} expected {want.get(key)!r}, got {got[key]!r}"
        if base64.b64decode(want["content_base64"]) != got["content"]:
            return f"multipart part {index}: content differs ({len(got['content'])} bytes received)"
    return None


def split_uri(uri: str) -> Tuple[str, str]:
    """``scheme://host/path?query`` → ``(path, query)``."""
    rest = uri.split("://", 1)[-1]
    target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    path, _, query = target.partition("?")
    return path, query


def read_result(output: bytes, fmt: str) -> Any:
    """The result an implementation wrote, read strictly in the format it declares (``json`` or ``opi``)."""
    if fmt == "opi":
        return parse_opi(output)
    return parse_json(output)


def requests_diff(
    exchanges: Sequence[Mapping[str, Any]], received: Sequence[Received], relax: Iterable[str] = ()
) -> Tuple[Optional[str], int]:
    """The first received request that differs from the script (or one too many), and how many exchanges were
    consumed. The message says how many requests followed the first difference (the server answers each with a
    4xx that no transport policy re-sends).

    ``exchanges``: the case's exchanges, expanded, each request with its ``origin``; ``received``: in order.
    """
    for index, request in enumerate(received):
        number = index + 1
        if index >= len(exchanges):
            want = len(exchanges)
            problem = (
                f"request {number}: none expected (the case has {want} request{'s' if want != 1 else ''}), "
                f"got {request.line}"
            )
            consumed = len(exchanges)
        else:
            found = request_diff(
                exchanges[index]["request"],
                request.method,
                request.target,
                request.body,
                request.origin,
                relax,
                request.content_type,
            )
            if not found:
                continue
            problem, consumed = f"request {number}: {found}", number
        after = len(received) - number
        more = f" ({after} more request{'s' if after != 1 else ''} after it)" if after > 0 else ""
        return problem + more, consumed
    return None, min(len(received), len(exchanges))


def leaks(happened: Happened, secret: str, token: str) -> List[str]:
    """Where the webhook key or the token appears in what the CLI wrote (stdout, stderr, the ``--out`` file)."""
    found = []
    for stream_name, data in (("stdout", happened.stdout), ("stderr", happened.stderr), ("--out file", happened.out)):
        for label, value in (("webhook key", secret), ("token", token)):
            if data and value and value.encode() in data:
                found.append(f"the {label} appears in {stream_name}")
    return found


def _first_line(text: str) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


def _text(data: Optional[bytes]) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def happened_phrase(happened: Happened) -> str:
    """What the CLI did, in one phrase: its exit code, its first line of stderr (else stdout), what it sent."""
    parts = [f"exit {happened.returncode}"]
    stderr = _first_line(_text(happened.stderr))
    said = stderr or _first_line(_text(happened.stdout))
    if said:
        parts.append(f"{'stderr' if stderr else 'stdout'}: {said!r}")
    if happened.requests:
        more = len(happened.requests) - 1
        first = happened.requests[0].line
        parts.append(f"sent {first}" + (f" and {more} more request{'s' if more != 1 else ''}" if more else ""))
    else:
        parts.append("sent nothing")
    return ", ".join(parts)


def _missing(case: Case, consumed: int) -> str:
    """Which expected request did not arrive (the first one missing)."""
    request = case.http[consumed]["request"]
    return f"{consumed} arrived, request {consumed + 1} ({request['method']} {request['path']}) never did"


def judge(
    case: Case,
    env: Mapping[str, str],
    happened: Happened,
    declared: Optional[Declared] = None,
    expected: Any = None,
) -> List[str]:
    """The differences between what ``case`` expects and what ``happened`` (empty: passed). Each says what was
    expected and what happened.

    ``case``: as the implementation must pass it (``under_policy``), its exchanges expanded with ``env`` (the
    placeholder values of the run: ``SECRET`` and ``TOKEN`` are masked in every message), each request with its
    ``origin``; ``expected``: the value the call must return (``loading.expected_result``), for a case that
    expects a result.
    """
    declared = declared or Declared()
    secret, token = env.get("SECRET", ""), env.get("TOKEN", "")

    def masked(message: str) -> List[str]:
        if secret:
            message = message.replace(secret, "${SECRET}")
        if token:
            message = message.replace(token, "${TOKEN}")
        return [message]

    found = leaks(happened, secret, token)
    if found:
        return found[:1]
    problem, consumed = requests_diff(case.http, happened.requests, declared.relax)
    unserved = len(case.http) - consumed
    phrase = happened_phrase(happened)
    stdout = _text(happened.stdout)
    if "error" in case.expect:
        kind = case.expect["error"].get("kind", "usage")
        want = case.expect["error"].get("cli_exit", declared.exit_codes.get(kind, EXIT_FOR_KIND.get(kind)))
        wanted = f"a {kind} error (exit {want if want is not None else 'non-zero'}"
        wanted += ", nothing sent)" if kind == "usage" else f" after {len(case.http)} request(s))"
        if kind == "usage" and happened.requests:
            return masked(f"expected {wanted}; got {phrase}")
        if problem:
            return masked(problem)
        if happened.returncode == 0 or (want is not None and happened.returncode != want):
            return masked(f"expected {wanted}; got {phrase}")
        if unserved:  # a runtime error after the listed exchanges (e.g. every retry), not before
            return masked(f"expected {wanted}; got {phrase}: {_missing(case, consumed)}")
        parameter = case.expect["error"].get("parameter")
        said = _text(happened.stderr) + stdout + _text(happened.out)
        if parameter and declared.names_options and f"--{parameter}" not in said:
            return masked(f"expected the error to name --{parameter}; got {phrase}")
        return []
    if problem:
        return masked(problem)
    if happened.returncode != 0:
        return masked(f"expected exit 0 and a result; got {phrase}")
    if unserved:
        return masked(f"expected {len(case.http)} request(s); {_missing(case, consumed)}")
    if happened.out is None:
        return masked(f"expected the result in the --out file; none was written (stdout: {_first_line(stdout)!r})")
    if declared.stdout_with_out == "empty" and happened.stdout.strip():
        return masked(f"expected nothing on stdout with --out; got {_first_line(stdout)!r}")
    output = happened.out
    if isinstance(expected, str):
        actual_text = output.decode("utf-8", errors="replace").rstrip("\r\n")
        if actual_text == expected:
            return []
        return masked(f"result: expected {expected!r}, got {actual_text[:200]!r}")
    try:
        actual = read_result(output, declared.output)
    except ValueError as exc:
        name = "JSON" if declared.output == "json" else "in OPI's writer format"
        return masked(f"the result is not {name} ({exc}): {output[:120]!r}")
    difference = json_diff(expected, actual)
    return masked(difference) if difference else []
