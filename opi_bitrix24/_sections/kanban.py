"""Kanban (Канбан): task kanban stages."""

from __future__ import annotations

from .. import _convert as cv
from .. import _core
from .._shared import nested
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Text

endpoint = section("Kanban", "Канбан")

STAGE = ("IDСтадии", "stage")
ADMIN = ("КакАдминистратор", "admin")


@endpoint(
    "AddKanbanStage",
    "ДобавитьСтадиюКанбана",
    api=["task.stages.add"],
    params=[
        URL,
        ("Наименование", "title"),
        ("Цвет", "color"),
        ("IDПредыдущей", "prevstage"),
        ("IDСущности", "entityid"),
        ADMIN,
        TOKEN,
    ],
)
def add_kanban_stage(
    url: str,
    name: Text,
    color: str = "FFD800",
    prev_stage_id: Id = 0,
    entity_id: Id = 0,
    as_admin: Flag = False,
    token: str = "",
) -> Result:
    """Add a stage to a group's kanban or to a user's My Plan.

    Calls: task.stages.add

    Everything goes under ``fields``, the admin flag included (``isAdmin``, always sent as ``"Y"``/``"N"``).
    A previous stage or entity id of 0 (the defaults) is left out: the stage then goes first, on the
    current user's My Plan.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        name: the stage title (``TITLE``).
        color: the stage color as HEX without ``#`` (``COLOR``).
        prev_stage_id: the stage after which the new one goes (``AFTER_ID``, as text).
        entity_id: the kanban owner: a group id, or a user id for My Plan (``ENTITY_ID``, as text).
        as_admin: add without checking the current user's permissions (for administrators).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    fields = nested(
        TITLE=cv.text(name, "name"),
        COLOR=cv.text(color, "color"),
        AFTER_ID=cv.text(prev_stage_id, "prev_stage_id"),
        ENTITY_ID=cv.text(entity_id, "entity_id"),
        isAdmin=cv.yes_no(as_admin, "as_admin"),
    )
    # OPI inserts ``fields`` directly (not through AddField), so it is sent even when empty.
    return _core.post("task.stages.add", url, token, fields={} if fields is cv.SKIP else fields)


@endpoint(
    "UpdateKanbansStage",
    "ИзменитьСтадиюКанбана",
    api=["task.stages.update"],
    params=[URL, ("Наименование", "title"), STAGE, ("Цвет", "color"), ("IDПредыдущей", "prevstage"), ADMIN, TOKEN],
)
def update_kanbans_stage(
    url: str,
    name: Text,
    stage_id: Id,
    color: str = "",
    prev_stage_id: Id = 0,
    as_admin: Flag = False,
    token: str = "",
) -> Result:
    """Change the title, color or position of a kanban stage.

    Calls: task.stages.update

    Note OPI's order: the title comes before the stage id. Unlike the other kanban calls the admin flag
    is a real JSON boolean (``isAdmin: true``/``false`` inside ``fields``), as OPI adds it with its Boolean
    type rather than as ``"Y"``/``"N"``.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        name: the new stage title (``TITLE``).
        stage_id: the stage to change (``id``, as text).
        color: a new color as HEX without ``#`` (``COLOR``); empty keeps it.
        prev_stage_id: the stage after which this one goes (``AFTER_ID``, as text); 0 keeps the position.
        as_admin: change without checking the current user's permissions (for administrators).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    fields = nested(
        TITLE=cv.text(name, "name"),
        COLOR=cv.text(color, "color"),
        AFTER_ID=cv.text(prev_stage_id, "prev_stage_id"),
        isAdmin=cv.boolean(as_admin, "as_admin"),
    )
    return _core.post("task.stages.update", url, token, id=cv.text(stage_id, "stage_id"), fields=fields)


@endpoint("DeleteKanbanStage", "УдалитьСтадиюКанбана", api=["task.stages.delete"], params=[URL, STAGE, ADMIN, TOKEN])
def delete_kanban_stage(url: str, stage_id: Id, as_admin: Flag = False, token: str = "") -> Result:
    """Delete a kanban stage (the portal refuses while it holds tasks).

    Calls: task.stages.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        stage_id: the stage to delete (``id``, as text).
        as_admin: delete without checking the current user's permissions; always sent as ``isAdmin``
            ``"Y"``/``"N"``.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.stages.delete",
        url,
        token,
        id=cv.text(stage_id, "stage_id"),
        isAdmin=cv.yes_no(as_admin, "as_admin"),
    )


@endpoint(
    "GetKanbanStages",
    "ПолучитьСтадииКанбана",
    api=["task.stages.get"],
    params=[URL, ("IDСущности", "entityid"), ADMIN, TOKEN],
)
def get_kanban_stages(url: str, entity_id: Id = 0, as_admin: Flag = False, token: str = "") -> Result:
    """List the stages of a group's kanban or of a user's My Plan.

    Calls: task.stages.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        entity_id: a group id, or a user id for My Plan; OPI turns it into text first, so the default 0
            (the current user's My Plan) is sent as ``entityId: "0"``.
        as_admin: read without checking the current user's permissions; always sent as ``isAdmin``
            ``"Y"``/``"N"``.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.stages.get",
        url,
        token,
        entityId=cv.line(entity_id, "entity_id"),
        isAdmin=cv.yes_no(as_admin, "as_admin"),
    )


@endpoint(
    "MoveTaskToKanbanStage",
    "ПеренестиЗадачуВСтадиюКанбана",
    api=["task.stages.movetask"],
    params=[URL, ("IDЗадачи", "task"), STAGE, ("Перед", "before"), ("После", "after"), TOKEN],
)
def move_task_to_kanban_stage(
    url: str, task_id: Id, stage_id: Id, prev: Id = 0, after: Id = 0, token: str = ""
) -> Result:
    """Move a task to a kanban stage, before or after another task of that stage.

    Calls: task.stages.movetask

    Either ``before`` or ``after`` is sent, never both: ``before`` when ``prev`` is filled, otherwise
    ``after``, which OPI turns into text first, so the default 0 is sent as ``after: "0"``.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task to move (``id``, as text).
        stage_id: the target stage (``stageId``, as text).
        prev: the task to put this one in front of (``before``).
        after: the task to put this one after (``after``), used when ``prev`` is empty.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    if cv.filled(prev):
        position = {"before": cv.text(prev, "prev")}
    else:
        position = {"after": cv.line(after, "after")}
    return _core.post(
        "task.stages.movetask",
        url,
        token,
        id=cv.text(task_id, "task_id"),
        stageId=cv.text(stage_id, "stage_id"),
        **position,
    )
