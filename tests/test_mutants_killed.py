"""Tests for mutants that survived `python tools/mutate.py --suite all --seed 1 --count 200` (issue 13).

Each test names the mutant it kills (file, line and change as the tool printed them on the tree it ran on).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import opi_bitrix24 as b24
from opi_bitrix24._bulk import iterate


def test_a_burst_of_one_request_is_a_valid_rate_limit() -> None:
    # _core.py:171 | rate_limit[1] >= 1 -> rate_limit[1] >= 2
    with b24.settings(rate_limit=(2.0, 1)) as config:
        assert config.rate_limit == (2.0, 1)
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.configure(rate_limit=(2.0, 0))
    assert raised.value.parameter == "rate_limit"


@pytest.mark.parametrize(
    "api_method",
    ["crm.lead.list", "crm.deal.list", "crm.contact.list", "crm.company.list", "crm.activity.list", "crm.product.list"],
)
def test_crm_lists_page_by_id_in_one_batch_chain(portal: Any, api_method: str) -> None:
    # _bulk.py:363 | "ID" -> 'ID_x' (the crm.product.list shape: rows are the bare list, paged by ID)
    rows = [{"ID": str(i)} for i in range(1, 31)]
    portal.reply(payload={"result": {"result": {"p0": rows}, "result_error": [], "result_time": {}}, "time": {}})
    assert list(iterate(portal.webhook, api_method)) == rows
    cmd = json.loads(portal.requests[0]["body"])["cmd"]
    assert cmd["p0"] == f"{api_method}?order%5BID%5D=ASC&filter%5B%3EID%5D=0&start=-1"
    assert cmd["p1"] == f"{api_method}?order%5BID%5D=ASC&filter%5B%3EID%5D=%24result%5Bp0%5D%5B49%5D%5BID%5D&start=-1"


def test_the_socket_of_a_response_is_found_when_urllib3_has_released_its_connection() -> None:
    # _core.py:531 | "raw" -> 'raw_x' (the fallback path: response.raw._fp.fp.raw._sock)
    from types import SimpleNamespace

    from opi_bitrix24 import _core

    sock = object()
    released = SimpleNamespace(
        raw=SimpleNamespace(_connection=None, _fp=SimpleNamespace(fp=SimpleNamespace(raw=SimpleNamespace(_sock=sock))))
    )
    assert _core._socket_of(released) is sock
    pooled = SimpleNamespace(raw=SimpleNamespace(_connection=SimpleNamespace(sock=sock)))
    assert _core._socket_of(pooled) is sock
    assert _core._socket_of(SimpleNamespace()) is None


def test_the_errors_module_exports_exactly_its_public_exceptions() -> None:
    # _errors.py:29 | "InvalidToken" -> 'InvalidToken_x' (``from opi_bitrix24._errors import *`` would miss it)
    from opi_bitrix24 import _errors

    public = {name for name, value in vars(_errors).items() if isinstance(value, type) and not name.startswith("_")}
    public = {name for name in public if issubclass(getattr(_errors, name), Exception)}
    assert sorted(_errors.__all__) == sorted(public)
    assert all(getattr(b24, name) is getattr(_errors, name) for name in _errors.__all__)


@pytest.mark.parametrize(
    "module", sorted(m for m in ("_bulk", "_convert", "_core", "_errors", "_limits", "_stream", "_auth"))
)
def test_every_name_in_a_modules_all_is_defined(module: str) -> None:
    # _stream.py:25 | "PLACEHOLDER" -> 'PLACEHOLDER_x' (a name in __all__ that the module does not define)
    import importlib

    loaded = importlib.import_module(f"opi_bitrix24.{module}")
    assert [name for name in loaded.__all__ if not hasattr(loaded, name)] == []


def test_the_cli_overview_ends_with_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    # _cli.py:73 | "Exit codes: 0 done (API error bodies too), 2 usage error... -> '..._x'
    from opi_bitrix24 import _cli

    assert _cli.main(["--help"]) == 0
    assert capsys.readouterr().out.endswith(
        "\nExit codes: 0 done (API error bodies too), 2 usage error, 99 transport/unexpected error.\n"
    )
