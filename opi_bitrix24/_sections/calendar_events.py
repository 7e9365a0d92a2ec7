"""CalendarEventsManagement (РаботаССобытиямиКалендарей): calendar events."""

from __future__ import annotations

from .._table import section

endpoint = section("CalendarEventsManagement", "РаботаССобытиямиКалендарей")
