"""Hidden acceptance tests for the task `rpncalc` (CLI)."""

import subprocess
import sys
from pathlib import Path

import pytest


def calc(cwd: Path, expr: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rpncalc", expr], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("3 4 + 2 *", "14"),
        ("5 1 2 + 4 * + 3 -", "14"),
        ("10 3 -", "7"),
        ("12 4 /", "3"),
        ("7 2 /", "3.5"),
        ("1 3 /", "0.333333"),
        ("2 3 -", "-1"),
        ("-2 3 *", "-6"),
        ("0.5 0.25 +", "0.75"),
        ("2.5 2 *", "5"),
        ("42", "42"),
    ],
)
def test_evaluates(tmp_path: Path, expr: str, expected: str) -> None:
    result = calc(tmp_path, expr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("expr", ["1 0 /", "1 x +", "1 +", "1 2", "+"])
def test_errors_exit_2(tmp_path: Path, expr: str) -> None:
    result = calc(tmp_path, expr)
    assert result.returncode == 2
    assert result.stderr.strip()
