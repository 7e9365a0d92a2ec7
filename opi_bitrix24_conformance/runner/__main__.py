"""``opi-bitrix24-conformance`` / ``python -m opi_bitrix24_conformance.runner``: one command with subcommands.

    python -m opi_bitrix24_conformance.runner --impl python                     # run (the default subcommand)
    python -m opi_bitrix24_conformance.runner --argv "oint bitrix24" --impl oint --tls
    opi-bitrix24-conformance --argv "my-cli bitrix24" --impl mine --expectations ci/expected.yaml \\
        --junit-xml junit.xml --results results.jsonl            # from any directory, after pip install
    opi-bitrix24-conformance matrix results.jsonl -o MATRIX.md --html matrix.html

The runner's modules, by role: ``model`` (the case model), ``loading`` (cases, responses, adapters.yaml,
expectations files), ``judging`` (pure diff functions: a case and what happened in, the differences out),
``execution`` and ``server`` (the CLI run against the loopback replay server), ``reports`` (text, JSON lines,
JUnit, the expectations skeleton), ``options`` (the one option parser of every subcommand), ``run`` and the
other subcommands (``matrix``, ``scan``, ``recording``, ``cassettes``, ``portal``, ``cases``: the JSON twin).
"""

from __future__ import annotations

from typing import List, Optional

from .options import COMMANDS, MODULE_PROG, PROG
from .options import main as _main
from .run import EXIT_CANNOT_START, NOT_IMPLEMENTED

__all__ = ["COMMANDS", "EXIT_CANNOT_START", "NOT_IMPLEMENTED", "SUBCOMMANDS", "main", "run"]

#: the subcommands besides ``run`` (the default)
SUBCOMMANDS = {name: text for name, (_, text) in COMMANDS.items() if name != "run"}


def main(argv: Optional[List[str]] = None, prog: str = MODULE_PROG) -> int:
    return _main(argv, prog)


def run() -> None:
    """Console-script entry point (``opi-bitrix24-conformance``)."""
    raise SystemExit(_main(prog=PROG))


if __name__ == "__main__":
    raise SystemExit(main())
