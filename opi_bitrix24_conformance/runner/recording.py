"""vcrpy set-up shared by the tests and by recording against a real portal.

Replay (tests): ``replay_vcr()`` — record mode ``none``, matching on method, path, query and a JSON-aware
body, so scheme, host and port do not matter and a placeholder secret in a cassette matches the same
placeholder in the call.

Recording against your own portal (nothing is written before it is scrubbed)::

    OPI_B24_WEBHOOK=https://yourportal.bitrix24.ru/rest/1/<key>/ \\
        python -m opi_bitrix24_conformance.runner.recording GetUsers --users 1 -o cassettes/live/GetUsers.yaml

    OPI_B24_PORTAL=yourportal.bitrix24.ru OPI_B24_TOKEN=... \\
        python -m opi_bitrix24_conformance.runner.recording ServerTime -o cassettes/live/ServerTime-token.yaml

What is scrubbed, in requests and responses (URI, headers, bodies), before vcrpy writes anything:

* by key: the webhook key in ``/rest/<n>/<key>`` (with or without the trailing slash, raw, JSON-escaped or
  percent-encoded) becomes ``WEBHOOK_KEY_PLACEHOLDER``; ``auth``, ``token``, ``password`` and the OAuth
  fields (``client_id``, ``client_secret``, ``code``, ``refresh_token``, ``access_token``, ``member_id``...) in
  a query, a ``#fragment``, a JSON body (any case but ``CODE``) or a form become ``REDACTED`` — and each value
  found there is learnt as a secret; so does a ``Bearer``/``Basic`` credential in any text;
* by value: every secret used for the recording (the webhook key, the token, ``OPI_B24_CLIENT_SECRET``,
  ``OPI_B24_REFRESH_TOKEN``, ``OPI_B24_CODE``... from the environment) and every learnt one, raw,
  percent-encoded, JSON-escaped, as hex and as base64 (also inside longer base64 data), wherever it appears;
* by shape: whatever the scanner (``python -m opi_bitrix24_conformance.runner.scan``) still takes for a secret — a
  long hex or mixed-case token, base64 text of a key — so a recording passes the scanner it is checked with (a
  file's base64 content may lose such a piece: secrets come first);
* headers: only an allowlist (``HEADERS_KEPT``) is written; cookies and session headers never are;
* the portal's host becomes ``b24-conformance.bitrix24.test``;
* personal data (unless ``--keep-personal``): names, e-mails, phones, logins, ``PERSONAL_*``, ``WORK_*`` and
  ``UF_*`` fields, and any string that looks like an e-mail or a phone, become placeholders that stay the
  same for the same value within a cassette.

``--dry-run`` prints the scrubbed cassette instead of writing it.
``python -m opi_bitrix24_conformance.runner.scan PATH`` checks files for anything that still looks like a secret or
personal data.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import re
import sys
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

import vcr
from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.request import Request
from vcr.serialize import serialize

from .cases import CASSETTE_HOST, CASSETTE_SECRET, json_diff, parse_multipart

SECRET_FIELDS = (
    "auth",
    "client_id",
    "client_secret",
    "code",
    "refresh_token",
    "access_token",
    "member_id",
    "application_token",
    "password",
    "sessid",
    "token",
)
_ANSWER_SECRETS = (
    "access_token",
    "refresh_token",
    "client_secret",
    "application_token",
    "member_id",
    "token",
    "password",
)
REDACTED = "REDACTED"
#: Request and response headers that are written; everything else (cookies, session ids, servers...) is not.
HEADERS_KEPT = (
    "accept",
    "content-type",
    "content-length",
    "content-disposition",
    "location",
    "retry-after",
)
#: Environment variables whose values are secrets of the recording, replaced by value everywhere.
SECRET_ENV = (
    "OPI_B24_TOKEN",
    "OPI_B24_CLIENT_ID",
    "OPI_B24_CLIENT_SECRET",
    "OPI_B24_REFRESH_TOKEN",
    "OPI_B24_CODE",
)
_SESSION_HEADER = re.compile(r"(?i)cookie|session|token|auth|csrf|sessid")
# A webhook key ends at a slash, or (a webhook URL without its trailing slash) at a query, a fragment, a quote,
# a space or the end of the text.
_WEBHOOK = re.compile(r"(/rest/\d+/)([^/?#\s\"'\\<>]+)(/|(?=[?#\s\"'\\<>]|$))", re.MULTILINE)
_WEBHOOK_ESCAPED = re.compile(r"(\\/rest\\/\d+\\/)([^/?#\s\"'\\<>]+)(\\/|(?=[?#\s\"'<>]|$))", re.MULTILINE)
_WEBHOOK_ENCODED = re.compile(
    r"(%2Frest%2F\d+%2F)((?:(?!%2F|%3F|%23|%26)[^/?#&\s\"'\\<>])+)(%2F|(?=%3F|%23|%26|[/?#&\s\"'\\<>]|$))",
    re.IGNORECASE | re.MULTILINE,
)
_AUTH_PARAM = re.compile(
    r"((?:[?&#]|%3F|%26|%23|\\u0026)"
    r"(?:auth|access_token|refresh_token|client_secret|application_token|code|sessid|token|password)(?:=|%3D))"
    r"([^&\s\"'<>\\]+?)(?=&|%26|\\u0026|[\s\"'<>\\#]|$)",
    re.IGNORECASE | re.MULTILINE,
)
_BEARER = re.compile(r"(\b(?:Bearer|Basic)\s+)([A-Za-z0-9._~+/=-]{8,})")
EMAIL_ENCODED = re.compile(r"[A-Za-z0-9._+-]+%40(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w.+])(?:\+\d|8(?=[\s(-]))[\d\s().-]{7,}\d(?![\w.])")
_PLACEHOLDER_TEXT = re.compile(
    r"^(?:REDACTED|[A-Z_]+_PLACEHOLDER|PERSON_[A-Z]+_R?\d+|person-r?\d+@example\.com|\$\{[A-Z_:]*\})$"
)
_PERSON_MARKERS = {
    "LAST_NAME",
    "SECOND_NAME",
    "EMAIL",
    "LOGIN",
    "WORK_POSITION",
    "PERSONAL_GENDER",
    "PERSONAL_PHOTO",
    "PERSONAL_MOBILE",
    "WORK_PHONE",
    "PHONES",
    "USER_TYPE",
}
_PERSON_KEYS = {
    "LAST_NAME",
    "SECOND_NAME",
    "FIRST_NAME",
    "FULL_NAME",
    "EMAIL",
    "LOGIN",
    "PHONE",
    "PHONES",
    "MOBILE",
    "IM",
    "ADDRESS",
    "BIRTHDAY",
}
_PERSON_PREFIXES = ("PERSONAL_", "WORK_", "UF_", "ADDRESS_")


def _secret_field(name: str) -> bool:
    """A secret field's name in any case (``PASSWORD``, ``Token``); ``code`` only as written (Bitrix's ``CODE``
    fields are data)."""
    return name in SECRET_FIELDS or (name.lower() in SECRET_FIELDS and name.lower() != "code")


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def looks_like_phone(text: str) -> bool:
    return 10 <= _digits(text) <= 15


def _encoded(secret: str) -> Set[str]:
    """The secret written as hex and as base64 (standard and URL-safe, padded or not), also inside longer base64
    data: for each of the three byte alignments, the characters that depend on the secret's bytes alone."""
    raw = secret.encode("utf-8")
    found = {raw.hex(), raw.hex().upper()}
    for shift in range(3):
        whole = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        first, last = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6
        forms = [whole[first:last]] + ([whole, whole.rstrip("=")] if shift == 0 else [])
        for form in forms:
            found |= {form, form.translate(_URLSAFE)}
    return found


_URLSAFE = str.maketrans("+/", "-_")


def _variants(secret: str) -> List[str]:
    escaped = json.dumps(secret)[1:-1]
    found = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), escaped, escaped.replace("/", "\\/")}
    if len(secret) >= 8:  # shorter ones would match by chance in encoded data
        found |= _encoded(secret)
    return sorted(found, key=len, reverse=True)


class Scrubber:
    """Scrubs requests and responses of one recording; keeps the secrets it learns and the placeholders it
    hands out, so the same value gets the same placeholder within a cassette. Idempotent."""

    def __init__(self, secrets: Iterable[str] = (), host: Optional[str] = None, keep_personal: bool = False) -> None:
        self.secrets: Set[str] = set()
        self.hosts: List[str] = []
        self.keep_personal = keep_personal
        self._people: Dict[Tuple[str, str], str] = {}
        self._given: Set[str] = set()
        self._counts: Dict[str, int] = {}
        self._names: Dict[str, str] = {}  # names seen under a person key, replaced in free text too
        for secret in secrets:
            self.learn(secret)
        if host:
            parts = urlsplit(host if "//" in host else "//" + host)
            for name in (parts.netloc, parts.hostname):
                if name and name != CASSETTE_HOST and name not in self.hosts:
                    self.hosts.append(name)

    def learn(self, value: Any, shortest: int = 4) -> None:
        if isinstance(value, str) and len(value) >= shortest and not _PLACEHOLDER_TEXT.match(value):
            self.secrets.add(value)

    # --- personal data -------------------------------------------------------------------------------
    def person(self, value: str, kind: str, side: str = "response") -> str:
        if self.keep_personal or not value.strip() or value in self._given or _PLACEHOLDER_TEXT.match(value):
            return value
        # Requests number their own placeholders, so a replay (which scrubs only requests) numbers alike.
        key = (side, value)
        if key not in self._people and side == "response" and ("request", value) in self._people:
            key = ("request", value)
        if key not in self._people:
            count = self._counts[side + kind] = self._counts.get(side + kind, 0) + 1
            mark = "" if side == "request" else "r"
            placeholder = (
                f"person-{mark}{count}@example.com" if kind == "EMAIL" else f"PERSON_{kind}_{mark.upper()}{count}"
            )
            self._people[key] = placeholder
            self._given.add(placeholder)
            if kind == "NAME" and len(value) >= 3 and not any(ch.isdigit() for ch in value):
                self._names[value] = placeholder
        return self._people[key]

    # --- text ----------------------------------------------------------------------------------------
    def text(self, value: str, side: str = "response") -> str:
        value = _by_shape(value, _WHOLE_SHAPES)  # first: a known secret inside a token would hide the token's shape
        for secret in sorted(self.secrets, key=len, reverse=True):
            for variant in _variants(secret):
                value = value.replace(variant, REDACTED)
        if not self.keep_personal:  # before the host: an address at the portal's host is still a person's
            value = self._personal_text(value, side)
        for host in self.hosts:
            value = value.replace(host, CASSETTE_HOST)
        value = _WEBHOOK.sub(lambda m: m.group(1) + CASSETTE_SECRET + m.group(3), value)
        value = _WEBHOOK_ESCAPED.sub(lambda m: m.group(1) + CASSETTE_SECRET + m.group(3), value)
        value = _WEBHOOK_ENCODED.sub(lambda m: m.group(1) + CASSETTE_SECRET + m.group(3), value)
        value = _AUTH_PARAM.sub(
            lambda m: m.group(1) + (m.group(2) if _PLACEHOLDER_TEXT.match(m.group(2)) else REDACTED), value
        )
        value = _BEARER.sub(lambda m: m.group(1) + REDACTED, value)
        return _by_shape(value)

    def _personal_text(self, value: str, side: str) -> str:
        if "%40" in value:
            value = EMAIL_ENCODED.sub(
                lambda m: (
                    quote(self.person(unquote_plus(m.group(0)), "EMAIL", side), safe="")
                    if not _reserved(unquote_plus(m.group(0)))
                    else m.group(0)
                ),
                value,
            )
        value = EMAIL.sub(
            lambda m: self.person(m.group(0), "EMAIL", side) if not _reserved(m.group(0)) else m.group(0), value
        )
        for name in sorted(self._names, key=len, reverse=True):
            if name in value:
                value = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", self._names[name], value)
        value = PHONE.sub(
            lambda m: self.person(m.group(0), "PHONE", side) if looks_like_phone(m.group(0)) else m.group(0), value
        )
        return value

    def _learn_secrets(self, value: Any, side: str, key: str = "") -> None:
        """Values of secret fields become secrets (answers: only tokens, not an ambiguous ``code``)."""
        if isinstance(value, dict):
            for k, v in value.items():
                self._learn_secrets(v, side, str(k))
        elif isinstance(value, list):
            for item in value:
                self._learn_secrets(item, side, key)
        elif _secret_field(key) and (side == "request" or key.lower() in _ANSWER_SECRETS):
            self.learn(value, shortest=8)

    def _personal_kind(self, key: str, siblings: Iterable[str]) -> Optional[str]:
        upper = key.upper()
        if upper in _PERSON_KEYS or upper.startswith(_PERSON_PREFIXES):
            if "EMAIL" in upper:
                return "EMAIL"
            if "PHONE" in upper or "MOBILE" in upper:
                return "PHONE"
            return "NAME" if upper.endswith("_NAME") else "TEXT"
        if upper in ("NAME", "TITLE_NAME") and any(s.upper() in _PERSON_MARKERS for s in siblings):
            return "NAME"
        return None

    def json(self, value: Any, side: str = "response", kind: Optional[str] = None) -> Any:
        if isinstance(value, dict):
            keys = [str(k) for k in value]
            out = {}
            for k, v in value.items():
                name = str(k)
                if _secret_field(name) and isinstance(v, str):
                    out[k] = REDACTED if v else v
                elif kind and name.upper() in ("VALUE_TYPE", "TYPE_ID", "ID"):
                    out[k] = self.json(v, side)
                else:
                    out[k] = self.json(v, side, kind or self._personal_kind(name, keys))
            return out
        if isinstance(value, list):
            return [self.json(item, side, kind) for item in value]
        if isinstance(value, str):
            if kind and value.strip():
                return self.person(self.text(value, side), kind, side)
            return self.text(value, side)
        return value

    def body(self, body: Any, side: str = "response") -> Any:
        if not body:
            return body
        if isinstance(body, bytes):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:  # binary content (a file, multipart with a file): secrets by value only
                for secret in sorted(self.secrets, key=len, reverse=True):
                    for variant in _variants(secret):
                        body = body.replace(variant.encode("utf-8"), REDACTED.encode("ascii"))
                return body
        else:
            text = str(body)
        self._learn_from_uri(text, side)
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            self._learn_secrets(parsed, side)
            scrubbed = json.dumps(self.json(parsed, side), ensure_ascii=False)
        else:
            scrubbed = self.text(_scrub_form(text, self), side)
        return scrubbed.encode("utf-8") if isinstance(body, bytes) else scrubbed

    def headers(self, headers: Any) -> Dict[str, Any]:
        kept: Dict[str, Any] = {}
        for name, value in dict(headers or {}).items():
            if _SESSION_HEADER.search(name):  # never written; its values are secrets from now on
                for item in value if isinstance(value, list) else [value]:
                    for part in str(item).split(";")[:1] if "cookie" in name.lower() else [str(item)]:
                        self.learn(part.partition("=")[2] if "cookie" in name.lower() else part, shortest=8)
                        self.learn(part.split()[-1] if part.split() else "", shortest=8)  # "Bearer <token>"
            for item in value if isinstance(value, list) else [value]:
                self._learn_from_uri(str(item))
            if name.lower() in HEADERS_KEPT:
                kept[name] = [self.text(v) for v in value] if isinstance(value, list) else self.text(str(value))
        return kept

    # --- vcrpy hooks ---------------------------------------------------------------------------------
    def request(self, request: Request) -> Request:
        self._learn_from_uri(request.uri, "request")
        request.uri = self.text(request.uri, "request")
        request.body = self.body(_request_body(request), "request")
        if getattr(request, "_was_iter", False):  # a streamed body, joined above: bytes from now on
            request._was_iter = False
        request.headers = self.headers(request.headers)
        if request.body:
            _set_length(request.headers, request.body)
        return request

    def response(self, response: Dict[str, Any]) -> Dict[str, Any]:
        response["headers"] = self.headers(response.get("headers"))
        body = response.get("body", {}).get("string")
        if body:
            response["body"]["string"] = self.body(body)
            _set_length(response["headers"], response["body"]["string"])
        return response

    def _learn_from_uri(self, uri: str, side: str = "response") -> None:
        """Webhook keys and ``auth=`` values in a URI (or in any text holding URLs) become secrets."""
        match = _WEBHOOK.search(uri)
        if match and match.group(2) != CASSETTE_SECRET:
            self.learn(match.group(2), shortest=8)
        for match in _AUTH_PARAM.finditer(uri):  # auth=... in any URL of an answer is a live token
            if side != "request" and "code" in match.group(1).lower():
                continue  # an OAuth code is sent, not answered; ?code=... in an answer may be anything
            self.learn(unquote_plus(match.group(2)), shortest=8)
            self.learn(match.group(2), shortest=8)

    def finish(self, cassette_dict: Dict[str, Any]) -> Dict[str, Any]:
        """Second pass at write time, with every secret learnt during the whole recording."""
        cassette_dict["requests"] = [self.request(r) for r in cassette_dict["requests"]]
        cassette_dict["responses"] = [self.response(r) for r in cassette_dict["responses"]]
        return cassette_dict


#: The scanner's kinds of secret that are replaced by shape when nothing else caught them (e-mails and phones are
#: personal data, handled above; cookies are headers, never written).
_SHAPE_KINDS = ("webhook key", "token in a URL", "secret field", "authorization", "token", "base64 secret")


#: Kinds replaced before anything else: a token as a whole (a webhook key waits for its placeholder).
_WHOLE_SHAPES = ("token", "base64 secret", "authorization")


def _by_shape(value: str, kinds: Tuple[str, ...] = _SHAPE_KINDS) -> str:
    """Whatever ``scan`` would still flag as a secret (a long mixed-case or hex token, a base64 key...) is
    replaced, so that a recording passes the scanner it is checked with."""
    from . import scan

    for finding in sorted(scan.scan_text(value, kinds=kinds), key=lambda f: len(f.value), reverse=True):
        if finding.kind in kinds:
            value = value.replace(finding.value, REDACTED)
    return value


def _set_length(headers: Dict[str, Any], body: Any) -> None:
    """Placeholders change the body's length: a kept Content-Length follows (a replay reads the whole body)."""
    size = str(len(body.encode("utf-8") if isinstance(body, str) else body))
    for name, value in list(headers.items()):
        if name.lower() == "content-length":
            headers[name] = [size] if isinstance(value, list) else size


def _reserved(email: str) -> bool:
    domain = email.rsplit("@", 1)[-1].lower()
    return domain in ("example.com", "example.org", "example.net") or domain.endswith((".test", ".invalid", ".example"))


def _scrub_form(text: str, scrubber: Scrubber) -> str:
    """``a=1&auth=...`` form bodies: secret fields by key (values learnt first)."""

    def field(match: re.Match[str]) -> str:
        scrubber.learn(unquote_plus(match.group(2)), shortest=8)
        return match.group(1) + REDACTED

    names = "|".join(SECRET_FIELDS)
    return re.sub(rf"((?:^|&)(?:{names})=)([^&]*)", field, text)


def scrub_request(request: Request) -> Request:
    """Placeholder for the webhook key in the path; REDACTED for auth/OAuth fields. Idempotent."""
    return Scrubber().request(request)


def scrub_response(response: Dict[str, Any]) -> Dict[str, Any]:
    return Scrubber().response(response)


def _request_body(request: Request) -> Any:
    """The body as vcrpy keeps it; a streamed body (vcrpy hands back an iterator of its chunks) joined."""
    body = request.body
    if body is None or isinstance(body, (str, bytes, bytearray)):
        return body
    return b"".join(body)


def _body_json(request: Request) -> Any:
    body = _request_body(request)
    if not body:
        return None
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        return text


def _raw(request: Request) -> bytes:
    body = _request_body(request) or b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def json_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: bodies equal as JSON (key order and number spelling ignored), or as multipart parts."""
    if _raw(r1).startswith(b"--") or _raw(r2).startswith(b"--"):
        try:
            left_parts, right_parts = parse_multipart(_raw(r1)), parse_multipart(_raw(r2))
        except ValueError:
            raise AssertionError("one body is multipart, the other is not") from None
        strip = [[(p["field"], p["filename"], p["content"]) for p in parts] for parts in (left_parts, right_parts)]
        if strip[0] != strip[1]:
            raise AssertionError("multipart bodies differ")
        return
    left, right = _body_json(r1), _body_json(r2)
    problem = (
        json_diff(right, left)
        if not (isinstance(left, str) or isinstance(right, str))
        else (None if left == right else "raw bodies differ")
    )
    if problem:
        raise AssertionError(f"JSON body differs: {problem}")


MATCH_ON = ["method", "path", "query", "json_body"]


def _vcr(record_mode: str, **extra: Any) -> vcr.VCR:
    recorder = vcr.VCR(record_mode=record_mode, match_on=MATCH_ON, decode_compressed_response=True, **extra)
    recorder.register_matcher("json_body", json_body)
    return recorder


def replay_vcr() -> vcr.VCR:
    """Replay only, exact: the placeholder secrets sent must be the ones in the cassette."""
    return _vcr("none")  # allow_playback_repeats stays False: each exchange plays once


def _persister(scrubber: Scrubber, dry_run: bool, out: Any) -> Any:
    class ScrubbingPersister:
        """Runs the scrubber's second pass over the whole cassette; with ``dry_run`` prints, never writes."""

        @classmethod
        def load_cassette(cls, cassette_path: str, serializer: Any) -> Any:
            if dry_run:
                raise CassetteNotFoundError()
            return FilesystemPersister.load_cassette(cassette_path, serializer)

        @staticmethod
        def save_cassette(cassette_path: str, cassette_dict: Dict[str, Any], serializer: Any) -> None:
            cassette_dict = scrubber.finish(cassette_dict)
            if dry_run:
                print(f"# would write {cassette_path}", file=out or sys.stdout)
                print(serialize(cassette_dict, serializer), file=out or sys.stdout)
            else:
                FilesystemPersister.save_cassette(cassette_path, cassette_dict, serializer)

    return ScrubbingPersister


def scrubbing_vcr(
    record_mode: str = "all",
    secrets: Iterable[str] = (),
    host: Optional[str] = None,
    keep_personal: bool = False,
    dry_run: bool = False,
    out: Any = None,
) -> vcr.VCR:
    """Scrub before anything is written or matched (live requests are scrubbed before matching too,
    so a recorded cassette replays with any real key or token). ``secrets`` are replaced by value,
    ``host`` (the portal's) by a placeholder; personal data is replaced unless ``keep_personal``."""
    scrubber = Scrubber(secrets, host, keep_personal)
    recorder = _vcr(
        record_mode,
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        filter_query_parameters=[(name, REDACTED) for name in SECRET_FIELDS],
        record_on_exception=False,
        drop_unused_requests=True,
    )
    recorder.register_persister(_persister(scrubber, dry_run, out))
    return recorder


def recording_secrets(webhook: str) -> List[str]:
    """The secrets of a recording: the webhook key and the ``SECRET_ENV`` variables that are set."""
    found = [os.environ[name] for name in SECRET_ENV if os.environ.get(name)]
    match = _WEBHOOK.search(urlsplit(webhook).path) if webhook else None
    return found + ([match.group(2)] if match else [])


def execute(args: argparse.Namespace) -> int:
    """The ``record`` subcommand (options: options.py)."""
    webhook, portal, token = (os.environ.get(k, "") for k in ("OPI_B24_WEBHOOK", "OPI_B24_PORTAL", "OPI_B24_TOKEN"))
    if not webhook and not (portal and token):
        args.usage_error("set OPI_B24_WEBHOOK, or OPI_B24_PORTAL and OPI_B24_TOKEN")
    from opi_bitrix24._cli import main as cli

    call = [args.method, "--url", webhook or portal, *args.rest] + ([] if webhook else ["--token", token])
    recorder = scrubbing_vcr(
        secrets=recording_secrets(webhook),
        host=webhook or portal,
        keep_personal=args.keep_personal,
        dry_run=args.dry_run,
    )
    answer = io.StringIO()  # the CLI's output is the live, unscrubbed answer: it is not shown
    with recorder.use_cassette(args.output), contextlib.redirect_stdout(answer):
        code = cli(call)
    verb = "would record" if args.dry_run else "recorded into"
    print(f"{verb} {args.output} (exit {code})", file=sys.stderr)
    return code


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m opi_bitrix24_conformance.runner.recording``: the same as ``opi-bitrix24-conformance record``."""
    from .options import module_main

    return module_main("record", argv)


if __name__ == "__main__":
    raise SystemExit(main())
