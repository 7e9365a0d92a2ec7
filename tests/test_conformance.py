"""In-process conformance runner: every case in conformance/cases, replayed from its vcrpy cassette.

Arguments are handed to the function as the text a CLI user types (as oint hands them to OPI), so the
wire requests are the ones the external runner checks against the CLI.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import requests

import opi_bitrix24
from conformance.runner.cases import Case, cassette_env, cli_text, expand, expected_result, json_diff, load_cases
from conformance.runner.cassettes import cassette_path
from conformance.runner.recording import replay_vcr
from opi_bitrix24._table import find

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.full_id for case in CASES])
def test_case(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    method = find(case.method)
    assert method is not None, f"{case.method} is not in the method table"
    if case.via:
        assert find(case.via) is method, f"{case.via!r} does not name {case.method}"
    russian = case.via is not None and unicodedata.normalize("NFKC", case.via) == method.ru
    func = getattr(opi_bitrix24, method.ru if russian else method.python)
    env = cassette_env()
    for name, value in expand(case.env, env).items():
        monkeypatch.setenv(name, value)
    kwargs, unknown = {}, []
    for option, value in case.args.items():
        param = method.param_by_cli(option)
        if param is None:
            unknown.append(option)
            continue
        kwargs[param.ru if russian else param.python] = cli_text(expand(value, env))

    cassette = cassette_path(case) if case.http else tmp_path / "no-request.yaml"
    if case.http:
        assert cassette.exists(), f"missing cassette {cassette}: run python -m conformance.runner.cassettes"
    error = case.expect.get("error")
    with (
        replay_vcr().use_cassette(str(cassette)) as played,
        opi_bitrix24.settings(session=requests.Session(), backoff=0),
    ):
        if error is None:
            result = func(**kwargs)
            assert json_diff(expected_result(case, env), result) is None, json_diff(expected_result(case, env), result)
        elif error["kind"] == "usage" and any(
            p.required and p.cli not in case.args and p.cli == error.get("parameter") for p in method.params
        ):
            with pytest.raises(TypeError):  # Python's own check of a missing required argument
                func(**kwargs)
        elif unknown:
            assert error["kind"] == "usage" and error.get("parameter") in unknown
            with pytest.raises(TypeError):
                func(**kwargs, **{option: "x" for option in unknown})
        elif error["kind"] == "usage":
            with pytest.raises(opi_bitrix24.InvalidArgument) as raised:
                func(**kwargs)
            if error.get("parameter"):
                param = method.param_by_python(raised.value.parameter)
                assert param is not None and param.cli == error["parameter"], raised.value
        else:
            with pytest.raises((opi_bitrix24.TransportError, opi_bitrix24.UnexpectedResponse)):
                func(**kwargs)
    assert played.play_count == len(case.http), f"{played.play_count} of {len(case.http)} exchanges played"
    if case.http:
        assert played.all_played
