"""Help texts of the command line: what to type for each option, "did you mean", plain-text docs.

Everything here is derived from the method table and the functions' docstrings (their ``Args:``
section); reStructuredText markup (``:func:`x```, double backticks) is turned into plain text, with a
function reference shown as the CLI method name a user would type.
"""

from __future__ import annotations

import codecs
import difflib
import inspect
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

from ._table import Method, Param, find, methods

__all__ = [
    "TYPE_HINTS",
    "TYPE_HINTS_RU",
    "console_bytes",
    "is_russian",
    "method_help",
    "option_docs",
    "overview",
    "pageable",
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

#: The same in Russian, for the help of a method typed under its Russian name.
TYPE_HINTS_RU: Dict[str, str] = {
    "str": "текст",
    "Text": "текст (число отправляется своими цифрами)",
    "Id": "число (идентификатор, отступ), например 10",
    "IdList": "одно значение, например 1, или список, например [1,2]",
    "Structure": "текст JSON, например {'TITLE':'x'}, или путь к файлу .json",
    "StructureList": "список объектов JSON, например [{'ID':1}], или один объект {'ID':1}",
    "Flag": "true или false (Истина или Ложь)",
    "Moment": "дата: ISO 8601, например 2026-01-31T12:00:00 или 2026-01-31",
    "FileData": "путь к файлу (или URL http(s), или текст base64)",
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


def what_to_type(param: Param, method: Optional[Method] = None, russian: bool = False) -> str:
    """The kind of value an option takes, in the words a CLI user needs (``method``: whose option it is)."""
    if param.python == "url":
        if method is not None and "url" not in method.portal_options:
            return "ссылка http(s)" if russian else "an http(s) link"
        return (
            "URL вебхука или адрес портала (с --token)"
            if russian
            else "the webhook URL, or the portal address (with --token)"
        )
    if param.python == "token":
        return (
            "токен доступа OAuth (для вебхука не нужен)"
            if russian
            else "an OAuth access token (leave it out for a webhook)"
        )
    if russian:
        return TYPE_HINTS_RU.get(param.annotation, "текст")
    return TYPE_HINTS.get(param.annotation, "text")


def is_russian(name: str) -> bool:
    """Whether a method name was typed in Cyrillic (then help and option errors are in Russian)."""
    return any("\u0400" <= char <= "\u04ff" for char in name)


def pageable(method: Method) -> bool:
    """Whether ``--all`` works for a method: one list request whose result shape the bulk layer knows."""
    from . import _bulk

    return len(method.api) == 1 and method.api[0].lower() in _bulk.SHAPES


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


def _default(param: Param, russian: bool = False) -> str:
    if param.required:
        return "обязательная" if russian else "required"
    value = param.default
    if value == "" or value is None:
        return "необязательная, по умолчанию пусто" if russian else "optional, empty by default"
    shown = ("true" if value else "false") if isinstance(value, bool) else value
    return f"необязательная, по умолчанию {shown}" if russian else f"optional, default {shown}"


def _wrap(text: str, indent: str, width: int = 100) -> List[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent) or [indent.rstrip()]


def method_help(method: Method, prog: str, russian: bool = False) -> str:
    """The ``<Method> --help`` page; in Russian (the frame, the kinds of values) when ``russian``."""
    if russian:
        return _method_help_ru(method, prog)
    docs = option_docs(method)
    lines = [
        f"usage: {prog} {method.name} "
        + " ".join(f"--{p.cli} <value>" if p.required else f"[--{p.cli} <value>]" for p in method.params)
        + (" [--all] [--quiet]" if pageable(method) else ""),
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
    if pageable(method):
        lines += [
            "  --all",
            "      every page, not one: the rows of all pages as one JSON list (50 pages per batch request;",
            "      an error on any page fails the run). The page offset option is then the first row to start from.",
            "  --quiet",
            "      with --all: no progress line on stderr",
        ]
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


def _method_help_ru(method: Method, prog: str) -> str:
    docs = option_docs(method)
    lines = [
        f"вызов: {prog} {method.ru} "
        + " ".join(f"--{p.cli} <значение>" if p.required else f"[--{p.cli} <значение>]" for p in method.params)
        + (" [--all] [--quiet]" if pageable(method) else ""),
        "",
        plain(method.summary),
        f"Метод REST: {', '.join(method.api) or '(без запроса: результат строится на месте)'}",
        f"Python: {method.python}()   OPI: {method.ru} / {method.name}   Раздел: {method.section_ru}",
        "",
        "Опции:",
    ]
    portal = method.portal_options
    environment = {"url": "$OPI_B24_URL", "token": "$OPI_B24_TOKEN"}
    for p in method.params:
        lines.append(f"  --{p.cli} ({_default(p, russian=True)}; параметр OPI {p.ru}, Python {p.python})")
        lines += _wrap(f"Что указать: {what_to_type(p, method, russian=True)}", "      ")
        if docs.get(p.python) and p.python not in ("url", "token"):
            lines += _wrap(f"Описание (англ.): {docs[p.python]}", "      ")
        if p.cli in portal:
            also = environment[p.cli] + (" или --token-file ФАЙЛ" if p.cli == "token" else "")
            lines += _wrap(f"Если --{p.cli} не указана — из {also}.", "      ")
    if "token" in portal:
        lines += ["  --token-file ФАЙЛ", "      прочитать токен из файла (вместо --token)"]
    if pageable(method):
        lines += [
            "  --all",
            "      все страницы, а не одна: строки всех страниц одним списком JSON (50 страниц в одном",
            "      запросе batch; ошибка на любой странице прерывает вызов)",
            "  --quiet",
            "      с --all: без строки прогресса в stderr",
        ]
    lines += [
        "  --out ФАЙЛ",
        "      записать результат в файл, а не выводить",
        "  --debug",
        "      показать запросы (секреты скрыты) и трассировку ошибок в stderr",
        "  --fail-on-api-error",
        "      код завершения 3, если портал ответил ошибкой API (или $OPI_BITRIX24_FAIL_ON_API_ERROR=1)",
        "",
        "Значения — текст, как в oint: список — [1,2], структура — текст JSON (можно в одинарных",
        "кавычках: {'TITLE':'x'}) или путь к файлу .json, булево — true или false.",
    ]
    if portal:
        lines += [
            "",
            "Секреты: $OPI_B24_URL / $OPI_B24_TOKEN и --token-file убирают --url и --token из списка",
            "процессов; опция в командной строке важнее переменной.",
        ]
    return "\n".join(lines) + "\n"


def overview(prog: str, version: str) -> str:
    """``opi-bitrix24 --help``: how to call, every method, the bulk additions, the environment, exit codes."""
    lines = [
        f"{prog} {version}: the Bitrix24 module of OpenIntegrations (OPI) for Python",
        "",
        f"usage: {prog} [bitrix24] <Method> --<option> <value> ... [--out FILE] [--debug]",
        f"       {prog} <Method> --help            options of one method (in Russian for a Russian name)",
        f"       {prog} <ListMethod> ... --all     every page, not one (e.g. GetDealsList --all)",
        f"       {prog} Call --url <webhook> --method <rest.method> [--params <JSON>] [--all] [--quiet]",
        "",
        "По-русски: русские имена методов работают так же, как английские; с русским именем справка",
        f"({prog} ПолучитьПользователей --help) и сообщения об ошибках — на русском.",
        "",
        "Methods (OPI English name; Russian and snake_case names work too; * takes --all):",
    ]
    current = None
    for method in methods():
        if method.section != current:
            current = method.section
            lines.append(f"  {method.section}")
        mark = "*" if pageable(method) else " "
        lines.append(f"   {mark}{method.name:<34} {plain(method.summary)}")
    lines += [
        "",
        "Bulk (additions beyond OPI):",
        "  Call        any REST method, parameters as JSON (--params '{\"id\": 5}' or a .json file)",
        "  --all       with Call or a list method (*): every page, 50 pages per batch request",
        "  --quiet     no progress line on stderr (shown only when stderr is a terminal)",
        "",
        "Environment:",
        "  $OPI_B24_URL, $OPI_B24_TOKEN   --url and --token when not given (the command line wins); or",
        "                                 --token-file FILE. Both keep secrets out of the process list.",
        "  $OPI_BITRIX24_RATE_LIMIT       the client-side rate limit: off, or <requests/s>/<burst> (5/250)",
        "  $OPI_BITRIX24_OAUTH_URL        the OAuth server of GetToken / RefreshToken",
        "",
        "Output: the result as UTF-8 JSON on stdout (in the console's own encoding on a terminal);",
        "--out FILE writes it to FILE. Errors: one line on stderr.",
        "",
        "Scripts and cron: --fail-on-api-error (or $OPI_BITRIX24_FAIL_ON_API_ERROR=1) makes an API error body",
        "(an answer with an error field) exit 3; the body is still printed.",
        "",
        "Exit codes: 0 done (API error bodies too), 2 usage error, 3 API error body (with --fail-on-api-error),"
        " 99 transport/unexpected error, 141 output pipe closed.",
    ]
    return "\n".join(lines) + "\n"


def console_bytes(text: str, stream: object) -> bytes:
    """What to write for ``text`` on ``stream``: UTF-8 into pipes and files (what programs reading the
    output expect), the console's own encoding on a terminal (cp866 or cp1251 on an old Windows console,
    where UTF-8 bytes would show as mojibake). A character the console cannot show becomes a JSON
    ``\\uXXXX`` escape, so JSON output stays valid JSON."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    isatty = getattr(stream, "isatty", None)
    terminal = bool(isatty()) if callable(isatty) else False
    if not terminal or not isinstance(encoding, str) or encoding.lower().replace("-", "") == "utf8":
        return text.encode("utf-8", "surrogatepass")
    try:
        return text.encode(encoding, "opi_bitrix24_json_escape")
    except LookupError:  # an encoding Python does not know: UTF-8 rather than nothing
        return text.encode("utf-8", "surrogatepass")


def _json_escape(error: UnicodeError) -> Tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), error.end


codecs.register_error("opi_bitrix24_json_escape", _json_escape)


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
