"""OPI_Bitrix24's private helpers and recurring patterns, shared by the section modules."""

from __future__ import annotations

from typing import Any, Dict, Mapping

from . import _convert as cv
from . import _core
from ._errors import InvalidArgument
from ._types import Result

__all__ = ["blank", "file_pairs", "mute_switch", "nested", "primary_action", "template"]


def primary_action(api_method: str, url: Any, object_id: Any, token: Any, field: str = "id", name: str = "") -> Result:
    """OPI ``PrimaryControlAction``: call ``api_method`` with one id, sent as text under ``field``.

    ``name`` is the Python parameter holding the id (for error messages).
    """
    return _core.post_fields(api_method, url, token, {field: cv.text(object_id, name or field)})


def file_pairs(files: Any, name: str) -> Any:
    """OPI ``NormalizeFiles``: a map of file name → file (bytes, path, URL or base64 text) as a list of
    ``[name, base64]`` pairs, in order; ``SKIP`` when empty.

    The map may be a dict, JSON text or a path to a .json file. Deliberate deviation: OPI silently drops
    anything that is not a map (a list, a Structure); here that is an :class:`InvalidArgument`.
    """
    collection = cv.collection(files, name)
    if collection is cv.SKIP:
        return cv.SKIP
    if not isinstance(collection, Mapping):
        raise InvalidArgument(name, "expected a map of file name to file (path, URL, base64 or bytes)")
    return [[str(key), cv.base64_source(value, name)] for key, value in collection.items()] or cv.SKIP


def mute_switch(url: Any, chat_id: Any, mute: bool, token: Any) -> Result:
    """OPI ``ChatNotificationsSwitch``: ``im.chat.mute`` with ``MUTE`` as ``"Y"``/``"N"``."""
    return _core.post("im.chat.mute", url, token, CHAT_ID=cv.text(chat_id, "chat_id"), MUTE=cv.yes_no(mute, "mute"))


def nested(**fields: Any) -> Any:
    """OPI's nested sub-object (``PARAMS``, ``DATA``, ``FIELDS``...): the filled fields only, in order,
    and ``SKIP`` (not sent at all) when none is filled."""
    filled = {key: value for key, value in fields.items() if value is not cv.SKIP}
    return filled or cv.SKIP


def blank(value: Any) -> Any:
    """OPI's recursive clear: keys and list lengths are kept, every leaf becomes ``""``."""
    if isinstance(value, Mapping):
        return {key: blank(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [blank(item) for item in value]
    return ""


def template(fields: Mapping[str, Any], clear: Any, *, deep: bool = False, name: str = "clear") -> Dict[str, Any]:
    """A structure builder's result (no request): a fresh copy of ``fields``.

    With ``clear`` true every value becomes ``""``: a flat loop (nested values become ``""`` too) or,
    with ``deep``, OPI's recursive clear (nested structures kept, their leaves emptied).
    """
    if not cv.boolean(clear, name):
        return {key: _copy(value) for key, value in fields.items()}
    if deep:
        return {key: blank(value) for key, value in fields.items()}
    return dict.fromkeys(fields, "")


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
