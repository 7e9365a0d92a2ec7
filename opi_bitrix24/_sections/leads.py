"""LeadsManagement (РаботаСЛидами): CRM leads."""

from __future__ import annotations

from .._table import section

endpoint = section("LeadsManagement", "РаботаСЛидами")
