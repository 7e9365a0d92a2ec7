"""CommentsAndResultsManagement (РаботаСКомментариямиИРезультатамиЗадач): task comments and results."""

from __future__ import annotations

from .._table import section

endpoint = section("CommentsAndResultsManagement", "РаботаСКомментариямиИРезультатамиЗадач")
