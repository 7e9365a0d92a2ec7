"""A limit-enforcing Bitrix24 portal on loopback, for your own tests, benchmarks and offline demos.

    from opi_bitrix24.testing import SimPortal
    import opi_bitrix24 as b24

    with SimPortal(records=5_000) as portal:                  # 127.0.0.1, a free port, in memory
        deals = list(b24.iterate(portal.webhook, "crm.deal.list"))
        assert len(deals) == 5_000 and portal.stats["503"] == 0

Or from a shell (prints the webhook URL, serves until Ctrl+C): ``python -m opi_bitrix24.testing --records 5000``.

The portal answers like a cloud portal and binds like one: the request bucket (``503
QUERY_LIMIT_EXCEEDED``), list methods 50 rows a page (``start``/``next``/``total``, ``start=-1``, filters,
``order`` by ID, ``select``), ``batch`` with its 50-command cap, PHP-encoded commands and ``$result``
references, server time per command and per row, per-method operating time (``429
OPERATION_TIME_LIMIT``, the ``time`` block's ``operating`` / ``operating_reset_at``), a time scale, and
OAuth with expiring access tokens and rotating refresh tokens. Methods: ``crm.deal.list/get/add/update``,
``crm.lead.list/get/add/update``, ``tasks.task.list``, ``profile``, ``server.time``, ``batch``; deals carry
generated, realistic fields (see :func:`deal`).

:class:`SimFleet` serves many such portals (each on its own port: its own origin and bucket) from one
thread, for a client that talks to hundreds of portals at once.

This module is not imported by ``import opi_bitrix24``.
"""

from ._fleet import SimFleet
from ._portal import PAGE, WEBHOOK_KEY, SimPortal, parse_str, start
from ._records import Records, deal, lead, task

__all__ = ["PAGE", "WEBHOOK_KEY", "Records", "SimFleet", "SimPortal", "deal", "lead", "parse_str", "start", "task"]
