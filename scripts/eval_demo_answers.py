"""The answers behind `softco eval --demo`'s two recordings (softco/eval/demo/*/recording.jsonl).

Written by softco's developers playing the model for the default SOP. `wordcount` is correct.
`tempconv` carries a planted bug: converting Fahrenheit straight to Kelvin adds 273 instead of
273.15. QA's tests (written from the PRD, like a model's) check C<->F and C->K but not F->K, so the
run ends green; the hidden acceptance test `test_fahrenheit_to_kelvin` catches it.
"""

from __future__ import annotations

from typing import Any


def _code(path: str, content: str, req_ids: list[str], notes: str) -> dict[str, Any]:
    return {"path": path, "content": content, "req_ids": req_ids, "notes": notes}


WORDCOUNT_CORE = '''"""Counting lines, words and characters of a text."""


def count(text: str) -> tuple[int, int, int]:
    """(lines, words, characters) of ``text``; characters are Unicode characters."""
    return len(text.splitlines()), len(text.split()), len(text)
'''

WORDCOUNT_MAIN = '''"""python -m wordcount FILE: print LINES WORDS CHARS."""

import sys

from wordcount.core import count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m wordcount FILE", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        print(f"wordcount: {args[0]}: {exc.strerror}", file=sys.stderr)
        return 2
    lines, words, chars = count(text)
    print(f"{lines} {words} {chars}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

WORDCOUNT_TESTS = """import subprocess
import sys

from wordcount.core import count


def test_count_lines_words_chars():
    assert count("one two\\nthree\\n") == (2, 3, 14)


def test_count_unicode_characters():
    assert count("héllo") == (1, 1, 5)


def test_cli_missing_file(tmp_path):
    res = subprocess.run([sys.executable, "-m", "wordcount", str(tmp_path / "nope")], capture_output=True, text=True)
    assert res.returncode == 2
"""

WORDCOUNT: dict[str, Any] = {
    "product_manager/write_prd/project": {
        "project_name": "wordcount",
        "summary": "A command-line tool that prints a file's line, word and character counts.",
        "goals": ["Count lines, words and characters of a file"],
        "user_stories": ["As a user, I want a file's counts so that I can size a text quickly."],
        "requirements": [
            {
                "id": "REQ-1",
                "title": "Counts",
                "description": "python -m wordcount FILE prints LINES WORDS CHARS separated by single spaces",
                "priority": "P0",
                "acceptance_criteria": ["'one two\\nthree\\n' gives '2 3 14'", "characters are not bytes"],
            },
            {
                "id": "REQ-2",
                "title": "Missing file",
                "description": "A missing FILE prints an error on stderr and exits 2",
                "priority": "P0",
                "acceptance_criteria": ["exit code 2 for a missing file"],
            },
        ],
        "competitive_analysis": [],
        "open_questions": [],
    },
    "architect/write_design/project": {
        "approach": "A pure counting function and a thin __main__ module.",
        "package": "wordcount",
        "entry_point": "wordcount.__main__:main",
        "dependencies": [],
        "files": [
            {
                "path": "wordcount/__init__.py",
                "purpose": "Package marker",
                "req_ids": [],
                "interfaces": [],
                "depends_on": [],
            },
            {
                "path": "wordcount/core.py",
                "purpose": "count(text) -> (lines, words, characters)",
                "req_ids": ["REQ-1"],
                "interfaces": ["def count(text: str) -> tuple[int, int, int]: Lines, words and characters."],
                "depends_on": [],
            },
            {
                "path": "wordcount/__main__.py",
                "purpose": "The command line: read FILE, print the counts; exit 2 if it cannot be read",
                "req_ids": ["REQ-1", "REQ-2"],
                "interfaces": ["def main(argv: list[str] | None = None) -> int: Run the command."],
                "depends_on": ["wordcount/core.py"],
            },
        ],
        "class_diagram": "classDiagram\n  class core",
        "sequence_diagram": "sequenceDiagram\n  User->>main: FILE\n  main->>core: count(text)",
    },
    "engineer/write_code/wordcount/__init__.py": _code("wordcount/__init__.py", '"""wordcount."""\n', [], "marker"),
    "engineer/write_code/wordcount/core.py": _code("wordcount/core.py", WORDCOUNT_CORE, ["REQ-1"], "count"),
    "engineer/write_code/wordcount/__main__.py": _code(
        "wordcount/__main__.py", WORDCOUNT_MAIN, ["REQ-1", "REQ-2"], "the command line"
    ),
    "qa_engineer/write_tests/wordcount/core.py": {
        "path": "tests/test_core.py",
        "source": "wordcount/core.py",
        "content": WORDCOUNT_TESTS.split("\n\n\ndef test_cli_missing_file")[0] + "\n",
        "cases": [
            {"name": "test_count_lines_words_chars", "req_ids": ["REQ-1"]},
            {"name": "test_count_unicode_characters", "req_ids": ["REQ-1"]},
        ],
    },
    "qa_engineer/write_tests/wordcount/__main__.py": {
        "path": "tests/test_main.py",
        "source": "wordcount/__main__.py",
        "content": "import subprocess\nimport sys\n\n\ndef test_cli_missing_file(tmp_path):\n"
        '    res = subprocess.run([sys.executable, "-m", "wordcount", str(tmp_path / "nope")], '
        "capture_output=True, text=True)\n    assert res.returncode == 2\n",
        "cases": [{"name": "test_cli_missing_file", "req_ids": ["REQ-2"]}],
    },
}

TEMPCONV_CODE = '''"""Temperature conversion between Celsius, Fahrenheit and Kelvin."""

UNITS = ("C", "F", "K")


def _to_celsius(value: float, unit: str) -> float:
    if unit == "C":
        return value
    if unit == "F":
        return (value - 32) * 5 / 9
    return value - 273.15


def _from_celsius(value: float, unit: str) -> float:
    if unit == "C":
        return value
    if unit == "F":
        return value * 9 / 5 + 32
    return value + 273.15


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``; ValueError for another unit or below 0 K."""
    if from_unit not in UNITS or to_unit not in UNITS:
        raise ValueError(f"unknown unit: {from_unit!r} or {to_unit!r}; use C, F or K")
    celsius = _to_celsius(value, from_unit)
    if celsius < -273.15:
        raise ValueError("below absolute zero")
    if from_unit == "F" and to_unit == "K":  # shortcut
        return (value - 32) * 5 / 9 + 273
    return _from_celsius(celsius, to_unit)
'''

TEMPCONV_TESTS = """import pytest

from tempconv.core import convert


def test_c_to_f():
    assert convert(100, "C", "F") == pytest.approx(212)


def test_f_to_c():
    assert convert(32, "F", "C") == pytest.approx(0)


def test_c_to_k():
    assert convert(0, "C", "K") == pytest.approx(273.15)


def test_unknown_unit():
    with pytest.raises(ValueError):
        convert(1, "C", "R")


def test_below_absolute_zero():
    with pytest.raises(ValueError):
        convert(-300, "C", "K")
"""

TEMPCONV: dict[str, Any] = {
    "product_manager/write_prd/project": {
        "project_name": "tempconv",
        "summary": "A library converting temperatures between Celsius, Fahrenheit and Kelvin.",
        "goals": ["Convert temperatures between C, F and K"],
        "user_stories": ["As a developer, I want one convert function so that I need not remember formulas."],
        "requirements": [
            {
                "id": "REQ-1",
                "title": "Convert",
                "description": "convert(value, from_unit, to_unit) converts between 'C', 'F' and 'K'",
                "priority": "P0",
                "acceptance_criteria": ["convert(100, 'C', 'F') == 212", "convert(0, 'C', 'K') == 273.15"],
            },
            {
                "id": "REQ-2",
                "title": "Bad input",
                "description": "ValueError for another unit, and for a temperature below absolute zero",
                "priority": "P0",
                "acceptance_criteria": ["convert(1, 'C', 'R') raises ValueError", "below 0 K raises ValueError"],
            },
        ],
        "competitive_analysis": [],
        "open_questions": [],
    },
    "architect/write_design/project": {
        "approach": "Convert through Celsius in one module of pure functions.",
        "package": "tempconv",
        "entry_point": "",
        "dependencies": [],
        "files": [
            {
                "path": "tempconv/__init__.py",
                "purpose": "Exports convert",
                "req_ids": [],
                "interfaces": ["from tempconv.core import convert"],
                "depends_on": ["tempconv/core.py"],
            },
            {
                "path": "tempconv/core.py",
                "purpose": "convert(value, from_unit, to_unit) through Celsius; ValueError for bad units or below 0 K",
                "req_ids": ["REQ-1", "REQ-2"],
                "interfaces": ["def convert(value: float, from_unit: str, to_unit: str) -> float: Convert."],
                "depends_on": [],
            },
        ],
        "class_diagram": "classDiagram\n  class core",
        "sequence_diagram": "sequenceDiagram\n  User->>core: convert(100, 'C', 'F')",
    },
    "engineer/write_code/tempconv/__init__.py": _code(
        "tempconv/__init__.py", 'from tempconv.core import convert\n\n__all__ = ["convert"]\n', [], "exports"
    ),
    "engineer/write_code/tempconv/core.py": _code("tempconv/core.py", TEMPCONV_CODE, ["REQ-1", "REQ-2"], "convert"),
    "qa_engineer/write_tests/tempconv/core.py": {
        "path": "tests/test_core.py",
        "source": "tempconv/core.py",
        "content": TEMPCONV_TESTS,
        "cases": [
            {"name": "test_c_to_f", "req_ids": ["REQ-1"]},
            {"name": "test_f_to_c", "req_ids": ["REQ-1"]},
            {"name": "test_c_to_k", "req_ids": ["REQ-1"]},
            {"name": "test_unknown_unit", "req_ids": ["REQ-2"]},
            {"name": "test_below_absolute_zero", "req_ids": ["REQ-2"]},
        ],
    },
}

ANSWERS = {"wordcount": WORDCOUNT, "tempconv": TEMPCONV}
