"""The CLI reads option values as oint's parser does: an empty or blank value counts as not given (COMPATIBILITY C8).

Measured on oint (conformance/reference-runs/oint-a52335e, classes A2 and A2b): ``--task ""`` fails the
call before anything is sent, ``--entityid ""`` sends the default ``"entityId": "0"``. The Python functions
keep OPI's function-level rules for empty values (the ``native`` cases pin those).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Tuple

import pytest

import opi_bitrix24
from opi_bitrix24 import _cli, _convert

#: nothing listens here: a request that went out would end in a transport error (exit 99), never in exit 2
NOWHERE = "http://127.0.0.1:9/rest/1/key/"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    code = _cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("value", ["", " ", "  \t ", "\u00a0", "\u2003\n"])
def test_a_blank_required_option_is_missing(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, out, err = run(capsys, "GetTask", "--url", NOWHERE, "--task", value)
    assert (code, out) == (2, "")
    assert err == "opi-bitrix24: error: GetTask needs --task\n"


def test_a_blank_url_is_missing_too(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPI_B24_URL", raising=False)
    code, _, err = run(capsys, "GetUsers", "--url", "", "--users", "1")
    assert (code, err) == (2, "opi-bitrix24: error: GetUsers needs --url\n")


def test_a_value_that_dotnet_does_not_count_as_blank_is_a_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # U+001C..U+001F are white space to Python's str.isspace, not to .NET's String.IsNullOrWhiteSpace
    assert _cli._blank("") and _cli._blank(" \t\r\n\v\f\u0085\u00a0\u3000")
    assert not _cli._blank("\x1c") and not _cli._blank(" x ") and not _cli._blank("\\n")
    sent: List[Any] = []
    monkeypatch.setattr(opi_bitrix24._core, "post", lambda method, url, token="", **fields: sent.append(fields) or {})
    assert run(capsys, "GetKanbanStages", "--url", NOWHERE, "--entityid", "\x1f") == (0, "{}\n", "")
    # handed to the function (which leaves it out as not filled), not dropped as absent (that sends "0")
    assert sent == [{"entityId": _convert.SKIP, "isAdmin": "N"}]


def test_a_blank_optional_option_takes_its_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sent: List[Tuple[str, Any]] = []

    def fake_post(method: str, url: str, token: str = "", **fields: Any) -> Any:
        sent.append((method, fields))
        return {"result": []}

    monkeypatch.setattr(opi_bitrix24._core, "post", fake_post)
    out = tmp_path / "result.json"
    blank = run(capsys, "GetKanbanStages", "--url", NOWHERE, "--entityid", " ", "--out", str(out))
    default = run(capsys, "GetKanbanStages", "--url", NOWHERE, "--out", str(out))
    assert blank == default == (0, "", "")
    assert sent[0] == sent[1] == ("task.stages.get", {"entityId": "0", "isAdmin": "N"})
    assert json.loads(out.read_text(encoding="utf-8")) == {"result": []}


def test_a_blank_out_writes_to_stdout_and_a_blank_value_may_be_given_again(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "GetPictureBlock", "--title", "", "--title", "Name", "--url", "https://x/p.png", "--out", ""
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {"IMAGE": {"NAME": "Name", "LINK": "https://x/p.png"}}


def test_the_python_function_keeps_opis_empty_value_rule() -> None:
    assert opi_bitrix24.get_picture_block("", "https://x/p.png") == {"IMAGE": {"LINK": "https://x/p.png"}}
