"""The limit-enforcing loopback portal, now the public module :mod:`opi_bitrix24.testing` (kept for imports)."""

from opi_bitrix24.testing import PAGE, WEBHOOK_KEY, Records, SimPortal, parse_str, start

__all__ = ["PAGE", "WEBHOOK_KEY", "Records", "SimPortal", "parse_str", "start"]
