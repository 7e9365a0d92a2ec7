"""The benchmark scripts work: a tiny configuration of each (their figures come from the full runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bulk_benchmark_smoke() -> None:
    out = run("bulk.py")
    lines = out.splitlines()
    assert lines[0] == "| job | measured | baseline (same run) | ratio | target |"
    assert [line[:4] for line in lines[2:6]] == ["| a.", "| b.", "| c.", "| m."]
    head = lines.index("| run | wall s | requests | 503 | 429 | rows | lost | duplicated |")
    runs = [line.split(" | ") for line in lines[head + 2 :]]
    assert [cells[0][:4] for cells in runs] == ["| a.", "| a.", "| b.", "| c."]
    # 503, 429, lost, duplicated
    assert all([cells[3], cells[4], cells[6], cells[7]] == ["0", "0", "0", "0 |"] for cells in runs), runs


def test_peers_benchmark_smoke() -> None:
    out = run("peers.py")
    ours = [line.split(" | ") for line in out.splitlines() if " | opi_bitrix24 | " in line]
    assert len(ours) == 3
    assert all(cells[-1] == "ok |" and cells[-3:-1] == ["0", "0"] for cells in ours), ours
    for peer in ("fast_bitrix24", "b24pysdk"):
        assert f" | {peer} | " in out or f"{peer}: skipped, not installed" in out


def test_async_benchmark_smoke() -> None:
    out = run("async_bench.py")
    lines = out.splitlines()
    assert lines[0].startswith("| measure | opi_bitrix24 blocking | ")
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in lines[2:] if line.startswith("| ")}
    assert list(rows)[:2] == ["per call, wall", "per call, CPU"]
    job = "4 portals x 300 rows"
    import opi_bitrix24

    ours = 2 if hasattr(opi_bitrix24, "AsyncPortal") else 1  # the async column whenever AsyncPortal exists
    assert ("| opi_bitrix24 async |" in lines[0]) == (ours == 2), lines[0]
    for name in ("503 answers", "429 answers", "rows lost", "rows duplicated"):
        assert rows[f"{job}: {name}"][:ours] == ["0"] * ours, (name, rows[f"{job}: {name}"])
    assert rows[f"{job}: requests"][0] == "4"  # one batch request per portal: 300 rows are one chained batch
    if ours == 1:
        assert "opi_bitrix24 async: skipped, opi_bitrix24.AsyncPortal is not in this version" in out
