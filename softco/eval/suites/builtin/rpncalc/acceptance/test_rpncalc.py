"""Hidden acceptance tests for the task `rpncalc` (CLI)."""

import subprocess
import sys
from pathlib import Path


def calc(cwd: Path, expr: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rpncalc", expr], cwd=cwd, capture_output=True, text=True, timeout=60)


def check(tmp_path: Path, cases: dict[str, str]) -> None:
    for expr, expected in cases.items():
        result = calc(tmp_path, expr)
        assert (result.returncode, result.stdout.strip()) == (0, expected), (expr, result.stderr)


def test_example(tmp_path: Path) -> None:
    check(tmp_path, {"3 4 + 2 *": "14", "5 1 2 + 4 * + 3 -": "14", "42": "42"})


def test_operand_order(tmp_path: Path) -> None:
    check(tmp_path, {"10 3 -": "7", "12 4 /": "3", "2 3 -": "-1"})


def test_non_whole_results(tmp_path: Path) -> None:
    check(tmp_path, {"7 2 /": "3.5", "1 3 /": "0.333333", "0.5 0.25 +": "0.75"})


def test_whole_results_print_as_integers(tmp_path: Path) -> None:
    check(tmp_path, {"2.5 2 *": "5", "-2 3 *": "-6"})


def fails(tmp_path: Path, expr: str) -> None:
    result = calc(tmp_path, expr)
    assert result.returncode == 2, expr
    assert result.stderr.strip()


def test_division_by_zero(tmp_path: Path) -> None:
    fails(tmp_path, "1 0 /")


def test_bad_token(tmp_path: Path) -> None:
    fails(tmp_path, "1 x +")


def test_too_few_operands(tmp_path: Path) -> None:
    fails(tmp_path, "1 +")
    fails(tmp_path, "+")


def test_values_left_over(tmp_path: Path) -> None:
    fails(tmp_path, "1 2")
