"""Scan files for anything that looks like a live secret or personal data before they are committed.

    python -m opi_bitrix24_conformance.runner.scan cassettes/ conformance/

Exits 1 (and lists ``path:line: kind: masked value``) on

* a webhook key in ``/rest/<n>/<key>`` — raw, JSON-escaped or percent-encoded, with or without the trailing
  slash, followed by a query or a fragment;
* a secret URL parameter: ``auth=``, ``access_token=``, ``refresh_token=``, ``client_secret=``, ``code=``,
  ``token=`` (download links), ``password=``... after ``?``, ``&``, ``#`` (OAuth fragments) or in a form body;
* a secret JSON/YAML field (``auth``, ``access_token``, ``refresh_token``, ``client_secret``, ``token``,
  ``password``, ``api_key``...); an ``Authorization`` header or any ``Bearer``/``Basic`` credential;
* a token by its shape: hex of 48 characters or more (32 or more as a value of its own: a key written as hex),
  32 to 64 letters of both cases with digits, or base64 text that decodes to a key, a webhook URL or a secret
  parameter;
* a cookie or session header, an e-mail address, or a phone number;

and 0 when nothing is found. Values are masked in the report.

Known placeholders are allowed (``WEBHOOK_KEY_PLACEHOLDER``, ``TOKEN_PLACEHOLDER``, ``REDACTED``, ``${...}``,
e-mails at reserved domains: ``example.com``, ``*.test``, ``*.invalid``...). More: ``--allow REGEX`` or an
allowlist file (``--allowlist FILE``; by default ``.secret-scan-allow`` in the current directory when it
exists), one regular expression per line, ``#`` comments; a finding whose value matches one is allowed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Iterable, Iterator, List, NamedTuple, Optional, Pattern, Sequence, Tuple
from urllib.parse import unquote

DEFAULT_ALLOWLIST = ".secret-scan-allow"
PLACEHOLDERS = re.compile(
    r"^(?:REDACTED|[A-Z0-9_]*PLACEHOLDER[A-Z0-9_]*|\$\{[A-Z_]+(?::[^}]*)?\}|PERSON_[A-Z]+_R?\d+|"
    r"person-r?\d+@example\.com|x+|\*+|\.\.\.|<[^>]*>)$"
)
_SECRET_NAMES = r"auth|access_token|refresh_token|client_secret|application_token|sessid"
#: JSON/YAML field names whose value is a credential (more than in a URL: ``token`` and ``password`` too).
_FIELD_NAMES = _SECRET_NAMES + r"|token|password|passwd|api_key|apikey|secret"
_URL_NAMES = _SECRET_NAMES + r"|code|token|password"
# The end of a webhook key: a slash, a query, a fragment, a quote or space, or the end of the text.
_KEY_END = r"(?=[/?#\s\"'<>\\]|$)"
# The patterns below are spelt so that this file does not match itself (e.g. ``[I]`` in a cookie name).
RULES: List[Tuple[str, Pattern[str]]] = [
    ("webhook key", re.compile(rf"/rest/\d+/([A-Za-z0-9_]{{6,}}){_KEY_END}", re.M)),
    ("webhook key", re.compile(r"\\/rest\\/\d+\\/([A-Za-z0-9_]{6,})(?=\\/|[?#\s\"']|$)", re.M)),
    ("webhook key", re.compile(r"%2Frest%2F\d+%2F([A-Za-z0-9_]{6,})(?=%2F|%3F|%23|[&/?#\s\"']|$)", re.I | re.M)),
    (
        "token in a URL",
        re.compile(
            rf"(?:[?&#;]|%3F|%26|%23|\\u0026|^|(?<=[\s\"']))(?:{_URL_NAMES})(?:=|%3D)([^&\s'\"<>\\#]{{6,}})",
            re.I | re.M,
        ),
    ),
    ("secret field", re.compile(rf"[\"']?\b(?:{_FIELD_NAMES})[\"']?\s*[:=]\s*[\"']([^\"'\s]{{6,}})[\"']", re.I)),
    ("secret field", re.compile(rf"^\s*-?\s*(?:{_FIELD_NAMES}):\s+([^\s\"'#{{\[]{{6,}})\s*$", re.I | re.M)),
    ("authorization", re.compile(r"\b(?:Bearer|Basic)\s+([A-Za-z0-9._~+/=-]{8,})")),
    ("authorization", re.compile(r"(?im)^[\s\"'-]*authorizatio[n][\"']?\s*:\s*[\"']?(?:\w+\s+)?([^\s\"']{8,})")),
    ("token", re.compile(r"(?<![0-9A-Fa-f])([0-9a-f]{48,}|[0-9A-F]{48,})(?![0-9A-Fa-f])")),
    # shorter hex (a 16-character key written as hex is 32) only as a value of its own, not a path's hash
    ("token", re.compile(r"(?:(?<=[\"'\s:])|^)([0-9a-f]{32,47}|[0-9A-F]{32,47})(?=[\"'\s,]|$)", re.M)),
    # letters of both cases and digits, 32 to 64 of them: not a piece of base64 data (no + / = around it, not a
    # 76-character line of wrapped base64)
    (
        "token",
        re.compile(
            r"(?<![A-Za-z0-9_+/-])((?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{32,64})"
            r"(?![A-Za-z0-9_+/=-])"
        ),
    ),
    ("base64 secret", re.compile(r"(?<![A-Za-z0-9+/=_-])([A-Za-z0-9+/_-]{12,}={0,2})(?![A-Za-z0-9+/=_-])")),
    ("cookie", re.compile(r"(?im)^[\s\"'-]*((?:set-)?cooki[e])[\"']?\s*:")),
    ("cookie", re.compile(r"\b(PHPSESS[I]D|BITRIX_S[M]_[A-Z_]+|__cf[_]bm)\b")),
    ("e-mail", re.compile(r"(?<![\w.%+-])([A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})")),
    ("e-mail", re.compile(r"(?<![\w.%+-])([A-Za-z0-9._+-]+%40(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})")),
    ("phone", re.compile(r"(?<![\w.+])((?:\+\d|8(?=[\s(-]))[\d\s().-]{7,}\d)(?![\w.])")),
    (
        "phone",
        re.compile(
            r"[\"']?\b(?:PERSONAL_MOBILE|PERSONAL_PHONE|WORK_PHONE|PHONE_NUMBER)[\"']?\s*:\s*[\"']([^\"']+)[\"']", re.I
        ),
    ),
]
_HASH_KEY = re.compile(r"(?i)(sha\d*|md5|hash|checksum|digest|etag)[\"']?\s*[:=]\s*[\"']?$")
_WRAPPED_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}\n[ \t]*$")
_ICAL_UID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]+@")
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
_RESERVED_SUFFIXES = (".test", ".invalid", ".example", ".localhost")


class Finding(NamedTuple):
    path: str
    line: int
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {mask(self.value)}"


def mask(value: str) -> str:
    """Enough to find it, not enough to use it."""
    return value if len(value) <= 6 else f"{value[:3]}...({len(value)} chars)"


_PLACEHOLDER_PART = re.compile(r"REDACTED|[A-Z0-9_]*PLACEHOLDER[A-Z0-9_]*|\$\{[^}]*\}|\*{3,}")
#: What a decoded base64 value must look like to be a credential: a webhook, a secret parameter, or a key
#: (letters and digits, 10 or more; text, paths and binary data are not).
_DECODED_SECRET = re.compile(
    rf"/rest/\d+/[A-Za-z0-9_]{{6,}}|(?:{_URL_NAMES})=[^&\s]{{6,}}|^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_-]{{10,}}$", re.I
)


def _decoded(value: str) -> Optional[str]:
    """The text a base64 (or base64url) value stands for, or None when it is not base64 of UTF-8 text."""
    import base64
    import binascii

    body = value.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded) if ("-" in body or "_" in body) else base64.b64decode(padded)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return text if text.isprintable() else None


def _allowed(kind: str, value: str, allow: Sequence[Pattern[str]], context: str = "") -> bool:
    if PLACEHOLDERS.match(value) or any(p.search(value) for p in allow):
        return True
    plain = unquote(value)
    if _PLACEHOLDER_PART.search(plain) and len(re.sub(r"[^A-Za-z0-9]", "", _PLACEHOLDER_PART.sub("", plain))) < 6:
        return True  # disk%7CREDACTED: a placeholder with a short fixed prefix
    if kind == "base64 secret":
        text = _decoded(value)
        return text is None or not _DECODED_SECRET.search(text) or _allowed("token", text, allow)
    if kind == "token" and _WRAPPED_BASE64.search(context):
        return True  # the last line of base64 data wrapped over several lines
    if kind == "token" and _ICAL_UID.match(value + "@"):
        return True  # an iCalendar event UID without its @host
    if kind == "token" and _HASH_KEY.search(context):
        return True  # a content hash, not a credential
    if kind == "e-mail":
        if _ICAL_UID.match(value):
            return True  # an iCalendar event UID (date-time, hash, @host), not a mailbox
        domain = value.replace("%40", "@").rsplit("@", 1)[-1].lower()
        return domain in _RESERVED_DOMAINS or domain.endswith(_RESERVED_SUFFIXES)
    if kind == "phone":
        digits = sum(ch.isdigit() for ch in value)
        return not 10 <= digits <= 15 if value[:1] in "+8" else digits < 6
    return False


def scan_text(
    text: str, path: str = "<text>", allow: Sequence[Pattern[str]] = (), kinds: Optional[Sequence[str]] = None
) -> List[Finding]:
    """Findings in ``text`` (only of ``kinds`` when given), each with its line."""
    found = []
    for kind, pattern in RULES:
        if kinds is not None and kind not in kinds:
            continue
        for match in pattern.finditer(text):
            value = match.group(1)
            if not _allowed(kind, value, allow, text[max(0, match.start(1) - 24) : match.start(1)]):
                found.append(Finding(path, text.count("\n", 0, match.start(1)) + 1, kind, value))
    return sorted(set(found), key=lambda f: (f.path, f.line, f.kind))


def _files(paths: Iterable[str]) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p in ("__pycache__", ".git") for p in child.parts):
                    yield child
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(name)


def load_allowlist(path: Path) -> List[Pattern[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [re.compile(line.strip()) for line in lines if line.strip() and not line.strip().startswith("#")]


def scan_paths(paths: Iterable[str], allow: Sequence[Pattern[str]] = ()) -> List[Finding]:
    found: List[Finding] = []
    for path in _files(paths):
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        found += scan_text(text, str(path), allow)
    return found


def execute(args: argparse.Namespace) -> int:
    """The ``scan`` subcommand (options: options.py)."""
    allow = [re.compile(p) for p in args.allow]
    files = args.allowlist or ([DEFAULT_ALLOWLIST] if Path(DEFAULT_ALLOWLIST).is_file() else [])
    for name in files:
        allow += load_allowlist(Path(name))
    try:
        found = scan_paths(args.paths, allow)
    except FileNotFoundError as exc:
        args.usage_error(f"no such file or folder: {exc}")
    for finding in found:
        print(finding)
    print(f"scan: {len(found)} finding(s)" if found else "scan: clean", file=sys.stderr)
    return 1 if found else 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m opi_bitrix24_conformance.runner.scan``: the same as ``opi-bitrix24-conformance scan``."""
    from .options import module_main

    return module_main("scan", argv)


if __name__ == "__main__":
    raise SystemExit(main())
