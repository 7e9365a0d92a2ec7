"""Loading, expanding and judging conformance cases (shared by every runner).

Needs only the standard library (PyYAML only for case files newer than the JSON twin ``cases.json``).

    python -m opi_bitrix24_conformance.runner.cases           # regenerate cases.json from cases/
    python -m opi_bitrix24_conformance.runner.cases --check   # exit 1 if cases.json is not current

See ../README.md for the case format.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime
import fnmatch
import hashlib
import json
import re
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

SUITE = Path(__file__).resolve().parent.parent
CASES = SUITE / "cases"
RESPONSES = SUITE / "responses"
FIXTURES = SUITE / "fixtures"

#: Host and secrets written into cassettes (in-process runs); the external runner draws random secrets.
CASSETTE_HOST = "b24-conformance.bitrix24.test"
CASSETTE_SECRET = "WEBHOOK_KEY_PLACEHOLDER"
CASSETTE_TOKEN = "TOKEN_PLACEHOLDER"
CASSETTE_OTHER_HOST = "b24-elsewhere.bitrix24.test"

#: Origin tags: every case carries exactly one (``--tags opi`` runs only the cases that pin OPI's behaviour).
ORIGINS = ("opi", "port")

_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)(?::([^}]*))?\}")


@dataclasses.dataclass
class Case:
    module: str
    method: str
    id: str
    description: str
    args: Dict[str, Any]
    http: List[Dict[str, Any]]
    expect: Dict[str, Any]
    tags: List[str]
    via: Optional[str]
    path: Path
    comment: str = ""
    env: Dict[str, str] = dataclasses.field(default_factory=dict)
    #: transport-policy cases: ``{<policy>: {requests: N, expect: {...}}}`` (see ``under_policy``)
    policy: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: native-value cases: typed arguments for in-process runners (``args_native``; see ``native_value``)
    args_native: Optional[Dict[str, Any]] = None

    @property
    def origin(self) -> str:
        """Where the expectation comes from: ``opi`` (OPI's own behaviour) or ``port`` (this package's
        addition, stricter validation or safety choice): the case's one origin tag."""
        found = [tag for tag in self.tags if tag in ORIGINS]
        return found[0] if len(found) == 1 else ""

    @property
    def full_id(self) -> str:
        return f"{self.module}/{self.method}/{self.id}"

    def matches(self, patterns: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(self.full_id, pattern) for pattern in patterns)


#: Generated JSON twin of ``cases/`` (``python -m opi_bitrix24_conformance.runner.cases``): for fast loading and for
#: runtimes without a YAML parser. Each file's SHA-256 is stored; a file that changed since is parsed as YAML.
TWIN = SUITE / "cases.json"


def _yaml_doc(data: bytes) -> Dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(data.decode("utf-8"), Loader=loader))


def suite_version() -> str:
    return (SUITE / "VERSION").read_text(encoding="utf-8").strip()


def twin_data(root: Path = CASES) -> Dict[str, Any]:
    """The content of ``cases.json``: every case file's document and hash, in path order."""
    files = []
    for path in sorted(root.rglob("*.yaml")):
        data = path.read_bytes()
        files.append(
            {
                "path": path.relative_to(root).as_posix(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "doc": _yaml_doc(data),
            }
        )
    return {"suite": "opi-bitrix24-conformance", "version": suite_version(), "files": files}


def twin_text(root: Path = CASES) -> str:
    return json.dumps(twin_data(root), ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def _documents(root: Path) -> List[Tuple[Path, Dict[str, Any]]]:
    cached: Dict[str, Tuple[str, Dict[str, Any]]] = {}
    if root == CASES and TWIN.exists():
        twin = json.loads(TWIN.read_text(encoding="utf-8"))
        cached = {entry["path"]: (entry["sha256"], entry["doc"]) for entry in twin["files"]}
    docs = []
    for path in sorted(root.rglob("*.yaml")):
        data = path.read_bytes()
        hit = cached.get(path.relative_to(root).as_posix())
        if hit is not None and hit[0] == hashlib.sha256(data).hexdigest():
            docs.append((path, hit[1]))
        else:
            docs.append((path, _yaml_doc(data)))
    return docs


def load_cases(root: Path = CASES) -> List[Case]:
    """Every case under ``root``, in file then test order."""
    cases: List[Case] = []
    for path, doc in _documents(root):
        for test in doc.get("tests", []):
            cases.append(
                Case(
                    module=doc["module"],
                    method=doc["method"],
                    id=test["id"],
                    description=test["description"],
                    args=dict(test.get("args") or {}),
                    http=list(test.get("http") or []),
                    expect=dict(test.get("expect") or {"result_from": "response"}),
                    tags=list(test.get("tags") or []),
                    via=test.get("via"),
                    path=path,
                    comment=test.get("comment", ""),
                    env=dict(test.get("env") or {}),
                    policy=dict(test.get("policy") or {}),
                    args_native=None if test.get("args_native") is None else dict(test["args_native"]),
                )
            )
            if not cases[-1].origin:
                raise ValueError(f"{cases[-1].full_id}: give exactly one origin tag ({' or '.join(ORIGINS)})")
            _check_policy(cases[-1])
            _check_native(cases[-1])
    return cases


#: Transport policies a case may give outcomes for: OPI's own (five immediate re-sends on any 5xx or send
#: failure, redirects followed by the HTTP client, a non-JSON answer returned as raw bytes) and this package's
#: (COMPATIBILITY.md T6, T8, T13). An implementation names its policy in its expectations file (``policy:``)
#: or in adapters.yaml; the default is OPI's.
POLICIES = ("opi", "opi-bitrix24")
DEFAULT_POLICY = "opi"
#: The policy this package follows (the in-process runner and the cassettes use it).
PACKAGE_POLICY = "opi-bitrix24"


def _check_policy(case: Case) -> None:
    for name, outcome in case.policy.items():
        if name not in POLICIES:
            raise ValueError(f"{case.full_id}: unknown policy {name!r} (known: {', '.join(POLICIES)})")
        if int(outcome.get("requests", len(case.http))) > len(case.http):
            raise ValueError(f"{case.full_id}: policy {name} consumes more requests than the script has")
    if case.policy and DEFAULT_POLICY not in case.policy:
        raise ValueError(f"{case.full_id}: a transport-policy case gives the {DEFAULT_POLICY!r} outcome")


def under_policy(
    case: Case, policy: str = DEFAULT_POLICY, outcomes: Optional[Mapping[str, Mapping[str, Any]]] = None
) -> Case:
    """The case as an implementation following ``policy`` must pass it.

    A transport-policy case scripts the server (``http``: every exchange it would serve, in order) and gives
    per policy how many of those exchanges the implementation consumes (``requests``, default all) and what
    the call ends with (``expect``). A policy the case does not name gets OPI's outcome; ``outcomes`` (from an
    expectations file, keyed by full case id) overrides either field for one implementation.
    """
    override = (outcomes or {}).get(case.full_id)
    if not case.policy and not override:
        return case
    outcome = dict(case.policy.get(policy) or case.policy.get(DEFAULT_POLICY) or {})
    outcome.update(override or {})
    count = int(outcome.get("requests", len(case.http)))
    if count > len(case.http):
        raise ValueError(f"{case.full_id}: {count} requests, but the script has {len(case.http)} exchanges")
    return dataclasses.replace(case, http=case.http[:count], expect=dict(outcome.get("expect") or case.expect))


def environment(scheme: str, host: str, secret: str, token: str, other_host: str = "") -> Dict[str, str]:
    """Placeholder values: ``${PORTAL}``, ``${WEBHOOK_URL}`` and friends (``${OTHER_PORTAL}``: another origin)."""
    env = {"SCHEME": scheme, "PORTAL_HOST": host, "SECRET": secret, "TOKEN": token}
    env["PORTAL"] = f"{scheme}://{host}"
    if other_host:
        env["OTHER_PORTAL"] = f"{scheme}://{other_host}"
    env["WEBHOOK_URL"] = f"{env['PORTAL']}/rest/1/{secret}/"
    return env


def cassette_env() -> Dict[str, str]:
    """The placeholder values the cassettes were generated with."""
    return environment("https", CASSETTE_HOST, CASSETTE_SECRET, CASSETTE_TOKEN, CASSETTE_OTHER_HOST)


def expand(value: Any, env: Mapping[str, str]) -> Any:
    """Replace ``${NAME}`` (and ``${FIXTURE:file}``) placeholders in every string of ``value``."""
    if isinstance(value, str):

        def swap(match: re.Match[str]) -> str:
            name, arg = match.group(1), match.group(2)
            if name == "FIXTURE":
                return str(FIXTURES / (arg or ""))
            if name not in env:
                raise KeyError(f"unknown placeholder ${{{name}}}")
            return env[name]

        return _PLACEHOLDER.sub(swap, value)
    if isinstance(value, list):
        return [expand(item, env) for item in value]
    if isinstance(value, dict):
        return {key: expand(item, env) for key, item in value.items()}
    return value


#: Tags of ``args_native`` values JSON has no type for: a one-key object ``{<tag>: <text>}``.
NATIVE_TAGS = ("$date", "$bytes", "$decimal")
NATIVE_SKIP = "native values: in-process runners only"


def _check_native(case: Case) -> None:
    native = case.args_native is not None
    if native and case.args:
        raise ValueError(f"{case.full_id}: a test gives args or args_native, not both")
    if native != ("native" in case.tags):
        raise ValueError(f"{case.full_id}: the native tag goes with args_native (and only with it)")
    if native:
        native_value(case.args_native)  # an unknown or malformed tag fails at load time


def native_value(value: Any) -> Any:
    """A case's ``args_native`` value as the Python value a caller passes (placeholders expanded first).

    JSON scalars, lists and objects are themselves; the one-key objects ``{$date: ISO text}`` (a ``date``
    when the text has no time, else a ``datetime``), ``{$bytes: base64}`` and ``{$decimal: text}`` are
    ``datetime.date``/``datetime.datetime`` (no zone), ``bytes`` and ``Decimal``. Any other ``$`` key is an error.
    """
    if isinstance(value, list):
        return [native_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    tagged = [key for key in value if isinstance(key, str) and key.startswith("$")]
    if not tagged:
        return {key: native_value(item) for key, item in value.items()}
    if len(value) != 1 or tagged[0] not in NATIVE_TAGS or not isinstance(value[tagged[0]], str):
        raise ValueError(f"a tagged native value is one of {NATIVE_TAGS} holding text, got {value!r}")
    tag, text = tagged[0], value[tagged[0]]
    if tag == "$bytes":
        return base64.b64decode(text, validate=True)
    if tag == "$decimal":
        return Decimal(text)
    if "T" not in text:
        return datetime.date.fromisoformat(text)
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        raise ValueError(f"a $date has no zone (OPI's Date has none): {text!r}")
    return moment


def cli_text(value: Any) -> str:
    """How a case argument is typed on a command line (OPI's own harness does the same)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def response_bytes(response: Mapping[str, Any], module: str = "bitrix24") -> bytes:
    """The canned body of an exchange (``json_file`` is relative to ``responses/<module>/``, ``fixture`` to
    ``fixtures/``: a file served as is, e.g. a picture a URL argument names)."""
    if "json_file" in response:
        return (RESPONSES / module / response["json_file"]).read_bytes()
    if "fixture" in response:
        return (FIXTURES / response["fixture"]).read_bytes()
    if "json" in response:
        return json.dumps(response["json"], ensure_ascii=False).encode("utf-8")
    return str(response.get("text", "")).encode("utf-8")


def response_content_type(response: Mapping[str, Any]) -> str:
    headers = response.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == "content-type":
            return str(value)
    if "fixture" in response:
        return "application/octet-stream"
    return "text/html; charset=utf-8" if "text" in response else "application/json; charset=utf-8"


def expected_result(case: Case, env: Mapping[str, str]) -> Any:
    """The value the call must return (only for cases that expect a result)."""
    if "result" in case.expect:
        return expand(case.expect["result"], env)
    last = case.http[-1]["response"]
    return parse_json(response_bytes(last))


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


def multipart_body(expected: List[Dict[str, Any]], boundary: str = "OPI-CONFORMANCE-BOUNDARY") -> bytes:
    """A multipart body for cassettes, built from the case's part list."""
    out = b""
    for part in expected:
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{part["field"]}"; '
                f'filename="{part["filename"]}"\r\n\r\n'
            ).encode()
            + base64.b64decode(part["content_base64"])
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


def split_uri(uri: str) -> Tuple[str, str]:
    """``scheme://host/path?query`` → ``(path, query)``."""
    rest = uri.split("://", 1)[-1]
    target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    path, _, query = target.partition("?")
    return path, query


def section_of(case: Case) -> str:
    """The OPI section of a case: the folder of its file (``cases/<module>/<Section>/<Method>.yaml``)."""
    return case.path.parent.name


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) the JSON twin of the cases: cases.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if cases.json is missing or stale")
    args = parser.parse_args(argv)
    text = twin_text()
    current = TWIN.read_text(encoding="utf-8") if TWIN.exists() else None
    if args.check:
        if current != text:
            print("opi_bitrix24_conformance/cases.json is stale: run python -m opi_bitrix24_conformance.runner.cases")
            return 1
        return 0
    if current != text:
        TWIN.write_text(text, encoding="utf-8")
    print(f"opi_bitrix24_conformance/cases.json: {len(json.loads(text)['files'])} case files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
