"""Hidden acceptance tests for the task `unitconv` (CLI)."""

import subprocess
import sys
from pathlib import Path


def conv(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "unitconv", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)


def check(tmp_path: Path, args: str, expected: str) -> None:
    result = conv(tmp_path, *args.split())
    assert (result.returncode, result.stdout.strip()) == (0, expected), (args, result.stderr)


def test_example(tmp_path: Path) -> None:
    check(tmp_path, "1 in cm", "2.5400 cm")


def test_metric(tmp_path: Path) -> None:
    check(tmp_path, "1500 mm m", "1.5000 m")
    check(tmp_path, "2.5 km km", "2.5000 km")


def test_imperial(tmp_path: Path) -> None:
    check(tmp_path, "1 yd in", "36.0000 in")


def test_imperial_to_metric(tmp_path: Path) -> None:
    check(tmp_path, "3 ft m", "0.9144 m")
    check(tmp_path, "1 mi km", "1.6093 km")


def test_metric_to_imperial(tmp_path: Path) -> None:
    check(tmp_path, "1 km mi", "0.6214 mi")
    check(tmp_path, "100 cm ft", "3.2808 ft")


def test_unknown_unit_exits_2(tmp_path: Path) -> None:
    for args in (("1", "parsec", "m"), ("1", "m", "furlong")):
        result = conv(tmp_path, *args)
        assert result.returncode == 2, args
        assert result.stderr.strip()


def test_bad_value_exits_2(tmp_path: Path) -> None:
    result = conv(tmp_path, "abc", "m", "cm")
    assert result.returncode == 2
    assert result.stderr.strip()
