"""OPI's value rules: which arguments are sent and in what shape.

Every converter takes the raw argument and the Python name of its parameter (for error messages) and
returns either the converted value or :data:`SKIP`. ``SKIP`` means "not filled" in OPI's sense (OneScript
``ValueIsFilled``): ``None``, ``""`` or whitespace, the number 0 and empty collections. ``False`` *is*
filled and is sent. The emptiness check runs on the raw value, before conversion, as in OPI's
``AddField``.

Where OPI would silently send garbage (a structure argument holding text that is not JSON, a boolean
that is not a boolean), the converters raise :class:`InvalidArgument` instead.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import datetime as _dt
import json
import os
import re
from decimal import Decimal
from typing import Any, Final, Optional, Union

from . import _stream
from ._errors import InvalidArgument
from ._settings import current_settings
from ._wire import SKIP

__all__ = [
    "SKIP",
    "NeedsIO",
    "array",
    "base64_file",
    "base64_source",
    "binary",
    "boolean",
    "collection",
    "date_iso",
    "date_isoz",
    "date_only",
    "file_data",
    "filled",
    "io_refused",
    "key_value",
    "lenient_json",
    "line",
    "text",
    "yes_no",
]


class NeedsIO(BaseException):
    """Raised instead of reading a file or fetching a URL while :data:`io_refused` is set.

    The async surface converts arguments on the event loop with the flag raised; a conversion that needs
    the disk or the network stops with this (a BaseException: no ``except Exception`` swallows it) and is
    made again in a worker thread. Conversion is pure, so making it twice sends nothing twice.
    """


#: Set (True) while arguments are converted on an event loop: see :class:`NeedsIO`.
io_refused: contextvars.ContextVar[bool] = contextvars.ContextVar("opi_bitrix24_io_refused", default=False)


def filled(value: Any) -> bool:
    """OneScript ``ValueIsFilled``: False is filled, 0 / "" / whitespace / empty collections are not."""
    if value is None or value is SKIP:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (bytes, bytearray, list, tuple, dict, set, frozenset)):
        return len(value) > 0
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value != _dt.datetime(1, 1, 1) and value != _dt.date(1, 1, 1)
    return True


def _number_text(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    decimal = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    as_text = format(decimal, "f")
    if "." in as_text:
        as_text = as_text.rstrip("0").rstrip(".")
    return as_text


def _pretty_json(value: Any) -> str:
    # OPI's JSONString: one space per level, CRLF line breaks, non-ASCII raw.
    return json.dumps(value, ensure_ascii=False, indent=1, default=str).replace("\n", "\r\n")


def text(value: Any, name: str) -> Any:
    """OPI type ``String``: numbers as plain decimal text, booleans unchanged, collections as JSON text."""
    if not filled(value):
        return SKIP
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return _number_text(value)
    if isinstance(value, (dict, list, tuple)):
        return _pretty_json(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(name, "bytes are not UTF-8 text") from None
    if isinstance(value, _dt.datetime):
        return value.strftime("%d.%m.%Y %H:%M:%S")
    if isinstance(value, _dt.date):
        return value.strftime("%d.%m.%Y 0:00:00")
    return str(value)


def line(value: Any, name: str) -> Any:
    """OPI ``GetLine`` before ``AddField(..., "String")``: a number becomes text first, so ``0`` is sent as ``"0"``."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and value == 0:
        return "0"
    return text(value, name)


# --- JSON text, OPI's lenient flavour -------------------------------------------------------------

_BARE_WORDS = re.compile(r"\b(?:true|false|null)\b")


#: One JSON string token: double-quoted (kept as it is) or single-quoted (group 1: its content); an
#: unterminated string runs to the end, a lone backslash at the end belongs to it.
_STRING_TOKEN = re.compile(r'"(?:[^"\\]+|\\.|\\\Z)*"?|\'((?:[^\'\\]+|\\.|\\\Z)*)\'?', re.DOTALL)
_SINGLE_QUOTED_ESCAPES = re.compile(r'\\(.)|"', re.DOTALL)


def _single_escape(match: re.Match[str]) -> str:
    escaped = match.group(1)
    if escaped is None:
        return '\\"'
    return "'" if escaped == "'" else "\\" + escaped


def _requote_token(match: re.Match[str]) -> str:
    inner = match.group(1)
    if inner is None:
        return match.group(0)
    if "\\" in inner or '"' in inner:
        inner = _SINGLE_QUOTED_ESCAPES.sub(_single_escape, inner)
    return '"' + inner + '"'


def _requote(source: str) -> str:
    """Turn single-quoted JSON strings (``{'TITLE':'x'}``) into double-quoted ones.

    Double-quoted strings are kept; in a single-quoted one ``\\'`` becomes ``'``, ``"`` becomes ``\\"``
    and other escapes stay; an unterminated string is closed at the end.
    """
    return _STRING_TOKEN.sub(_requote_token, source)


_ESCAPED_SINGLE_QUOTE = re.compile(r"\\'")
#: A backslash that pairs differently from a plain ``\'`` replacement: ``\\'`` (an escaped backslash
#: before a quote) or ``\"``.
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?:\\'|\")")
_NOT_BACKSLASH = re.compile(r"[^\\]")
#: Stand for ``\'`` and ``\\`` while the quotes are replaced. A source holding one is not JSON (a raw
#: control character is invalid inside and outside strings) and goes through :func:`_requote`.
_QUOTE_MARK: Final = "\x01"
_BACKSLASH_MARK: Final = "\x02"
#: Text is converted in pieces of about this many characters: each piece's copies stay small (no fresh
#: pages of memory per copy), only the joined result is as large as the source.
_PIECE: Final = 32768


def _quick_piece(piece: str) -> str:
    if "\\" not in piece:
        return piece.replace('"', '\\"').replace("'", '"') if '"' in piece else piece.replace("'", '"')
    marked = _ESCAPED_SINGLE_QUOTE.sub(_QUOTE_MARK, piece)
    if "\\" in marked and _AMBIGUOUS_BACKSLASH.search(piece) is not None:
        # Pair the backslashes first (left to right, as the tokenizer does inside a string), then every
        # backslash left starts an escape: \' is a quote, \" the same as a raw ".
        marked = _ESCAPED_SINGLE_QUOTE.sub(_QUOTE_MARK, piece.replace("\\\\", _BACKSLASH_MARK))
        marked = marked.replace('\\"', '"').replace('"', '\\"').replace("'", '"')
        return marked.replace(_QUOTE_MARK, "'").replace(_BACKSLASH_MARK, "\\\\")
    marked = marked.replace('"', '\\"').replace("'", '"') if '"' in marked else marked.replace("'", '"')
    return marked.replace(_QUOTE_MARK, "'")


def _quick_requote(source: str) -> Optional[str]:
    """:func:`_requote` by plain replacements, for text whose strings are all single-quoted.

    ``'`` becomes ``"``, ``"`` becomes ``\"``, ``\'`` becomes a raw ``'``, ``\"`` stays ``\"`` and other
    escapes stay (backslashes are paired first where ``\\'`` or ``\"`` make it matter). Where the
    text's strings are all single-quoted and no backslash stands outside them, this is exactly
    :func:`_requote`'s text; anywhere else the result is not JSON (a ``"`` of the source becomes ``\"``,
    valid only inside a string; a backslash outside strings stays one), so a result that parses is
    :func:`_requote`'s. An unterminated string also makes it not JSON (:func:`_requote` closes it).
    ``None`` where the text holds a placeholder character.

    No per-character Python: per piece, a regular-expression substitution (where there is a
    backslash) and replacements. Pieces end after a character that is not a backslash, so no pair of
    backslashes and no ``\'`` or ``\"`` spans two pieces and each piece converts on its own.
    """
    if _QUOTE_MARK in source or _BACKSLASH_MARK in source:
        return None
    if len(source) <= _PIECE or ("\\" not in source and '"' not in source):  # one copy at most
        return _quick_piece(source)
    pieces = []
    start, total = 0, len(source)
    while start < total:
        cut = start + _PIECE
        if cut < total:
            found = _NOT_BACKSLASH.search(source, cut - 1)
            cut = total if found is None else found.start() + 1
        pieces.append(_quick_piece(source[start:cut]))
        start = cut
    return "".join(pieces)


def lenient_json(source: str) -> Any:
    """Parse JSON text the way OPI's reader accepts it: double- or single-quoted strings.

    Raises ``ValueError`` when the text is not JSON. Single-quoted text is converted by replacements
    (near ``json.loads`` speed) when that is provably the same as the tokenizer's result.
    """
    stripped = source.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        if "'" not in stripped:
            raise
    quick = _quick_requote(stripped)
    if quick is not None:
        try:
            return json.loads(quick)
        except ValueError:
            pass
    return json.loads(_requote(stripped))


def _looks_like_structure(value: str) -> bool:
    return value.lstrip()[:1] in ("{", "[")


def _is_url(value: str) -> bool:
    return value.lstrip().lower().startswith(("http://", "https://")) and sources_allow("url")


def source_policy() -> str:
    """``Settings.sources`` in force here (looked up at each use)."""
    return current_settings().sources


def sources_allow(kind: str) -> bool:
    """``Settings.sources``: ``"all"`` reads paths and URLs (OPI), ``"files"`` paths only, ``"none"`` neither.

    Where a kind is not allowed, text naming a file or URL is just text (never read, never fetched).
    Explicit ``os.PathLike`` objects are always read: they are not text.
    """
    policy = source_policy()
    return policy == "all" or (policy == "files" and kind == "file")


def allowed_source(kind: str, name: str) -> None:
    """Refuse (InvalidArgument) a read or fetch that ``Settings.sources`` does not allow."""
    if not sources_allow(kind):
        raise InvalidArgument(name, f"reading a {kind} named by text is off (Settings.sources={source_policy()!r})")


def _existing_file(value: Any) -> Optional[str]:
    if isinstance(value, os.PathLike):
        if io_refused.get():
            raise NeedsIO
        path = os.fspath(value)
        return path if isinstance(path, str) else os.fsdecode(path)
    if isinstance(value, str) and value and len(value) < 4096 and "\n" not in value and sources_allow("file"):
        try:
            found = os.path.isfile(value)
        except (OSError, ValueError):
            return None
        if found and io_refused.get():
            raise NeedsIO
        return value if found else None
    return None


def _fetch(url: str, name: str) -> bytes:
    """Download a URL given to a file or structure parameter with the blocking driver (looked up here, at use)."""
    if io_refused.get():
        raise NeedsIO
    from . import _sync

    return _sync.fetch(url.strip(), name)


def _parse_structure(value: Any, name: str) -> Any:
    """GetCollection: a collection, a JSON file path, a URL serving JSON, or JSON text."""
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, tuple):
        return list(value)
    path = _existing_file(value)
    if path is not None:
        try:
            with open(path, encoding="utf-8-sig") as handle:
                return lenient_json(handle.read())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgument(name, f"the file {path!r} does not hold JSON ({type(exc).__name__})") from None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = _number_text(value)
    if isinstance(value, str):
        if _is_url(value):
            payload = _fetch(value, name)
            try:
                return lenient_json(payload.decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument(name, "the URL did not return JSON") from None
        try:
            return lenient_json(value)
        except ValueError:
            pass
    return None


def collection(value: Any, name: str) -> Any:
    """OPI type ``Collection``: a dict or list, JSON text (single quotes too), a .json file or URL."""
    if not filled(value):
        return SKIP
    parsed = _parse_structure(value, name)
    if not isinstance(parsed, (dict, list)):
        raise InvalidArgument(name, "expected a structure: a dict or list, JSON text or a path to a .json file")
    return parsed


def key_value(value: Any, name: str) -> Any:
    """OPI type ``KeyAndValue``: like :func:`collection` but it must be an object, not a list."""
    parsed = collection(value, name)
    if parsed is not SKIP and not isinstance(parsed, dict):
        raise InvalidArgument(name, "expected an object of keys and values, not a list")
    return parsed


def array(value: Any, name: str) -> Any:
    """OPI type ``Array``: a list stays a list, JSON array text is parsed, a single value becomes ``[value]``."""
    if not filled(value):
        return SKIP
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, str) and _looks_like_structure(value):
        try:
            parsed = lenient_json(value)
        except ValueError:
            raise InvalidArgument(name, f"{_clip(value)!r} is neither a single value nor a JSON array") from None
        return parsed if isinstance(parsed, list) else [parsed]
    if isinstance(value, (str, os.PathLike)):
        path = _existing_file(value)
        if path is not None:
            parsed = collection(path, name)
            return parsed if isinstance(parsed, list) else [parsed]
    if isinstance(value, dict):
        return [value]
    return [value]


_TRUE_WORDS = {"true", "истина", "да", "yes", "y", "1"}
_FALSE_WORDS = {"false", "ложь", "нет", "no", "n", "0"}


def boolean(value: Any, name: str) -> bool:
    """OPI ``GetBoolean``: booleans, ``true``/``false`` (and Истина/Ложь, Y/N, 1/0), numbers 0/non-0."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS or word == "":
            return False
    raise InvalidArgument(name, f"{_clip(value)!r} is not a boolean (use true or false)")


def yes_no(value: Any, name: str) -> str:
    """OPI ``MakeBoolean``: a boolean as Bitrix24's ``"Y"``/``"N"``; always sent."""
    return "Y" if boolean(value, name) else "N"


_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})[.,](\d+)")


def _date(value: Any, name: str) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        candidate = value.strip()
        if candidate.endswith(("Z", "z")):
            candidate = candidate[:-1] + "+00:00"
        # .NET writes seven fraction digits (OPI's own examples); Python before 3.11 reads three or six.
        candidate = _FRACTION.sub(lambda m: f"{m.group(1)}.{(m.group(2) + '000000')[:6]}", candidate, count=1)
        try:
            moment = _dt.datetime.fromisoformat(candidate)
        except ValueError:
            pass
        else:
            # OPI reads date text with XMLValue, which turns a time with a zone (an offset or Z) into the
            # machine's local time: machine-dependent, as in OPI (measured on oint; COMPATIBILITY.md quirks)
            return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment
    raise InvalidArgument(name, f"{_clip(value)!r} is not a date (use ISO 8601, e.g. 2026-01-31T12:00:00)")


def date_iso(value: Any, name: str) -> Any:
    """OPI ``DateISO``: ``YYYY-MM-DDTHH:MM:SS``, no zone (the wall-clock time as given; text with a zone is
    first converted to the machine's local time, as OPI's XMLValue does)."""
    if not filled(value):
        return SKIP
    return _date(value, name).strftime("%Y-%m-%dT%H:%M:%S")


def date_isoz(value: Any, name: str) -> Any:
    """OPI ``DateISOZ``: like :func:`date_iso` plus a literal ``Z`` (no conversion to UTC, as in OPI)."""
    converted = date_iso(value, name)
    return converted if converted is SKIP else converted + "Z"


def date_only(value: Any, name: str) -> Any:
    """OPI ``DateWithoutTime``: ``YYYY-MM-DD``."""
    if not filled(value):
        return SKIP
    return _date(value, name).strftime("%Y-%m-%d")


def binary(value: Any, name: str) -> bytes:
    """OPI ``GetBinaryData``: bytes, a path to a file, an ``http(s)://`` URL, or base64 text."""
    data = file_data(value, name)
    return data.read() if isinstance(data, _stream.FileSource) else data


def file_data(value: Any, name: str) -> Union[bytes, _stream.FileSource]:
    """Like :func:`binary`, but a path is not read: it becomes a :class:`~._stream.FileSource` (path and
    size, checked readable now), read in chunks while the request is sent. Bytes are not copied."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    path = _existing_file(value)
    if path is not None:
        return _stream.FileSource.open(path, name)
    if isinstance(value, str) and value.strip():
        if _is_url(value):
            return _fetch(value, name)
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded:
            return decoded
    raise InvalidArgument(name, "expected bytes, a path to an existing file, an http(s) URL or base64 text")


def base64_file(value: Any, name: str) -> str:
    """A file argument (see :func:`binary`) as standard base64 text, no line breaks."""
    return base64.b64encode(binary(value, name)).decode("ascii")


def base64_source(value: Any, name: str) -> _stream.Base64:
    """A file argument (see :func:`file_data`) to send as base64 text in a JSON body, encoded while the
    body is streamed; on the wire it is exactly :func:`base64_file`'s text."""
    return _stream.Base64(file_data(value, name))


def _clip(value: Any, limit: int = 40) -> str:
    shown = str(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
