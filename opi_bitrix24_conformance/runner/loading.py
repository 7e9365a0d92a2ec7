"""Loading: the cases (from the JSON twin ``cases.json``, or YAML for a file that changed since), the canned
responses, ``adapters.yaml`` and an implementation's expectations file (checked against the cases: a typo is an
error, never a silent pass).

Needs only the standard library (PyYAML only for case files newer than the twin and for YAML expectations).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .judging import RELAXATIONS, parse_json
from .model import (
    CASES,
    EXIT_FOR_KIND,
    FIXTURES,
    ORIGINS,
    POLICIES,
    RESPONSES,
    SUITE,
    TWIN,
    Case,
    check_native,
    check_policy,
    expand,
)
from .opiformat import FORMATS

__all__ = [
    "EXPECTATION_KEYS",
    "adapters",
    "check_against_cases",
    "expectations",
    "expectations_file",
    "expected_result",
    "load_cases",
    "multipart_body",
    "package_version",
    "read_data",
    "response_bytes",
    "response_content_type",
    "suite_version",
    "twin_data",
    "twin_text",
]


def _yaml_doc(data: bytes) -> Dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(data.decode("utf-8"), Loader=loader))


def package_version() -> str:
    """The version of the opi-bitrix24 distribution that ships this suite and its runner (the suite has its own:
    ``suite_version``)."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("opi-bitrix24")
    except PackageNotFoundError:  # a checkout without an installed distribution
        return "not installed"


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
            check_policy(cases[-1])
            check_native(cases[-1])
    return cases


def response_bytes(response: Mapping[str, Any], module: str = "bitrix24") -> bytes:
    """The canned body of an exchange (``json_file`` is relative to ``responses/<module>/``, ``fixture`` to
    ``fixtures/``: a file served as is, e.g. a picture a URL argument names)."""
    if "json_file" in response:
        return Path(RESPONSES, module, str(response["json_file"])).read_bytes()
    if "fixture" in response:
        return Path(FIXTURES, str(response["fixture"])).read_bytes()
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


def read_data(path: Path) -> Any:
    """A YAML or JSON file (JSON needs no PyYAML)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)


def adapters() -> Dict[str, Any]:
    return dict(read_data(SUITE / "adapters.yaml") or {})


#: What an expectations file may say (see README "Expectations file").
EXPECTATION_KEYS = (
    "xfail",
    "relax",
    "policy",
    "outcomes",
    "output",
    "exit_codes",
    "env",
    "names_options",
    "tags",
    "stdout_with_out",
    "not_implemented",
    "xpass",
)


def expectations(path: Path) -> List[Dict[str, str]]:
    """The ``xfail`` list of an expectations file (``{xfail: [{id: <glob>, reason: <text>}]}``)."""
    return list(expectations_file(path)["xfail"])


def expectations_file(path: Optional[Path]) -> Dict[str, Any]:
    """An expectations file: ``xfail`` (expected failures), ``relax`` (matching relaxations), ``policy``
    (the transport policy followed), ``outcomes`` (per case id: ``requests`` / ``expect`` overrides),
    ``output`` (the result format written: ``json`` or OPI's writer format ``opi``), ``exit_codes`` (per error
    kind), ``env`` (environment for every case, e.g. ``TZ``), ``names_options`` (``false``: the error
    messages do not name the option, so that check is off), ``stdout_with_out`` (``any``: the CLI prints
    something besides writing ``--out``; default ``empty``) and ``tags`` (the default of ``--tags``, e.g.
    ``[opi]``: judged only on the cases that pin OPI's own behaviour)."""
    data = (read_data(path) or {}) if path is not None and path.exists() else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: an expectations file is a mapping")
    unknown_keys = sorted(set(data) - set(EXPECTATION_KEYS))
    if unknown_keys:
        raise ValueError(f"{path}: unknown key(s) {unknown_keys} (known: {', '.join(EXPECTATION_KEYS)})")
    entries = list(data.get("xfail") or [])
    for entry in entries:
        if not isinstance(entry, dict) or "id" not in entry:
            raise ValueError(f"{path}: every xfail entry needs an id (a glob over case ids)")
    relax = [str(item) for item in data.get("relax") or []]
    unknown = sorted(set(relax) - set(RELAXATIONS))
    if unknown:
        raise ValueError(f"{path}: unknown relaxation(s) {unknown} (known: {', '.join(RELAXATIONS)})")
    policy = data.get("policy")
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"{path}: unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    outcomes = dict(data.get("outcomes") or {})
    for case_id, outcome in outcomes.items():
        if not isinstance(outcome, dict) or not set(outcome) <= {"requests", "expect", "reason"}:
            raise ValueError(f"{path}: outcome {case_id!r} may only give requests, expect and reason")
    output = data.get("output")
    if output is not None and output not in FORMATS:
        raise ValueError(f"{path}: unknown output format {output!r} (known: {', '.join(FORMATS)})")
    exit_codes = dict(data.get("exit_codes") or {})
    for kind, code in exit_codes.items():
        if kind not in EXIT_FOR_KIND or not isinstance(code, int) or isinstance(code, bool):
            raise ValueError(f"{path}: exit_codes maps {', '.join(EXIT_FOR_KIND)} to integers, got {kind!r}: {code!r}")
    env = {str(key): str(value) for key, value in (data.get("env") or {}).items()}
    names_options = data.get("names_options", True)
    if not isinstance(names_options, bool):
        raise ValueError(f"{path}: names_options is true or false")
    tags = [str(tag) for tag in data.get("tags") or []]
    not_implemented = data.get("not_implemented") or []
    if not isinstance(not_implemented, list) or not all(isinstance(name, str) for name in not_implemented):
        raise ValueError(f"{path}: not_implemented is a list of OPI function names")
    xpass = data.get("xpass", "fail")
    if xpass not in ("fail", "report"):
        raise ValueError(f"{path}: xpass is fail or report")
    stdout_with_out = data.get("stdout_with_out", "empty")
    if stdout_with_out not in ("empty", "any"):
        raise ValueError(f"{path}: stdout_with_out is empty or any")
    return {
        "not_implemented": [str(name) for name in not_implemented],
        "xpass": xpass,
        "stdout_with_out": stdout_with_out,
        "tags": tags,
        "xfail": entries,
        "relax": relax,
        "policy": policy,
        "outcomes": outcomes,
        "output": output,
        "exit_codes": exit_codes,
        "env": env,
        "names_options": names_options,
    }


def check_against_cases(expected: Dict[str, Any], cases: List[Case], path: Optional[Path]) -> None:
    """An expectations file names only what exists: every xfail glob matches a case, every ``outcomes`` key is a
    case id, every ``not_implemented`` name is a function of the suite (a typo is an error, not a silent pass)."""
    ids = {case.full_id for case in cases}
    methods = {case.method for case in cases}
    dead = [entry["id"] for entry in expected["xfail"] if not any(case.matches([entry["id"]]) for case in cases)]
    if dead:
        raise ValueError(f"{path}: xfail id(s) matching no case: {dead}")
    unknown = sorted(set(expected["outcomes"]) - ids)
    if unknown:
        raise ValueError(f"{path}: outcomes for case id(s) that do not exist: {unknown}")
    missing = sorted(set(expected["not_implemented"]) - methods)
    if missing:
        raise ValueError(f"{path}: not_implemented names no function of the suite: {missing}")
