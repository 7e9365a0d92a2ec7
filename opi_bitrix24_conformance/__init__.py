"""The opi-bitrix24 conformance suite: language-neutral cases for implementations of OPI's Bitrix24 module.

Import name and folder: ``opi_bitrix24_conformance`` (not ``conformance``, an unrelated project's name on the
package index). Installed with ``pip install "opi-bitrix24[conformance]"``; run with ``opi-bitrix24-conformance``
or ``python -m opi_bitrix24_conformance.runner`` from any directory. See README.md in this folder.
"""

from pathlib import Path

#: The suite's folder (cases, responses, fixtures, adapters, expectations, schema, catalog).
SUITE = Path(__file__).resolve().parent
__version__ = (SUITE / "VERSION").read_text(encoding="utf-8").strip()
