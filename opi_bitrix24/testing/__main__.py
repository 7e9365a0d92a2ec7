"""``python -m opi_bitrix24.testing``: run the simulated portal until interrupted (see ``--help``)."""

from ._cli import run

run()
