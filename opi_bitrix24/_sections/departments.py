"""DepartmentsManagement (УправлениеПодразделениями): departments."""

from __future__ import annotations

from .._table import section

endpoint = section("DepartmentsManagement", "УправлениеПодразделениями")
