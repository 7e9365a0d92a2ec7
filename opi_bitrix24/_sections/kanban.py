"""Kanban (Канбан): task kanban stages."""

from __future__ import annotations

from .._table import section

endpoint = section("Kanban", "Канбан")
