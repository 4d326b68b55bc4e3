"""Hidden acceptance tests for the task `caesar` (CLI)."""

import subprocess
import sys
from pathlib import Path


def cipher(cwd: Path, mode: str, shift: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caesar", mode, shift], cwd=cwd, input=text, capture_output=True, text=True,
        encoding="utf-8", timeout=60,
    )  # fmt: skip


def out(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


def test_encode(tmp_path: Path) -> None:
    assert out(cipher(tmp_path, "encode", "3", "Hello, World!\n")) == "Khoor, Zruog!"


def test_decode(tmp_path: Path) -> None:
    assert out(cipher(tmp_path, "decode", "3", "Khoor, Zruog!\n")) == "Hello, World!"


def test_wraps_keeping_case(tmp_path: Path) -> None:
    assert out(cipher(tmp_path, "encode", "3", "xyz XYZ wXy")) == "abc ABC zAb"


def test_large_shift(tmp_path: Path) -> None:
    assert out(cipher(tmp_path, "encode", "29", "abc")) == "def"
    assert out(cipher(tmp_path, "encode", "52", "Same")) == "Same"


def test_negative_shift(tmp_path: Path) -> None:
    assert out(cipher(tmp_path, "encode", "-1", "abc")) == "zab"


def test_other_characters_unchanged(tmp_path: Path) -> None:
    assert out(cipher(tmp_path, "encode", "5", "123 !?-_ é")) == "123 !?-_ é"


def test_round_trip_multiline(tmp_path: Path) -> None:
    text = "The quick brown fox\njumps over the lazy dog.\n"
    encoded = out(cipher(tmp_path, "encode", "11", text))
    assert encoded != text.rstrip("\n")
    assert out(cipher(tmp_path, "decode", "11", encoded + "\n")) == text.rstrip("\n")


def test_bad_shift(tmp_path: Path) -> None:
    result = cipher(tmp_path, "encode", "three", "abc")
    assert result.returncode == 2
    assert result.stderr.strip()
