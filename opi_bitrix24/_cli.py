"""The ``opi-bitrix24`` command line, built from the method table.

    opi-bitrix24 [bitrix24] <Method> --<option> <value> ... [--out FILE] [--debug]

Like OPI's ``oint``, every option value is handed to the function as text and the function's own
conversions give it a type (``--users 10``, ``--users "[1,10]"``, ``--fields "{'TITLE':'x'}"``,
``--fields task.json``, ``--clear true``). Exit codes: 0 the call completed (API error bodies included),
2 usage error (nothing sent), 99 transport or unexpected error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import __version__
from ._errors import InvalidArgument, OPIError
from ._table import Method, find, methods

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ERROR = 99

PROG = "opi-bitrix24"
_FLAGS = ("debug", "help", "all", "quiet")
_RESERVED = ("out", "token-file") + _FLAGS
#: Secrets off the command line (the process list shows every argument): the option's value from here.
_ENVIRONMENT = {"url": "OPI_B24_URL", "token": "OPI_B24_TOKEN"}


class _Usage(Exception):
    pass


def _write(stream: IO[str], text: str) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    else:
        stream.write(text)


def _overview() -> str:
    from . import _help

    lines = [
        f"{PROG} {__version__}: the Bitrix24 module of OpenIntegrations (OPI) for Python",
        "",
        f"usage: {PROG} [bitrix24] <Method> --<option> <value> ... [--out FILE] [--debug]",
        f"       {PROG} <Method> --help",
        "",
        "Methods (OPI English name; Russian and snake_case names work too):",
    ]
    current = None
    for method in methods():
        if method.section != current:
            current = method.section
            lines.append(f"  {method.section}")
        lines.append(f"    {method.name:<34} {_help.plain(method.summary)}")
    lines += [
        "",
        "Secrets: --url and --token default to $OPI_B24_URL and $OPI_B24_TOKEN (the command line wins);",
        "--token-file FILE reads the token from a file. Both keep secrets out of the process list.",
    ]
    lines += ["", "Exit codes: 0 done (API error bodies too), 2 usage error, 99 transport/unexpected error."]
    return "\n".join(lines) + "\n"


def _method_help(method: Method) -> str:
    from . import _help

    return _help.method_help(method, PROG)


def _parse(method: Method, args: Sequence[str]) -> Tuple[Dict[str, str], Optional[str], Dict[str, bool]]:
    values: Dict[str, str] = {}
    flags = {name: False for name in _FLAGS}
    out: Optional[str] = None
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or token == "--":
            raise _Usage(f"unexpected argument {token!r} (options look like --name value)")
        name, has_inline, inline = token[2:].partition("=")
        if name in _FLAGS and not has_inline:
            flags[name] = True
            i += 1
            continue
        if name not in _RESERVED and method.param_by_cli(name) is None:
            from . import _help

            known = " ".join(f"--{p.cli}" for p in method.params)
            close = _help.suggest_option(name, [p.cli for p in method.params] + list(_RESERVED))
            hint = f"did you mean {close}? " if close else ""
            raise _Usage(f"unknown option --{name} for {method.name} ({hint}options: {known})")
        if has_inline:
            value = inline
            i += 1
        elif i + 1 < len(args):
            value = args[i + 1]
            i += 2
        else:
            raise _Usage(f"option --{name} needs a value")
        if name == "out":
            out = value
        elif name in values:
            raise _Usage(f"option --{name} is given twice")
        else:
            values[name] = _unescape(value)
    return values, out, flags


def _unescape(value: str) -> str:
    r"""OPI's escape sequences: ``\n`` ``\r`` ``\t``-style pairs in plain text become real characters.

    JSON text (``{``/``[``) and existing paths are left alone; ``\\`` keeps a backslash literal.
    """
    if "\\" not in value or value.lstrip()[:1] in ("{", "[") or os.path.exists(value):
        return value
    table = {"n": "\n", "r": "\r", "f": "\f", "v": "\v", "\\": "\\"}
    out: List[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _secrets_off_the_command_line(values: Dict[str, str], takes: Callable[[str], bool]) -> Optional[str]:
    """``--token-file FILE`` and ``$OPI_B24_URL`` / ``$OPI_B24_TOKEN`` for options not given; a problem or None."""
    path = values.pop("token-file", None)
    if path is not None:
        if not takes("token"):
            return "--token-file: this method takes no token"
        if "token" in values:
            return "give --token or --token-file, not both"
        try:
            with open(path, encoding="utf-8-sig") as handle:
                values["token"] = handle.read().strip()
        except OSError as exc:
            return f"--token-file: cannot read {path!r} ({exc.strerror})"
    for cli, variable in _ENVIRONMENT.items():
        if cli not in values and takes(cli) and os.environ.get(variable, "").strip():
            values[cli] = os.environ[variable].strip()
    return None


def _render(result: Any) -> str:
    if isinstance(result, str):
        return result.encode("utf-8", "replace").decode("utf-8") + "\n"
    text = json.dumps(result, ensure_ascii=False, indent=2)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800") is valid JSON only as an escape
        text = json.dumps(result, ensure_ascii=True, indent=2)
    return text + "\n"


def _error(message: str) -> None:
    _write(sys.stderr, f"{PROG}: error: {message}\n")


def _failed(exc: Exception, debug: bool) -> int:
    """One line on stderr (exit 99) for a transport or answer error, or anything unexpected.

    Our exceptions are raised without their cause, whose text may hold secrets; ``--debug`` adds the traceback.
    """
    if debug:
        _write(sys.stderr, traceback.format_exc())
    _error(str(exc) if isinstance(exc, OPIError) else f"unexpected {type(exc).__name__}")
    return EXIT_ERROR


def _emit(result: Any, out: Optional[str]) -> int:
    """The result as UTF-8 JSON (or text) on stdout, or into ``--out FILE`` with nothing printed."""
    text = _render(result)
    if out is None:
        _write(sys.stdout, text)
        return EXIT_OK
    try:
        with open(out, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        _error(f"--out: cannot write {out!r} ({exc.strerror})")
        return EXIT_ERROR
    return EXIT_OK


def _suite_version() -> str:
    """The version of the conformance suite installed beside the package (conformance/VERSION)."""
    try:
        from conformance import __version__ as suite
    except (ImportError, OSError):
        return "not installed"
    return str(suite)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code (``python -m opi_bitrix24`` and ``opi-bitrix24`` exit with it).

    ``--debug`` adds a stderr handler to the ``opi_bitrix24`` logger for this run only: it is removed
    (and the level restored) when the run ends, so in-process callers do not collect handlers.
    """
    logger = logging.getLogger("opi_bitrix24")
    handlers, level = list(logger.handlers), logger.level
    try:
        return _main(argv)
    finally:
        for handler in list(logger.handlers):
            if handler not in handlers:
                logger.removeHandler(handler)
        logger.setLevel(level)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bitrix24":
        args = args[1:]
    if not args or args[0] in ("-h", "--help", "help"):
        _write(sys.stdout, _overview())
        return EXIT_OK
    if args[0] == "--version":
        _write(sys.stdout, f"{PROG} {__version__} (conformance suite {_suite_version()})\n")
        return EXIT_OK
    try:
        _rate_limit_from_env()
    except _Usage as exc:
        _error(str(exc))
        return EXIT_USAGE
    if args[0].lower() in ("call", "вызов"):
        return _call_main(args[1:])
    method = find(args[0])
    if method is None:
        from . import _help

        close = _help.suggest_method(args[0])
        hint = f"did you mean {close}? " if close else ""
        _error(f"unknown method {args[0]!r} ({hint}run {PROG} --help for the list)")
        return EXIT_USAGE
    try:
        values, out, flags = _parse(method, args[1:])
    except _Usage as exc:
        _error(str(exc))
        return EXIT_USAGE
    if flags["help"]:
        _write(sys.stdout, _method_help(method))
        return EXIT_OK
    problem = _secrets_off_the_command_line(values, lambda cli: cli in method.portal_options)
    if problem is not None:
        _error(problem)
        return EXIT_USAGE
    missing = [f"--{p.cli}" for p in method.params if p.required and p.cli not in values]
    if missing:
        _error(f"{method.name} needs {' '.join(missing)}")
        return EXIT_USAGE
    if flags["debug"]:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger("opi_bitrix24")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    kwargs = {p.python: values[p.cli] for p in method.params if p.cli in values}
    if flags["all"] and not _pageable(method):
        _error(f"--all: {method.name} is not a paged list method")
        return EXIT_USAGE
    try:
        if flags["all"]:
            from . import _bulk

            with _quiet_progress(flags["quiet"]):
                arguments: Dict[str, Any] = kwargs
                result = _bulk.all_pages(method.func, **arguments)
        else:
            result = method.func(**kwargs)
    except InvalidArgument as exc:
        param = method.param_by_python(exc.parameter)
        where = f"--{param.cli}" if param is not None else exc.parameter
        problem = exc.problem
        structure = param is not None and param.annotation in ("Structure", "StructureList")
        if structure and param is not None and param.cli in values and problem.startswith("expected"):
            from . import _help

            problem = _help.structure_problem(values[param.cli], problem)
        _error(f"{where}: {problem}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one line, exit 99
        return _failed(exc, flags["debug"])
    return _emit(result, out)


# --- bulk additions: Call, --all, the rate limit from the environment ------------------------------

RATE_LIMIT_ENV = "OPI_BITRIX24_RATE_LIMIT"


def _rate_limit_from_env() -> None:
    """``OPI_BITRIX24_RATE_LIMIT=off`` (on-premise, tests) or ``5/250`` (Enterprise): the client's bucket."""
    text = os.environ.get(RATE_LIMIT_ENV, "").strip().lower()
    if not text:
        return
    from . import _core

    if text in ("off", "none", "0", "no"):
        _core.configure(rate_limit=None)
        return
    rate, _, burst = text.partition("/")
    try:
        limit = (float(rate), int(burst or "1"))
        _core.configure(rate_limit=limit)
    except (ValueError, InvalidArgument):
        raise _Usage(f"{RATE_LIMIT_ENV} must be 'off' or '<requests per second>/<burst>', e.g. 5/250") from None


def _pageable(method: Method) -> bool:
    from . import _bulk

    return len(method.api) == 1 and method.api[0].lower() in _bulk.SHAPES


class _quiet_progress:  # noqa: N801 - used as a context manager like contextlib's
    def __init__(self, quiet: bool) -> None:
        from . import _bulk

        self.var = _bulk._quiet
        self.quiet = quiet
        self.marker: Any = None

    def __enter__(self) -> None:
        self.marker = self.var.set(self.quiet)

    def __exit__(self, *exc: Any) -> None:
        self.var.reset(self.marker)


_CALL_OPTIONS = ("url", "method", "params", "token")


def _call_help() -> str:
    return (
        f"usage: {PROG} Call --url <webhook or portal> --method <rest.method> [--params <JSON or file>] "
        "[--token <token>] [--all] [--quiet]\n\n"
        "Call any REST method with the parameters as a JSON body (an addition beyond OPI).\n"
        "  --all     page through a list method (every row; fast ID paging where the method allows)\n"
        "  --quiet   no progress line on stderr\n"
        "  --out FILE, --debug, --token-file FILE, $OPI_B24_URL, $OPI_B24_TOKEN as for the other methods\n"
    )


def _call_main(args: Sequence[str]) -> int:
    from . import _bulk

    values: Dict[str, str] = {}
    flags = {name: False for name in _FLAGS}
    out: Optional[str] = None
    i = 0
    while i < len(args):
        token = args[i]
        name, has_inline, inline = token[2:].partition("=") if token.startswith("--") else ("", False, "")
        if name in _FLAGS and not has_inline:
            flags[name] = True
            i += 1
            continue
        if name not in _CALL_OPTIONS and name not in ("out", "token-file"):
            _error(f"unknown option {token!r} for Call (options: --url --method --params --token --all --quiet)")
            return EXIT_USAGE
        if has_inline:
            value, i = inline, i + 1
        elif i + 1 < len(args):
            value, i = args[i + 1], i + 2
        else:
            _error(f"option --{name} needs a value")
            return EXIT_USAGE
        if name == "out":
            out = value
        else:
            values[name] = value
    if flags["help"]:
        _write(sys.stdout, _call_help())
        return EXIT_OK
    problem = _secrets_off_the_command_line(values, lambda cli: cli in _CALL_OPTIONS)
    if problem is not None:
        _error(problem)
        return EXIT_USAGE
    missing = [f"--{n}" for n in ("url", "method") if n not in values]
    if missing:
        _error(f"Call needs {' '.join(missing)}")
        return EXIT_USAGE
    if flags["debug"]:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logging.getLogger("opi_bitrix24").addHandler(handler)
        logging.getLogger("opi_bitrix24").setLevel(logging.DEBUG)
    url, api, token = values["url"], values["method"], values.get("token", "")
    try:
        params = _bulk._params(values.get("params"))
        if flags["all"]:
            with _quiet_progress(flags["quiet"]):
                result: Any = list(_bulk.iterate(url, api, params, token))
        else:
            result = _bulk.call(url, api, params, token)
    except InvalidArgument as exc:
        where = f"--{exc.parameter}" if exc.parameter in _CALL_OPTIONS else exc.parameter
        _error(f"{where}: {exc.problem}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one line, exit 99
        return _failed(exc, flags["debug"])
    return _emit(result, out)


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
