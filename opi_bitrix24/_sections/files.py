"""FileManagement (РаботаСФайлами): disk files."""

from __future__ import annotations

from .._table import section

endpoint = section("FileManagement", "РаботаСФайлами")
