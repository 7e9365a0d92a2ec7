"""vcrpy set-up shared by the tests and by recording against a real portal.

Replay (tests): ``replay_vcr()`` — record mode ``none``, matching on method, path, query and a JSON-aware
body, so scheme, host and port do not matter and a placeholder secret in a cassette matches the same
placeholder in the call.

Recording against your own portal (nothing is written before it is scrubbed)::

    OPI_B24_WEBHOOK=https://yourportal.bitrix24.ru/rest/1/yourkey/ \\
        python -m conformance.runner.recording GetUsers --users 1 -o cassettes/live/GetUsers.yaml

    OPI_B24_PORTAL=yourportal.bitrix24.ru OPI_B24_TOKEN=... \\
        python -m conformance.runner.recording ServerTime -o cassettes/live/ServerTime-token.yaml

The webhook key in the path becomes ``WEBHOOK_KEY_PLACEHOLDER``; ``auth`` (query or JSON body) and the
OAuth fields (``client_id``, ``client_secret``, ``code``, ``refresh_token``, ``access_token``) become
``REDACTED``, in requests and in responses, before vcrpy writes the file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from decimal import Decimal
from typing import Any, List, Optional

import vcr
from vcr.request import Request

from .cases import CASSETTE_SECRET, json_diff, parse_multipart

SECRET_FIELDS = ("auth", "client_id", "client_secret", "code", "refresh_token", "access_token", "member_id")
_WEBHOOK = re.compile(r"(/rest/\d+/)([^/?#]+)(/)")


def _scrub_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("REDACTED" if k in SECRET_FIELDS and isinstance(v, str) else _scrub_json(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub_json(item) for item in value]
    return value


def _scrub_body(body: Any) -> Any:
    if not body:
        return body
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
    try:
        parsed = json.loads(text)
    except ValueError:
        return body
    scrubbed = json.dumps(_scrub_json(parsed), ensure_ascii=False)
    return scrubbed.encode("utf-8") if isinstance(body, bytes) else scrubbed


def scrub_request(request: Request) -> Request:
    """Placeholder for the webhook key in the path; REDACTED for auth/OAuth fields. Idempotent."""
    request.uri = _WEBHOOK.sub(lambda m: m.group(1) + CASSETTE_SECRET + m.group(3), request.uri, count=1)
    request.body = _scrub_body(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if body:
        response["body"]["string"] = _scrub_body(body)
    return response


def _body_json(request: Request) -> Any:
    body = request.body
    if not body:
        return None
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        return text


def _raw(request: Request) -> bytes:
    body = request.body or b""
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


def scrubbing_vcr(record_mode: str = "all") -> vcr.VCR:
    """Scrub before anything is written or matched (live requests are scrubbed before matching too,
    so a recorded cassette replays with any real key or token)."""
    return _vcr(
        record_mode,
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        filter_query_parameters=[(name, "REDACTED") for name in SECRET_FIELDS],
        record_on_exception=False,
        drop_unused_requests=True,
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Record one call against a real portal into a scrubbed cassette.")
    parser.add_argument("method", help="OPI method name, e.g. GetUsers")
    parser.add_argument("-o", "--output", required=True, help="cassette file to write")
    args, rest = parser.parse_known_args(argv)
    webhook, portal, token = (os.environ.get(k, "") for k in ("OPI_B24_WEBHOOK", "OPI_B24_PORTAL", "OPI_B24_TOKEN"))
    if not webhook and not (portal and token):
        parser.error("set OPI_B24_WEBHOOK, or OPI_B24_PORTAL and OPI_B24_TOKEN")
    from opi_bitrix24._cli import main as cli

    call = [args.method, "--url", webhook or portal, *rest] + ([] if webhook else ["--token", token])
    with scrubbing_vcr().use_cassette(args.output):
        code = cli(call)
    print(f"recorded into {args.output} (exit {code})", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
