"""The suite's cases for runners written in Python: the case model, loading and judging in one import (their
modules: model.py, loading.py, judging.py), and the ``twin`` subcommand, which writes the JSON twin.

    python -m opi_bitrix24_conformance.runner.cases           # regenerate cases.json from cases/
    python -m opi_bitrix24_conformance.runner.cases --check   # exit 1 if cases.json is not current

See ../README.md for the case format.
"""

from __future__ import annotations

import argparse
import json
from typing import List, Optional

from .judging import (
    RELAXATIONS,
    canonical,
    json_diff,
    judge,
    multipart_diff,
    multipart_header_problem,
    origin_of,
    parse_json,
    parse_multipart,
    request_diff,
    split_uri,
)
from .loading import (
    expected_result,
    load_cases,
    multipart_body,
    response_bytes,
    response_content_type,
    suite_version,
    twin_data,
    twin_text,
)
from .model import (
    CASES,
    CASSETTE_HOST,
    CASSETTE_OTHER_HOST,
    CASSETTE_SECRET,
    CASSETTE_TOKEN,
    DEFAULT_POLICY,
    FIXTURES,
    NATIVE_SKIP,
    NATIVE_TAGS,
    ORIGINS,
    PACKAGE_POLICY,
    POLICIES,
    RESPONSES,
    SUITE,
    TWIN,
    Case,
    Declared,
    Happened,
    Received,
    cassette_env,
    check_native,
    check_policy,
    cli_text,
    environment,
    expand,
    native_value,
    section_of,
    under_policy,
)

__all__ = [
    "CASES",
    "CASSETTE_HOST",
    "CASSETTE_OTHER_HOST",
    "CASSETTE_SECRET",
    "CASSETTE_TOKEN",
    "DEFAULT_POLICY",
    "FIXTURES",
    "NATIVE_SKIP",
    "NATIVE_TAGS",
    "ORIGINS",
    "PACKAGE_POLICY",
    "POLICIES",
    "RELAXATIONS",
    "RESPONSES",
    "SUITE",
    "TWIN",
    "Case",
    "Declared",
    "Happened",
    "Received",
    "canonical",
    "cassette_env",
    "check_native",
    "check_policy",
    "cli_text",
    "environment",
    "expand",
    "expected_result",
    "json_diff",
    "judge",
    "load_cases",
    "main",
    "multipart_body",
    "multipart_diff",
    "multipart_header_problem",
    "native_value",
    "origin_of",
    "parse_json",
    "parse_multipart",
    "request_diff",
    "response_bytes",
    "response_content_type",
    "section_of",
    "split_uri",
    "suite_version",
    "twin_data",
    "twin_text",
    "under_policy",
]

_check_native = check_native  # the name tests/test_conformance.py imports


def execute(args: argparse.Namespace) -> int:
    """The ``twin`` subcommand (options: options.py)."""
    text = twin_text()
    current = TWIN.read_text(encoding="utf-8") if TWIN.exists() else None
    if args.check:
        if current != text:
            print("conformance/cases.json is stale: run python -m opi_bitrix24_conformance.runner.cases")
            return 1
        return 0
    if current != text:
        TWIN.write_text(text, encoding="utf-8")
    print(f"conformance/cases.json: {len(json.loads(text)['files'])} case files")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m opi_bitrix24_conformance.runner.cases``: the same as ``opi-bitrix24-conformance twin``."""
    from .options import module_main

    return module_main("twin", argv)


if __name__ == "__main__":
    raise SystemExit(main())
