"""Help texts of the command line: what to type for each option, "did you mean", plain-text docs.

Everything here is derived from the method table and the functions' docstrings (their ``Args:``
section); reStructuredText markup (``:func:`x```, double backticks) is turned into plain text, with a
function reference shown as the CLI method name a user would type.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from typing import Dict, List, Optional, Sequence

from ._table import Method, Param, find, methods

__all__ = [
    "TYPE_HINTS",
    "method_help",
    "option_docs",
    "plain",
    "structure_problem",
    "suggest_method",
    "suggest_option",
    "what_to_type",
]

#: What to type on the command line for each annotation of the public signatures.
TYPE_HINTS: Dict[str, str] = {
    "str": "text",
    "Text": "text (a number is sent as its plain digits)",
    "Id": "a number (an id, an offset), e.g. 10",
    "IdList": "one value like 1, or a list like [1,2]",
    "Structure": "JSON text such as {'TITLE':'x'}, or a path to a .json file",
    "StructureList": "a JSON list of objects such as [{'ID':1}], or one object {'ID':1}",
    "Flag": "true or false",
    "Moment": "a date: ISO 8601 such as 2026-01-31T12:00:00, or 2026-01-31",
    "FileData": "a path to a file (or an http(s):// URL, or base64 text)",
}

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")


def _reference(target: str) -> str:
    name = target.rsplit(".", 1)[-1].rstrip("()")
    method = find(name)
    return method.name if method is not None else name


def plain(text: str) -> str:
    """Docstring text without reStructuredText markup: references become CLI method names."""
    text = _ROLE.sub(lambda m: _reference(m.group(1)), text)
    return _LITERAL.sub(lambda m: m.group(1), text)


def what_to_type(param: Param, method: Optional[Method] = None) -> str:
    """The kind of value an option takes, in the words a CLI user needs (``method``: whose option it is)."""
    if param.python == "url":
        if method is not None and "url" not in method.portal_options:
            return "an http(s) link"
        return "the webhook URL, or the portal address (with --token)"
    if param.python == "token":
        return "an OAuth access token (leave it out for a webhook)"
    return TYPE_HINTS.get(param.annotation, "text")


def option_docs(method: Method) -> Dict[str, str]:
    """Python parameter name → its description from the ``Args:`` section of the docstring (plain text)."""
    doc = inspect.getdoc(method.func) or ""
    found: Dict[str, List[str]] = {}
    inside, current = False, None
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):  # the next section (Returns:, Raises:, ...)
            break
        head = re.match(r"^    (\w+): ?(.*)$", line)
        if head:
            current = head.group(1)
            found[current] = [head.group(2).strip()]
        elif current is not None and line.strip():
            found[current].append(line.strip())
    return {name: plain(" ".join(parts)) for name, parts in found.items()}


def _default(param: Param) -> str:
    if param.required:
        return "required"
    value = param.default
    if value == "" or value is None:
        return "optional, empty by default"
    if isinstance(value, bool):
        return f"optional, default {'true' if value else 'false'}"
    return f"optional, default {value}"


def _wrap(text: str, indent: str, width: int = 100) -> List[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent) or [indent.rstrip()]


def method_help(method: Method, prog: str) -> str:
    """The ``<Method> --help`` page."""
    docs = option_docs(method)
    lines = [
        f"usage: {prog} {method.name} "
        + " ".join(f"--{p.cli} <value>" if p.required else f"[--{p.cli} <value>]" for p in method.params),
        "",
        plain(method.summary),
        f"Calls: {', '.join(method.api) or '(no request: the result is built locally)'}",
        f"Python: {method.python}()   Russian: {method.ru}()   Section: {method.section}",
        "",
        "Options:",
    ]
    portal = method.portal_options
    environment = {"url": "$OPI_B24_URL", "token": "$OPI_B24_TOKEN"}  # as the CLI reads them (_cli._ENVIRONMENT)
    for p in method.params:
        lines.append(f"  --{p.cli} ({_default(p)}; Python {p.python}, Russian {p.ru})")
        lines += _wrap(f"Type: {what_to_type(p, method)}", "      ")
        if docs.get(p.python):
            lines += _wrap(docs[p.python], "      ")
        if p.cli in portal:
            also = environment[p.cli] + (", or --token-file FILE," if p.cli == "token" else "")
            lines += _wrap(f"Or from {also} when --{p.cli} is not given.", "      ")
    if "token" in portal:
        lines += ["  --token-file FILE", "      read the token from FILE (instead of --token)"]
    lines += [
        "  --out FILE",
        "      write the result to FILE instead of stdout",
        "  --debug",
        "      log requests (secrets hidden) and show tracebacks on stderr",
        "  --fail-on-api-error",
        "      exit 3 when the answer is an API error body (also $OPI_BITRIX24_FAIL_ON_API_ERROR=1)",
        "",
        "Values are text, as in OPI's oint: a list is [1,2], a structure is JSON text (single quotes",
        "work: {'TITLE':'x'}) or a path to a .json file, a flag is true or false.",
    ]
    if portal:
        lines += [
            "",
            "Secrets: $OPI_B24_URL / $OPI_B24_TOKEN and --token-file keep --url and --token out of the",
            "process list; the command line wins.",
        ]
    return "\n".join(lines) + "\n"


def suggest_method(name: str) -> Optional[str]:
    """The closest method names to a mistyped one, for "did you mean" (in the script it was typed in)."""
    cyrillic = any("\u0400" <= char <= "\u04ff" for char in name)
    names: Dict[str, str] = {}
    for method in methods():
        shown = method.ru if cyrillic else method.name
        for key in (method.name, method.python, method.ru):
            names.setdefault(key.upper(), shown)
    close = difflib.get_close_matches(name.strip().upper(), list(names), n=6, cutoff=0.75)
    unique = list(dict.fromkeys(names[key] for key in close))[:3]
    return " or ".join(unique) if unique else None


def suggest_option(name: str, options: Sequence[str]) -> Optional[str]:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"--{close[0]}" if close else None


def structure_problem(raw: str, problem: str) -> str:
    """A clearer complaint for a structure option: no such file, a folder, or malformed JSON text."""
    from ._convert import lenient_json

    text = raw.strip()
    if text[:1] in ("{", "["):
        try:
            lenient_json(text)
        except ValueError as exc:
            return f"malformed JSON text ({exc}); check the brackets and quotes"
        return problem
    if text.lower().startswith(("http://", "https://")):
        return problem
    if os.path.isfile(text):
        return problem
    if os.path.isdir(text):
        return f"{raw!r} is a folder, not a .json file"
    looks_like_path = text.lower().endswith(".json") or "/" in text or os.sep in text
    if looks_like_path and not os.path.exists(text):
        return f"no such file {raw!r} (give the path to an existing .json file, or JSON text)"
    return f"{raw!r} is neither JSON text nor the path to an existing .json file"
