"""A small project softco did not generate, with its own tests, and the scripted answers of a change to it: the
one source of the answers of `softco demo --change`'s recording (scripts/make_change_recording.py) and of the tests'.

The answers were written by softco's developers, playing the model, for the real rendered change prompts of the
default SOP."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from softco.change.demo import REQUIREMENT as REQUIREMENT  # the change the tests ask for
from softco.change.demo import SAMPLE

# the bundled project of `softco demo --change`, with a shorter README
FILES = {**SAMPLE, "README.md": "# statlib\n"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=U", "-c", "user.email=u@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def make_repo(root: Path) -> Path:
    """The user's repo: committed on main, then a dirty file, a staged file and an untracked one."""
    repo = root / "statlib-repo"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "statlib")
    (repo / "README.md").write_text("# statlib\n\nwork in progress\n")  # dirty
    (repo / "notes.txt").write_text("untracked notes\n")  # untracked
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")  # staged
    return repo


def snapshot(repo: Path) -> dict[str, str]:
    """Every file of the working tree (byte hashes), the index, HEAD and every ref but softco's."""
    out: dict[str, str] = {}
    for p in sorted(repo.rglob("*")):
        rel = p.relative_to(repo).as_posix()
        if rel == ".git" or rel.startswith(".git/") or not p.is_file():
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    out[".git/index"] = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    out[".git/HEAD"] = (repo / ".git" / "HEAD").read_text()
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    out["refs"] = "\n".join(line for line in refs.splitlines() if not line.startswith("refs/heads/softco/"))
    out["status"] = git(repo, "status", "--porcelain", "--untracked-files=all")
    return out


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

SORTED_EDIT = '''<<<<<<< SEARCH
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
BREAKING_EDIT = (
    SORTED_EDIT
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
FIX_EDIT = """<<<<<<< SEARCH
    return total(ordered) / (len(ordered) + 1)
=======
    return total(ordered) / len(ordered)
>>>>>>> REPLACE
"""
#: a first block that does not match (the file says `values`, not `numbers`) and a good second one
MISMATCHED_EDIT = (
    '''<<<<<<< SEARCH
def total(numbers: list[float]) -> float:
    """The sum of the numbers."""
=======
def total(values: list[float]) -> float:
    """The sum of all the values."""
>>>>>>> REPLACE
'''
    + SORTED_EDIT
)

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


def code(path: str, content: str, notes: str = "") -> dict[str, Any]:
    return {"path": path, "content": content, "req_ids": ["REQ-1"], "notes": notes}


def answers(stats_edits: list[str]) -> dict[str, Any]:
    """Step key -> answer; ``stats_edits`` are the engineer's answers for statlib/stats.py, in order."""
    return {
        "product_manager/write_prd/project": PRD,
        "architect/write_design/project": DESIGN,
        "engineer/write_code/statlib/stats.py": [code("statlib/stats.py", e, "sorted_values") for e in stats_edits],
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
    }


def recorded_answers() -> dict[str, Any]:
    """The answers of the bundled recording (scripts/make_change_recording.py): a SEARCH block written from
    memory (re-asked), then an edit that breaks the repo's own test_mean (a regression), then its fix."""
    return {
        **answers([]),
        "engineer/write_code/statlib/stats.py": [
            code("statlib/stats.py", MISREMEMBERED, "sorted_values"),
            code("statlib/stats.py", BREAKING_EDIT, "sorted_values; mean reuses it"),
        ],
        "engineer/fix_code/round-1/statlib/stats.py": code(
            "statlib/stats.py", FIX_EDIT, "mean divides by the count again"
        ),
    }
