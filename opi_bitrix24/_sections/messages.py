"""MessageManagement (РаботаССообщениями): messenger messages."""

from __future__ import annotations

from .._table import section

endpoint = section("MessageManagement", "РаботаССообщениями")
