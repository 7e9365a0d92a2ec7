"""CustomsTasksFieldsManagement (РаботаСПользовательскимиПолямиЗадач): custom task fields."""

from __future__ import annotations

from .._table import section

endpoint = section("CustomsTasksFieldsManagement", "РаботаСПользовательскимиПолямиЗадач")
