"""OPI's writer format: how ``oint`` writes a result (a strict reader, and a writer for tests and scripts).

``oint`` (OPI's CLI, ``app.os``) writes its result with ``JSONWriterSettings(JSONLineBreak.Windows, " ",
False, ...)``: the third argument says "no double quotes". What comes out is JSON's structure in another
spelling, measured on a real ``oint`` run (conformance/reference-runs/oint-a52335e)::

    {\\r\\n 'result': 4452,\\r\\n 'time': {\\r\\n  'start': 1777723829,\\r\\n ...\\r\\n }\\r\\n}

- strings and keys in single quotes; inside a string OneScript's writer escapes ``'`` as ``\\u0027``,
  ``"`` as ``\\"``, ``\\`` as ``\\\\``, CR LF TAB FF BS as ``\\r \\n \\t \\f \\b`` and any other character
  below U+0020 as ``\\u00xx`` (lower-case hex); every other character is written as itself (UTF-8);
- one value per line, lines end with CRLF, each nesting level indents by one space, ``'key': value`` with
  one space after the colon; an empty object or array is ``{}`` / ``[]``; no line break after the last
  closing bracket, no byte-order mark;
- numbers, ``true``, ``false`` and ``null`` as in JSON.

``parse`` reads exactly that and nothing else (a JSON document, LF line breaks, two-space indents or
a raw control character are errors naming the offset), so an implementation that declares OPI's format
(``output: opi``) is held to it as strictly as a JSON one is held to JSON. A result that is plain text
(``GetAppAuthLink``'s URL) is written as the text itself and is compared as text by the runner, whatever
the declared format. ``dump`` writes a value the way ``oint`` does.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, List, Tuple

__all__ = ["FORMATS", "OPIFormatError", "dump", "parse"]

#: The output formats an implementation may declare (adapters.yaml or its expectations file: ``output:``).
FORMATS = ("json", "opi")

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_NEWLINE = "\r\n"


class OPIFormatError(ValueError):
    """The text is not in OPI's writer format; the message names the offset and what was expected there."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, expected: str) -> OPIFormatError:
        found = self.text[self.at : self.at + 12]
        return OPIFormatError(f"offset {self.at}: expected {expected}, found {found!r}")

    def take(self, literal: str, what: str = "") -> None:
        if not self.text.startswith(literal, self.at):
            raise self.fail(what or repr(literal))
        self.at += len(literal)

    def line_break(self, depth: int, before: str = "") -> None:
        self.take(_NEWLINE, f"{before}a CRLF line break")
        start = self.at
        while self.text.startswith(" ", self.at):
            self.at += 1
        if self.at - start != depth:
            self.at = start
            raise self.fail(f"an indent of exactly {depth} space(s) (one per level)")

    def value(self, depth: int) -> Any:
        char = self.text[self.at : self.at + 1]
        if char == "{":
            return self.mapping(depth)
        if char == "[":
            return self.sequence(depth)
        if char == "'":
            return self.string()
        for word, meaning in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.at):
                self.at += len(word)
                return meaning
        found = _NUMBER.match(self.text, self.at)
        if found is None:
            raise self.fail("a value (object, array, single-quoted string, number, true, false or null)")
        self.at = found.end()
        return Decimal(found.group())

    def mapping(self, depth: int) -> Dict[str, Any]:
        self.take("{")
        result: Dict[str, Any] = {}
        if self.text.startswith("}", self.at):
            self.at += 1
            return result
        while True:
            self.line_break(depth + 1)
            if self.text[self.at : self.at + 1] != "'":
                raise self.fail("a single-quoted key")
            key = self.string()
            if key in result:
                raise OPIFormatError(f"offset {self.at}: the key {key!r} appears twice")
            self.take(": ", "': ' after the key")
            result[key] = self.value(depth + 1)
            if self.text.startswith(",", self.at):
                self.at += 1
                continue
            self.line_break(depth, "',' or ")
            self.take("}", "the closing '}'")
            return result

    def sequence(self, depth: int) -> List[Any]:
        self.take("[")
        result: List[Any] = []
        if self.text.startswith("]", self.at):
            self.at += 1
            return result
        while True:
            self.line_break(depth + 1)
            result.append(self.value(depth + 1))
            if self.text.startswith(",", self.at):
                self.at += 1
                continue
            self.line_break(depth, "',' or ")
            self.take("]", "the closing ']'")
            return result

    def string(self) -> str:
        self.take("'")
        out: List[str] = []
        while True:
            if self.at >= len(self.text):
                raise self.fail("the closing single quote")
            char = self.text[self.at]
            if char == "'":
                self.at += 1
                return "".join(out)
            if ord(char) < 0x20:
                raise self.fail("no raw control character inside a string (OPI writes it escaped)")
            if char != "\\":
                out.append(char)
                self.at += 1
                continue
            code = self.text[self.at + 1 : self.at + 2]
            if code in _SIMPLE:
                out.append(_SIMPLE[code])
                self.at += 2
            elif code == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", self.text[self.at + 2 : self.at + 6]):
                out.append(chr(int(self.text[self.at + 2 : self.at + 6], 16)))
                self.at += 6
            else:  # \' in particular: OPI writes a single quote as \u0027
                raise self.fail('an escape OPI writes (\\u0027 for a single quote, \\\\, \\", \\n, \\uXXXX ...)')


def parse(raw: bytes) -> Any:
    """Read a result written in OPI's writer format (UTF-8 bytes); numbers come back as ``Decimal``.

    Raises ``OPIFormatError`` (a ``ValueError``) naming the offset where the text leaves the format.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raise OPIFormatError("offset 0: expected no byte-order mark")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OPIFormatError(f"offset {exc.start}: not UTF-8") from None
    reader = _Reader(text)
    value = reader.value(0)
    if reader.at != len(text):
        raise reader.fail("the end of the text (nothing after the last bracket)")
    return value


def _quote(text: str) -> str:
    out: List[str] = []
    for char in text:
        if char == "'":
            out.append("\\u0027")
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\r": "\\r", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\b": "\\b"}


def _dump(value: Any, depth: int, out: List[str]) -> None:
    if isinstance(value, dict):
        items: List[Tuple[str, Any]] = list(value.items())
        if not items:
            out.append("{}")
            return
        out.append("{")
        for index, (key, item) in enumerate(items):
            out.append(_NEWLINE + " " * (depth + 1) + _quote(str(key)) + ": ")
            _dump(item, depth + 1, out)
            if index < len(items) - 1:
                out.append(",")
        out.append(_NEWLINE + " " * depth + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for index, item in enumerate(value):
            out.append(_NEWLINE + " " * (depth + 1))
            _dump(item, depth + 1, out)
            if index < len(value) - 1:
                out.append(",")
        out.append(_NEWLINE + " " * depth + "]")
    elif isinstance(value, str):
        out.append(_quote(value))
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif value is None:
        out.append("null")
    elif isinstance(value, (int, float, Decimal)):
        text = str(value)
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"{value!r} has no JSON number spelling")
        out.append(text)
    else:
        raise TypeError(f"cannot write {type(value).__name__} in OPI's format")


def dump(value: Any) -> bytes:
    """``value`` written as ``oint`` writes a result (UTF-8 bytes; a string result is written as text)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    out: List[str] = []
    _dump(value, 0, out)
    return "".join(out).encode("utf-8")
