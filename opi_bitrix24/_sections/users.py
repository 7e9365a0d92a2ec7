"""UsersManagement (УправлениеПользователями): users."""

from __future__ import annotations

from typing import Any, Dict

from .. import _convert as cv
from .. import _core
from .._shared import template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Structure

endpoint = section("UsersManagement", "УправлениеПользователями")

USER = ("IDПользователя", "userid")
FIELDS = ("СтруктураПолей", "fields")

#: GetUserFilterStructure's placeholders, in OPI's order (the text is OPI's own).
USER_FILTER: Dict[str, str] = {
    "NAME": "<name>",
    "LAST_NAME": "<surname>",
    "WORK_POSITION": "<position>",
    "UF_DEPARTMENT_NAME": "<department name>",
    "USER_TYPE": "<type: employee, extranet, email>",
}


def _flat(structure: Any, name: str) -> Dict[str, Any]:
    """The keys of a user fields structure, to be sent at the top level as given (a fresh dict)."""
    fields = cv.key_value(structure, name)
    return {} if fields is cv.SKIP else dict(fields)


@endpoint("GetCurrentUser", "ПолучитьТекущегоПользователя", api=["user.current"], params=[URL, TOKEN])
def get_current_user(url: str, token: str = "") -> Result:
    """Get the user the webhook or the token belongs to.

    Calls: user.current (a webhook call sends no body at all)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("user.current", url, token)


@endpoint("GetUser", "ПолучитьПользователя", api=["user.get"], params=[URL, USER, TOKEN])
def get_user(url: str, user_id: Id, token: str = "") -> Result:
    """Get a user by id.

    Calls: user.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user id (``ID``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("user.get", url, token, ID=cv.text(user_id, "user_id"))


@endpoint("CreateUser", "СоздатьПользователя", api=["user.add"], params=[URL, FIELDS, TOKEN])
def create_user(url: str, fields_structure: Structure, token: str = "") -> Result:
    """Invite (create) a user from a structure of user fields (see :func:`get_user_fields_structure`).

    Calls: user.add

    Every key of the structure is sent at the top level of the request exactly as given, empty values
    included (OPI copies them without its usual conversions). An intranet user needs ``UF_DEPARTMENT``;
    an extranet user needs ``EXTRANET: "Y"`` and ``SONET_GROUP_ID``.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        fields_structure: the user fields (``EMAIL``, ``NAME``, ``LAST_NAME``, ``UF_DEPARTMENT``, ...): a
            dict, JSON object text (single quotes accepted) or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post_fields("user.add", url, token, _flat(fields_structure, "fields_structure"))


@endpoint("UpdateUser", "ИзменитьПользователя", api=["user.update"], params=[URL, USER, FIELDS, TOKEN])
def update_user(url: str, user_id: Id, fields_structure: Structure, token: str = "") -> Result:
    """Change a user's data from a structure of user fields.

    Calls: user.update

    Every key of the structure is sent at the top level as given, then ``ID`` (the user id as text): an
    ``ID`` key inside the structure keeps its place but takes the user id as its value.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user to change (``ID``, as text).
        fields_structure: the fields to change: a dict, JSON object text (single quotes accepted) or a
            path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    body = _flat(fields_structure, "fields_structure")
    user = cv.text(user_id, "user_id")
    if user is not cv.SKIP:
        body["ID"] = user
    return _core.post_fields("user.update", url, token, body)


@endpoint(
    "ChangeUserStatus",
    "ИзменитьСтатусПользователя",
    api=["user.update"],
    params=[URL, USER, ("Уволить", "fire"), TOKEN],
)
def change_user_status(url: str, user_id: Id, fire: Flag = True, token: str = "") -> Result:
    """Deactivate (fire) a user, or activate them again.

    Calls: user.update

    Sent through :func:`update_user` as ``ACTIVE`` — the opposite of ``fire`` as ``"Y"``/``"N"`` — and ``ID``.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user (``ID``, as text).
        fire: true (the default) deactivates the user (``ACTIVE: "N"``); false activates them
            (``ACTIVE: "Y"``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    active = not cv.boolean(fire, "fire")
    return update_user(url, user_id, {"ACTIVE": cv.yes_no(active, "fire")}, token)


@endpoint("FindUsers", "НайтиПользователей", api=["user.search"], params=[URL, ("СтруктураФильтра", "filter"), TOKEN])
def find_users(url: str, filter_structure: Structure, token: str = "") -> Result:
    """Search users with a filter (see :func:`get_user_filter_structure`).

    Calls: user.search

    Args:
        url: the webhook URL, or the portal address when a token is used.
        filter_structure: the filter (``NAME``, ``LAST_NAME``, ``WORK_POSITION``, ``UF_DEPARTMENT_NAME``,
            ``USER_TYPE``, ...) as a dict, JSON text or a path to a .json file; sent as ``FILTER``.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("user.search", url, token, FILTER=cv.collection(filter_structure, "filter_structure"))


@endpoint("GetUserFieldsStructure", "ПолучитьСтурктуруПользователя", api=["user.fields"], params=[URL, TOKEN])
def get_user_fields_structure(url: str, token: str = "") -> Result:
    """Get the portal's description of the user fields (for :func:`create_user` / :func:`update_user`).

    Calls: user.fields (a webhook call sends no body at all)

    The Russian alias keeps OPI's own spelling, ``ПолучитьСтурктуруПользователя``.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("user.fields", url, token)


@endpoint("GetUserFilterStructure", "ПолучитьСтруктуруФильтраПользователей", api=[], params=[("Пустая", "empty")])
def get_user_filter_structure(clear: Flag = False) -> Result:
    """Return a template of the user search filter keys (for :func:`find_users`); sends nothing.

    Calls: nothing

    Args:
        clear: true for empty values; false for a description of each key as its value.
    """
    return template(USER_FILTER, clear, name="clear")
