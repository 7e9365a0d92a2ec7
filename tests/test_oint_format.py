"""OPI's writer format (how oint writes a result): the strict reader the runner uses for ``output: opi``.

The samples are oint's own bytes, as measured (conformance/reference-runs/oint-a52335e): complete outputs
where the run's message held the whole file, and the documented answers written the way oint writes them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from opi_bitrix24_conformance.runner.opiformat import OPIFormatError, dump, parse

#: complete outputs of real oint, copied from the measured run's messages (GetFolderInformation/api-error-not-found)
MEASURED_NOT_FOUND = (
    b"{\r\n 'error': 'ERROR_NOT_FOUND',\r\n"
    b" 'error_description': 'Could not find entity with id \\u0027999999\\u0027'\r\n}"
)
#: the head of a measured output (CreateCalendarEvent/documented-webhook), closed after its first members
MEASURED_NESTED = (
    b"{\r\n 'result': 4452,\r\n 'time': {\r\n  'start': 1777723829,\r\n  'finish': 1777723829.78841,\r\n"
    b"  'duration': 0.788409948348999\r\n }\r\n}"
)


def test_measured_oint_output_reads_as_its_values() -> None:
    assert parse(MEASURED_NOT_FOUND) == {
        "error": "ERROR_NOT_FOUND",
        "error_description": "Could not find entity with id '999999'",
    }
    value = parse(MEASURED_NESTED)
    assert value == {
        "result": Decimal(4452),
        "time": {
            "start": Decimal(1777723829),
            "finish": Decimal("1777723829.78841"),
            "duration": Decimal("0.788409948348999"),
        },
    }
    assert dump(value) == MEASURED_NESTED and dump(parse(MEASURED_NOT_FOUND)) == MEASURED_NOT_FOUND


def test_arrays_empty_containers_scalars_and_escapes() -> None:
    value = {
        "list": [1, "a", [], {}, None, True, False, {"k": ["x"]}],
        "text": "quote ' double \" back \\ tab \t nl \n cr \r ff \f bs \b bell \x07 кириллица / <&>",
        "": -1.5e3,
    }
    expected = (
        "{\r\n 'list': [\r\n  1,\r\n  'a',\r\n  [],\r\n  {},\r\n  null,\r\n  true,\r\n  false,\r\n"
        "  {\r\n   'k': [\r\n    'x'\r\n   ]\r\n  }\r\n ],\r\n"
        " 'text': 'quote \\u0027 double \\\" back \\\\ tab \\t nl \\n cr \\r ff \\f"
        " bs \\b bell \\u0007 кириллица / <&>',\r\n '': -1500.0\r\n}"
    )
    raw = dump(value)
    assert raw == expected.encode()
    assert parse(raw) == {**value, "": Decimal("-1500.0")}
    assert parse(b"[]") == [] and parse(b"{}") == {} and parse(b"'text'") == "text" and parse(b"12") == 12


@pytest.mark.parametrize(
    "raw, where",
    [
        (b'{"result": 1}', "offset 1: expected a CRLF"),  # JSON is not OPI's format
        (b'{\r\n "result": 1\r\n}', "single-quoted key"),
        (b"{\n 'result': 1\n}", "CRLF"),  # LF line breaks
        (b"{\r\n  'result': 1\r\n}", "exactly 1 space"),  # two-space indent
        (b"{'result': 1}", "CRLF"),  # not indented
        (b"{\r\n 'result':1\r\n}", "': '"),
        (b"{\r\n 'a': 'it\\'s'\r\n}", "escape"),  # OPI writes a single quote as \u0027, never \'
        (b"{\r\n 'a': 'x\ty'\r\n}", "control character"),
        (b"{\r\n 'a': 1,\r\n}", "exactly 1 space"),  # trailing comma
        (b"{\r\n 'a': 1\r\n}\r\n", "end of the text"),  # OPI writes no line break after the last bracket
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b"{\r\n 'a': 1,\r\n 'a': 2\r\n}", "twice"),
        (b"{\r\n 'a': 01\r\n}", "',' or a CRLF"),
        (b"{\r\n 'a': 'open\r\n}", "control character"),
        (b"{\r\n 'a': \xff\r\n}", "not UTF-8"),
        (b"", "a value"),
    ],
)
def test_anything_else_is_refused_naming_the_offset(raw: bytes, where: str) -> None:
    with pytest.raises(OPIFormatError) as refused:
        parse(raw)
    assert where in str(refused.value) and "offset" in str(refused.value)


def test_a_string_result_is_written_as_text() -> None:
    assert dump("https://portal/oauth/authorize/?client_id=x") == b"https://portal/oauth/authorize/?client_id=x"
    with pytest.raises(TypeError):
        dump({"a": object()})
