"""Hidden acceptance tests for the task `logstats` (CLI)."""

import subprocess
import sys
from pathlib import Path


def stats(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "app.log"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "logstats", str(log)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def out(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [line.rstrip() for line in result.stdout.splitlines() if line.strip()]


def line(level: str, message: str = "something happened") -> str:
    return f"2024-03-01 12:30:05 {level} {message}"


def test_counts_most_frequent_first(tmp_path: Path) -> None:
    lines = [line("INFO"), line("ERROR"), line("INFO"), line("DEBUG"), line("INFO"), line("ERROR")]
    assert out(stats(tmp_path, lines)) == ["INFO 3", "ERROR 2", "DEBUG 1", "total 6"]


def test_ties_by_level_name(tmp_path: Path) -> None:
    lines = [line("WARNING"), line("INFO"), line("ERROR"), line("DEBUG")]
    assert out(stats(tmp_path, lines)) == ["DEBUG 1", "ERROR 1", "INFO 1", "WARNING 1", "total 4"]


def test_skipped_lines_reported_on_stderr(tmp_path: Path) -> None:
    lines = [line("INFO"), "garbage", line("FATAL"), line("info"), "2024-03-01 INFO no time"]
    result = stats(tmp_path, lines)
    assert out(result) == ["INFO 1", "total 1"]
    assert "skipped 4" in result.stderr


def test_nothing_skipped_says_nothing(tmp_path: Path) -> None:
    result = stats(tmp_path, [line("ERROR")])
    assert out(result) == ["ERROR 1", "total 1"]
    assert "skipped" not in result.stderr


def test_message_may_contain_anything(tmp_path: Path) -> None:
    lines = [line("WARNING", "disk 91% full: ERROR soon"), line("WARNING", "[x] INFO = 3")]
    assert out(stats(tmp_path, lines)) == ["WARNING 2", "total 2"]


def test_empty_file(tmp_path: Path) -> None:
    assert out(stats(tmp_path, [])) == ["total 0"]


def test_missing_file(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "logstats", str(tmp_path / "none.log")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip()
