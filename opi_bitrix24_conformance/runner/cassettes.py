"""Generate the vcrpy cassettes (``cassettes/<module>/<Method>/<test-id>.yaml``) from the cases.

    python -m opi_bitrix24_conformance.runner.cassettes           # write them
    python -m opi_bitrix24_conformance.runner.cassettes --check   # exit 1 if any is missing, stale or orphaned

The cases are the single source: a cassette is the case's exchanges written in vcrpy's format against a
fixed fake host with placeholder secrets, bodies kept as the exact JSON text of the sample responses.
"""

from __future__ import annotations

import argparse
import json
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import yaml

from .cases import (
    PACKAGE_POLICY,
    SUITE,
    Case,
    cassette_env,
    expand,
    load_cases,
    multipart_body,
    response_bytes,
    response_content_type,
    under_policy,
)

CASSETTES = SUITE.parent / "cassettes"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def cassette_path(case: Case) -> Path:
    return CASSETTES / case.module / case.method / f"{case.id}.yaml"


def _request(expected: Dict[str, Any], env: Dict[str, str]) -> Dict[str, Any]:
    uri = str(expected.get("origin") or env["PORTAL"]).rstrip("/") + expected["path"]
    if "query_raw" in expected:
        uri += "?" + expected["query_raw"]
    elif expected.get("query"):
        from urllib.parse import quote

        uri += "?" + "&".join(f"{k}={quote(str(v), safe='-._~')}" for k, v in expected["query"].items())
    headers: Dict[str, List[str]] = {"Accept": ["application/json"]}
    body: Union[str, bytes, None] = None
    if "json" in expected:
        body = json.dumps(expected["json"], ensure_ascii=False)
        headers["Content-Type"] = ["application/json; charset=utf-8"]
    elif "multipart" in expected:
        body = multipart_body(expected["multipart"])  # bytes: written as !!binary
        headers["Content-Type"] = ["multipart/form-data; boundary=OPI-CONFORMANCE-BOUNDARY"]
    return {"method": expected["method"], "uri": uri, "body": body, "headers": headers}


def _response(response: Dict[str, Any], module: str) -> Dict[str, Any]:
    status = int(response.get("status", 200))
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = ""
    headers = {"Content-Type": [response_content_type(response)]}
    for name, value in (response.get("headers") or {}).items():
        if name.lower() != "content-type":
            headers[name] = [str(value)]
    raw = response_bytes(response, module)
    try:
        body: Any = raw.decode("utf-8")
    except UnicodeDecodeError:
        body = raw  # a binary fixture (a picture a URL argument names): written as !!binary
    return {"status": {"code": status, "message": message}, "headers": headers, "body": {"string": body}}


def cassette_text(case: Case) -> str:
    """The cassette of a case; a transport-policy case as this package must pass it (its policy)."""
    case = under_policy(case, PACKAGE_POLICY)
    env = cassette_env()
    interactions = [
        {
            "request": _request(expand(x["request"], env), env),
            "response": _response(expand(x["response"], env), case.module),
        }
        for x in case.http
        if not x["response"].get("drop")  # a dropped connection has no answer to record (test_conformance raises it)
    ]
    header = (
        f"# Generated from conformance/cases ({case.full_id}) by "
        "opi_bitrix24_conformance.runner.cassettes; do not edit.\n"
    )
    body = yaml.dump(
        {"interactions": interactions, "version": 1}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120
    )
    return header + body


def expected_files() -> Dict[Path, str]:
    cases = load_cases()
    return {cassette_path(case): cassette_text(case) for case in cases if under_policy(case, PACKAGE_POLICY).http}


def execute(args: argparse.Namespace) -> int:
    """The ``cassettes`` subcommand (options: options.py)."""
    wanted = expected_files()
    existing = set(CASSETTES.rglob("*.yaml")) - set((CASSETTES / "live").rglob("*.yaml"))
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    orphans = sorted(existing - set(wanted))
    if args.check:
        for path in stale:
            print("stale or missing:", path.relative_to(SUITE.parent))
        for path in orphans:
            print("no case for:", path.relative_to(SUITE.parent))
        return 1 if stale or orphans else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
    for path in orphans:
        path.unlink()
    print(f"{len(wanted)} cassettes: {len(stale)} written, {len(orphans)} removed")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m opi_bitrix24_conformance.runner.cassettes``: the same as ``opi-bitrix24-conformance cassettes``."""
    from .options import module_main

    return module_main("cassettes", argv)


if __name__ == "__main__":
    sys.exit(main())
