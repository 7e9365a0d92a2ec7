"""Timekeeping (УчетРабочегоВремени): time tracking and the work day."""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._shared import nested
from .._table import TOKEN, URL, section
from .._types import Id, Moment, Result, Text

endpoint = section("Timekeeping", "УчетРабочегоВремени")

TASK = ("IDЗадачи", "task")
RECORD = ("IDЗаписи", "record")
USER = ("IDПользователя", "userid")


@endpoint(
    "AddTaskTimeAccounting",
    "ДобавитьТрудозатратыЗадачи",
    api=["task.elapseditem.add"],
    params=[
        URL,
        TASK,
        ("Время", "amount"),
        ("IDПользователя", "user"),
        ("Текст", "text"),
        ("ДатаУстановки", "date"),
        TOKEN,
    ],
)
def add_task_time_accounting(
    url: str,
    task_id: Id,
    time: Text,
    user_id: Id = "",
    text: Text = "",
    setup_date: Moment = "",
    token: str = "",
) -> Result:
    """Record time spent on a task.

    Calls: task.elapseditem.add

    The record goes under ``ARFIELDS`` (``SECONDS``, ``COMMENT_TEXT``, ``USER_ID``, ``CREATED_DATE``);
    empty values are left out.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (``TASKID``, as text).
        time: the time spent, in seconds (``SECONDS``, as text).
        user_id: whose time it is (``USER_ID``); empty for the current user.
        text: a comment (``COMMENT_TEXT``).
        setup_date: when the time was spent: a ``datetime``/``date`` or ISO 8601 text, sent as
            ``YYYY-MM-DDTHH:MM:SS`` with no zone (the wall-clock time as given).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    record = nested(
        SECONDS=cv.text(time, "time"),
        COMMENT_TEXT=cv.text(text, "text"),
        USER_ID=cv.text(user_id, "user_id"),
        CREATED_DATE=cv.date_iso(setup_date, "setup_date"),
    )
    return _core.post("task.elapseditem.add", url, token, TASKID=cv.text(task_id, "task_id"), ARFIELDS=record)


@endpoint(
    "DeleteTaskTimeAccounting",
    "УдалитьТрудозатратыЗадачи",
    api=["task.elapseditem.delete"],
    params=[URL, TASK, RECORD, TOKEN],
)
def delete_task_time_accounting(url: str, task_id: Id, record_id: Id, token: str = "") -> Result:
    """Delete a time-spent record of a task.

    Calls: task.elapseditem.delete

    The portal answers ``result: null`` on success; the answer is returned unchanged.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (``TASKID``, as text).
        record_id: the record id (``ITEMID``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.elapseditem.delete",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(record_id, "record_id"),
    )


@endpoint(
    "GetTaskTimeAccountingList",
    "ПолучитьСписокТрудозатратЗадачи",
    api=["task.elapseditem.getlist"],
    params=[URL, TASK, TOKEN],
)
def get_task_time_accounting_list(url: str, task_id: Id, token: str = "") -> Result:
    """List the time-spent records of a task.

    Calls: task.elapseditem.getlist

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (``TASKID``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("task.elapseditem.getlist", url, token, TASKID=cv.text(task_id, "task_id"))


@endpoint(
    "GetTaskTimeAccounting",
    "ПолучитьТрудозатратыЗадачи",
    api=["task.elapseditem.get"],
    params=[URL, TASK, RECORD, TOKEN],
)
def get_task_time_accounting(url: str, task_id: Id, record_id: Id, token: str = "") -> Result:
    """Get one time-spent record of a task.

    Calls: task.elapseditem.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (``TASKID``, as text).
        record_id: the record id (``ITEMID``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "task.elapseditem.get",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(record_id, "record_id"),
    )


@endpoint(
    "UpdateTaskTimeAccounting",
    "ИзменитьТрудозатратыЗадачи",
    api=["task.elapseditem.update"],
    params=[URL, TASK, RECORD, ("Время", "amount"), ("Текст", "text"), ("ДатаУстановки", "date"), TOKEN],
)
def update_task_time_accounting(
    url: str,
    task_id: Id,
    record_id: Id,
    time: Text,
    text: Text = "",
    setup_date: Moment = "",
    token: str = "",
) -> Result:
    """Change a time-spent record of a task.

    Calls: task.elapseditem.update

    The changes go under ``ARFIELDS`` (``SECONDS``, ``COMMENT_TEXT``, ``CREATED_DATE``; no user here), which
    is left out when nothing is filled. The portal answers ``result: null`` on success; the answer is
    returned unchanged.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        task_id: the task id (``TASKID``, as text).
        record_id: the record id (``ITEMID``, as text).
        time: the time spent, in seconds (``SECONDS``, as text).
        text: a new comment (``COMMENT_TEXT``).
        setup_date: a new date: a ``datetime``/``date`` or ISO 8601 text, sent as ``YYYY-MM-DDTHH:MM:SS``
            with no zone.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    record = nested(
        SECONDS=cv.text(time, "time"),
        COMMENT_TEXT=cv.text(text, "text"),
        CREATED_DATE=cv.date_iso(setup_date, "setup_date"),
    )
    return _core.post(
        "task.elapseditem.update",
        url,
        token,
        TASKID=cv.text(task_id, "task_id"),
        ITEMID=cv.text(record_id, "record_id"),
        ARFIELDS=record,
    )


def _workday(api_method: str, url: Any, user_id: Any, time: Any, report: Any, token: Any) -> Result:
    return _core.post(
        api_method,
        url,
        token,
        USER_ID=cv.text(user_id, "user_id"),
        TIME=cv.date_isoz(time, "time"),
        REPORT=cv.text(report, "report"),
    )


_WORKDAY_PARAMS = [URL, USER, ("Время", "time"), ("Отчет", "report"), TOKEN]


@endpoint("StartTimekeeping", "НачатьУчетВремени", api=["timeman.open"], params=_WORKDAY_PARAMS)
def start_timekeeping(url: str, user_id: Id = "", time: Moment = "", report: Text = "", token: str = "") -> Result:
    """Open (start) a user's work day.

    Calls: timeman.open

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user (``USER_ID``, as text); empty for the current user.
        time: the start time (today's date): a ``datetime`` or ISO 8601 text, sent as
            ``YYYY-MM-DDTHH:MM:SSZ`` — the wall-clock time as given with a literal ``Z`` appended, not
            converted to UTC (as OPI does). Empty for now.
        report: the reason for a changed time (``REPORT``); the portal wants it with a time unless the
            schedule is free.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _workday("timeman.open", url, user_id, time, report, token)


@endpoint("StopTimekeeping", "ЗавершитьУчетВремени", api=["timeman.close"], params=_WORKDAY_PARAMS)
def stop_timekeeping(url: str, user_id: Id = "", time: Moment = "", report: Text = "", token: str = "") -> Result:
    """Close (end) a user's work day.

    Calls: timeman.close

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user (``USER_ID``, as text); empty for the current user.
        time: the end time (today's date): a ``datetime`` or ISO 8601 text, sent as
            ``YYYY-MM-DDTHH:MM:SSZ`` — the wall-clock time as given with a literal ``Z`` appended, not
            converted to UTC (as OPI does). Empty for now.
        report: the reason for a changed time (``REPORT``); the portal wants it with a time unless the
            schedule is free.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _workday("timeman.close", url, user_id, time, report, token)


@endpoint("PauseTimekeeping", "ПриостановитьУчетВремени", api=["timeman.pause"], params=[URL, USER, TOKEN])
def pause_timekeeping(url: str, user_id: Id = "", token: str = "") -> Result:
    """Pause a user's work day.

    Calls: timeman.pause

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user (``USER_ID``, as text); empty for the current user.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("timeman.pause", url, token, USER_ID=cv.text(user_id, "user_id"))


@endpoint("GetTimekeepingStatus", "ПолучитьСтатусУчетаВремени", api=["timeman.status"], params=[URL, USER, TOKEN])
def get_timekeeping_status(url: str, user_id: Id = "", token: str = "") -> Result:
    """Get the state of a user's work day (opened, paused, closed).

    Calls: timeman.status

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user (``USER_ID``, as text); empty for the current user.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("timeman.status", url, token, USER_ID=cv.text(user_id, "user_id"))


@endpoint(
    "GetTimekeepingSettings",
    "ПолучитьНастройкиУчетаВремени",
    api=["timeman.settings"],
    params=[URL, USER, TOKEN],
)
def get_timekeeping_settings(url: str, user_id: Id = "", token: str = "") -> Result:
    """Get a user's time-tracking settings (schedule limits, free schedule, admin rights).

    Calls: timeman.settings

    Args:
        url: the webhook URL, or the portal address when a token is used.
        user_id: the user (``USER_ID``, as text); empty for the current user.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("timeman.settings", url, token, USER_ID=cv.text(user_id, "user_id"))
