"""CatalogsManagement (РаботаСКаталогами): disk folders."""

from __future__ import annotations

from .._table import section

endpoint = section("CatalogsManagement", "РаботаСКаталогами")
