"""The one option parser of ``opi-bitrix24-conformance`` (``python -m opi_bitrix24_conformance.runner``): every
subcommand's options are declared here, with the options all of them share, and the program names in every
``--help`` are the command's (``opi-bitrix24-conformance matrix``). ``run`` is the default subcommand and may be
left out. Each subcommand's module is imported only when it runs (``record`` needs vcrpy, ``--tls`` trustme) and
does its work in ``execute(args)``; ``python -m opi_bitrix24_conformance.runner.<module>`` is the same command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .model import POLICIES
from .opiformat import FORMATS

__all__ = ["COMMANDS", "MODULE_PROG", "PROG", "main", "parse", "parser"]

#: The console script's name, and the same command through the interpreter.
PROG = "opi-bitrix24-conformance"
MODULE_PROG = "python -m opi_bitrix24_conformance.runner"

#: subcommand: (the module that runs it, what it does)
COMMANDS: Dict[str, Tuple[str, str]] = {
    "run": ("run", "run the cases against a CLI (the default subcommand: it may be left out)"),
    "matrix": ("matrix", "merge JSON results into the compatibility matrix (Markdown, HTML)"),
    "scan": ("scan", "scan files for secrets and personal data"),
    "record": ("recording", "record a call against your own portal into a scrubbed cassette"),
    "cassettes": ("cassettes", "write (or --check) the vcrpy cassettes from the cases"),
    "portal": ("portal", "serve the sample portal (or run one CLI call against it: --demo)"),
    "twin": ("cases", "write (or --check) the JSON twin cases.json"),
}


def _version(prog: str) -> str:
    from .loading import package_version, suite_version

    return f"{prog}: conformance suite {suite_version()} (package opi-bitrix24 {package_version()})"


def _run(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--impl", default="python", help="implementation name (adapters.yaml, expectations/<impl>.yaml, reports)"
    )
    p.add_argument("--argv", help="argv prefix of the CLI under test, e.g. 'oint bitrix24' (overrides adapters.yaml)")
    p.add_argument(
        "--expectations",
        type=Path,
        help="expected failures, YAML or JSON {xfail: [{id, reason}]} (default: the suite's expectations/<impl>.yaml)",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA (trusted via REQUESTS_CA_BUNDLE/SSL_CERT_FILE)",
    )
    p.add_argument(
        "--output",
        choices=FORMATS,
        help="the format the CLI writes its result in: json, or opi (OPI's writer format: single quotes, CRLF, "
        "one-space indent) (default: the expectations file's, adapters.yaml's, json)",
    )
    p.add_argument(
        "--tags",
        action="append",
        default=[],
        help="only tests carrying one of these tags (comma-separated; repeat to require each group), "
        "e.g. --tags opi: only the cases that pin OPI's own behaviour",
    )
    p.add_argument("--run", action="append", default=[], help="only tests whose id matches this glob")
    p.add_argument("--skip", action="append", default=[], help="skip tests whose id matches this glob")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    p.add_argument("--json", action="store_true", help="JSON lines only: one per test, then a summary record")
    p.add_argument("--results", type=Path, help="also write the JSON lines to this file (for the matrix)")
    p.add_argument("--junit-xml", type=Path, help="write a JUnit XML report to this file")
    p.add_argument("--quiet", "-q", action="store_true", help="text mode: do not print a line per passing test")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="tests run at once (default: the CPUs); more than the CPUs helps a CLI that mostly waits (a slow "
        "start, a runtime's JIT): each job is a process of the CLI and a thread of the runner",
    )
    p.add_argument(
        "--process-per-case",
        action="store_true",
        help="start the CLI once per case even where adapters.yaml offers a persistent adapter",
    )
    p.add_argument(
        "--script",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write an expectations skeleton for the failures to FILE (not_implemented functions, then xfail "
        "entries grouped per function); without FILE, print it after the report",
    )
    p.add_argument(
        "--xpass",
        choices=("fail", "report"),
        help="an expected failure that passes: fail the run (default) or only report it (default: the "
        "expectations file's xpass, else fail)",
    )
    p.add_argument(
        "--policy",
        choices=POLICIES,
        help="transport policy the implementation follows (default: the expectations file's, adapters.yaml's, opi)",
    )


def _matrix(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", type=Path, help="JSON lines written by the runner (--results/--json)")
    p.add_argument("-o", "--output", type=Path, default=Path("COMPATIBILITY-MATRIX.md"), help="Markdown file")
    p.add_argument("--html", type=Path, help="also write a self-contained HTML page")


def _scan(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="files or folders to scan")
    p.add_argument("--allow", action="append", default=[], metavar="REGEX", help="allow values matching it")
    p.add_argument("--allowlist", action="append", default=[], metavar="FILE", help="file of REGEX lines")


def _record(p: argparse.ArgumentParser) -> None:
    p.add_argument("method", help="OPI method name, e.g. GetUsers; the options after it are the call's")
    p.add_argument("-o", "--output", required=True, help="cassette file to write")
    p.add_argument("--dry-run", action="store_true", help="print the scrubbed cassette instead of writing it")
    p.add_argument(
        "--keep-personal",
        action="store_true",
        help="keep names, e-mails and phones (for a private repository); secrets are scrubbed all the same",
    )


def _check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="exit 1 if a generated file is missing, stale or orphaned")


def _portal(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8024)
    p.add_argument("--demo", nargs=argparse.REMAINDER, help="run `opi-bitrix24 <Method> ...` once against it")


OPTIONS: Dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "run": _run,
    "matrix": _matrix,
    "scan": _scan,
    "record": _record,
    "cassettes": _check,
    "portal": _portal,
    "twin": _check,
}
#: subcommands whose unknown options are passed on (``record GetUsers --users 1``: the call's own)
PASS_ON = {"record"}


def parser(prog: str = PROG) -> Tuple[argparse.ArgumentParser, Dict[str, argparse.ArgumentParser]]:
    """The command's parser and each subcommand's (whose ``prog`` is ``<command> <subcommand>``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--version", action="version", version=_version(prog), help="print both versions and exit")
    top = argparse.ArgumentParser(
        prog=prog,
        description="The opi-bitrix24 conformance suite: runs its cases against any CLI implementation of OPI's "
        "Bitrix24 module, and the tools around them.",
        epilog=f"`{prog} --impl python` is `{prog} run --impl python`. Each subcommand has its own --help.",
        parents=[common],
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", title="subcommands")
    subparsers = {}
    for name, (_, text) in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".", parents=[common])
        OPTIONS[name](sub)
        subparsers[name] = sub
    return top, subparsers


def parse(argv: Sequence[str], prog: str = PROG) -> argparse.Namespace:
    """The parsed options of one command line (``run`` inserted where no subcommand is named)."""
    given = list(argv)
    if not given or (given[0] not in COMMANDS and given[0] not in ("-h", "--help", "--version")):
        given.insert(0, "run")
    top, subparsers = parser(prog)
    args, rest = top.parse_known_args(given)
    sub = subparsers[args.command]
    if rest and args.command not in PASS_ON:
        sub.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    args.prog = sub.prog
    args.usage_error = sub.error
    return args


def main(argv: Optional[List[str]] = None, prog: str = MODULE_PROG) -> int:
    """Run one command line; returns the exit status."""
    args = parse(sys.argv[1:] if argv is None else argv, prog)
    module = importlib.import_module(f"{__package__}.{COMMANDS[args.command][0]}")
    return int(module.execute(args) or 0)


def module_main(command: str, argv: Optional[List[str]] = None) -> int:
    """``python -m opi_bitrix24_conformance.runner.<module>``: the same as the command's subcommand."""
    return main([command, *(sys.argv[1:] if argv is None else argv)], MODULE_PROG)
