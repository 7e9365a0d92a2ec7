"""TasksManagement (РаботаСЗадачами): tasks."""

from __future__ import annotations

from .._table import section

endpoint = section("TasksManagement", "РаботаСЗадачами")
