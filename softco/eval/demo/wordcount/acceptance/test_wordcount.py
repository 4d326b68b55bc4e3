"""Hidden acceptance tests of the demo task `wordcount` (never shown to a role)."""

import subprocess
import sys


def run(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "wordcount", *args], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )


def test_counts_a_small_file(tmp_path):
    (tmp_path / "a.txt").write_text("one two\nthree\n", encoding="utf-8")
    res = run(tmp_path, "a.txt")
    assert res.returncode == 0
    assert res.stdout == "2 3 14\n"


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_text("", encoding="utf-8")
    res = run(tmp_path, "e.txt")
    assert res.returncode == 0
    assert res.stdout == "0 0 0\n"


def test_characters_not_bytes(tmp_path):
    (tmp_path / "u.txt").write_text("héllo wörld\n", encoding="utf-8")
    res = run(tmp_path, "u.txt")
    assert res.stdout == "1 2 12\n"


def test_missing_file_exits_2(tmp_path):
    res = run(tmp_path, "nope.txt")
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.strip()
