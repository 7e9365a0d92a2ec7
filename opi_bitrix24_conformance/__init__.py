"""The opi-bitrix24 conformance suite: language-neutral cases for implementations of OPI's Bitrix24 module.

The suite itself (cases, responses, fixtures, schema, expectations, catalog, SPEC.md) is data in the repository's
``conformance/`` folder; this package, ``opi_bitrix24_conformance`` (not ``conformance``, an unrelated project's name
on the package index), is its Python runner. A wheel carries a copy of that folder as ``opi_bitrix24_conformance/suite``
(setup.py's build step). Installed with ``pip install "opi-bitrix24[conformance]"``; run with
``opi-bitrix24-conformance`` or ``python -m opi_bitrix24_conformance.runner`` from any directory. See
conformance/README.md.
"""

from pathlib import Path

__all__ = ["SUITE", "__version__", "suite_folder"]

_HERE = Path(__file__).resolve().parent


def suite_folder() -> Path:
    """The suite's data folder: the copy an installed wheel carries (``opi_bitrix24_conformance/suite/``), else the
    repository's ``conformance/`` beside this package (a clone, an editable install)."""
    packaged = _HERE / "suite"
    if (packaged / "VERSION").is_file():
        return packaged
    return _HERE.parent / "conformance"


#: The suite's folder (cases, responses, fixtures, adapters, expectations, schema, catalog): ``suite_folder()``.
SUITE = suite_folder()
__version__ = (SUITE / "VERSION").read_text(encoding="utf-8").strip()
