"""Hidden acceptance tests for the task `csv2json` (CLI)."""

import json
import subprocess
import sys
from pathlib import Path


def convert(tmp_path: Path, csv_text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    src = tmp_path / "in.csv"
    src.write_text(csv_text, encoding="utf-8", newline="")
    dest = tmp_path / "out.json"
    args = [sys.executable, "-m", "csv2json", str(src), str(dest)]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return result, dest


def load(dest: Path) -> object:
    return json.loads(dest.read_text(encoding="utf-8"))


def test_rows_become_objects(tmp_path: Path) -> None:
    result, dest = convert(tmp_path, "name,city\nann,Oslo\nbob,Rome\n")
    assert result.returncode == 0, result.stderr
    assert load(dest) == [{"name": "ann", "city": "Oslo"}, {"name": "bob", "city": "Rome"}]


def test_prints_row_count(tmp_path: Path) -> None:
    result, _ = convert(tmp_path, "a,b\n1,2\n3,4\n5,6\n")
    assert result.stdout.strip() == "3 rows"


def test_integers_become_numbers(tmp_path: Path) -> None:
    _, dest = convert(tmp_path, "n,m\n42,-7\n")
    assert load(dest) == [{"n": 42, "m": -7}]


def test_other_values_stay_strings(tmp_path: Path) -> None:
    _, dest = convert(tmp_path, "a,b,c\n3.5,abc,12a\n")
    assert load(dest) == [{"a": "3.5", "b": "abc", "c": "12a"}]


def test_empty_value_is_null(tmp_path: Path) -> None:
    _, dest = convert(tmp_path, "a,b\n,x\n")
    assert load(dest) == [{"a": None, "b": "x"}]


def test_quoted_fields(tmp_path: Path) -> None:
    _, dest = convert(tmp_path, 'who,said\n"Smith, J","say ""hi"""\n')
    assert load(dest) == [{"who": "Smith, J", "said": 'say "hi"'}]


def test_unicode_kept(tmp_path: Path) -> None:
    _, dest = convert(tmp_path, "drink\ncafé\n")
    assert load(dest) == [{"drink": "café"}]


def test_header_only(tmp_path: Path) -> None:
    result, dest = convert(tmp_path, "a,b\n")
    assert result.returncode == 0
    assert load(dest) == []
    assert result.stdout.strip() == "0 rows"


def test_ragged_row_fails_without_output(tmp_path: Path) -> None:
    result, dest = convert(tmp_path, "a,b\n1,2\n3\n")
    assert result.returncode == 1
    assert result.stderr.strip()
    assert not dest.exists()


def test_long_row_fails_too(tmp_path: Path) -> None:
    result, dest = convert(tmp_path, "a,b\n1,2,3\n")
    assert result.returncode == 1
    assert not dest.exists()
