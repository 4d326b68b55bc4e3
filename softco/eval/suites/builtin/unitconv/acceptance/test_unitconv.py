"""Hidden acceptance tests for the task `unitconv` (CLI)."""

import subprocess
import sys
from pathlib import Path

import pytest


def conv(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "unitconv", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("1", "in", "cm"), "2.5400 cm"),
        (("3", "ft", "m"), "0.9144 m"),
        (("1", "mi", "km"), "1.6093 km"),
        (("1", "km", "mi"), "0.6214 mi"),
        (("1500", "mm", "m"), "1.5000 m"),
        (("2.5", "km", "km"), "2.5000 km"),
        (("1", "yd", "in"), "36.0000 in"),
        (("100", "cm", "ft"), "3.2808 ft"),
    ],
)
def test_converts(tmp_path: Path, args: tuple[str, str, str], expected: str) -> None:
    result = conv(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("args", [("1", "parsec", "m"), ("1", "m", "furlong"), ("abc", "m", "cm")])
def test_bad_input_exits_2(tmp_path: Path, args: tuple[str, str, str]) -> None:
    result = conv(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.strip()
