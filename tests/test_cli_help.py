"""The CLI helps: "did you mean", what to type for each option, clear file/JSON errors, no markup."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from opi_bitrix24._cli import EXIT_OK, EXIT_USAGE, main
from opi_bitrix24._help import TYPE_HINTS, option_docs, pageable, plain
from opi_bitrix24._table import Method, methods

MARKUP = re.compile(r":(func|class|meth|attr|mod|exc|data|obj):|``|`[a-z_]+`")


def run(capsys: Any, *argv: str) -> Tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- help text -------------------------------------------------------------------------------------


def test_overview_has_no_markup(capsys: Any) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == EXIT_OK
    assert not MARKUP.search(out), MARKUP.findall(out)
    assert "GetUsers" in out


@pytest.mark.parametrize("method", methods(), ids=[m.name for m in methods()])
def test_method_help_says_what_to_type_without_markup(capsys: Any, method: Method) -> None:
    code, out, err = run(capsys, method.name, "--help")
    assert (code, err) == (EXIT_OK, "")
    assert not MARKUP.search(out), MARKUP.findall(out)
    lines = out.splitlines()
    for param in method.params:
        head = next(i for i, line in enumerate(lines) if line.startswith(f"  --{param.cli} ("))
        assert ("required" in lines[head]) is param.required
        assert f"Python {param.python}, Russian {param.ru}" in lines[head]
        assert lines[head + 1].startswith("      Type: ")
        assert param.annotation not in lines[head + 1].split(), "a bare type name instead of what to type"


def test_every_annotation_has_words_for_what_to_type() -> None:
    used = {p.annotation for m in methods() for p in m.params}
    assert used <= set(TYPE_HINTS)


def test_every_option_is_described_from_its_docstring() -> None:
    missing = [f"{m.name}.{p.python}" for m in methods() for p in m.params if not option_docs(m).get(p.python)]
    assert missing == []


@pytest.mark.parametrize(
    ("method", "option", "words"),
    [
        ("GetUsers", "users", "one value like 1, or a list like [1,2]"),
        ("CreateTask", "fields", "JSON text such as {'TITLE':'x'}, or a path to a .json file"),
        ("GetChatStructure", "empty", "true or false"),
        ("GetUserBusy", "from", "a date"),
        ("UploadFileToFolder", "file", "a path to a file"),
        ("GetUsers", "url", "the webhook URL, or the portal address"),
    ],
)
def test_option_type_words(capsys: Any, method: str, option: str, words: str) -> None:
    out = run(capsys, method, "--help")[1]
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith(f"  --{option} ("))
    assert words in lines[head + 1]


def test_docstring_references_become_cli_method_names() -> None:
    assert plain("see :func:`get_tasks_filter_structure` and ``select``") == "see GetTasksFilterStructure and select"
    assert plain(":class:`~opi_bitrix24.InvalidArgument`") == "InvalidArgument"


# --- did you mean ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("GetUsres", "GetUsers"),
        ("get_usres", "GetUsers"),
        ("CreatTask", "CreateTask"),
        ("ПолучитьПользователй", "ПолучитьПользователей"),
    ],
)
def test_a_mistyped_method_gets_did_you_mean(capsys: Any, typed: str, meant: str) -> None:
    code, out, err = run(capsys, typed, "--url", "x")
    assert (code, out) == (EXIT_USAGE, "")
    if typed.isascii():
        assert f"unknown method {typed!r} (did you mean {meant}" in err
    else:  # typed in Russian: said in Russian
        assert f"неизвестный метод {typed!r} (может быть, {meant} или " in err
    assert err.count("\n") == 1


def test_no_did_you_mean_when_nothing_is_close(capsys: Any) -> None:
    err = run(capsys, "Xyzzy", "--url", "x")[2]
    assert "unknown method 'Xyzzy'" in err and "did you mean" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["GetUsers", "--url", "x", "--user", "1"], "unknown option --user for GetUsers (did you mean --users?"),
        (["CreateTask", "--url", "x", "--feilds", "{}"], "did you mean --fields?"),
        (["GetUsers", "--url", "x", "--users", "1", "--dbug"], "did you mean --debug?"),
    ],
)
def test_a_mistyped_option_gets_did_you_mean(capsys: Any, argv: List[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_USAGE, "")
    assert needle in err and err.count("\n") == 1


def test_no_option_hint_when_nothing_is_close(capsys: Any) -> None:
    err = run(capsys, "GetUsers", "--url", "x", "--users", "1", "--zzzzzz", "1")[2]
    assert "unknown option --zzzzzz" in err and "did you mean" not in err


# --- structure options: no such file vs malformed JSON ---------------------------------------------


def test_a_missing_json_file_is_no_such_file(portal: Any, capsys: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "CreateTask", "--url", portal.webhook, "--fields", "nofile.json")
    assert (code, out) == (EXIT_USAGE, "")
    assert err == (
        "opi-bitrix24: error: --fields: no such file 'nofile.json' "
        "(give the path to an existing .json file, or JSON text)\n"
    )
    assert portal.requests == []


def test_a_missing_file_in_a_folder_is_no_such_file(portal: Any, capsys: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "data" / "task")
    err = run(capsys, "CreateTask", "--url", portal.webhook, "--fields", missing)[2]
    assert f"--fields: no such file {missing!r}" in err
    assert portal.requests == []


def test_malformed_json_text_is_not_called_a_missing_file(portal: Any, capsys: Any) -> None:
    code, _, err = run(capsys, "CreateTask", "--url", portal.webhook, "--fields", "{'TITLE': ")
    assert code == EXIT_USAGE
    assert err.startswith("opi-bitrix24: error: --fields: malformed JSON text (Expecting value: line 1 column 10")
    assert "no such file" not in err
    assert portal.requests == []


def test_a_file_without_json_says_so(portal: Any, capsys: Any, tmp_path: Path) -> None:
    bad = tmp_path / "task.json"
    bad.write_text("{TITLE: x", encoding="utf-8")
    code, _, err = run(capsys, "CreateTask", "--url", portal.webhook, "--fields", str(bad))
    assert code == EXIT_USAGE
    assert f"--fields: the file {str(bad)!r} does not hold JSON" in err
    assert portal.requests == []


def test_a_folder_is_not_a_json_file(portal: Any, capsys: Any, tmp_path: Path) -> None:
    err = run(capsys, "CreateTask", "--url", portal.webhook, "--fields", str(tmp_path))[2]
    assert f"--fields: {str(tmp_path)!r} is a folder, not a .json file" in err
    assert portal.requests == []


def test_plain_words_are_neither_json_nor_a_file(portal: Any, capsys: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    err = run(capsys, "CreateTask", "--url", portal.webhook, "--fields", "title")[2]
    assert "--fields: 'title' is neither JSON text nor the path to an existing .json file" in err
    assert portal.requests == []


def test_an_existing_json_file_is_sent(portal: Any, capsys: Any, tmp_path: Path) -> None:
    good = tmp_path / "task.json"
    good.write_text('{"TITLE": "x", "RESPONSIBLE_ID": 1}', encoding="utf-8")
    assert run(capsys, "CreateTask", "--url", portal.webhook, "--fields", str(good))[0] == EXIT_OK
    assert portal.json_body() == {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 1}}


# --- secrets off the command line, in each method's help ------------------------------------------

PORTAL_METHODS = [m for m in methods() if m.portal_options]


@pytest.mark.parametrize("method", PORTAL_METHODS, ids=[m.name for m in PORTAL_METHODS])
def test_method_help_names_the_environment_and_the_token_file(capsys: Any, method: Method) -> None:
    code, out, err = run(capsys, method.name, "--help")
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    url = lines.index(next(line for line in lines if line.startswith("  --url (")))
    token = lines.index(next(line for line in lines if line.startswith("  --token (")))
    after_url = lines[url + 1 : next(i for i in range(url + 1, len(lines)) if lines[i].startswith("  --"))]
    after_token = lines[token + 1 : next(i for i in range(token + 1, len(lines)) if lines[i].startswith("  --"))]
    assert "      Or from $OPI_B24_URL when --url is not given." in after_url
    assert "      Or from $OPI_B24_TOKEN, or --token-file FILE, when --token is not given." in after_token
    assert lines[lines.index("  --token-file FILE") + 1] == "      read the token from FILE (instead of --token)"
    assert out.endswith(
        "\nSecrets: $OPI_B24_URL / $OPI_B24_TOKEN and --token-file keep --url and --token out of the\n"
        "process list; the command line wins.\n"
    )


def test_portal_options_are_those_of_methods_taking_url_and_token() -> None:
    assert len(PORTAL_METHODS) == sum(1 for m in methods() if m.param_by_cli("token")) > 150
    assert {m.name for m in methods() if m.param_by_cli("url") and not m.portal_options} == {
        "GetPictureBlock",
        "GetFileBlock",
    }


@pytest.mark.parametrize("method", ["GetPictureBlock", "GetFileBlock", "GetTasksFilterStructure"])
def test_help_of_a_method_without_a_portal_names_no_secrets(capsys: Any, method: str) -> None:
    out = run(capsys, method, "--help")[1]
    assert "OPI_B24" not in out and "--token-file" not in out and "Secrets:" not in out
    if "--url" in out:  # a block builder's --url is a link, not the portal
        assert "      Type: an http(s) link" in out.splitlines()


def test_a_block_link_is_never_taken_from_the_portal_variable(capsys: Any, monkeypatch: Any) -> None:
    """$OPI_B24_URL (a webhook, with its key) fills the portal's --url only, never a picture's link."""
    monkeypatch.setenv("OPI_B24_URL", "https://portal.invalid/rest/1/s3cretWebhookKey99/")
    code, out, err = run(capsys, "GetPictureBlock", "--title", "x")
    assert (code, out) == (EXIT_USAGE, "")
    assert "GetPictureBlock needs --url" in err and "s3cret" not in err
    code, out, _ = run(capsys, "GetPictureBlock", "--title", "x", "--url", "https://example.org/p.png")
    assert code == EXIT_OK
    assert '"LINK": "https://example.org/p.png"' in out


# --- the overview names the bulk additions and the environment; list methods show --all -------------


def test_overview_lists_call_all_quiet_and_the_environment(capsys: Any) -> None:
    out = run(capsys, "--help")[1]
    lines = out.splitlines()
    for needle in (
        "Call --url <webhook> --method <rest.method>",
        "  --all ",
        "  --quiet ",
        "$OPI_B24_URL, $OPI_B24_TOKEN",
    ):
        assert any(needle in line for line in lines), needle
    for variable in ("OPI_BITRIX24_RATE_LIMIT", "OPI_BITRIX24_OAUTH_URL", "--token-file FILE"):
        assert variable in out
    marked = {line.split()[0].lstrip("*") for line in lines if line.startswith("   *")}
    assert marked == {m.name for m in methods() if pageable(m)} and {"GetDealsList", "GetTasksList"} <= marked


@pytest.mark.parametrize("method", [m for m in methods() if pageable(m)], ids=lambda m: m.name)
def test_each_list_method_help_shows_all_and_quiet(capsys: Any, method: Method) -> None:
    out = run(capsys, method.name, "--help")[1]
    lines = out.splitlines()
    assert lines[0].endswith(" [--all] [--quiet]")
    assert lines[lines.index("  --all") + 1].startswith("      every page, not one:")
    assert "  --quiet" in lines


def test_a_method_that_cannot_page_shows_no_all(capsys: Any) -> None:
    out = run(capsys, "GetTask", "--help")[1]
    assert "--all" not in out and "--quiet" not in out


# --- Russian: help and option errors under a Russian name ------------------------------------------


def test_help_in_russian_for_a_russian_name(capsys: Any) -> None:
    code, out, err = run(capsys, "ПолучитьСписокСделок", "--help")
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0].startswith("вызов: opi-bitrix24 ПолучитьСписокСделок --url <значение>")
    assert "  --offset (необязательная, по умолчанию 0; параметр OPI Отступ, Python indent)" in lines
    assert "      Что указать: число (идентификатор, отступ), например 10" in lines
    assert "  --all" in lines and "Опции:" in lines and "Options:" not in lines
    english_flags = {
        line.split()[0] for line in run(capsys, "GetDealsList", "--help")[1].splitlines() if line.startswith("  --")
    }
    russian_flags = {line.split()[0] for line in lines if line.startswith("  --")}
    assert russian_flags == english_flags  # every option and flag, in both languages
    english = run(capsys, "GetDealsList", "--help")[1]
    assert english.startswith("usage: opi-bitrix24 GetDealsList") and "Что указать" not in english


def test_an_option_error_under_a_russian_name_is_russian_and_names_the_russian_parameter(capsys: Any) -> None:
    code, out, err = run(capsys, "СоздатьЗадачу", "--url", "https://example.bitrix24.ru/rest/1/k3y/", "--fields", "[1")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("opi-bitrix24: ошибка: --fields (СтруктураПолей): ошибка в тексте JSON (")
    assert err.endswith("); проверьте скобки и кавычки\n")
    code, _, err = run(capsys, "CreateTask", "--url", "https://example.bitrix24.ru/rest/1/k3y/", "--fields", "[1")
    assert code == EXIT_USAGE and err.startswith("opi-bitrix24: error: --fields: malformed JSON text (")


def test_python_errors_under_russian_names_name_the_russian_parameter() -> None:
    import opi_bitrix24 as b24

    hook = "https://example.bitrix24.ru/rest/1/k3y/"
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.СоздатьЗадачу(hook, "не JSON")
    assert raised.value.parameter == "СтруктураПолей"
    assert str(raised.value) == (
        "СтруктураПолей: ожидается структура (Структура или Соответствие): dict или list, текст JSON или путь к "
        "файлу .json"
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.Portal(hook).ПолучитьЗанятостьПользователей([1], "вчера", "2026-05-31")
    assert raised.value.parameter == "ДатаНачала" and raised.value.problem.startswith("'вчера' — не дата (")
    with pytest.raises(b24.InvalidArgument) as raised:
        b24.create_task(hook, "не JSON")  # the English name keeps the English words
    assert raised.value.parameter == "fields_structure" and raised.value.problem.startswith("expected a structure")


def test_every_problem_the_converters_raise_has_russian_words() -> None:
    from opi_bitrix24._russian import problem

    for english in [
        "is required",
        "expected a structure: a dict or list, JSON text or a path to a .json file",
        "'x' is not a boolean (use true or false)",
        "'x' is not a date (use ISO 8601, e.g. 2026-01-31T12:00:00)",
        "'x' is neither a single value nor a JSON array",
        "expected bytes, a path to an existing file, an http(s) URL or base64 text",
        "a webhook URL or a portal address is required",
        "give either a webhook URL or a portal address with a token, not both",
    ]:
        assert not re.search(
            r"[a-z]{4,}",
            problem(english)
            .replace("true", "")
            .replace("false", "")
            .replace("dict", "")
            .replace("list", "")
            .replace("json", "")
            .replace("bytes", "")
            .replace("base64", "")
            .replace("http", ""),
        ), english
    assert problem("something new") == "something new"  # unknown words stay as they are


# --- Cyrillic on a Windows console: the console's code page on a terminal, UTF-8 into pipes -------------


PICTURE = ["GetPictureBlock", "--title", "Картинка отчёта", "--url", "https://example.org/p.png"]


class _Console:
    def __init__(self, encoding: str, terminal: bool) -> None:
        import io

        self.encoding = encoding
        self.terminal = terminal
        self.buffer = io.BytesIO()

    def isatty(self) -> bool:
        return self.terminal

    def write(self, text: str) -> int:
        raise AssertionError("the CLI writes bytes to the buffer")

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("encoding", ["cp866", "cp1251"])
def test_cyrillic_on_a_windows_console(monkeypatch: Any, encoding: str) -> None:
    console = _Console(encoding, terminal=True)
    monkeypatch.setattr("sys.stdout", console)
    assert main(PICTURE) == EXIT_OK
    shown = console.buffer.getvalue().decode(encoding)  # what the console shows
    assert '"NAME": "Картинка отчёта"' in shown
    import json

    assert json.loads(shown) == json.loads(_utf8_output(monkeypatch))


def _utf8_output(monkeypatch: Any) -> str:
    pipe = _Console("cp1251", terminal=False)  # a pipe or a file: UTF-8 whatever the code page
    monkeypatch.setattr("sys.stdout", pipe)
    assert main(PICTURE) == EXIT_OK
    return pipe.buffer.getvalue().decode("utf-8")


def test_a_character_the_console_cannot_show_becomes_a_json_escape() -> None:
    from opi_bitrix24._help import console_bytes

    console = _Console("cp866", terminal=True)
    written = console_bytes('{"name": "Пицца 🍕 café"}', console)
    assert written.decode("cp866") == '{"name": "Пицца \\ud83c\\udf55 caf\\u00e9"}'
    import json

    assert json.loads(written.decode("cp866")) == {"name": "Пицца 🍕 café"}
    assert console_bytes("Пицца", _Console("utf-8", terminal=True)) == "Пицца".encode()


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal stands for the console")
@pytest.mark.parametrize("encoding", ["cp866", "cp1251"])
def test_cyrillic_on_a_real_terminal_with_a_legacy_code_page(encoding: str) -> None:
    import os
    import pty
    import subprocess

    main_end, child = pty.openpty()
    environment = dict(os.environ, PYTHONIOENCODING=encoding)
    with subprocess.Popen([sys.executable, "-m", "opi_bitrix24", *PICTURE], stdout=child, env=environment) as run:
        os.close(child)
        written = b""
        while True:
            try:
                chunk = os.read(main_end, 65536)
            except OSError:
                break
            if not chunk:
                break
            written += chunk
        assert run.wait(timeout=60) == 0
    os.close(main_end)
    assert '"NAME": "Картинка отчёта"' in written.decode(encoding)
    assert "Картинка".encode() not in written  # not UTF-8 bytes that the console would garble


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["СоздатьЗадачу"], "opi-bitrix24: ошибка: СоздатьЗадачу: не указаны обязательные опции --url --fields\n"),
        (
            ["СоздатьЗадачу", "--feilds", "x"],
            "opi-bitrix24: ошибка: неизвестная опция --feilds для СоздатьЗадачу (может быть, --fields? опции: --url "
            "--fields --token)\n",
        ),
        (
            ["ПолучитьЗадачу", "--url", "https://example.bitrix24.ru/rest/1/k3y/", "--task", "1", "--all"],
            "opi-bitrix24: ошибка: --all: ПолучитьЗадачу — не списочный метод\n",
        ),
        (
            ["СоздатьЗадачку"],
            "opi-bitrix24: ошибка: неизвестный метод 'СоздатьЗадачку' (может быть, СоздатьЗадачу? список методов: "
            "opi-bitrix24 --help)\n",
        ),
        (["СоздатьЗадачу", "--fields"], "opi-bitrix24: ошибка: опции --fields нужно значение\n"),
        (["CreateTask"], "opi-bitrix24: error: CreateTask needs --url --fields\n"),  # English stays English
    ],
)
def test_usage_errors_under_a_russian_name_are_russian(capsys: Any, argv: List[str], line: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (EXIT_USAGE, "", line)


def test_a_russian_error_line_hides_secrets(capsys: Any) -> None:
    key = "s3cretWebhookKey77"
    code, _, err = run(capsys, "СоздатьЗадачу", "--url", f"https://example.bitrix24.ru/rest/1/{key}/", "--fields", key)
    assert code == EXIT_USAGE and err.startswith("opi-bitrix24: ошибка: --fields (СтруктураПолей): ")
    assert key not in err


def test_the_overview_tells_russian_readers_about_russian_help(capsys: Any) -> None:
    out = run(capsys, "--help")[1]
    assert "По-русски: русские имена методов работают так же" in out
    assert "(opi-bitrix24 ПолучитьПользователей --help) и сообщения об ошибках — на русском." in out
