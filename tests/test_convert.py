"""OPI's value rules (opi-runtime.md §3): what is sent, and in what shape."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from opi_bitrix24 import InvalidArgument
from opi_bitrix24 import _convert as cv
from opi_bitrix24._convert import SKIP


@pytest.mark.parametrize("value", [None, "", "   ", 0, 0.0, Decimal(0), [], {}, (), b""])
def test_empty_values_are_skipped(value: Any) -> None:
    assert not cv.filled(value)
    assert cv.text(value, "p") is SKIP
    assert cv.array(value, "p") is SKIP
    assert cv.collection(value, "p") is SKIP


@pytest.mark.parametrize("value", [False, True, "0", " x ", 1, -1, [0], {"a": None}])
def test_filled_values_including_false_and_text_zero(value: Any) -> None:
    assert cv.filled(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x", "x"),
        (10, "10"),
        (-3, "-3"),
        (1.5, "1.5"),
        (1e16, "10000000000000000"),
        (Decimal("2.50"), "2.5"),
        (True, True),
        (False, False),
        (b"\xd0\xb4\xd0\xb0", "да"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "02.01.2026 03:04:05"),
    ],
)
def test_text(value: Any, expected: Any) -> None:
    assert cv.text(value, "p") == expected


def test_text_of_a_collection_is_opis_pretty_json() -> None:
    assert cv.text({"a": [1]}, "p") == '{\r\n "a": [\r\n  1\r\n ]\r\n}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, [10]),
        ("10", ["10"]),
        ("UA", ["UA"]),
        ([1, "2"], [1, "2"]),
        ((1, 2), [1, 2]),
        ("[10,20]", [10, 20]),
        ("['U1','U2']", ["U1", "U2"]),
        (' ["a b"] ', ["a b"]),
        ('{"a":1}', [{"a": 1}]),
        ({"a": 1}, [{"a": 1}]),
    ],
)
def test_array(value: Any, expected: Any) -> None:
    assert cv.array(value, "p") == expected


@pytest.mark.parametrize("value", ["[1,", "{'a'", "[abc]"])
def test_array_refuses_broken_json(value: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        cv.array(value, "user_ids")
    assert raised.value.parameter == "user_ids"
    assert isinstance(raised.value, ValueError)


def test_array_reads_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text("[1, 2]", encoding="utf-8")
    assert cv.array(str(path), "p") == [1, 2]
    assert cv.array(path, "p") == [1, 2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"TITLE": "x"}, {"TITLE": "x"}),
        ([1], [1]),
        ('{"TITLE": "x"}', {"TITLE": "x"}),
        ("{'TITLE':'x', 'N': 2}", {"TITLE": "x", "N": 2}),
        ("{'TEXT':'it\\'s'}", {"TEXT": "it's"}),
        ("{'Q':'say \"hi\"'}", {"Q": 'say "hi"'}),
        ("['a','b']", ["a", "b"]),
    ],
)
def test_collection(value: Any, expected: Any) -> None:
    assert cv.collection(value, "p") == expected


def test_collection_keeps_key_order() -> None:
    assert list(cv.collection('{"z": 1, "a": 2}', "p")) == ["z", "a"]


def test_collection_reads_a_json_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"TITLE": "Задача"}, ensure_ascii=False), encoding="utf-8-sig")
    assert cv.collection(str(path), "fields") == {"TITLE": "Задача"}


@pytest.mark.parametrize("value", ["TITLE=x", "10", "{broken", "true"])
def test_deviation_collection_refuses_text_that_is_not_a_structure(value: str) -> None:
    # OPI would send ["<the text>"]; that is never what the caller meant.
    with pytest.raises(InvalidArgument) as raised:
        cv.collection(value, "fields")
    assert raised.value.parameter == "fields"


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(InvalidArgument, match="does not hold JSON"):
        cv.collection(str(path), "fields")


def test_key_value_refuses_a_list() -> None:
    assert cv.key_value("{'a': 1}", "p") == {"a": 1}
    with pytest.raises(InvalidArgument):
        cv.key_value("[1]", "p")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("Истина", True),
        ("ложь", False),
        ("Y", True),
        ("n", False),
        (1, True),
        (0, False),
        (None, False),
        ("", False),
    ],
)
def test_boolean(value: Any, expected: bool) -> None:
    assert cv.boolean(value, "p") is expected
    assert cv.yes_no(value, "p") == ("Y" if expected else "N")


@pytest.mark.parametrize("value", ["maybe", [True], {"a": 1}])
def test_boolean_refuses_anything_else(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="not a boolean"):
        cv.boolean(value, "hide_history")


def test_dates() -> None:
    moment = dt.datetime(2026, 3, 4, 5, 6, 7)
    assert cv.date_iso(moment, "p") == "2026-03-04T05:06:07"
    assert cv.date_isoz("2026-03-04T05:06:07", "p") == "2026-03-04T05:06:07Z"
    assert cv.date_only("2026-03-04T05:06:07", "p") == "2026-03-04"
    assert cv.date_only(dt.date(2026, 3, 4), "p") == "2026-03-04"
    assert cv.date_iso("", "p") is SKIP
    with pytest.raises(InvalidArgument, match="not a date"):
        cv.date_iso("04.03.2026", "p")


def test_binary_inputs(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(b"\x89PNG")
    assert cv.binary(b"\x01", "p") == b"\x01"
    assert cv.binary(str(path), "p") == b"\x89PNG"
    assert cv.binary(path, "p") == b"\x89PNG"
    assert cv.binary(base64.b64encode(b"abc").decode(), "p") == b"abc"
    assert cv.base64_file(str(path), "p") == base64.b64encode(b"\x89PNG").decode()


@pytest.mark.parametrize("value", ["no such file and not base64!", "", None, 12])
def test_binary_refuses_the_rest(value: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        cv.binary(value, "image")
    assert raised.value.parameter == "image"


def test_lenient_json_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        cv.lenient_json("{'a': }")


def test_file_pairs_follow_normalize_files(tmp_path: Path) -> None:
    from opi_bitrix24._shared import file_pairs

    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    assert file_pairs({"a.txt": str(path), "b.bin": b"\x00\x01"}, "files") == [
        ["a.txt", "aGVsbG8="],
        ["b.bin", "AAE="],
    ]
    assert file_pairs(json.dumps({"c.txt": base64.b64encode(b"x").decode()}), "files") == [["c.txt", "eA=="]]
    assert file_pairs("", "files") is SKIP and file_pairs({}, "files") is SKIP
    with pytest.raises(InvalidArgument, match="map of file name"):
        file_pairs([str(path)], "files")
    with pytest.raises(InvalidArgument) as raised:
        file_pairs({"x": "not a file, url or base64!"}, "files")
    assert raised.value.parameter == "files"


def test_dotnet_seven_digit_fractions_are_read() -> None:
    # OPI's own CLI examples carry .NET's seven fraction digits; Python < 3.11 reads only three or six.
    assert cv.date_iso("2025-11-10T19:55:49.7214051", "p") == "2025-11-10T19:55:49"
    assert cv.date_isoz("2025-11-10T19:55:49.7", "p") == "2025-11-10T19:55:49Z"
