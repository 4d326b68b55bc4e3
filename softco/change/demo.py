"""`softco demo --change`: a change run replayed offline on a small bundled project softco did not write.

The project (``statlib``, with its own tests) is made as a git repo under the output directory with a
fixed author and date, so its commit is the same every time; then `softco change` runs on it with the
model's answers replayed from ``softco/demo/change_session.jsonl``. The board, the worktree, git, the
sandbox and pytest run for real: the engineer's first edit of stats.py has a SEARCH block that does not
match (re-asked with the nearest lines), and breaks the project's own test_mean (a regression, fixed in
the next round).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rich.console import Console

from softco.change.run import start_change
from softco.company.run import NewOptions, RunError, output_dir
from softco.company.workspace import choose_project_dir

REQUIREMENT = "add a median function to statlib"

SAMPLE: dict[str, str] = {
    "README.md": "# statlib\n\nSmall statistics helpers.\n",
    "statlib/__init__.py": '"""Small statistics helpers."""\n',
    "statlib/stats.py": '''"""Averages of lists of numbers."""


def total(values: list[float]) -> float:
    """The sum of the values."""
    return sum(values)


def mean(values: list[float]) -> float:
    """The arithmetic mean; ValueError for no values."""
    if not values:
        raise ValueError("no values")
    return total(values) / len(values)
''',
    "tests/test_stats.py": """import pytest

from statlib.stats import mean, total


def test_total():
    assert total([1, 2, 3]) == 6


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_mean_of_nothing():
    with pytest.raises(ValueError):
        mean([])
""",
}


def recording() -> Path:
    return Path(__file__).resolve().parent.parent / "demo" / "change_session.jsonl"


def make_sample_repo(dest: Path) -> Path:
    """The bundled project as a git repo at ``dest``, committed on main by a fixed author at a fixed date."""
    for rel, text in SAMPLE.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_AUTHOR_NAME": "Demo User",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo User",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
        "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
    }
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "statlib"],
    ):
        subprocess.run(argv, cwd=dest, env=env, check=True, capture_output=True)
    return dest


def run_demo(output: Path | None, console: Console, llm: str | None = None, record: Path | None = None) -> int:
    """Make the sample repo under ``output`` and change it (replaying the bundled recording by default)."""
    out = output_dir(output).absolute()
    if llm is None:
        if not recording().is_file():
            raise RunError(f"the bundled recording is missing ({recording()}); reinstall softco")
        llm = f"replay:{recording()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        repo = choose_project_dir(out, "statlib-demo")
        repo.mkdir()
        make_sample_repo(repo)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RunError(f"cannot make the demo project under {out}: {exc}") from None
    console.print(f"softco demo --change: a small project with its own tests, at {repo}", highlight=False)
    opts = NewOptions(requirement=REQUIREMENT, llm=llm, record=record, concurrency=1, produced_by=PRODUCED_BY)
    return start_change(repo, opts, console)


PRODUCED_BY = (
    "Not a live model: the answers were written by softco's developers (an LLM coding assistant acting as the "
    "model) for the real rendered prompts of the default SOP's change templates, then recorded by running "
    "`softco change --llm script:... --record` through the normal code path (scripts/make_change_recording.py). "
    "The engineer's first edit has a SEARCH block that does not match, and the second breaks the project's own "
    "test_mean, so the demo shows the re-ask and a regression fixed in the next round."
)
