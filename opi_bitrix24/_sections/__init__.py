"""Endpoint functions, one module per OPI region (section), imported in OPI module order."""

from __future__ import annotations

import importlib

__all__ = ["MODULES", "load"]

#: Section modules in OPI_Bitrix24's region order.
MODULES = (
    "settings",
    "tasks",
    "custom_task_fields",
    "chats",
    "messages",
    "notifications",
)


def load() -> None:
    """Import every section module so that all endpoints are registered."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
