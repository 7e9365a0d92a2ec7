"""Single-quoted JSON text (OPI's reader, the CLI): the fast conversion keeps the tokenizer's exact results.

``lenient_json`` converts text whose strings are all single-quoted by replacements over pieces of the
text (issue 10 item 4); these tests compare it with a slow, per-character reference of the behaviour to
keep, on hand-picked texts, on generated structures written in every quoting style and on random text,
with pieces as small as a few characters so that every piece boundary is crossed.
"""

from __future__ import annotations

import json
import random
from typing import Any, Iterator, List

import pytest

from opi_bitrix24 import _convert as cv


def _slow_requote(source: str) -> str:
    """The reference: a per-character state machine.

    Outside strings characters are copied. A double-quoted string is copied as it is (a backslash takes
    the next character along). In a single-quoted string ``\\'`` becomes ``'``, any other escape is kept,
    ``"`` becomes ``\\"``; its quotes become ``"``. A string the text does not close is closed at the end.
    """
    out: List[str] = []
    state = "outside"
    chars: Iterator[str] = iter(source)
    for char in chars:
        if state == "outside":
            if char == "'":
                out.append('"')
                state = "single"
            else:
                out.append(char)
                if char == '"':
                    state = "double"
        elif state == "double":
            out.append(char)
            if char == "\\":
                out.append(next(chars, ""))
            elif char == '"':
                state = "outside"
        # in a single-quoted string
        elif char == "\\":
            following = next(chars, "")
            out.append("'" if following == "'" else "\\" + following)
        elif char == '"':
            out.append('\\"')
        elif char == "'":
            out.append('"')
            state = "outside"
        else:
            out.append(char)
    if state == "single":
        out.append('"')
    return "".join(out)


def _slow_lenient(text: str) -> Any:
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        if "'" not in stripped:
            raise
    return json.loads(_slow_requote(stripped))


def _outcome(parse: Any, text: str) -> Any:
    """The parsed value as canonical JSON text, or ``ValueError``."""
    try:
        return json.dumps(parse(text), sort_keys=True)
    except ValueError:
        return ValueError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'it\\'s'", "it's"),
        ("{'a': 'it\\'s', 'b': 'don\\'t \\'quote\\''}", {"a": "it's", "b": "don't 'quote'"}),
        ("'say \"hi\"'", 'say "hi"'),
        ("{'q': 'say \"hi\" and \\'bye\\''}", {"q": "say \"hi\" and 'bye'"}),
        ("\"mixed 'q'\"", "mixed 'q'"),
        ("{'k': \"mixed 'q'\", 'n': 'x'}", {"k": "mixed 'q'", "n": "x"}),
        ("'a\\\\b'", "a\\b"),
        ("'a\\\\\\\\b'", "a\\\\b"),
        ("['C:\\\\dir\\\\file.txt']", ["C:\\dir\\file.txt"]),
        ("'\\\\'", "\\"),  # an escaped backslash before the closing quote
        ("'\\\\\\''", "\\'"),  # an escaped backslash, then an escaped quote
        ("'\\\"'", '"'),  # an escaped double quote in a single-quoted string
        ("'\\u0041\\u00e9\\u0027\\u0022'", "Aé'\""),
        ("'\\ud83d\\ude00 😀 Привет'", "😀 😀 Привет"),
        ("'\\n\\t\\/\\b'", "\n\t/\b"),
        ("''", ""),
        ("{'': ''}", {"": ""}),
        ("['', '', {'e': []}]", ["", "", {"e": []}]),
        (
            "{'a': [{'b': {'c': ['it\\'s', 'say \"hi\"', 1.5, true, null]}}], 'd': {}}",
            {"a": [{"b": {"c": ["it's", 'say "hi"', 1.5, True, None]}}], "d": {}},
        ),
        ("  {'TITLE': 'x'}\n", {"TITLE": "x"}),
        ("'abc", "abc"),  # an unterminated string is closed at the end
        ("'it\\'s", "it's"),
        ("{'a': 'b', 'c': 'd}'}", {"a": "b", "c": "d}"}),
    ],
)
def test_tricky_single_quoted_texts(text: str, expected: Any) -> None:
    assert cv.lenient_json(text) == expected
    assert _slow_lenient(text) == expected


@pytest.mark.parametrize(
    "text",
    ["{'a': }", "['abc", "'abc\\", "'a\x01'", "'it\\'s\x01'", "{'a': 'b' 'c'}", "'a' 'b'", "\\'a'"],
)
def test_texts_that_are_not_json_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        cv.lenient_json(text)
    assert _outcome(_slow_lenient, text) is ValueError


@pytest.mark.parametrize(
    "text",
    [
        "{'a': 'it\\'s'}",
        "{'a': 'say \"hi\"', 'b': 'it\\'s \"so\"'}",
        "{'a': 'a\\\\b', 'b': '\\u0027\\n'}",
        "['\\'\\'', '\\'']",
    ],
)
def test_escaped_quotes_take_the_replacements(text: str) -> None:
    """Escaped quotes and double quotes in single-quoted strings are converted by replacements (no
    per-token Python): their text is JSON and decodes like the tokenizer's."""
    quick = cv._quick_requote(text)
    assert quick is not None
    assert json.loads(quick) == json.loads(cv._requote(text)) == _slow_lenient(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'a': '\\\\'}", {"a": "\\"}),  # \\' : an escaped backslash before the closing quote
        ("{'a': '\\\"'}", {"a": '"'}),
        ("{'a': '\\\\\\''}", {"a": "\\'"}),
        ("{'a': 'x\\\\\\\\', 'b': '\\\\\\\"\\\\'}", {"a": "x\\\\", "b": '\\"\\'}),
    ],
)
def test_backslashes_are_paired_before_the_quotes_are_replaced(text: str, expected: Any) -> None:
    """\\\\' and \\" pair differently from a plain \\' replacement: the backslashes are paired first, still
    by replacements, and the text is exactly the tokenizer's."""
    quick = cv._quick_requote(text)
    assert quick == cv._requote(text) == _slow_requote(text)
    assert json.loads(quick) == expected == cv.lenient_json(text)


@pytest.mark.parametrize("text", ["{'a': 'x\x01'}", "{'a': 'x\x02'}", "{'a': '\\\\\x02'}"])
def test_a_placeholder_character_goes_to_the_tokenizer(text: str) -> None:
    assert cv._quick_requote(text) is None
    with pytest.raises(ValueError):  # a raw control character is not JSON
        cv.lenient_json(text)


_ALPHABET = [*"abcXYZ 019{}[]:,/", "'", "'", '"', '"', "\\", "\\", "\n", "\t", "\x7f", "é", "Я", "😀", "\u2028"]


def _random_string(chooser: random.Random) -> str:
    return "".join(chooser.choice(_ALPHABET) for _ in range(chooser.randint(0, 8)))


def _random_value(chooser: random.Random, depth: int = 0) -> Any:
    kind = chooser.randint(0, 9 if depth < 3 else 5)
    if kind <= 2:
        return _random_string(chooser)
    if kind == 3:
        return chooser.choice([0, -7, 12345678901234567890, 1.5, -0.25])
    if kind == 4:
        return chooser.choice([True, False, None])
    if kind == 5:
        return _random_string(chooser)
    if kind <= 7:
        return [_random_value(chooser, depth + 1) for _ in range(chooser.randint(0, 4))]
    return {_random_string(chooser): _random_value(chooser, depth + 1) for _ in range(chooser.randint(0, 4))}


def _single_quoted(chooser: random.Random, text: str, double_escaped: bool) -> str:
    """``text`` as a single-quoted JSON string, each character in a randomly chosen valid spelling."""
    out = ["'"]
    for char in text:
        if char == "'":
            out.append(chooser.choice(["\\'", "\\u0027"]))
        elif char == '"':
            out.append('\\"' if double_escaped and chooser.random() < 0.3 else chooser.choice(['"', "\\u0022"]))
        elif char == "\\":
            out.append(chooser.choice(["\\\\", "\\u005c"]))
        elif char < " " or (char > "~" and chooser.random() < 0.3):
            out.append(json.dumps(char)[1:-1])  # \\n, \\u00e9, a surrogate pair
        elif char == "/" and chooser.random() < 0.3:
            out.append("\\/")
        else:
            out.append(char)
    out.append("'")
    return "".join(out)


def _write(chooser: random.Random, value: Any, double_escaped: bool) -> str:
    space = chooser.choice(["", " ", "\n "])
    if isinstance(value, str):
        return _single_quoted(chooser, value, double_escaped)
    if isinstance(value, dict):
        items = [
            f"{_single_quoted(chooser, key, double_escaped)}:{space}{_write(chooser, item, double_escaped)}"
            for key, item in value.items()
        ]
        return "{" + f",{space}".join(items) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_write(chooser, item, double_escaped) for item in value) + "]"
    return json.dumps(value)


@pytest.mark.parametrize("piece", [None, 1, 3, 8])
def test_generated_structures_in_every_quoting_style(monkeypatch: pytest.MonkeyPatch, piece: Any) -> None:
    """Random structures written single-quoted (quotes as \\' or \\u0027, " raw, escaped or as \\u0022,
    backslashes, control characters, non-ASCII raw or escaped) read back as the same structure."""
    if piece is not None:
        monkeypatch.setattr(cv, "_PIECE", piece)
    chooser = random.Random(1013 + (piece or 0))
    for index in range(400):
        value = _random_value(chooser)
        if isinstance(value, str) and index % 2:
            value = [value]
        text = _write(chooser, value, double_escaped=index % 3 == 0)
        assert cv.lenient_json(text) == value, text
        assert _slow_lenient(text) == value, text
        # all strings single-quoted: the replacements give exactly the tokenizer's text
        assert cv._quick_requote(text) == cv._requote(text), text


@pytest.mark.parametrize("piece", [None, 1, 2, 5])
def test_random_text_matches_the_slow_reference(monkeypatch: pytest.MonkeyPatch, piece: Any) -> None:
    """Any text, JSON or not: the same value or the same ValueError as the reference, and the
    tokenizer's conversion is the reference's text."""
    if piece is not None:
        monkeypatch.setattr(cv, "_PIECE", piece)
    pieces = [
        *"'\"\\a{}[]:,1 ",
        "\\'",
        '\\"',
        "\\\\",
        "\\\\'",
        "\\u0027",
        "\\n",
        "\x01",
        "\x02",
        "é",
        "'a'",
        '"b"',
        "['",
        "']",
    ]
    chooser = random.Random(4099 + (piece or 0))
    parsed = 0
    for _ in range(4000):
        text = "".join(chooser.choice(pieces) for _ in range(chooser.randint(0, 14)))
        assert cv._requote(text) == _slow_requote(text), text
        quick = cv._quick_requote(text)
        if quick is not None and _outcome(json.loads, quick) is not ValueError:
            assert quick == _slow_requote(text), text  # a result that parses is the tokenizer's text
        outcome = _outcome(cv.lenient_json, text)
        assert outcome == _outcome(_slow_lenient, text), text
        parsed += outcome is not ValueError
    assert parsed > 100  # the random texts do reach the successful paths


def test_backslash_runs_across_the_default_piece_boundary() -> None:
    """Texts longer than one piece, with runs of backslashes and escaped quotes at every offset around
    the cut, convert exactly (pieces end after a character that is not a backslash)."""
    for offset in range(-6, 7):
        filler = "x" * (cv._PIECE + offset)
        for run in range(0, 5):
            value = [filler + "\\" * run + "z'\"", "it's"]
            text = "['" + filler + "\\\\" * run + "z\\'\"', 'it\\'s']"
            assert cv._quick_requote(text) is not None
            assert cv.lenient_json(text) == value == _slow_lenient(text)
            # Escaped backslashes right before \' (or before the closing quote): paired first.
            paired = "['" + filler + "\\\\" * run + "\\'', '" + filler + "\\\\" * run + "']"
            assert cv._quick_requote(paired) == cv._requote(paired)
            assert cv.lenient_json(paired) == [filler + "\\" * run + "'", filler + "\\" * run] == _slow_lenient(paired)


@pytest.mark.parametrize("piece", [None, 1, 2, 7])
def test_random_escape_sequences_in_single_quoted_strings(monkeypatch: pytest.MonkeyPatch, piece: Any) -> None:
    """Lists of single-quoted strings built from escape units (escaped backslashes next to escaped
    quotes, raw and escaped double quotes): the replacements give exactly the tokenizer's text."""
    if piece is not None:
        monkeypatch.setattr(cv, "_PIECE", piece)
    units = ["a", " ", ",", "]", '"', "\\\\", "\\'", '\\"', "\\n", "\\/", "\\u0041", "\\u0027", "é", "😀"]
    chooser = random.Random(7 + (piece or 0))
    for _ in range(1500):
        strings = [
            "".join(chooser.choice(units) for _ in range(chooser.randint(0, 6))) for _ in range(chooser.randint(1, 4))
        ]
        text = "[" + ", ".join(f"'{body}'" for body in strings) + "]"
        assert cv._quick_requote(text) == cv._requote(text) == _slow_requote(text), text
        assert cv.lenient_json(text) == _slow_lenient(text), text
