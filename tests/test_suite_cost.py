"""benchmarks/suite_cost.py (issue 23 item 5) runs and prints its ratio against the baseline it measures in the
same run; the figure itself is the benchmark's, quoted in the suite's README, never asserted here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_cost_benchmark_prints_both_sides_and_the_overhead_ratio() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/suite_cost.py", "--cases", "3", "--rounds", "1", "--run", "bitrix24/GetUsers/*"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        f"3 case runs of {sys.executable} -m opi_bitrix24 (3 cases of bitrix24/GetUsers/*, 1 rounds)"
    )
    assert re.fullmatch(r"  CLI alone: \d+\.\d\d s \(\d+ ms a case\)", lines[1])
    assert re.fullmatch(r"  runner: {4}\d+\.\d\d s \(\d+ ms a case\)", lines[2])
    assert re.fullmatch(
        r"  runner overhead: -?\d+\.\d\dx the CLI's own cost \(median of 1 pairs of 10 cases; "
        r"totals: -?\d+\.\d\dx; target: within 1\.25x\)",
        lines[3],
    )


def test_the_readme_names_the_command_and_its_figure() -> None:
    readme = (ROOT / "conformance" / "README.md").read_text(encoding="utf-8")
    assert "`python benchmarks/suite_cost.py`" in readme
    assert re.search(r"overhead -?\d+\.\d\dx", readme)


def test_the_cost_benchmark_compares_jobs_for_a_cli_that_waits() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/suite_cost.py", "--slow", "0.05", "--cases", "2", "--run", "bitrix24/GetUsers/*"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"2 cases of a CLI that waits 0\.05 s a call, \d+ CPUs:", lines[0])
    assert re.fullmatch(r"  --jobs 1: \d+\.\d\d s; --jobs \d+: \d+\.\d\d s \(\d+\.\dx faster\)", lines[1])
