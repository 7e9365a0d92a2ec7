"""CalendarsManagement (РаботаСКалендарями): calendars (sections) and calendar settings."""

from __future__ import annotations

from typing import Any, Dict

from .. import _convert as cv
from .. import _core
from .._shared import template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, IdList, Moment, Result, Structure

endpoint = section("CalendarsManagement", "РаботаСКалендарями")

OWNER = ("IDВладельца", "owner")
TYPE = ("Тип", "type")
CALENDAR = ("IDКалендаря", "calendar")
FIELDS = ("СтруктураПолей", "fields")


def flattened(api_method: str, url: Any, token: Any, structure: Any, name: str, **first: Any) -> Result:
    """OPI's calendar flattening: ``first`` (filled values only), then every key of ``structure`` at the
    top level of the request, unchanged and unskipped; a later key of the same name wins.

    ``structure`` must be an object (OPI's KeyAndValue conversion): a list is an
    :class:`~opi_bitrix24.InvalidArgument` naming ``name``; an empty one adds no keys.
    """
    fields = cv.key_value(structure, name)
    body: Dict[str, Any] = {key: value for key, value in first.items() if value is not cv.SKIP}
    if fields is not cv.SKIP:
        body.update(fields)
    return _core.post_fields(api_method, url, token, body)


@endpoint("GetCalendarList", "ПолучитьСписокКалендарей", api=["calendar.section.get"], params=[URL, OWNER, TYPE, TOKEN])
def get_calendar_list(url: str, owner_id: Id, type: str, token: str = "") -> Result:
    """List the calendars (sections) of an owner.

    Calls: calendar.section.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        owner_id: the owner's id (a user or a workgroup), sent as text under ``ownerId``.
        type: the owner type: ``user``, ``group``, ``company_calendar``, ``location``...
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "calendar.section.get",
        url,
        token,
        type=cv.text(type, "type"),
        ownerId=cv.text(owner_id, "owner_id"),
    )


@endpoint("CreateCalendar", "СоздатьКалендарь", api=["calendar.section.add"], params=[URL, FIELDS, TOKEN])
def create_calendar(url: str, fields_structure: Structure, token: str = "") -> Result:
    """Create a calendar (section) from a structure of calendar fields.

    Calls: calendar.section.add

    Every key of the structure is sent at the top level of the request exactly as given (OPI copies
    them without its usual conversions, empty values included).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        fields_structure: ``type``, ``ownerId``, ``name``, ``description``, ``color``, ``text_color``,
            ``export`` (see :func:`get_calendar_structure`) as a dict, JSON object text (single quotes
            accepted) or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return flattened("calendar.section.add", url, token, fields_structure, "fields_structure")


@endpoint(
    "UpdateCalendar",
    "ИзменитьКалендарь",
    api=["calendar.section.update"],
    params=[URL, CALENDAR, FIELDS, TOKEN],
)
def update_calendar(url: str, calendar_id: Id, fields_structure: Structure, token: str = "") -> Result:
    """Change the settings of a calendar (section).

    Calls: calendar.section.update

    The id goes first, as text under ``id``; then every key of the structure follows at the top level,
    unchanged (an ``id`` key in the structure replaces the id).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        calendar_id: the calendar (section) id.
        fields_structure: the calendar fields to change (see :func:`get_calendar_structure`): a dict, JSON
            object text or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return flattened(
        "calendar.section.update",
        url,
        token,
        fields_structure,
        "fields_structure",
        id=cv.text(calendar_id, "calendar_id"),
    )


@endpoint(
    "DeleteCalendar",
    "УдалитьКалендарь",
    api=["calendar.section.delete"],
    params=[URL, CALENDAR, OWNER, TYPE, TOKEN],
)
def delete_calendar(url: str, calendar_id: Id, owner_id: Id, type: str, token: str = "") -> Result:
    """Delete a calendar (section).

    Calls: calendar.section.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        calendar_id: the calendar (section) id, sent as text under ``id``.
        owner_id: the owner's id, sent as text under ``ownerId``.
        type: the owner type: ``user`` or ``group``.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "calendar.section.delete",
        url,
        token,
        type=cv.text(type, "type"),
        ownerId=cv.text(owner_id, "owner_id"),
        id=cv.text(calendar_id, "calendar_id"),
    )


@endpoint(
    "GetUserBusy",
    "ПолучитьЗанятостьПользователей",
    api=["calendar.accessibility.get"],
    params=[URL, ("Пользователи", "users"), ("ДатаНачала", "from"), ("ДатаОкончания", "to"), TOKEN],
)
def get_user_busy(url: str, users: IdList, start_date: Moment, end_date: Moment, token: str = "") -> Result:
    """Get the users' busy intervals (their events) between two dates.

    Calls: calendar.accessibility.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        users: one user id or a list (a single id is sent as a one-item list).
        start_date: the first day: a ``date``/``datetime`` or ISO 8601 text; sent as ``YYYY-MM-DD``.
        end_date: the last day, the same way.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post_fields(
        "calendar.accessibility.get",
        url,
        token,
        {
            "users": cv.array(users, "users"),
            "from": cv.date_only(start_date, "start_date"),
            "to": cv.date_only(end_date, "end_date"),
        },
    )


@endpoint(
    "GetCustomCalendarSettings",
    "ПолучитьПользовательскиеНастройкиКалендаря",
    api=["calendar.user.settings.get"],
    params=[URL, TOKEN],
)
def get_custom_calendar_settings(url: str, token: str = "") -> Result:
    """Get the current user's own calendar settings.

    Calls: calendar.user.settings.get (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("calendar.user.settings.get", url, token)


@endpoint(
    "SetCustomCalendarSettings",
    "УстановитьПользовательскиеНастройкиКалендаря",
    api=["calendar.user.settings.set"],
    params=[URL, ("СтруктураНастроек", "settings"), TOKEN],
)
def set_custom_calendar_settings(url: str, settings_structure: Structure, token: str = "") -> Result:
    """Save new calendar settings for the current user.

    Calls: calendar.user.settings.set

    Args:
        url: the webhook URL, or the portal address when a token is used.
        settings_structure: the settings (see :func:`get_calednar_custom_settings_structure`) as a dict, JSON
            text or a path to a .json file; sent unchanged under ``settings``.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "calendar.user.settings.set",
        url,
        token,
        settings=cv.collection(settings_structure, "settings_structure"),
    )


@endpoint(
    "GetCalendarSettingsStructure",
    "ПолучитьСтруктуруНастроекКалендаря",
    api=["calendar.settings.get"],
    params=[URL, TOKEN],
)
def get_calendar_settings_structure(url: str, token: str = "") -> Result:
    """Get the portal's general calendar settings (work time, holidays, paths...).

    Calls: calendar.settings.get (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("calendar.settings.get", url, token)


_REMINDER = {"type": "<reminder time type: min, hour, day>", "count": "<numeric value of the time interval>"}

_CUSTOM_SETTINGS = {
    "view": "<standard presentation: day, week, month, list>",
    "meetSection": "<invitation calendar>",
    "crmSection": "<calendar for CRM>",
    "showDeclined": "<show rejected events>",
    "denyBusyInvitation": "<disallow invitations to an event if the time is full>",
    "collapseOffHours": "<hide off hours: Y,N>",
    "showWeekNumbers": "<show week number: Y,N>",
    "showTasks": "<display tasks: Y,N>",
    "syncTasks": "<synchronise the task calendar: Y,N>",
    "showCompletedTasks": "<display completed tasks: Y,N>",
    "lastUsedSection": "<default event calendar>",
    "sendFromEmail": "<E-mail for sending invitations>",
    "defaultSections": "<preset calendar settings>",
    "syncPeriodPast": "<number of months to synchronise in the past period>",
    "syncPeriodFuture": "<number of months to synchronise in the future period>",
    "defaultReminders": {"fullDay": [_REMINDER], "withTime": [_REMINDER]},
}


@endpoint(
    "GetCalednarCustomSettingsStructure",
    "ПолучитьСтруктуруПользовательскихНастроекКаледнаря",
    params=[("Пустая", "empty")],
)
def get_calednar_custom_settings_structure(clear: Flag = False) -> Result:
    """Return a template of the user calendar settings (for :func:`set_custom_calendar_settings`).

    Calls: nothing

    The name keeps OPI's typo ("Calednar"), which is part of its public API.

    Args:
        clear: true for empty values (nested reminders are kept, their leaves emptied); false for a
            description of each setting as its value.
    """
    return template(_CUSTOM_SETTINGS, clear, deep=True, name="clear")


_CALENDAR = {
    "type": "<calendar type: user, group)>",
    "ownerId": "<owner identifier>",
    "name": "<calendars name>",
    "description": "<calendar description>",
    "color": "<calendar color>",
    "text_color": "<calendar text color>",
    "export": {
        "ALLOW": "<calendar export permission (bool)>",
        "SET": "<export period: all, 3_9 (example: 3 months before and 9 after)>",
    },
}


@endpoint("GetCalendarStructure", "ПолучитьСтруктуруКалендаря", params=[("Пустая", "empty")])
def get_calendar_structure(clear: Flag = False) -> Result:
    """Return a template of the calendar fields (for :func:`create_calendar` / :func:`update_calendar`).

    Calls: nothing

    Args:
        clear: true for empty values (``export`` is kept, its leaves emptied); false for a description of
            each field as its value.
    """
    return template(_CALENDAR, clear, deep=True, name="clear")
