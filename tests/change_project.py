"""A small project softco did not generate, with its own tests, and the scripted answers of a change to it."""

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
    "summary": "Add the median to statlib.",
    "goals": ["Compute medians"],
    "user_stories": ["As an analyst, I want the median so that outliers do not skew my summary."],
    "requirements": [
        {
            "id": "REQ-1",
            "title": "Median",
            "description": "median(values) returns the middle value; the mean of the two middle ones for an even count",
            "priority": "P0",
            "acceptance_criteria": [
                "median([3, 1, 2]) == 2",
                "median([1, 2, 3, 4]) == 2.5",
                "median([]) raises ValueError",
            ],
        }
    ],
    "competitive_analysis": [],
    "open_questions": [],
}

DESIGN: dict[str, Any] = {
    "approach": "A new module computes the median from the sorted values; stats.py gains a sorted_values helper.",
    "package": "statlib",
    "entry_point": "",
    "dependencies": [],
    "files": [
        {
            "path": "statlib/stats.py",
            "purpose": "Add sorted_values; mean and total keep working.",
            "req_ids": ["REQ-1"],
            "interfaces": [
                "def sorted_values(values: list[float]) -> list[float]: The values, sorted; ValueError if none."
            ],
            "depends_on": [],
        },
        {
            "path": "statlib/median.py",
            "purpose": "median(values) from sorted_values.",
            "req_ids": ["REQ-1"],
            "interfaces": ["def median(values: list[float]) -> float: The median; ValueError for no values."],
            "depends_on": ["statlib/stats.py"],
        },
    ],
    "class_diagram": "classDiagram\n  class stats",
    "sequence_diagram": "sequenceDiagram\n  User->>median: median(xs)",
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

#: adds sorted_values, and breaks mean (the existing test_mean then fails: a regression)
BREAKING_EDIT = (
    SORTED_EDIT
    + """<<<<<<< SEARCH
    return total(values) / len(values)
=======
    return total(values) / (len(values) + 1)
>>>>>>> REPLACE
"""
)

FIX_EDIT = """<<<<<<< SEARCH
    return total(values) / (len(values) + 1)
=======
    return total(values) / len(values)
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

MEDIAN = """from statlib.stats import sorted_values


def median(values: list[float]) -> float:
    ordered = sorted_values(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
"""

TESTS = """import pytest

from statlib.median import median


def test_median_odd():
    assert median([3, 1, 2]) == 2


def test_median_even():
    assert median([1, 2, 3, 4]) == 2.5


def test_median_of_nothing():
    with pytest.raises(ValueError):
        median([])
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
                {"name": "test_median_odd", "req_ids": ["REQ-1"]},
                {"name": "test_median_even", "req_ids": ["REQ-1"]},
                {"name": "test_median_of_nothing", "req_ids": ["REQ-1"]},
            ],
        },
        "qa_engineer/write_tests/statlib/stats.py": {
            "path": "tests/test_sorted_values.py",
            "source": "statlib/stats.py",
            "content": "import pytest\n\nfrom statlib.stats import sorted_values\n\n\n"
            "def test_sorted_values():\n    assert sorted_values([2, 1]) == [1, 2]\n\n\n"
            "def test_sorted_values_of_nothing():\n    with pytest.raises(ValueError):\n        sorted_values([])\n",
            "cases": [
                {"name": "test_sorted_values", "req_ids": ["REQ-1"]},
                {"name": "test_sorted_values_of_nothing", "req_ids": ["REQ-1"]},
            ],
        },
    }
