"""The portal object (opi_bitrix24.Portal) and the typed settings keywords.

- Portal has every function of the method table as a method, under both names, with the function's
  parameters minus the portal's own ``url``/``token``;
- a Portal call puts on the wire exactly what the function call puts there (every requesting function,
  with the arguments of its first conformance case), and its settings apply to its calls only;
- mypy --strict accepts correct use in a user's snippet and rejects a wrong keyword or a misspelt setting;
- a misspelt setting is a TypeError naming the closest real one.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import opi_bitrix24
from opi_bitrix24 import Portal
from opi_bitrix24._table import Method, find, methods
from opi_bitrix24_conformance.runner.cases import environment, expand, load_cases

ROOT = Path(__file__).resolve().parent.parent
BOUND = ("url", "token")


def _binds(method: Method) -> bool:
    names = [p.python for p in method.params]
    return "url" in names and "token" in names


def _own_params(method: Method) -> List[str]:
    return [p.python for p in method.params if not (_binds(method) and p.python in BOUND)]


# --- coverage of the method table ------------------------------------------------------------------


def test_portal_has_every_function_under_both_names() -> None:
    table = methods()
    assert len(table) == 179
    public = {name for name in dir(Portal) if not name.startswith("_")}
    expected = {m.python for m in table} | {m.ru for m in table}
    assert len(expected) == 2 * 179
    assert expected <= public
    # Besides the OPI functions: the bound address/token/settings and the bulk helpers, nothing else.
    assert public - expected <= {"url", "token", "changes", "call", "call_many", "batch", "iterate"}


@pytest.mark.parametrize("method", methods(), ids=[m.name for m in methods()])
def test_portal_method_signature_matches_the_function(method: Method) -> None:
    function = inspect.signature(method.func)
    english = inspect.signature(getattr(Portal, method.python))
    russian = inspect.signature(getattr(Portal, method.ru))
    own = _own_params(method)
    assert list(english.parameters) == ["self", *own]
    by_python = {p.python: p for p in method.params}
    assert list(russian.parameters) == ["self", *(by_python[name].ru for name in own)]
    for name in own:
        want = function.parameters[name]
        for got in (english.parameters[name], russian.parameters[by_python[name].ru]):
            assert got.default == want.default
            assert str(got.annotation) == str(want.annotation)
    assert str(english.return_annotation) == str(function.return_annotation)
    assert method.name in (getattr(Portal, method.python).__doc__ or "")


def test_portal_is_loaded_lazily() -> None:
    code = "import sys, opi_bitrix24; assert 'opi_bitrix24._portal' not in sys.modules; opi_bitrix24.Portal"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert "Portal" in opi_bitrix24.__all__


def test_repr_shows_no_webhook_key_or_token() -> None:
    shown = repr(Portal("https://b24.example/rest/1/s3cretKey42/", "t0kenValue", timeout=5))
    assert shown == "Portal(https://b24.example, settings=['timeout'])"


# --- on the wire ------------------------------------------------------------------------------------


def _first_case_args() -> Dict[str, Dict[str, Any]]:
    first: Dict[str, Dict[str, Any]] = {}
    for case in load_cases():
        if case.via is None and not case.env:
            first.setdefault(case.method, case.args)
    return first


ARGS = _first_case_args()
REQUESTING = [m for m in methods() if _binds(m) and m.name in ARGS]


def _seen(portal: Any) -> List[Tuple[str, str, str, bytes]]:
    out = []
    for request in portal.requests:
        body = request["body"]
        boundary = re.search(r"boundary=([^;\s]+)", request["headers"].get("content-type", ""))
        if boundary:  # a random multipart boundary is not a difference
            body = body.replace(boundary.group(1).encode(), b"BOUNDARY")
        out.append((request["method"], request["path"], request["query"], body))
    portal.requests.clear()
    return out


def _outcome(call: Any) -> Any:
    try:
        return ("returned", call())
    except opi_bitrix24.OPIError as exc:
        return ("raised", type(exc).__name__)


def test_every_requesting_function_has_a_case_to_compare_with() -> None:
    assert len(REQUESTING) >= 160


@pytest.mark.parametrize("method", REQUESTING, ids=[m.name for m in REQUESTING])
def test_portal_sends_what_the_function_sends(portal: Any, method: Method) -> None:
    env = environment("http", f"127.0.0.1:{portal.port}", "s3cretWebhookKey99", "T0KEN")
    args = expand(ARGS[method.name], env)
    kwargs: Dict[str, Any] = {}
    for option, value in args.items():
        param = method.param_by_cli(option)
        assert param is not None, option
        kwargs[param.python] = value
    url, token = kwargs.pop("url"), kwargs.pop("token", "")
    by_function = _outcome(lambda: method.func(url=url, token=token, **kwargs))
    sent_by_function = _seen(portal)
    by_portal = _outcome(lambda: getattr(Portal(url, token), method.python)(**kwargs))
    sent_by_portal = _seen(portal)
    ru = {method.param_by_python(name).ru: value for name, value in kwargs.items()}  # type: ignore[union-attr]
    by_russian = _outcome(lambda: getattr(Portal(url, token), method.ru)(**ru))
    assert sent_by_function, "the function sent nothing"
    assert sent_by_portal == sent_by_function
    assert _seen(portal) == sent_by_function
    assert by_portal == by_function == by_russian


def test_functions_without_the_portal_address_keep_their_arguments() -> None:
    p = Portal("https://b24.example/rest/1/key/")
    assert p.get_picture_block("n", "https://x.test/p.jpg") == opi_bitrix24.get_picture_block(
        "n", "https://x.test/p.jpg"
    )
    assert p.ПолучитьСтруктуруЧата(Пустая=True) == opi_bitrix24.get_chat_structure(True)
    link = p.get_app_auth_link("b24.example", "app.1")
    assert link == opi_bitrix24.get_app_auth_link("b24.example", "app.1")


# --- settings scoped to the portal ------------------------------------------------------------------

LIMITED = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}


def test_portal_settings_apply_to_its_calls_only(portal: Any) -> None:
    # The fixture's settings allow 2 re-sends; this portal allows none.
    strict = Portal(portal.webhook, retries=0)
    portal.reply(503, LIMITED)
    portal.reply(200, {"result": [1]})
    assert strict.get_users([1]) == LIMITED
    assert len(portal.requests) == 1
    assert opi_bitrix24.current_settings().retries == 2  # nothing leaked into the settings in force
    assert opi_bitrix24.get_users(portal.webhook, [1]) == {"result": [1]}  # the queued answer
    assert len(portal.requests) == 2
    portal.requests.clear()
    portal.reply(503, LIMITED)
    portal.reply(200, {"result": [2]})
    assert opi_bitrix24.get_users(portal.webhook, [1]) == {"result": [2]}  # the function still re-sends
    assert len(portal.requests) == 2
    portal.requests.clear()
    portal.reply(503, LIMITED)
    portal.reply(200, {"result": [3]})
    assert Portal(portal.webhook).get_users([1]) == {"result": [3]}  # no settings: those in force
    assert len(portal.requests) == 2


def test_portal_settings_layer_over_the_block_in_force(portal: Any) -> None:
    strict = Portal(portal.webhook, retries=0)
    with opi_bitrix24.settings(retries=5):
        portal.reply(503, LIMITED)
        assert strict.get_users([1]) == LIMITED
        assert opi_bitrix24.current_settings().retries == 5
    assert len(portal.requests) == 1


# --- typed settings at run time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: opi_bitrix24.configure(timout=5),  # type: ignore[call-arg]
        lambda: opi_bitrix24.settings(timout=5).__enter__(),  # type: ignore[call-arg]
        lambda: opi_bitrix24.current_settings().replace(timout=5),  # type: ignore[call-arg]
        lambda: Portal("https://b24.example/rest/1/key/", timout=5),  # type: ignore[call-arg]
    ],
    ids=["configure", "settings", "replace", "Portal"],
)
def test_a_misspelt_setting_is_a_type_error_with_a_hint(call: Any) -> None:
    before = opi_bitrix24.current_settings()
    with pytest.raises(TypeError, match=r"unknown settings: timout \(did you mean timeout\?\)"):
        call()
    assert opi_bitrix24.current_settings() is before


def test_settings_docstring_documents_every_field() -> None:
    doc = opi_bitrix24.Settings.__doc__ or ""
    for name in opi_bitrix24.Settings.__slots__:
        assert f"``{name}``" in doc, name


# --- typed for mypy ---------------------------------------------------------------------------------

GOOD = """
from typing import Any, Dict

from opi_bitrix24 import Portal, Settings, configure, settings

portal = Portal("https://b24.example/rest/1/key/", timeout=(3.0, 30.0), retries=1, max_backoff=4.0)
users: Dict[str, Any] = portal.get_users([1, 2])
same: Dict[str, Any] = portal.ПолучитьПользователей(IDПользователей=[1, 2])
task = portal.create_task({"TITLE": "t", "RESPONSIBLE_ID": 1})
block = portal.get_picture_block("n", "https://x.test/p.jpg")
oauth = Portal("https://b24.example", "token", deadline=None, oauth_url="https://oauth.example/")
lead: Dict[str, Any] = portal.call("crm.lead.get", {"id": 1})
both = portal.batch([("crm.lead.get", {"id": 1}), ("crm.lead.get", {"id": 2})], halt=True)
ids = [row["ID"] for row in portal.iterate("crm.lead.list", {"filter": {"STAGE_ID": "NEW"}})]
configure(retries=2, backoff=0.5)
with settings(deadline=60.0) as current:
    scoped: Settings = current.replace(verify=False)
"""

BAD = {
    "portal.get_users(users=[1])": 'Unexpected keyword argument "users"',
    "portal.get_users([1], token='t')": 'Unexpected keyword argument "token"',
    "portal.ПолучитьПользователей(Токен='t', IDПользователей=[1])": 'Unexpected keyword argument "Токен"',
    "portal.get_userz([1])": 'has no attribute "get_userz"',
    "Portal('https://b24.example', timout=5)": '"timout"',
    "Portal('https://b24.example', retries='2')": '"retries"',
    "configure(timout=5)": '"timout"',
    "portal.call('crm.lead.get', {'id': 1}, 'token')": "Too many arguments",
    "settings(retrys=1)": '"retrys"',
}


def test_mypy_strict_accepts_correct_use_and_rejects_mistakes(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    good = tmp_path / "good_use.py"
    good.write_text(textwrap.dedent(GOOD), encoding="utf-8")
    bad = tmp_path / "bad_use.py"
    head = "from opi_bitrix24 import Portal, configure, settings\n\nportal = Portal('https://b24.example/rest/1/k/')\n"
    bad.write_text(head + "".join(line + "\n" for line in BAD), encoding="utf-8")
    first_bad_line = head.count("\n") + 1
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(ROOT / ".mypy_cache")]
        + ["--follow-imports", "silent", str(good), str(bad)],  # as for an installed package
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = run.stdout + run.stderr
    assert "good_use.py" not in report, report
    errors: Dict[int, str] = {}
    for line in report.splitlines():
        found = re.match(r".*bad_use\.py:(\d+): error: (.*)", line)
        if found:
            errors.setdefault(int(found.group(1)), "")
            errors[int(found.group(1))] += found.group(2)
    for offset, (code, message) in enumerate(BAD.items()):
        assert message in errors.get(first_bad_line + offset, ""), (code, report)
    assert run.returncode == 1


def test_find_still_names_the_portal_methods() -> None:
    # The portal's method names are the table's names: find() maps either one to the same row.
    method = find("ПолучитьПользователей")
    assert method is not None and getattr(Portal, method.python) is Portal.get_users


# --- bulk work on the portal --------------------------------------------------------------------------


def test_portal_call_sends_what_call_sends(portal: Any) -> None:
    opi_bitrix24.call(portal.base, "crm.lead.get", {"id": 5}, "T0KEN")
    by_function = _seen(portal)
    assert Portal(portal.base, "T0KEN").call("crm.lead.get", {"id": 5}) == {"result": True}
    assert _seen(portal) == by_function
    assert by_function[0][1] == "/rest/crm.lead.get"


def test_portal_batch_sends_what_batch_sends(portal: Any) -> None:
    commands = [("crm.lead.get", {"id": 1}), ("crm.lead.get", {"id": "$result[k0][ID]"})]
    answer = {"result": {"result": {"k0": {"ID": "1"}}, "result_error": []}}
    portal.reply(payload=answer)
    by_function = opi_bitrix24.batch(portal.webhook, commands)
    sent = _seen(portal)
    portal.reply(payload=answer)
    assert Portal(portal.webhook).batch(commands) == by_function
    assert _seen(portal) == sent and sent[0][1] == "/rest/1/s3cretWebhookKey99/batch"


def test_portal_iterate_pages_with_its_settings_but_not_inside_the_loop(portal: Any) -> None:
    strict = Portal(portal.webhook, retries=0)
    portal.reply(payload={"result": [{"ID": "1"}, {"ID": "2"}]})
    seen = []
    for row in strict.iterate("crm.lead.list", {"filter": {"STAGE_ID": "NEW"}}, use_batch=False):
        seen.append((row["ID"], opi_bitrix24.current_settings().retries))
    assert seen == [("1", 2), ("2", 2)]  # the loop body runs with the settings in force, not the portal's
    assert [r[1] for r in _seen(portal)] == ["/rest/1/s3cretWebhookKey99/crm.lead.list"]
    portal.reply(503, LIMITED)
    with pytest.raises(opi_bitrix24.OPIError):
        list(strict.iterate("crm.lead.list", use_batch=False))  # no re-send: the portal's retries=0
    assert len(portal.requests) == 1


def test_the_portal_scope_is_made_once_per_base_and_follows_every_change() -> None:
    """A portal's iterate enters its scope once per row: the changed settings are remembered for the base
    they were made from, and made again when the settings in force or the portal's own changes differ."""
    from opi_bitrix24 import _settings

    portal = Portal("https://example.bitrix24.ru/rest/1/key/", timeout=5, retries=1)
    with portal._scope():
        first = _settings.current_settings()
    with portal._scope():
        assert _settings.current_settings() is first  # the same base: nothing validated again
    assert (first.timeout, first.retries) == (5, 1)
    with opi_bitrix24.settings(backoff=2.0):
        with portal._scope():
            inner = _settings.current_settings()
        assert inner is not first and (inner.backoff, inner.timeout, inner.retries) == (2.0, 5, 1)
    portal.changes["retries"] = 0
    with portal._scope():
        assert _settings.current_settings().retries == 0
    assert _settings.current_settings().retries == _settings._global.retries  # the block is left as found
    assert Portal("https://example.bitrix24.ru/")._scope().__class__.__name__ == "nullcontext"
