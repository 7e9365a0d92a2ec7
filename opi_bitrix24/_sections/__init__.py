"""Endpoint functions, one module per OPI region (section), imported in OPI module order."""

from __future__ import annotations

import importlib

__all__ = ["MODULES", "load"]

#: Section modules in OPI_Bitrix24's region order.
MODULES = (
    "settings",
    "feed_posts",
    "tasks",
    "custom_task_fields",
    "task_checklists",
    "task_comments",
    "kanban",
    "timekeeping",
    "storages",
    "catalogs",
    "files",
    "chats",
    "messages",
    "notifications",
    "departments",
    "users",
    "leads",
    "deals",
    "calendars",
    "calendar_events",
)


def load() -> None:
    """Import every section module so that all endpoints are registered."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
