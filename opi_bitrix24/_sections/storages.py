"""StoragesManagement (РаботаСХранилищами): disk storages."""

from __future__ import annotations

from .._table import section

endpoint = section("StoragesManagement", "РаботаСХранилищами")
