"""Errors in Russian for calls made under the Russian names (``b24.СоздатьЗадачу``, ``portal.СоздатьЗадачу``,
``opi-bitrix24 СоздатьЗадачу``): the parameter is named as OPI names it (``ДанныеЗадачи``) and the problem
is said in Russian. The English functions and their errors are unchanged.

The generated Russian aliases (``_aliases.py``, the Russian methods of ``_portal.py``) catch
:class:`InvalidArgument` and raise :func:`translated` instead; the CLI uses :func:`problem` for the
message of an option typed after a Russian method name.
"""

from __future__ import annotations

import re
from typing import Callable, List, Match, Tuple, Union

from ._errors import InvalidArgument

__all__ = ["problem", "translated", "usage"]

_Rule = Tuple["re.Pattern[str]", Union[str, Callable[[Match[str]], str]]]

#: English problem → Russian, first match wins; the captured parts (values, paths) are kept as they are.
_RULES: List[_Rule] = [
    (re.compile(r"^is required$"), "обязательный параметр"),
    (re.compile(r"^bytes are not UTF-8 text$"), "байты не являются текстом в UTF-8"),
    (
        re.compile(r"^reading a (file|URL) named by text is off \((.*)\)$"),
        lambda m: f"чтение {'файла' if m.group(1) == 'file' else 'URL'}, заданного текстом, отключено ({m.group(2)})",
    ),
    (re.compile(r"^cannot fetch a URL here$"), "здесь нельзя загрузить URL"),
    (re.compile(r"^the file (.*) does not hold JSON \((.*)\)$"), r"в файле \1 не JSON (\2)"),
    (re.compile(r"^the URL did not return JSON$"), "по URL получен не JSON"),
    (
        re.compile(r"^expected a structure: a dict or list, JSON text or a path to a \.json file$"),
        "ожидается структура (Структура или Соответствие): dict или list, текст JSON или путь к файлу .json",
    ),
    (
        re.compile(r"^expected an object of keys and values, not a list$"),
        "ожидается объект «ключ — значение» (Соответствие), а не список",
    ),
    (re.compile(r"^(.*) is neither a single value nor a JSON array$"), r"\1 — не одно значение и не массив JSON"),
    (
        re.compile(r"^(.*) is not a boolean \(use true or false\)$"),
        r"\1 — не Булево (используйте true или false, Истина или Ложь)",
    ),
    (
        re.compile(r"^(.*) is not a date \(use ISO 8601, e\.g\. (.*)\)$"),
        r"\1 — не дата (используйте ISO 8601, например \2)",
    ),
    (
        re.compile(r"^expected bytes, a path to an existing file, an http\(s\) URL or base64 text$"),
        "ожидаются ДвоичныеДанные: bytes, путь к существующему файлу, URL http(s) или текст base64",
    ),
    (
        re.compile(r"^expected a map of file name to file \(path, URL, base64 or bytes\)$"),
        "ожидается соответствие «имя файла — файл» (путь, URL, base64 или bytes)",
    ),
    (re.compile(r"^a webhook URL or a portal address is required$"), "нужен URL вебхука или адрес портала"),
    (re.compile(r"^is not a webhook URL or a portal address$"), "это не URL вебхука и не адрес портала"),
    (
        re.compile(r"^give either a webhook URL or a portal address with a token, not both$"),
        "укажите либо URL вебхука, либо адрес портала с токеном, но не то и другое",
    ),
    (re.compile(r"^cannot read (.*) \((.*)\)$"), r"не удаётся прочитать \1 (\2)"),
    (re.compile(r"^the file (.*) got shorter while it was sent$"), r"файл \1 стал короче во время отправки"),
    (re.compile(r"^the file (.*) grew while it was sent$"), r"файл \1 вырос во время отправки"),
    (
        re.compile(r"^holds a value that cannot be sent as JSON \((.*)\)$"),
        r"содержит значение, которое нельзя отправить в JSON (\1)",
    ),
    # the CLI's clearer words for a structure option (_help.structure_problem)
    (
        re.compile(r"^malformed JSON text \((.*)\); check the brackets and quotes$"),
        r"ошибка в тексте JSON (\1); проверьте скобки и кавычки",
    ),
    (re.compile(r"^(.*) is a folder, not a \.json file$"), r"\1 — папка, а не файл .json"),
    (
        re.compile(r"^no such file (.*) \(give the path to an existing \.json file, or JSON text\)$"),
        r"нет файла \1 (укажите путь к существующему файлу .json или текст JSON)",
    ),
    (
        re.compile(r"^(.*) is neither JSON text nor the path to an existing \.json file$"),
        r"\1 — не текст JSON и не путь к существующему файлу .json",
    ),
]


def problem(text: str) -> str:
    """The Russian wording of an :class:`InvalidArgument` problem (the English one when no rule knows it)."""
    for pattern, russian in _RULES:
        found = pattern.match(text)
        if found is not None:
            return russian(found) if callable(russian) else found.expand(russian)
    return text


def translated(error: InvalidArgument, opi_name: str) -> InvalidArgument:
    """``error`` as raised by the English function, re-said for its Russian alias ``opi_name`` (OPI's name)."""
    from ._table import find

    method = find(opi_name)
    parameter = error.parameter
    if method is not None:
        param = method.param_by_python(parameter)
        if param is not None:
            parameter = param.ru
    return InvalidArgument(parameter, problem(error.problem))


def _ru_name(name: str) -> str:
    from ._table import find

    method = find(name)
    return method.ru if method is not None else name


_USAGE: List[_Rule] = [
    (
        re.compile(r"^(\S+) needs (--.+)$"),
        lambda m: f"{_ru_name(m.group(1))}: не указаны обязательные опции {m.group(2)}",
    ),
    (
        re.compile(r"^unknown option (--\S+) for (\S+) \((?:did you mean (--\S+)\? )?options: (.*)\)$"),
        lambda m: (
            f"неизвестная опция {m.group(1)} для {_ru_name(m.group(2))} ("
            + (f"может быть, {m.group(3)}? " if m.group(3) else "")
            + f"опции: {m.group(4)})"
        ),
    ),
    (re.compile(r"^option (--\S+) needs a value$"), r"опции \1 нужно значение"),
    (re.compile(r"^option (--\S+) is given twice$"), r"опция \1 указана дважды"),
    (
        re.compile(r"^unexpected argument (.*) \(options look like --name value\)$"),
        r"лишний аргумент \1 (опции пишутся как --имя значение)",
    ),
    (
        re.compile(r"^--all: (\S+) is not a paged list method$"),
        lambda m: f"--all: {_ru_name(m.group(1))} — не списочный метод",
    ),
    (
        re.compile(r"^unknown method (.*) \((?:did you mean (.*)\? )?run (\S+) --help for the list\)$"),
        lambda m: (
            f"неизвестный метод {m.group(1)} ("
            + (f"может быть, {m.group(2).replace(' or ', ' или ')}? " if m.group(2) else "")
            + f"список методов: {m.group(3)} --help)"
        ),
    ),
]


def usage(message: str) -> str:
    """A CLI error line in Russian, for a method typed under its Russian name (unknown lines stay as they are)."""
    for pattern, russian in _USAGE:
        found = pattern.match(message)
        if found is not None:
            return russian(found) if callable(russian) else found.expand(russian)
    return message
