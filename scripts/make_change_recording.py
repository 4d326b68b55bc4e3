"""Rebuild softco/demo/change_session.jsonl, the recording `softco demo --change` replays.

The answers below were written by softco's developers, playing the model, for the real rendered change
prompts of the default SOP. This script runs the normal `softco change` path on the bundled project with
those answers scripted and records every exchange.

    python scripts/make_change_recording.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from softco.change.demo import recording, run_demo

PRD: dict[str, Any] = {
    "project_name": "statlib",
    "summary": "Add the median to statlib, next to the mean, for summaries that outliers do not skew.",
    "goals": ["Compute the median of a list of numbers"],
    "user_stories": ["As an analyst, I want the median so that outliers do not skew my summary."],
    "requirements": [
        {
            "id": "REQ-1",
            "title": "Median",
            "description": "statlib.median.median(values) returns the middle value of the sorted values; for an "
            "even count, the mean of the two middle ones; ValueError for no values",
            "priority": "P0",
            "acceptance_criteria": [
                "median([3, 1, 2]) == 2",
                "median([1, 2, 3, 4]) == 2.5",
                "median([]) raises ValueError",
                "mean and total keep working as before",
            ],
        }
    ],
    "competitive_analysis": ["statistics.median in the standard library does the same for any iterable"],
    "open_questions": ["Should median accept any iterable? Assumed: a list, like mean."],
}

DESIGN: dict[str, Any] = {
    "approach": "stats.py gains sorted_values, which checks for no values and sorts; a new module median.py "
    "computes the median from it. mean and total are unchanged.",
    "package": "statlib",
    "entry_point": "",
    "dependencies": [],
    "files": [
        {
            "path": "statlib/stats.py",
            "purpose": "Add sorted_values(values): the values sorted, ValueError for no values. mean and total "
            "keep working exactly as before.",
            "req_ids": ["REQ-1"],
            "interfaces": [
                "def sorted_values(values: list[float]) -> list[float]: The values, sorted; ValueError if none."
            ],
            "depends_on": [],
        },
        {
            "path": "statlib/median.py",
            "purpose": "median(values) from sorted_values: the middle value, or the mean of the two middle ones.",
            "req_ids": ["REQ-1"],
            "interfaces": ["def median(values: list[float]) -> float: The median; ValueError for no values."],
            "depends_on": ["statlib/stats.py"],
        },
    ],
    "class_diagram": "classDiagram\n  class stats {\n    +sorted_values(values) list\n  }\n  class median {\n"
    "    +median(values) float\n  }\n  median ..> stats",
    "sequence_diagram": "sequenceDiagram\n  Analyst->>median: median([3, 1, 2])\n  median->>stats: sorted_values\n"
    "  stats-->>median: [1, 2, 3]\n  median-->>Analyst: 2",
}

SORTED = '''<<<<<<< SEARCH
def mean(values: list[float]) -> float:
=======
def sorted_values(values: list[float]) -> list[float]:
    """The values, sorted; ValueError for no values."""
    if not values:
        raise ValueError("no values")
    return sorted(values)


def mean(values: list[float]) -> float:
>>>>>>> REPLACE
'''
#: the first answer: a SEARCH block written from memory (the file says `values`), re-asked
MISREMEMBERED = '''<<<<<<< SEARCH
def mean(numbers: list[float]) -> float:
=======
def sorted_values(values: list[float]) -> list[float]:
    """The values, sorted; ValueError for no values."""
    return sorted(values)


def mean(numbers: list[float]) -> float:
>>>>>>> REPLACE
'''
#: the second answer applies, and also "simplifies" mean, breaking the project's own test_mean
BREAKING = (
    SORTED
    + """<<<<<<< SEARCH
    if not values:
        raise ValueError("no values")
    return total(values) / len(values)
=======
    ordered = sorted_values(values)
    return total(ordered) / (len(ordered) + 1)
>>>>>>> REPLACE
"""
)
FIX = """<<<<<<< SEARCH
    return total(ordered) / (len(ordered) + 1)
=======
    return total(ordered) / len(ordered)
>>>>>>> REPLACE
"""
MEDIAN = '''"""The median of a list of numbers."""

from statlib.stats import sorted_values


def median(values: list[float]) -> float:
    """The middle value; the mean of the two middle ones for an even count; ValueError for no values."""
    ordered = sorted_values(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
'''
TESTS = """import pytest

from statlib.median import median
from statlib.stats import sorted_values


def test_median_of_an_odd_count():
    assert median([3, 1, 2]) == 2


def test_median_of_an_even_count():
    assert median([1, 2, 3, 4]) == 2.5


def test_median_of_nothing_raises():
    with pytest.raises(ValueError):
        median([])


def test_sorted_values():
    assert sorted_values([2, 1]) == [1, 2]
"""


def code(path: str, content: str, notes: str) -> dict[str, Any]:
    return {"path": path, "content": content, "req_ids": ["REQ-1"], "notes": notes}


def answers() -> dict[str, Any]:
    return {
        "product_manager/write_prd/project": PRD,
        "architect/write_design/project": DESIGN,
        "engineer/write_code/statlib/stats.py": [
            code("statlib/stats.py", MISREMEMBERED, "sorted_values"),
            code("statlib/stats.py", BREAKING, "sorted_values; mean reuses it"),
        ],
        "engineer/write_code/statlib/median.py": code("statlib/median.py", MEDIAN, "median"),
        "qa_engineer/write_tests/statlib/median.py": {
            "path": "tests/test_median.py",
            "source": "statlib/median.py",
            "content": TESTS,
            "cases": [
                {"name": "test_median_of_an_odd_count", "req_ids": ["REQ-1"]},
                {"name": "test_median_of_an_even_count", "req_ids": ["REQ-1"]},
                {"name": "test_median_of_nothing_raises", "req_ids": ["REQ-1"]},
                {"name": "test_sorted_values", "req_ids": ["REQ-1"]},
            ],
        },
        "qa_engineer/write_tests/statlib/stats.py": {
            "path": "tests/test_sorted_values.py",
            "source": "statlib/stats.py",
            "content": "import pytest\n\nfrom statlib.stats import sorted_values\n\n\n"
            "def test_sorted_values_sorts():\n    assert sorted_values([3, 1, 2]) == [1, 2, 3]\n\n\n"
            "def test_sorted_values_of_nothing_raises():\n    with pytest.raises(ValueError):\n"
            "        sorted_values([])\n",
            "cases": [
                {"name": "test_sorted_values_sorts", "req_ids": ["REQ-1"]},
                {"name": "test_sorted_values_of_nothing_raises", "req_ids": ["REQ-1"]},
            ],
        },
        "engineer/fix_code/round-1/statlib/stats.py": code("statlib/stats.py", FIX, "mean divides by the count again"),
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "answers.json"
        script.write_text(json.dumps(answers()))
        target = recording()
        target.unlink(missing_ok=True)
        code_ = run_demo(Path(tmp) / "out", Console(), llm=f"script:{script}", record=target)
    print(f"wrote {recording()} (exit {code_})")
    return code_


if __name__ == "__main__":
    sys.exit(main())
