"""Hidden acceptance tests for the task `wordfreq` (CLI)."""

import subprocess
import sys
from pathlib import Path

PKG = "wordfreq"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", PKG, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "input.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.rstrip() for line in result.stdout.splitlines() if line.strip()]


def test_counts_most_frequent_first(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "b a b c b a"))
    assert result.returncode == 0
    assert lines(result) == ["b 3", "a 2", "c 1"]


def test_case_insensitive_and_printed_lowercase(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "Apple APPLE apple Pear"))
    assert lines(result) == ["apple 3", "pear 1"]


def test_ties_in_alphabetical_order(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "zeta alpha mid zeta alpha mid"))
    assert lines(result) == ["alpha 2", "mid 2", "zeta 2"]


def test_default_limit_is_ten(tmp_path: Path) -> None:
    text = " ".join("q" + chr(ord("a") + i) for i in range(12))  # twelve distinct words, each once
    result = run(tmp_path, write(tmp_path, text))
    assert result.returncode == 0
    assert len(lines(result)) == 10


def test_n_option_limits_output(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "a a a b b c d"), "-n", "2")
    assert lines(result) == ["a 3", "b 2"]


def test_n_larger_than_vocabulary(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "x y x"), "-n", "50")
    assert lines(result) == ["x 2", "y 1"]


def test_non_letters_separate_words(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, "don't stop123stop, e-mail!"))
    assert lines(result) == ["stop 2", "don 1", "e 1", "mail 1", "t 1"]


def test_empty_file_prints_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, write(tmp_path, ""))
    assert result.returncode == 0
    assert lines(result) == []


def test_missing_file_exits_1(tmp_path: Path) -> None:
    result = run(tmp_path, str(tmp_path / "nope.txt"))
    assert result.returncode == 1
    assert result.stderr.strip()
