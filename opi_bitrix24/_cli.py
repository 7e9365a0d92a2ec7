"""The ``opi-bitrix24`` command line, built from the method table.

    opi-bitrix24 [bitrix24] <Method> --<option> <value> ... [--out FILE] [--debug]

Like OPI's ``oint``, every option value is handed to the function as text and the function's own
conversions give it a type (``--users 10``, ``--users "[1,10]"``, ``--fields "{'TITLE':'x'}"``,
``--fields task.json``, ``--clear true``). Exit codes: 0 the call completed (API error bodies included,
as OPI prints them), 2 usage error (nothing sent), 3 an API error body with ``--fail-on-api-error`` or
``$OPI_BITRIX24_FAIL_ON_API_ERROR=1`` (the body is still printed), 99 transport or unexpected error,
141 the output pipe was closed (128 + SIGPIPE, as the shell reports it for other tools).

Everything the CLI writes on stderr goes through the transport's redaction (``_core.redact``) with the
run's secrets: the webhook key, the token (from any source) and any secret query value of the URL.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import traceback
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._errors import InvalidArgument, OPIError
from ._table import Method, find
from ._version import __version__

__all__ = ["EXIT_API_ERROR", "EXIT_ERROR", "EXIT_OK", "EXIT_PIPE", "EXIT_USAGE", "FAIL_ON_API_ERROR_ENV", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
#: An API error body (``{"error": ...}``) with ``--fail-on-api-error`` / ``$OPI_BITRIX24_FAIL_ON_API_ERROR``.
EXIT_API_ERROR = 3
EXIT_ERROR = 99
#: The output pipe was closed by the reader (``| head -1``): 128 + SIGPIPE, what the shell shows for ``cat``.
EXIT_PIPE = 141

PROG = "opi-bitrix24"
FAIL_ON_API_ERROR_ENV = "OPI_BITRIX24_FAIL_ON_API_ERROR"
_FLAGS = ("debug", "help", "all", "quiet", "fail-on-api-error")
_RESERVED = ("out", "token-file") + _FLAGS
#: Secrets off the command line (the process list shows every argument): the option's value from here.
_ENVIRONMENT = {"url": "OPI_B24_URL", "token": "OPI_B24_TOKEN"}


class _Usage(Exception):
    pass


class _PipeClosed(Exception):
    """stdout or stderr was closed by its reader: the run ends quietly with ``EXIT_PIPE``."""


#: The secrets of the current run (token, webhook key...): every stderr line is redacted with them.
_run_secrets: contextvars.ContextVar[Tuple[str, ...]] = contextvars.ContextVar("_run_secrets", default=())


def _redact(text: str) -> str:
    from . import _core

    return _core.redact(text, *_run_secrets.get())


def _write(stream: IO[str], text: str) -> None:
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            from ._help import console_bytes

            stream.flush()
            rest = memoryview(console_bytes(text, stream))  # UTF-8, or the console's code page on a terminal
            while rest:  # a pipe closed mid-write takes part of it: the next write reports the closed pipe
                written = buffer.write(rest)
                rest = rest[len(rest) if written is None else written :]
            buffer.flush()
        else:
            stream.write(text)
    except BrokenPipeError:
        raise _PipeClosed() from None


def _silence(stream: IO[str]) -> None:
    """Point a closed stream's descriptor at the null device, so the interpreter's last flush is quiet."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def _overview() -> str:
    from . import _help

    return _help.overview(PROG, __version__)


def _method_help(method: Method, typed: str = "") -> str:
    from . import _help

    return _help.method_help(method, PROG, russian=_help.is_russian(typed))


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
        if _blank(value):  # oint's parser drops an empty or blank value: the option counts as not given
            continue
        if name == "out":
            out = value
        elif name in values:
            raise _Usage(f"option --{name} is given twice")
        else:
            values[name] = _unescape(value)
    return values, out, flags


#: What oint's parser counts as blank (OneScript's IsBlankString is .NET's String.IsNullOrWhiteSpace).
_NOT_DOTNET_SPACE = frozenset("\x1c\x1d\x1e\x1f")  # Python counts these as whitespace, .NET does not


def _blank(value: str) -> bool:
    """An empty option value, or one of only white space: oint treats the option as absent (COMPATIBILITY C8)."""
    return all(char.isspace() and char not in _NOT_DOTNET_SPACE for char in value)


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


def _typed(args: Sequence[str]) -> List[str]:
    """The options typed on the command line, blank values included (``--token ""`` was typed)."""
    typed: List[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        name, has_inline, _ = token[2:].partition("=") if token.startswith("--") else ("", False, "")
        if name and name not in _FLAGS and not has_inline:
            i += 1  # its value
        if name:
            typed.append(name)
        i += 1
    return typed


def _secrets_off_the_command_line(
    values: Dict[str, str],
    takes: Callable[[str], bool],
    typed: Sequence[str] = (),
    origin: Optional[Dict[str, str]] = None,
) -> Optional[str]:
    """``--token-file FILE`` and ``$OPI_B24_URL`` / ``$OPI_B24_TOKEN`` for options not given; a problem or None.

    ``origin`` (filled in) says where each of ``url`` and ``token`` came from, as the user typed or set it
    (``--token``, ``--token-file``, ``$OPI_B24_TOKEN``...): errors name that, not an option never typed.
    """
    origin = {} if origin is None else origin
    for cli in ("url", "token"):
        if cli in values:
            origin[cli] = f"--{cli}"
    path = values.pop("token-file", None)
    if path is not None:
        if not takes("token"):
            return "--token-file: this method takes no token"
        if "token" in values or "token" in typed:
            return "give --token or --token-file, not both"
        try:
            with open(path, encoding="utf-8-sig") as handle:
                values["token"] = handle.read().strip()
        except OSError as exc:
            return f"--token-file: cannot read {path!r} ({exc.strerror})"
        except UnicodeDecodeError:
            return f"--token-file: {path!r} is not UTF-8 text"
        if not values["token"]:
            return f"--token-file: {path!r} is empty"
        origin["token"] = "--token-file"
    for cli, variable in _ENVIRONMENT.items():
        if cli not in values and takes(cli) and os.environ.get(variable, "").strip():
            values[cli] = os.environ[variable].strip()
            origin[cli] = f"${variable}"
    return None


def _credentials_problem(values: Dict[str, str], typed: Sequence[str], origin: Dict[str, str]) -> Optional[str]:
    """A portal address needs a token, a webhook URL takes none: checked before anything is sent."""
    from . import _core

    url, token = values.get("url", "").strip(), values.get("token", "").strip()
    if not url:
        return None  # a missing URL is the function's own usage error (naming --url)
    address = _core._SCHEME.sub("", url)
    path = "/" + address.split("/", 1)[1] if "/" in address else ""
    webhook = bool(_core._WEBHOOK_PATH.search(path if path.endswith("/") else path + "/"))
    where = origin.get("url", "--url")
    if token and webhook:
        return (
            f"{origin.get('token', '--token')} and {where} conflict: {where} is a webhook URL, which carries its own"
            " key; give a webhook URL, or a portal address with a token, not both"
        )
    if not token and not webhook:
        if "token" in typed:
            blame = "--token is empty"
        elif os.environ.get(_ENVIRONMENT["token"]) is not None:
            blame = f"${_ENVIRONMENT['token']} is empty"
        else:
            blame = "no token was given"
        return (
            f"{blame}: {where} is a portal address, which needs a token (--token, --token-file or"
            f" ${_ENVIRONMENT['token']}); a webhook URL looks like https://<portal>/rest/<user>/<key>/"
        )
    return None


#: Options that take a whole number although their type allows text: a dialog id (``chat4``) is not one.
_NOT_ONLY_DIGITS = ("chat",)
_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*")


def _numbers_problem(method: Method, values: Dict[str, str]) -> Optional[str]:
    """An id or offset option (help: "a number") holding text that is no whole number; None when all are."""
    for param in method.params:
        value = values.get(param.cli)
        if param.annotation != "Id" or param.cli in _NOT_ONLY_DIGITS or value is None or not value.strip():
            continue
        if not _WHOLE_NUMBER.fullmatch(value):
            return f"--{param.cli}: expected a whole number (an id or an offset), got {value!r}"
    return None


def _out_problem(out: Optional[str]) -> Optional[str]:
    """``--out FILE`` must be writable before the request goes out (a retried script would repeat a write)."""
    if out is None:
        return None
    if not out.strip():
        return "--out: the file name is empty"
    if os.path.isdir(out):
        return f"--out: {out!r} is a folder, not a file"
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        reason = "is not a folder" if os.path.exists(folder) else "does not exist"
        return f"--out: the folder {folder!r} {reason}"
    if (os.path.exists(out) and not os.access(out, os.W_OK)) or not os.access(folder, os.W_OK):
        return f"--out: cannot write {out!r} (permission denied)"
    return None


_YES = ("1", "true", "yes", "on", "y")
_NO = ("", "0", "false", "no", "off", "n")


def _fail_on_api_error(flag: bool) -> bool:
    """``--fail-on-api-error`` or ``$OPI_BITRIX24_FAIL_ON_API_ERROR`` (1/true/yes/on; 0/false/no/off/empty)."""
    text = os.environ.get(FAIL_ON_API_ERROR_ENV, "").strip().lower()
    if text not in _YES + _NO:
        raise _Usage(f"${FAIL_ON_API_ERROR_ENV} must be 1 or 0 (true/false, yes/no, on/off)")
    return flag or text in _YES


def _api_error(result: Any) -> Optional[str]:
    """``CODE: description`` of an API error body (a JSON object with a non-empty ``error``), else None."""
    if not isinstance(result, dict) or result.get("error") in (None, "", False):
        return None
    text = str(result["error"])
    description = result.get("error_description")
    return f"{text}: {description}" if description not in (None, "") else text


def _remember_secrets(values: Dict[str, str]) -> None:
    from . import _core

    found = [values.get("token", "").strip()] + list(_core._url_secrets(values.get("url", "")))
    _run_secrets.set(tuple(secret for secret in found if secret))


def _render(result: Any) -> str:
    if isinstance(result, str):
        return result.encode("utf-8", "replace").decode("utf-8") + "\n"
    text = json.dumps(result, ensure_ascii=False, indent=2)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800") is valid JSON only as an escape
        text = json.dumps(result, ensure_ascii=True, indent=2)
    return text + "\n"


#: Whether this run's method was typed under its Russian name: its errors are then said in Russian.
_russian_run: contextvars.ContextVar[bool] = contextvars.ContextVar("_russian_run", default=False)


def _error(message: str) -> None:
    if _russian_run.get():
        from ._russian import usage

        _write(sys.stderr, _redact(f"{PROG}: ошибка: {usage(message)}\n"))
        return
    _write(sys.stderr, _redact(f"{PROG}: error: {message}\n"))


def _failed(exc: Exception, debug: bool) -> int:
    """One line on stderr (exit 99) for a transport or answer error, or anything unexpected.

    Our exceptions are raised without their cause, whose text may hold secrets; ``--debug`` adds the traceback.
    """
    if debug:
        _write(sys.stderr, _redact(traceback.format_exc()))
    _error(str(exc) if isinstance(exc, OPIError) else f"unexpected {type(exc).__name__}")
    return EXIT_ERROR


def _debug_handler() -> None:
    """``--debug``: the ``opi_bitrix24`` logger on stderr for this run, each line redacted once more."""

    class Redacting(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return _redact(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting("%(name)s: %(message)s"))
    logger = logging.getLogger("opi_bitrix24")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _finish(result: Any, out: Optional[str], fail: bool) -> int:
    """Print the result; with ``fail``, an API error body also exits ``EXIT_API_ERROR`` with one stderr line."""
    code = _emit(result, out)
    problem = _api_error(result) if fail else None
    if code != EXIT_OK or problem is None:
        return code
    _error(f"API error {problem}")
    return EXIT_API_ERROR


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
    """The version of the conformance suite installed beside the package, read from its VERSION file where
    opi_bitrix24_conformance.suite_folder() looks (a wheel's opi_bitrix24_conformance/suite/, else the repository's
    conformance/ beside the package): the library never imports the suite (finding a package's folder runs nothing)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("opi_bitrix24_conformance")
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        if not folders:
            return "not installed"
        for version in (
            os.path.join(folders[0], "suite", "VERSION"),
            os.path.join(os.path.dirname(os.path.abspath(folders[0])), "conformance", "VERSION"),
        ):
            if os.path.isfile(version):
                with open(version, encoding="utf-8") as handle:
                    return handle.read().strip()
        return "not installed"
    except (ImportError, OSError, ValueError):
        return "not installed"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code (``python -m opi_bitrix24`` and ``opi-bitrix24`` exit with it).

    ``--debug`` adds a stderr handler to the ``opi_bitrix24`` logger for this run only: it is removed
    (and the level restored) when the run ends, so in-process callers do not collect handlers.
    """
    logger = logging.getLogger("opi_bitrix24")
    handlers, level = list(logger.handlers), logger.level
    marker = _run_secrets.set(())
    try:
        return _main(argv)
    except _PipeClosed:  # `| head -1`, `| true`: no traceback, the code the shell shows for other tools
        _silence(sys.stdout)
        _silence(sys.stderr)
        return EXIT_PIPE
    finally:
        _run_secrets.reset(marker)
        for handler in list(logger.handlers):
            if handler not in handlers:
                logger.removeHandler(handler)
        logger.setLevel(level)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bitrix24":
        args = args[1:]
    _russian_run.set(bool(args) and any("\u0400" <= char <= "\u04ff" for char in args[0]))
    if not args or args[0] in ("-h", "--help", "help"):
        _write(sys.stdout, _overview())
        return EXIT_OK
    if args[0] == "--version":
        _write(sys.stdout, f"{PROG} {__version__} (conformance suite {_suite_version()})\n")
        return EXIT_OK
    try:
        _rate_limit_from_env()
        _state_from_env()
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
        _write(sys.stdout, _method_help(method, args[0]))
        return EXIT_OK
    typed = _typed(args[1:])
    origin: Dict[str, str] = {}
    problem = _secrets_off_the_command_line(values, lambda cli: cli in method.portal_options, typed, origin)
    _remember_secrets(values)
    if problem is not None:
        _error(problem)
        return EXIT_USAGE
    missing = [f"--{p.cli}" for p in method.params if p.required and p.cli not in values]
    if missing:
        _error(f"{method.name} needs {' '.join(missing)}")
        return EXIT_USAGE
    try:
        fail = _fail_on_api_error(flags["fail-on-api-error"])
    except _Usage as exc:
        _error(str(exc))
        return EXIT_USAGE
    problem = (
        (_credentials_problem(values, typed, origin) if method.portal_options else None)
        or _numbers_problem(method, values)
        or _out_problem(out)
    )
    if problem is not None:
        _error(problem)
        return EXIT_USAGE
    if flags["debug"]:
        _debug_handler()
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
        if param is not None and any("\u0400" <= char <= "\u04ff" for char in args[0]):  # a Russian name
            from . import _russian

            _error(f"{where} ({param.ru}): {_russian.problem(problem)}")
            return EXIT_USAGE
        _error(f"{where}: {problem}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one line, exit 99
        return _failed(exc, flags["debug"])
    return _finish(result, out, fail)


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


STATE_ENV = "OPI_BITRIX24_STATE"


def _state_from_env() -> None:
    """``OPI_BITRIX24_STATE=sqlite:///path.db`` or ``redis://host:6379/0``: where limits and tokens live."""
    text = os.environ.get(STATE_ENV, "").strip()
    if not text:
        return
    from . import _core

    try:
        _core.configure(state=text)
    except InvalidArgument as exc:
        raise _Usage(f"{STATE_ENV}: {exc.problem}") from None


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
        "  --fail-on-api-error  exit 3 when the answer is an API error body (also $OPI_BITRIX24_FAIL_ON_API_ERROR=1)\n"
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
            _error(
                f"unknown option {token!r} for Call (options: --url --method --params --token --all --quiet"
                " --fail-on-api-error)"
            )
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
    typed = _typed(args)
    origin: Dict[str, str] = {}
    problem = _secrets_off_the_command_line(values, lambda cli: cli in _CALL_OPTIONS, typed, origin)
    _remember_secrets(values)
    if problem is not None:
        _error(problem)
        return EXIT_USAGE
    missing = [f"--{n}" for n in ("url", "method") if n not in values]
    if missing:
        _error(f"Call needs {' '.join(missing)}")
        return EXIT_USAGE
    try:
        fail = _fail_on_api_error(flags["fail-on-api-error"])
    except _Usage as exc:
        _error(str(exc))
        return EXIT_USAGE
    problem = _credentials_problem(values, typed, origin) or _out_problem(out)
    if problem is not None:
        _error(problem)
        return EXIT_USAGE
    if flags["debug"]:
        _debug_handler()
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
    return _finish(result, out, fail)


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
