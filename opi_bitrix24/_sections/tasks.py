"""TasksManagement (РаботаСЗадачами): tasks."""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._shared import primary_action, template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, IdList, Result, Structure

endpoint = section("TasksManagement", "РаботаСЗадачами")

TASK = ("IDЗадачи", "task")


@endpoint("GetTask", "ПолучитьЗадачу", api=["tasks.task.get"], params=[URL, TASK, TOKEN])
def get_task(url: str, task_id: Id, token: str = "") -> Result:
    """Get a task by id.

    Calls: tasks.task.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.get", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "GetTasksList",
    "ПолучитьСписокЗадач",
    api=["tasks.task.list"],
    params=[URL, ("Фильтр", "filter"), ("Отступ", "offset"), TOKEN, ("Поля", "select")],
)
def get_tasks_list(url: str, filter: Structure = "", indent: Id = 0, token: str = "", fields: IdList = "") -> Result:
    """List tasks, one page of up to 50, with an optional filter and field selection.

    Calls: tasks.task.list

    Note the parameter order, OPI's: the token is the 4th parameter and the field selection the 5th.
    There is no automatic paging: pass the ``indent`` of the next page (``next`` in the answer).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        filter: the filter as a dict (keys may carry operators: ``"!RESPONSIBLE_ID"``, ``">=CREATED_DATE"``),
            JSON text or a path to a .json file; see :func:`get_tasks_filter_structure`.
        indent: the offset of the page (``start``); 0, the default, is not sent.
        token: an OAuth access token (app mode); empty for a webhook.
        fields: the fields to select (``select``): one name, a list, or JSON array text.
    """
    return _core.post(
        "tasks.task.list",
        url,
        token,
        filter=cv.collection(filter, "filter"),
        start=cv.text(indent, "indent"),
        select=cv.array(fields, "fields"),
    )


@endpoint("CreateTask", "СоздатьЗадачу", api=["tasks.task.add"], params=[URL, ("СтруктураПолей", "fields"), TOKEN])
def create_task(url: str, fields_structure: Structure, token: str = "") -> Result:
    """Create a task from a structure of task fields.

    Calls: tasks.task.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        fields_structure: the task fields (``TITLE``, ``RESPONSIBLE_ID``, ...) as a dict, JSON text or a path
            to a .json file; sent as ``fields``. See :func:`get_task_fields_structure`.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("tasks.task.add", url, token, fields=cv.collection(fields_structure, "fields_structure"))


@endpoint(
    "UpdateTask",
    "ИзменитьЗадачу",
    api=["tasks.task.update"],
    params=[URL, TASK, ("СтруктураПолей", "fields"), TOKEN],
)
def update_task(url: str, task_id: Id, fields_structure: Structure, token: str = "") -> Result:
    """Change fields of an existing task.

    Calls: tasks.task.update

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        fields_structure: the fields to change as a dict, JSON text or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "tasks.task.update",
        url,
        token,
        fields=cv.collection(fields_structure, "fields_structure"),
        taskId=cv.text(task_id, "task_id"),
    )


@endpoint("DeleteTask", "УдалитьЗадачу", api=["tasks.task.delete"], params=[URL, TASK, TOKEN])
def delete_task(url: str, task_id: Id, token: str = "") -> Result:
    """Delete a task by id.

    Calls: tasks.task.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.delete", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "AttachFileToTopic",
    "ДобавитьФайлВЗадачу",
    api=["tasks.task.files.attach"],
    params=[URL, TASK, ("IDФайла", "fileid"), TOKEN],
)
def attach_file_to_topic(url: str, task_id: Id, file_id: Id, token: str = "") -> Result:
    """Attach a file already stored on the portal's Disk to a task.

    Calls: tasks.task.files.attach

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        file_id: the Disk file id (sent as text under ``fileId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "tasks.task.files.attach",
        url,
        token,
        fileId=cv.text(file_id, "file_id"),
        taskId=cv.text(task_id, "task_id"),
    )


@endpoint("ApproveTask", "ПринятьЗадачу", api=["tasks.task.approve"], params=[URL, TASK, TOKEN])
def approve_task(url: str, task_id: Id, token: str = "") -> Result:
    """Accept (approve) a task that awaits the creator's control.

    Calls: tasks.task.approve

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.approve", url, task_id, token, field="taskId", name="task_id")


@endpoint("DisapproveTask", "ОтклонитьЗадачу", api=["tasks.task.disapprove"], params=[URL, TASK, TOKEN])
def disapprove_task(url: str, task_id: Id, token: str = "") -> Result:
    """Reject (disapprove) a task that awaits the creator's control.

    Calls: tasks.task.disapprove

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.disapprove", url, task_id, token, field="taskId", name="task_id")


@endpoint("CompleteTask", "ЗавершитьЗадачу", api=["tasks.task.complete"], params=[URL, TASK, TOKEN])
def complete_task(url: str, task_id: Id, token: str = "") -> Result:
    """Mark a task as completed.

    Calls: tasks.task.complete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.complete", url, task_id, token, field="taskId", name="task_id")


@endpoint("RenewTask", "ВозобновитьЗадачу", api=["tasks.task.renew"], params=[URL, TASK, TOKEN])
def renew_task(url: str, task_id: Id, token: str = "") -> Result:
    """Reopen (renew) a completed or deferred task.

    Calls: tasks.task.renew

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.renew", url, task_id, token, field="taskId", name="task_id")


@endpoint("DeferTask", "ОтложитьЗадачу", api=["tasks.task.defer"], params=[URL, TASK, TOKEN])
def defer_task(url: str, task_id: Id, token: str = "") -> Result:
    """Put a task into the deferred state.

    Calls: tasks.task.defer

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.defer", url, task_id, token, field="taskId", name="task_id")


@endpoint("PauseTask", "ПриостановитьЗадачу", api=["tasks.task.pause"], params=[URL, TASK, TOKEN])
def pause_task(url: str, task_id: Id, token: str = "") -> Result:
    """Pause a task in progress.

    Calls: tasks.task.pause

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.pause", url, task_id, token, field="taskId", name="task_id")


@endpoint("StartTask", "НачатьВыполнениеЗадачи", api=["tasks.task.start"], params=[URL, TASK, TOKEN])
def start_task(url: str, task_id: Id, token: str = "") -> Result:
    """Put a task into the 'in progress' state.

    Calls: tasks.task.start

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.start", url, task_id, token, field="taskId", name="task_id")


@endpoint("StartWatchingTask", "НачатьНаблюдатьЗаЗадачей", api=["tasks.task.startwatch"], params=[URL, TASK, TOKEN])
def start_watching_task(url: str, task_id: Id, token: str = "") -> Result:
    """Add the current user to a task's observers.

    Calls: tasks.task.startwatch

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.startwatch", url, task_id, token, field="taskId", name="task_id")


@endpoint("StopWatchingTask", "ПрекратитьНаблюдатьЗаЗадачей", api=["tasks.task.stopwatch"], params=[URL, TASK, TOKEN])
def stop_watching_task(url: str, task_id: Id, token: str = "") -> Result:
    """Remove the current user from a task's observers.

    Calls: tasks.task.stopwatch

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.stopwatch", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "DelegateTask",
    "ДелегироватьЗадачу",
    api=["tasks.task.delegate"],
    params=[URL, TASK, ("IDПользователя", "user"), TOKEN],
)
def delegate_task(url: str, task_id: Id, user_id: Id, token: str = "") -> Result:
    """Hand a task over to another responsible user.

    Calls: tasks.task.delegate

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        user_id: the new responsible user's id (sent as text under ``userId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "tasks.task.delegate",
        url,
        token,
        taskId=cv.text(task_id, "task_id"),
        userId=cv.text(user_id, "user_id"),
    )


@endpoint("AddTaskToFavorites", "ДобавитьЗадачуВИзбранное", api=["tasks.task.favorite.add"], params=[URL, TASK, TOKEN])
def add_task_to_favorites(url: str, task_id: Id, token: str = "") -> Result:
    """Add a task to the current user's favorites.

    Calls: tasks.task.favorite.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.favorite.add", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "RemoveTaskFromFavorites",
    "УбратьЗадачуИзИзбранного",
    api=["tasks.task.favorite.remove"],
    params=[URL, TASK, TOKEN],
)
def remove_task_from_favorites(url: str, task_id: Id, token: str = "") -> Result:
    """Remove a task from the current user's favorites.

    Calls: tasks.task.favorite.remove

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.favorite.remove", url, task_id, token, field="taskId", name="task_id")


@endpoint("GetTaskHistory", "ПолучитьИсториюЗадачи", api=["tasks.task.history.list"], params=[URL, TASK, TOKEN])
def get_task_history(url: str, task_id: Id, token: str = "") -> Result:
    """Get the change history of a task.

    Calls: tasks.task.history.list

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.history.list", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "CheckTaskAccesses",
    "ПроверитьДоступКЗадаче",
    api=["tasks.task.getaccess"],
    params=[URL, TASK, ("Пользователи", "users"), TOKEN],
)
def check_task_accesses(url: str, task_id: Id, users: IdList = "", token: str = "") -> Result:
    """Check which actions on a task are allowed for the given users.

    Calls: tasks.task.getaccess

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        users: one user id, a list, or JSON array text; a single id is sent as a one-item list, and
            nothing is sent when empty (the portal then checks the current user).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "tasks.task.getaccess",
        url,
        token,
        taskId=cv.text(task_id, "task_id"),
        users=cv.array(users, "users"),
    )


@endpoint("MuteTask", "ОтключитьЗвукЗадачи", api=["tasks.task.mute"], params=[URL, TASK, TOKEN])
def mute_task(url: str, task_id: Id, token: str = "") -> Result:
    """Turn off the notifications (mute) of a task.

    Calls: tasks.task.mute

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.mute", url, task_id, token, field="taskId", name="task_id")


@endpoint("UnmuteTask", "ВключитьЗвукЗадачи", api=["tasks.task.unmute"], params=[URL, TASK, TOKEN])
def unmute_task(url: str, task_id: Id, token: str = "") -> Result:
    """Turn the notifications of a task back on.

    Calls: tasks.task.unmute

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.unmute", url, task_id, token, field="taskId", name="task_id")


_DEPENDENCY_PARAMS = [URL, ("IDИсточника", "taskfrom"), ("IDПриемника", "taskto"), ("ТипСвязи", "linktype"), TOKEN]


def _dependency(api_method: str, url: Any, from_id: Any, destination_id: Any, link_type: Any, token: Any) -> Result:
    return _core.post(
        api_method,
        url,
        token,
        taskIdFrom=cv.text(from_id, "from_id"),
        taskIdTo=cv.text(destination_id, "destination_id"),
        linkType=cv.line(link_type, "link_type"),
    )


@endpoint("CreateTasksDependencies", "СоздатьЗависимостьЗадач", api=["task.dependence.add"], params=_DEPENDENCY_PARAMS)
def create_tasks_dependencies(url: str, from_id: Id, destination_id: Id, link_type: Id, token: str = "") -> Result:
    """Link two tasks with a Gantt dependency of the given type.

    Calls: task.dependence.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        from_id: the id of the task the link starts from (``taskIdFrom``).
        destination_id: the id of the dependent task (``taskIdTo``).
        link_type: 0 start>start, 1 start>finish, 2 finish>start, 3 finish>finish; sent as text, 0 included.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _dependency("task.dependence.add", url, from_id, destination_id, link_type, token)


@endpoint(
    "DeleteTasksDependencies", "УдалитьЗависимостьЗадач", api=["task.dependence.delete"], params=_DEPENDENCY_PARAMS
)
def delete_tasks_dependencies(url: str, from_id: Id, destination_id: Id, link_type: Id, token: str = "") -> Result:
    """Remove a Gantt dependency between two tasks.

    Calls: task.dependence.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        from_id: the id of the task the link starts from (``taskIdFrom``).
        destination_id: the id of the dependent task (``taskIdTo``).
        link_type: 0 start>start, 1 start>finish, 2 finish>start, 3 finish>finish; sent as text, 0 included.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _dependency("task.dependence.delete", url, from_id, destination_id, link_type, token)


@endpoint("GetDailyPlan", "ПолучитьПланЗадачНаДень", api=["task.planner.getlist"], params=[URL, TOKEN])
def get_daily_plan(url: str, token: str = "") -> Result:
    """Get the current user's daily plan of tasks.

    Calls: task.planner.getlist (a webhook call sends no body at all)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("task.planner.getlist", url, token)


@endpoint("GetTaskFieldsStructure", "ПолучитьСтруктуруЗадачи", api=["tasks.task.getFields"], params=[URL, TOKEN])
def get_task_fields_structure(url: str, token: str = "") -> Result:
    """Get the portal's description of the task fields.

    Calls: tasks.task.getFields (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("tasks.task.getFields", url, token)


# OPI's texts as its source has them, the doubled bracket of ADD_IN_REPORT and ONLY_ROOT_TASKS included
# (measured on oint at a52335e; a script comparing oint's output gets the same bytes; COMPATIBILITY.md quirks)
_TASKS_FILTER = {
    "ID": "<task identifier>",
    "PARENT_ID": "<parent task identifier>",
    "GROUP_ID": "<workgroup identifier>",
    "CREATED_BY": "<producer>",
    "STATUS_CHANGED_BY": "<the user who last changed the task status>",
    "PRIORITY": "<priority>",
    "FORUM_TOPIC_ID": "<forum topic identifier>",
    "RESPONSIBLE_ID": "<performer>",
    "TITLE": "<task name (can be searched using the template [%_])>",
    "TAG": "<tag>",
    "REAL_STATUS": "<task status>",
    "MARK": "<mark>",
    "SITE_ID": "<site identifier>",
    "ADD_IN_REPORT": "<task in the report (Y|N))>",
    "DATE_START": "<start date>",
    "DEADLINE": "<deadline>",
    "CREATED_DATE": "<date of creation>",
    "CLOSED_DATE": "<completion date>",
    "CHANGED_DATE": "<date of last modification>",
    "ACCOMPLICE": "<co-executor identifier>",
    "AUDITOR": "<auditor identifier>",
    "DEPENDS_ON": "<previous task identifier>",
    "ONLY_ROOT_TASKS": "<only tasks that are not subtasks (Y|N))>",
    "STAGE_ID": "<stage>",
    "UF_CRM_TASK": "<CRM elements>",
    "STATUS": "<status for sorting. Similar to REAL_STATUS, but has three additional meta-statuses>",
}


@endpoint(
    "GetTasksFilterStructure",
    "ПолучитьСтруктуруФильтраЗадач",
    api=[],
    params=[("Пустая", "empty"), ("КакСоответствие", "map")],
)
def get_tasks_filter_structure(clear: Flag = False, as_map: Flag = False) -> Result:
    """Return a template of the task-list filter keys (for :func:`get_tasks_list`); sends nothing.

    Calls: nothing

    Args:
        clear: true for empty values; false for a description of each key as its value.
        as_map: accepted for OPI compatibility (OPI then returns a Map, whose keys may take filter
            operators such as ``"!ID"``); a Python dict is both, so the result is the same.
    """
    result = template(_TASKS_FILTER, clear, deep=True, name="clear")
    cv.boolean(as_map, "as_map")
    return result
