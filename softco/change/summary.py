"""The end of a change run (and of its resumes): where the change is, what it changed, whether it broke
the repo's own tests. Below the runs floor, which calls it for `softco resume` of a change run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git
from rich.console import Console

from softco import git_safe
from softco.change.mode import ChangeMode
from softco.change.repo import branch_head
from softco.company.scheduler import Outcome
from softco.safe_text import safe_line

#: The key of a change run's saved settings on the board.
SAVED_KEY = "change"


def change_of(saved: dict[str, Any]) -> ChangeMode | None:
    """The change a run's saved settings describe (None: a `softco new` run)."""
    data = saved.get(SAVED_KEY)
    return ChangeMode.from_saved(data) if isinstance(data, dict) else None


def diff_stat(mode: ChangeMode) -> str:
    try:
        with git_safe.open_repo(mode.root) as repo:
            return str(repo.git.diff("--stat", "--no-ext-diff", "--no-textconv", mode.base_sha, "HEAD"))
    except git.GitError:
        return "(no diff stat: git failed)"


def print_change_summary(console: Console, mode: ChangeMode, outcome: Outcome, scratch: bool = False) -> None:
    """Where the change is, what it changed against the base, and whether it broke the repo's own tests
    (``scratch``: a dry run's, in a scratch clone that is not the user's repo)."""
    console.print(safe_line(f"branch     {mode.branch} (from {mode.base_branch} at {mode.base_sha[:8]})", limit=400))
    stat = diff_stat(mode).strip().splitlines()
    for line in stat[-30:]:
        console.print(safe_line(f"  {line.strip()}", limit=400))
    report = outcome.report
    if report is None:
        verdict = "not checked (no test ran)"
    elif report.regressions:
        verdict = f"{len(report.regressions)} regression(s): " + ", ".join(report.regressions[:10])
    else:
        mine = set(mode.existing_tests)
        kept = sum(r.outcome == "passed" for r in report.results if r.file in mine)
        verdict = f"none: {kept} test(s) of the repo pass as before" if mine else "none (the repo has no tests)"
    console.print(safe_line(f"regressions {verdict}", limit=600))
    if mode.skipped_dependencies:
        skipped = ", ".join(mode.skipped_dependencies[:10])
        console.print(safe_line(f"  not installed in the sandbox (not a plain requirement): {skipped}", limit=600))
    now = branch_head(Path(mode.repo), mode.base_branch)
    if now is not None and now != mode.base_sha:
        console.print(
            safe_line(
                f"note: {mode.base_branch} moved during the run ({mode.base_sha[:8]} -> {now[:8]}); the change is "
                f"based on {mode.base_sha[:8]}: rebase it with `git rebase {mode.base_branch} {mode.branch}` "
                "before merging",
                limit=600,
            )
        )
    if scratch:
        line = f"dry run: {mode.repo} is as it was (no branch, no worktree); delete the scratch clone {mode.worktree}"
        console.print(safe_line(line, limit=800))
        return
    console.print(
        safe_line(
            f"review: git -C {mode.repo} diff {mode.base_branch}...{mode.branch}; merge: git merge {mode.branch}; "
            f"then remove the worktree: git worktree remove {mode.worktree}",
            limit=800,
        )
    )
