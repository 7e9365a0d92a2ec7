"""CommentsAndResultsManagement (РаботаСКомментариямиИРезультатамиЗадач): task comments and results."""

from __future__ import annotations

from typing import Dict

from .. import _convert as cv
from .. import _core
from .._shared import nested, primary_action, template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Text

endpoint = section("CommentsAndResultsManagement", "РаботаСКомментариямиИРезультатамиЗадач")

TASK = ("IDЗадачи", "task")
COMMENT = ("IDКомментария", "comment")

#: GetCommentStructure's placeholders, in OPI's order (the text is OPI's own).
COMMENT_FIELDS: Dict[str, str] = {
    "AUTHOR_ID": "<comment author identifier>",
    "AUTHOR_NAME": "<Users name (optional)>",
    "AUTHOR_EMAIL": "<Users email (optional)>",
    "USE_SMILES": "<(Y|N) - parse comments for emoticons or not>",
    "POST_MESSAGE": "<Message text>",
    "UF_FORUM_MESSAGE_DOC": "<Array of files from disk to attach>",
}


@endpoint(
    "GetTaskCommentsList",
    "ПолучитьСписокКомментариевЗадачи",
    api=["task.commentitem.getlist"],
    params=[URL, TASK, TOKEN],
)
def get_task_comments_list(url: str, task_id: Id, token: str = "") -> Result:
    """List the comments of a task.

    Calls: task.commentitem.getlist

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under the camel-case ``taskId``, as OPI sends it).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("task.commentitem.getlist", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "GetTaskComment",
    "ПолучитьКомменатрийЗадачи",
    api=["task.commentitem.get"],
    params=[URL, TASK, COMMENT, TOKEN],
)
def get_task_comment(url: str, task_id: Id, comment_id: Id, token: str = "") -> Result:
    """Get one comment of a task.

    Calls: task.commentitem.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        comment_id: the comment id (sent as text under ``ITEMID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.commentitem.get",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(comment_id, "comment_id"),
    )


@endpoint(
    "AddTaskComment",
    "ДобавитьКомментарийЗадачи",
    api=["task.commentitem.add"],
    params=[URL, TASK, ("Текст", "text"), TOKEN],
)
def add_task_comment(url: str, task_id: Id, text: Text, token: str = "") -> Result:
    """Post a new comment on a task.

    Calls: task.commentitem.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        text: the comment text (``FIELDS.POST_MESSAGE``); ``FIELDS`` is left out when it is empty.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.commentitem.add",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        FIELDS=nested(POST_MESSAGE=cv.text(text, "text")),
    )


@endpoint(
    "UpdateTaskComment",
    "ИзменитьКомментарийЗадачи",
    api=["task.commentitem.update"],
    params=[URL, TASK, COMMENT, ("Текст", "text"), TOKEN],
)
def update_task_comment(url: str, task_id: Id, comment_id: Id, text: Text, token: str = "") -> Result:
    """Change the text of a task comment.

    Calls: task.commentitem.update

    An API error body (e.g. the portal refusing the change as not allowed) comes back as the result.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        comment_id: the comment id (sent as text under ``ITEMID``).
        text: the new comment text (``FIELDS.POST_MESSAGE``); ``FIELDS`` is left out when it is empty.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.commentitem.update",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(comment_id, "comment_id"),
        FIELDS=nested(POST_MESSAGE=cv.text(text, "text")),
    )


@endpoint(
    "DeleteTaskComment",
    "УдалитьКомментарийЗадачи",
    api=["task.commentitem.delete"],
    params=[URL, TASK, COMMENT, TOKEN],
)
def delete_task_comment(url: str, task_id: Id, comment_id: Id, token: str = "") -> Result:
    """Delete a task comment.

    Calls: task.commentitem.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``TASKID``).
        comment_id: the comment id (sent as text under ``ITEMID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.commentitem.delete",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(comment_id, "comment_id"),
    )


@endpoint("GetResultsList", "ПолучитьСписокРезультатов", api=["tasks.task.result.list"], params=[URL, TASK, TOKEN])
def get_results_list(url: str, task_id: Id, token: str = "") -> Result:
    """List the results recorded for a task.

    Calls: tasks.task.result.list

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (sent as text under ``taskId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("tasks.task.result.list", url, task_id, token, field="taskId", name="task_id")


@endpoint(
    "CreateResultFromComment",
    "СоздатьРезультатИзКомментария",
    api=["tasks.task.result.addFromComment"],
    params=[URL, COMMENT, TOKEN],
)
def create_result_from_comment(url: str, comment_id: Id, token: str = "") -> Result:
    """Turn a task comment into a task result.

    Calls: tasks.task.result.addFromComment

    Args:
        url: the webhook URL, or the portal address when a token is used.
        comment_id: the comment id (sent as text under ``commentId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("tasks.task.result.addFromComment", url, token, commentId=cv.text(comment_id, "comment_id"))


@endpoint(
    "DeleteResultFromComment",
    "УдалитьРезультатИзКомментария",
    api=["tasks.task.result.deleteFromComment"],
    params=[URL, COMMENT, TOKEN],
)
def delete_result_from_comment(url: str, comment_id: Id, token: str = "") -> Result:
    """Remove the task result that was created from a comment.

    Calls: tasks.task.result.deleteFromComment

    The portal answers ``result: null`` on success; the answer comes back unchanged.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        comment_id: the comment id (sent as text under ``commentId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("tasks.task.result.deleteFromComment", url, token, commentId=cv.text(comment_id, "comment_id"))


@endpoint("GetCommentStructure", "ПолучитьСтруктуруКомментария", params=[("Пустая", "empty")])
def get_comment_structure(clear: Flag = False) -> Result:
    """Get a template of the task comment fields, with descriptions or empty.

    Calls: nothing

    Args:
        clear: ``True`` for empty values; ``False`` (the default) for descriptions of each field. OPI's
            flat loop empties every value.

    Returns:
        AUTHOR_ID, AUTHOR_NAME, AUTHOR_EMAIL, USE_SMILES, POST_MESSAGE and UF_FORUM_MESSAGE_DOC, in that
        order.
    """
    return template(COMMENT_FIELDS, clear)
