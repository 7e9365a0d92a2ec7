"""NotificationsManagement (РаботаСУведомлениями): notifications."""

from __future__ import annotations

from .._table import section

endpoint = section("NotificationsManagement", "РаботаСУведомлениями")
