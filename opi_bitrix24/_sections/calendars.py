"""CalendarsManagement (РаботаСКалендарями): calendars."""

from __future__ import annotations

from .._table import section

endpoint = section("CalendarsManagement", "РаботаСКалендарями")
