"""QA's tests for logstats, written from the PRD (REQ-1 counts per level, REQ-2 malformed lines, REQ-3 a
missing file)."""

import subprocess
import sys
from pathlib import Path


def run(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "app.log"
    log.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "logstats", str(log)], capture_output=True, text=True, timeout=60)


def test_req1_counts_per_level_most_frequent_first(tmp_path: Path) -> None:
    text = "2024-01-01 10:00:00 INFO started\n2024-01-01 10:00:01 ERROR failed\n2024-01-01 10:00:02 INFO done\n"
    result = run(tmp_path, text)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["INFO 2", "ERROR 1", "total 3"]


def test_req2_malformed_lines_are_skipped(tmp_path: Path) -> None:
    result = run(tmp_path, "2024-01-01 10:00:00 WARNING low disk\nnot a log line\n")
    assert result.stdout.splitlines() == ["WARNING 1", "total 1"]
    assert "skipped 1" in result.stderr


def test_req3_missing_file(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "logstats", str(tmp_path / "none.log")], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
