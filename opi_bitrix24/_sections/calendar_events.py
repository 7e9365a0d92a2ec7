"""CalendarEventsManagement (РаботаССобытиямиКалендарей): calendar events and participation."""

from __future__ import annotations

from typing import Any, Dict

from .. import _convert as cv
from .. import _core
from .._shared import primary_action, template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Structure
from .calendars import OWNER, TYPE, flattened

endpoint = section("CalendarEventsManagement", "РаботаССобытиямиКалендарей")

EVENT = ("IDСобытия", "event")
DESCRIPTION = ("ОписаниеСобытия", "fields")


@endpoint(
    "CreateCalendarEvent", "СоздатьСобытиеКалендаря", api=["calendar.event.add"], params=[URL, DESCRIPTION, TOKEN]
)
def create_calendar_event(url: str, event_description: Structure, token: str = "") -> Result:
    """Create a calendar event from an event description.

    Calls: calendar.event.add

    Every key of the description is sent at the top level of the request exactly as given; nested
    ``rrule``, ``remind`` and ``meeting`` stay nested (OPI copies them without conversion).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        event_description: ``type``, ``ownerId``, ``from``, ``to``, ``section``, ``name``... (see
            :func:`get_calendar_events_structure`) as a dict, JSON object text (single quotes accepted) or
            a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return flattened("calendar.event.add", url, token, event_description, "event_description")


@endpoint(
    "UpdateCalendarEvent",
    "ИзменитьСобытиеКалендаря",
    api=["calendar.event.update"],
    params=[URL, EVENT, DESCRIPTION, TOKEN],
)
def update_calendar_event(url: str, event_id: Id, event_description: Structure, token: str = "") -> Result:
    """Change a calendar event.

    Calls: calendar.event.update

    The id goes first, as text under ``id``; then every key of the description follows at the top
    level, unchanged.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        event_id: the event id.
        event_description: the fields to change (see :func:`get_calendar_events_structure`): a dict, JSON
            object text or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return flattened(
        "calendar.event.update",
        url,
        token,
        event_description,
        "event_description",
        id=cv.text(event_id, "event_id"),
    )


@endpoint("GetCalendarEvent", "ПолучитьСобытиеКалендаря", api=["calendar.event.getbyid"], params=[URL, EVENT, TOKEN])
def get_calendar_event(url: str, event_id: Id, token: str = "") -> Result:
    """Get one calendar event by id.

    Calls: calendar.event.getbyid

    Args:
        url: the webhook URL, or the portal address when a token is used.
        event_id: the event id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("calendar.event.getbyid", url, event_id, token, field="id", name="event_id")


def _events_filter(filter: Any) -> Dict[str, Any]:
    """OPI's GetCalendarEvents filter: only ``section`` (as a list), ``from`` and ``to`` (as ``YYYY-MM-DD``),
    in the filter's own order; any other key is dropped."""
    parsed = cv.key_value(filter, "filter")
    picked: Dict[str, Any] = {}
    for key, value in ({} if parsed is cv.SKIP else parsed).items():
        name = str(key)
        if name == "section":
            picked[name] = cv.array(value, "filter")
        elif name in ("from", "to"):
            picked[name] = cv.date_only(value, "filter")
    return picked


@endpoint(
    "GetCalendarEvents",
    "ПолучитьСобытияКалендарей",
    api=["calendar.event.get"],
    params=[URL, OWNER, TYPE, ("Фильтр", "filter"), TOKEN],
)
def get_calendar_events(url: str, owner_id: Id, type: str, filter: Structure = "", token: str = "") -> Result:
    """List the events of an owner's calendars, optionally for a period and some calendars only.

    Calls: calendar.event.get

    As in OPI, only three filter keys are used: ``from`` and ``to`` (a ``date``/``datetime`` or ISO 8601
    text, sent as ``YYYY-MM-DD``) and ``section`` (one calendar id or a list, sent as a list). Any other
    key is silently dropped. Without dates the portal takes 3 months back and forward.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        owner_id: the owner's id, sent as text under ``ownerId``.
        type: the owner type: ``user``, ``group`` or ``company_calendar``.
        filter: the filter as a dict, JSON object text or a path to a .json file; see
            :func:`get_calendar_events_filter_structure`.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    fields: Dict[str, Any] = {"type": cv.text(type, "type"), "ownerId": cv.text(owner_id, "owner_id")}
    fields.update(_events_filter(filter))
    return _core.post_fields("calendar.event.get", url, token, fields)


@endpoint(
    "DeleteCalendarEvent",
    "УдалитьСобытиеКалендаря",
    api=["calendar.event.delete"],
    params=[URL, EVENT, TOKEN],
)
def delete_calendar_event(url: str, event_id: Id, token: str = "") -> Result:
    """Delete a calendar event.

    Calls: calendar.event.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        event_id: the event id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("calendar.event.delete", url, event_id, token, field="id", name="event_id")


@endpoint(
    "GetUserParticipationStatus",
    "ПолучитьСтатусУчастияПользователя",
    api=["calendar.meeting.status.get"],
    params=[URL, EVENT, TOKEN],
)
def get_user_participation_status(url: str, event_id: Id, token: str = "") -> Result:
    """Get the current user's participation status in an event (``Y``, ``N``, ``Q`` or ``H`` for the host).

    Calls: calendar.meeting.status.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        event_id: the event id (sent as text under ``eventId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("calendar.meeting.status.get", url, event_id, token, field="eventId", name="event_id")


@endpoint(
    "SetUserParticipationStatus",
    "УстановитьСтатусУчастияПользователя",
    api=["calendar.meeting.status.set"],
    params=[URL, EVENT, ("Статус", "status"), TOKEN],
)
def set_user_participation_status(url: str, event_id: Id, status: str, token: str = "") -> Result:
    """Set the current user's participation status in an event.

    Calls: calendar.meeting.status.set

    Args:
        url: the webhook URL, or the portal address when a token is used.
        event_id: the event id (sent as text under ``eventId``).
        status: ``Y`` (accepted), ``N`` (declined) or ``Q`` (no answer yet).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "calendar.meeting.status.set",
        url,
        token,
        eventId=cv.text(event_id, "event_id"),
        status=cv.text(status, "status"),
    )


_EVENT = {
    "type": "<calendar type: user, group, company_calendar>",
    "ownerId": "<calendar owner identifier>",
    "from": "<event start date and time (as string)>",
    "to": "<event end date (as string)>",
    "from_ts": "<date and time in timestamp format (instead of from)>",
    "to_ts": "<date and time in timestamp format (instead of to)>",
    "section": "<calendar identifier>",
    "name": "<event name>",
    "skip_time": "<pass date value without time in from and to parameters: Y,N>",
    "timezone_from": "<start time zone (default - t.z. of the user)>",
    "timezone_to": "<end time zone (default - t.z. of the user)>",
    "description": "<event description>",
    "color": "<event background colour. Symbol # - in unicode format as %23>",
    "text_color": "<the colour of the event text. Symbol # - in unicode format as %23>",
    "accessibility": "<availability at the time of the event: busy, absent, quest, free>",
    "importance": "<importance: high, normal, low>",
    "private_event": "<private event: Y,N>",
    "rrule": {
        "FREQ": "<repetition rate: DAILY, WEEKLY, MONTHLY, YEARLY>",
        "COUNT": "<number of repetitions>",
        "INTERVAL": "<repetition interval>",
        "BYDAY": ["<days of the week: SU, MO, TU, WE, TH, FR, SA>"],
        "UNTIL": "<repetition end date>",
    },
    "is_meeting": "<flag of meeting with participants: Y,N>",
    "location": "<venue>",
    "remind": [{"type": "<time type: min, hour, day>", "count": "<numeric value of the time interval>"}],
    "attendees": "<array of event participant IDs. If is_meeting = Y>",
    "host": "<The identifier of the event organiser. If is_meeting = Y>",
    "meeting": {
        "notify": "<flag for notification of confirmation or cancellation of participants>",
        "reinvite": "<flag for requesting re-confirmation of participation when editing an event>",
        "allow_invite": "<flag to allow participants to invite others to the event>",
        "hide_guests": "<flag to hide the list of participants>",
    },
}


@endpoint("GetCalendarEventsStructure", "ПолучитьСтруктуруСобытияКалендаря", params=[("Пустая", "empty")])
def get_calendar_events_structure(clear: Flag = False) -> Result:
    """Return a template of the event fields (for :func:`create_calendar_event` / :func:`update_calendar_event`).

    Calls: nothing

    Args:
        clear: true for empty values (``rrule``, ``remind`` and ``meeting`` are kept, their leaves emptied);
            false for a description of each field as its value.
    """
    return template(_EVENT, clear, deep=True, name="clear")


_EVENTS_FILTER = {
    "from": "<selection start date. 3 months before the current default>",
    "to": "<selection end date. 3 months after the current default>",
    "section": "<array of calendar identifiers>",
}


@endpoint(
    "GetCalendarEventsFilterStructure",
    "ПолучитьСтруктуруФильтраСобытийКалендарей",
    params=[("Пустая", "empty")],
)
def get_calendar_events_filter_structure(clear: Flag = False) -> Result:
    """Return a template of the :func:`get_calendar_events` filter; sends nothing.

    Calls: nothing

    Args:
        clear: true for empty values; false for a description of each key as its value.
    """
    return template(_EVENTS_FILTER, clear, deep=True, name="clear")
