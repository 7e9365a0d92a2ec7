"""TasksChecklistsManagement (РаботаСЧеклистамиЗадач): task checklists."""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._shared import nested
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Text

endpoint = section("TasksChecklistsManagement", "РаботаСЧеклистамиЗадач")

TASK = ("IDЗадачи", "task")
ELEMENT = ("IDЭлемента", "element")


def _element_action(api_method: str, url: Any, task_id: Any, element_id: Any, token: Any) -> Result:
    """OPI ``ChecklistElementManagement``: ``api_method`` with ``TASKID`` and ``ITEMID``, both as text,
    each left out when empty."""
    return _core.post(
        api_method,
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(element_id, "element_id"),
    )


@endpoint(
    "AddTasksChecklistElement",
    "ДобавитьЭлементЧеклистаЗадачи",
    api=["task.checklistitem.add"],
    params=[URL, TASK, ("Текст", "text"), ("Выполнен", "complete"), TOKEN],
)
def add_tasks_checklist_element(url: str, task_id: Id, text: Text, completed: Flag = False, token: str = "") -> Result:
    """Add an item to a task's checklist.

    Calls: task.checklistitem.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        text: the item text (``FIELDS.TITLE``).
        completed: add the item already marked as done; always sent, as ``"Y"`` or ``"N"``
            (``FIELDS.IS_COMPLETE``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    fields = nested(TITLE=cv.text(text, "text"), IS_COMPLETE=cv.yes_no(completed, "completed"))
    return _core.post("task.checklistitem.add", url, token, TASKID=cv.text(task_id, "task_id"), FIELDS=fields)


@endpoint(
    "UpdateTasksChecklistElement",
    "ИзменитьЭлементЧеклистаЗадачи",
    api=["task.checklistitem.update"],
    params=[URL, TASK, ELEMENT, ("Текст", "text"), TOKEN],
)
def update_tasks_checklist_element(url: str, task_id: Id, element_id: Id, text: Text, token: str = "") -> Result:
    """Change the text of a checklist item.

    Calls: task.checklistitem.update

    The portal answers ``result: null`` on success; the answer comes back unchanged.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        element_id: the checklist item id (sent as text under ``ITEMID``).
        text: the new item text (``FIELDS.TITLE``); ``FIELDS`` is left out when it is empty.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.checklistitem.update",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(element_id, "element_id"),
        FIELDS=nested(TITLE=cv.text(text, "text")),
    )


@endpoint(
    "DeleteTasksChecklistElement",
    "УдалитьЭлементЧеклистаЗадачи",
    api=["task.checklistitem.delete"],
    params=[URL, TASK, ELEMENT, TOKEN],
)
def delete_tasks_checklist_element(url: str, task_id: Id, element_id: Id, token: str = "") -> Result:
    """Remove an item from a task's checklist.

    Calls: task.checklistitem.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        element_id: the checklist item id (sent as text under ``ITEMID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _element_action("task.checklistitem.delete", url, task_id, element_id, token)


@endpoint(
    "GetTasksChecklist",
    "ПолучитьЧеклистЗадачи",
    api=["task.checklistitem.getlist"],
    params=[URL, TASK, TOKEN],
)
def get_tasks_checklist(url: str, task_id: Id, token: str = "") -> Result:
    """List all checklist items of a task.

    Calls: task.checklistitem.getlist

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("task.checklistitem.getlist", url, token, TASKID=cv.text(task_id, "task_id"))


@endpoint(
    "GetTasksChecklistElement",
    "ПолучитьЭлементЧеклистаЗадачи",
    api=["task.checklistitem.get"],
    params=[URL, TASK, ELEMENT, TOKEN],
)
def get_tasks_checklist_element(url: str, task_id: Id, element_id: Id, token: str = "") -> Result:
    """Get one checklist item of a task.

    Calls: task.checklistitem.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        element_id: the checklist item id (sent as text under ``ITEMID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _element_action("task.checklistitem.get", url, task_id, element_id, token)


@endpoint(
    "CompleteTasksChecklistElement",
    "ВыполнитьЭлементЧеклистаЗадачи",
    api=["task.checklistitem.complete"],
    params=[URL, TASK, ELEMENT, TOKEN],
)
def complete_tasks_checklist_element(url: str, task_id: Id, element_id: Id, token: str = "") -> Result:
    """Mark a checklist item as done.

    Calls: task.checklistitem.complete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        element_id: the checklist item id (sent as text under ``ITEMID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _element_action("task.checklistitem.complete", url, task_id, element_id, token)


@endpoint(
    "RenewTasksChecklistElement",
    "ВозобновитьЭлементЧеклистаЗадачи",
    api=["task.checklistitem.renew"],
    params=[URL, TASK, ELEMENT, TOKEN],
)
def renew_tasks_checklist_element(url: str, task_id: Id, element_id: Id, token: str = "") -> Result:
    """Mark a checklist item as not done again.

    Calls: task.checklistitem.renew

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        element_id: the checklist item id (sent as text under ``ITEMID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _element_action("task.checklistitem.renew", url, task_id, element_id, token)
