"""The method table: every OPI function, its names and its parameters, in one place.

Endpoint functions register themselves with :func:`section` / ``@endpoint``. The decorator only records
metadata (it returns the function unchanged), so a call pays nothing for it. Python names, order and
defaults come from the function's own signature; the decorator adds what Python cannot express: OPI's
English and Russian names, the Russian parameter names and the CLI option words. Everything else —
the Russian aliases, ``__all__``, the CLI, the docs index, the coverage tests — is derived from here.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

__all__ = ["REQUIRED", "Method", "Param", "find", "methods", "section"]

F = TypeVar("F", bound=Callable[..., Any])


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Param(NamedTuple):
    python: str
    ru: str
    cli: str
    default: Any
    annotation: str

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class Method(NamedTuple):
    name: str
    python: str
    ru: str
    section: str
    section_ru: str
    api: Tuple[str, ...]
    summary: str
    params: Tuple[Param, ...]
    func: Callable[..., Any]
    returns: str

    def param_by_cli(self, option: str) -> Optional[Param]:
        return next((p for p in self.params if p.cli == option), None)

    @property
    def portal_options(self) -> Tuple[str, ...]:
        """``("url", "token")`` where they address the portal (the method takes both), else ``()``. A block
        builder's ``url`` (GetPictureBlock) is a picture's link: the CLI never fills it from the environment."""
        clis = [p.cli for p in self.params]
        return ("url", "token") if "url" in clis and "token" in clis else ()

    def param_by_python(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.python == name), None)


_pending: List[Tuple[Callable[..., Any], str, str, str, str, Tuple[str, ...], Tuple[Tuple[str, str], ...]]] = []
_built: Optional[Tuple[Method, ...]] = None

#: Parameter spec shared by almost every function: ``(Russian name, CLI option)``.
URL = ("URL", "url")
TOKEN = ("Токен", "token")


def section(name: str, name_ru: str) -> Callable[..., Callable[[F], F]]:
    """Return the ``@endpoint`` decorator for one OPI region (section) of the module."""

    def endpoint(
        opi_name: str, ru: str, *, api: Sequence[str] = (), params: Sequence[Tuple[str, str]]
    ) -> Callable[[F], F]:
        def register(func: F) -> F:
            _pending.append((func, opi_name, ru, name, name_ru, tuple(api), tuple(params)))
            return func

        return register

    return endpoint


_Entry = Tuple[Callable[..., Any], str, str, str, str, Tuple[str, ...], Tuple[Tuple[str, str], ...]]
_made: Dict[int, Method] = {}
_names: Dict[str, _Entry] = {}


def _make(entry: _Entry) -> Method:
    """The table row of one registered function (built on first use: the CLI needs only one)."""
    func, opi_name, ru, sec, sec_ru, api, specs = entry
    if id(func) in _made:
        return _made[id(func)]
    import inspect

    signature = inspect.signature(func)
    names = list(signature.parameters.values())
    if len(names) != len(specs):
        raise RuntimeError(f"{opi_name}: {len(names)} parameters but {len(specs)} OPI names")
    params = tuple(
        Param(
            python=p.name,
            ru=unicodedata.normalize("NFKC", ru_name),
            cli=cli,
            default=REQUIRED if p.default is inspect.Parameter.empty else p.default,
            annotation=str(p.annotation),
        )
        for p, (ru_name, cli) in zip(names, specs)
    )
    doc = inspect.getdoc(func) or ""
    method = Method(
        name=opi_name,
        python=func.__name__,
        ru=unicodedata.normalize("NFKC", ru),
        section=sec,
        section_ru=sec_ru,
        api=api,
        summary=doc.splitlines()[0] if doc else "",
        params=params,
        func=func,
        returns=str(signature.return_annotation),
    )
    _made[id(func)] = method
    return method


def _entries() -> List[_Entry]:
    from . import _sections

    _sections.load()
    order = {f"{_sections.__name__}.{name}": rank for rank, name in enumerate(_sections.MODULES)}
    return sorted(
        _pending, key=lambda entry: (order.get(entry[0].__module__, len(order)), entry[0].__code__.co_firstlineno)
    )


def methods() -> Tuple[Method, ...]:
    """All registered methods, in OPI module order."""
    global _built
    if _built is None:
        _built = tuple(_make(entry) for entry in _entries())
    return _built


def find(name: str) -> Optional[Method]:
    """Look a method up by OPI English name (any case), Russian name or snake_case name."""
    if not _names:
        for entry in _entries():
            func, opi_name, ru = entry[0], entry[1], entry[2]
            for key in (opi_name, func.__name__, unicodedata.normalize("NFKC", ru)):
                _names[key.upper()] = entry
    found = _names.get(unicodedata.normalize("NFKC", name.strip()).upper())
    return None if found is None else _make(found)
