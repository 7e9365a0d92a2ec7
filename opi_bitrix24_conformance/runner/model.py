"""The case model: what a conformance case is, the placeholders it uses, the transport policies, and what one
run of a CLI did (``Received``, ``Happened``) and what an implementation declares about itself (``Declared``).

No I/O here but the suite's paths (a ``${FIXTURE:file}`` placeholder names a file of ``fixtures/``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import fnmatch
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from .. import suite_folder

__all__ = [
    "CASES",
    "CASSETTE_HOST",
    "CASSETTE_OTHER_HOST",
    "CASSETTE_SECRET",
    "CASSETTE_TOKEN",
    "DEFAULT_POLICY",
    "EXIT_FOR_KIND",
    "FIXTURES",
    "NATIVE_SKIP",
    "NATIVE_TAGS",
    "ORIGINS",
    "PACKAGE_POLICY",
    "POLICIES",
    "RESPONSES",
    "SUITE",
    "TWIN",
    "Case",
    "Declared",
    "Happened",
    "Received",
    "cassette_env",
    "check_native",
    "check_policy",
    "cli_text",
    "environment",
    "expand",
    "native_value",
    "section_of",
    "under_policy",
]

#: The suite's data folder (``opi_bitrix24_conformance.suite_folder()``: a wheel's copy, else the repository's
#: ``conformance/``).
SUITE = suite_folder()
CASES = SUITE / "cases"
RESPONSES = SUITE / "responses"
FIXTURES = SUITE / "fixtures"


#: Generated JSON twin of ``cases/`` (``python -m opi_bitrix24_conformance.runner.cases``): for fast loading and for
#: runtimes without a YAML parser. Each file's SHA-256 is stored; a file that changed since is parsed as YAML.
TWIN = SUITE / "cases.json"


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


#: Transport policies a case may give outcomes for: OPI's own (five immediate re-sends on any 5xx or send
#: failure, redirects followed by the HTTP client, a non-JSON answer returned as raw bytes) and this package's
#: (COMPATIBILITY.md T6, T8, T13). An implementation names its policy in its expectations file (``policy:``)
#: or in adapters.yaml; the default is OPI's.
POLICIES = ("opi", "opi-bitrix24")
DEFAULT_POLICY = "opi"
#: The policy this package follows (the in-process runner and the cassettes use it).
PACKAGE_POLICY = "opi-bitrix24"


def check_policy(case: Case) -> None:
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


def check_native(case: Case) -> None:
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


def section_of(case: Case) -> str:
    """The OPI section of a case: the folder of its file (``cases/<module>/<Section>/<Method>.yaml``)."""
    return case.path.parent.name


#: The exit code an implementation gives per error kind, unless it declares its own (``exit_codes``).
EXIT_FOR_KIND = {"usage": 2, "runtime": 99}


@dataclasses.dataclass(frozen=True)
class Received:
    """One request the replay server received, as it arrived."""

    method: str
    #: the request target: the path and the query (``/rest/1/key/user.get?ID=1``)
    target: str
    body: bytes
    #: ``scheme://host:port`` the request reached (the server's scheme and the ``Host`` header)
    origin: str
    #: the ``Content-Type`` header ("" when absent)
    content_type: str = ""

    @property
    def line(self) -> str:
        """``VERB /path`` (no query: it may hold a token), for messages."""
        return f"{self.method} {self.target.split('?', maxsplit=1)[0]}"


@dataclasses.dataclass(frozen=True)
class Happened:
    """What one run of the CLI under test did."""

    returncode: int
    stdout: bytes
    stderr: bytes
    #: the ``--out`` file's bytes; None when the CLI wrote none
    out: Optional[bytes]
    #: every request the replay server received, in order
    requests: Tuple[Received, ...] = ()


@dataclasses.dataclass(frozen=True)
class Declared:
    """What an implementation declares about itself (adapters.yaml, its expectations file, the options)."""

    exit_codes: Mapping[str, int] = dataclasses.field(default_factory=lambda: dict(EXIT_FOR_KIND))
    #: the format its result is written in: ``json`` or ``opi`` (OPI's writer format)
    output: str = "json"
    #: False: its error messages do not name the option (that check is off)
    names_options: bool = True
    #: ``empty``: nothing on stdout besides writing ``--out``; ``any``: output allowed
    stdout_with_out: str = "empty"
    #: order checks turned off (``json-key-order``, ``query-order``)
    relax: Tuple[str, ...] = ()
