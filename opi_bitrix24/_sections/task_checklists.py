"""TasksChecklistsManagement (РаботаСЧеклистамиЗадач): task checklists."""

from __future__ import annotations

from .._table import section

endpoint = section("TasksChecklistsManagement", "РаботаСЧеклистамиЗадач")
