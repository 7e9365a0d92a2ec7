"""DealsManagement (РаботаСоСделками): CRM deals."""

from __future__ import annotations

from .._table import section

endpoint = section("DealsManagement", "РаботаСоСделками")
