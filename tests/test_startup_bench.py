"""benchmarks/startup.py keeps working: one small size, one run, a near-instant simulated model.

Only that it runs and reports is asserted: its figures are speeds, the benchmark's to print and judge
(it exits 1 on a missed target), never a test's to assert.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "startup.py"


def test_the_startup_benchmark_runs_and_reports_its_targets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    env["TMPDIR"] = str(tmp_path)  # its projects go under pytest's temporary directory
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "4", "--runs", "1", "--latency", "0.01"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: a target missed, which is a speed
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| 4 |"))
    assert row.split("|")[2].strip() == "9"  # PRD, design, 4 files, 3 test files
    assert "the first I/O of the last run: " in proc.stdout
    verdicts = [line[:4] for line in proc.stdout.splitlines() if "start-up of softco new" in line or "own time" in line]
    assert len(verdicts) == 2 and set(verdicts) <= {"PASS", "MISS"}
    assert (proc.returncode == 0) == (verdicts == ["PASS", "PASS"])
    assert list(tmp_path.iterdir()) == []  # it cleans up after itself
