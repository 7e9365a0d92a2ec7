"""CustomsTasksFieldsManagement (РаботаСПользовательскимиПолямиЗадач): custom task fields."""

from __future__ import annotations

from .. import _convert as cv
from .. import _core
from .._shared import nested
from .._table import TOKEN, URL, section
from .._types import Id, Result, Structure, Text

endpoint = section("CustomsTasksFieldsManagement", "РаботаСПользовательскимиПолямиЗадач")

FIELD = ("IDПоля", "fieldid")


@endpoint(
    "GetCustomTaskFieldsList",
    "ПолучитьСписокПользовательскихПолейЗадачи",
    api=["task.item.userfield.getlist"],
    params=[URL, TOKEN],
)
def get_custom_task_fields_list(url: str, token: str = "") -> Result:
    """List the custom (user-defined) task fields.

    Calls: task.item.userfield.getlist (a webhook call sends no body at all)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("task.item.userfield.getlist", url, token)


@endpoint(
    "AddCustomTaskField",
    "ДобавитьПользовательскоеПолеЗадачи",
    api=["task.item.userfield.add"],
    params=[
        URL,
        ("Тип", "type"),
        ("Имя", "fieldname"),
        ("ВнешнийКод", "externalid"),
        ("Заголовок", "title"),
        ("Подпись", "label"),
        TOKEN,
    ],
)
def add_custom_task_field(
    url: str,
    type: str,
    name: str,
    external_id: str = "",
    title: Text = "",
    signature: Structure = "",
    token: str = "",
) -> Result:
    """Create a custom task field.

    Calls: task.item.userfield.add

    Every value goes under ``PARAMS``; empty optional values are left out.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        type: the field type: ``string``, ``double``, ``date`` or ``boolean`` (``USER_TYPE_ID``).
        name: the field's text identifier (``FIELD_NAME``; the portal prefixes it with ``UF_``).
        external_id: an identifier for external integrations (``XML_ID``).
        title: the field title (``LABEL``).
        signature: the form label per language, e.g. ``{"en": "Label", "ru": "Подпись"}``, as a dict, JSON
            text or a path to a .json file (``EDIT_FORM_LABEL``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    params = nested(
        USER_TYPE_ID=cv.text(type, "type"),
        FIELD_NAME=cv.text(name, "name"),
        XML_ID=cv.text(external_id, "external_id"),
        LABEL=cv.text(title, "title"),
        EDIT_FORM_LABEL=cv.collection(signature, "signature"),
    )
    return _core.post("task.item.userfield.add", url, token, PARAMS=params)


@endpoint(
    "UpdateCustomTaskField",
    "ИзменитьПользовательскоеПолеЗадачи",
    api=["task.item.userfield.update"],
    params=[URL, FIELD, ("ВнешнийКод", "externalid"), ("Заголовок", "title"), ("Подпись", "label"), TOKEN],
)
def update_custom_task_field(
    url: str,
    field_id: Id,
    external_id: str = "",
    title: Text = "",
    signature: Structure = "",
    token: str = "",
) -> Result:
    """Change the external id, the title or the form label of a custom task field.

    Calls: task.item.userfield.update

    The changes go under ``DATA``; when none is given, ``DATA`` is not sent at all.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        field_id: the custom field's id (sent as text under ``ID``).
        external_id: a new identifier for external integrations (``XML_ID``).
        title: a new field title (``LABEL``).
        signature: a new form label per language, as a dict, JSON text or a path to a .json file
            (``EDIT_FORM_LABEL``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    data = nested(
        XML_ID=cv.text(external_id, "external_id"),
        LABEL=cv.text(title, "title"),
        EDIT_FORM_LABEL=cv.collection(signature, "signature"),
    )
    return _core.post("task.item.userfield.update", url, token, ID=cv.text(field_id, "field_id"), DATA=data)


@endpoint(
    "GetCustomTaskField",
    "ПолучитьПользовательскоеПолеЗадачи",
    api=["task.item.userfield.get"],
    params=[URL, FIELD, TOKEN],
)
def get_custom_task_field(url: str, field_id: Id, token: str = "") -> Result:
    """Get one custom task field by id.

    Calls: task.item.userfield.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        field_id: the custom field's id (sent as text under ``ID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("task.item.userfield.get", url, token, ID=cv.text(field_id, "field_id"))


@endpoint(
    "DeleteCustomTaskField",
    "УдалитьПользовательскоеПолеЗадачи",
    api=["task.item.userfield.delete"],
    params=[URL, FIELD, TOKEN],
)
def delete_custom_task_field(url: str, field_id: Id, token: str = "") -> Result:
    """Delete a custom task field by id.

    Calls: task.item.userfield.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        field_id: the custom field's id (sent as text under ``ID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("task.item.userfield.delete", url, token, ID=cv.text(field_id, "field_id"))
