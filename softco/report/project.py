"""A generated project as the review views see it: read once from its board and its git repo.

Everything shown by ``softco show`` and ``softco report`` comes from here, so the terminal and the
HTML page cannot disagree. Artifacts in force are the latest of each kind (and per file for code and
tests), exactly as the roles saw them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import git

from softco.artifacts import KINDS, Artifact, Code, Design, Prd, Tasks, TestReport, Tests
from softco.board import Board, Message, RunRow, StepRow
from softco.company.scheduler import project_board_path
from softco.errors import EXIT_MEANINGS, UsageError
from softco.report.stats import RunStats, run_stats
from softco.sop.load import kinds_for_reading

A = TypeVar("A", bound=Artifact)




class ReportError(UsageError):
    """The directory cannot be reviewed (not a softco project, unknown view); one line for the user."""


@dataclass(frozen=True)
class CommitRow:
    sha: str
    author: str
    email: str
    subject: str
    when: datetime

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass
class Project:
    """The board's runs, messages and steps, the repo's commits, and the figures of the runs."""

    root: Path
    runs: list[RunRow]
    messages: list[Message]
    steps: list[StepRow]
    stats: RunStats
    commits: list[CommitRow]
    role_names: dict[str, str] = field(default_factory=dict)

    # artifacts in force -----------------------------------------------------------------
    def latest(self, cls: type[A]) -> A | None:
        found = [m for m in self.messages if m.kind == cls.kind]
        return cls.model_validate(found[-1].payload) if found else None

    def all_of(self, cls: type[A]) -> list[A]:
        return [cls.model_validate(m.payload) for m in self.messages if m.kind == cls.kind]

    def other_artifacts(self) -> list[Message]:
        """The latest artifact of each (kind, subject) of the kinds an SOP declared itself."""
        latest: dict[tuple[str, str], Message] = {}
        for m in self.messages:
            if m.kind not in KINDS:
                latest[(m.kind, m.subject)] = m
        return list(latest.values())

    @property
    def requirement(self) -> str:
        found = [m for m in self.messages if m.kind == "requirement"]
        if found:
            return str(found[-1].payload.get("text", ""))
        return self.runs[-1].requirement if self.runs else ""

    @property
    def prd(self) -> Prd | None:
        return self.latest(Prd)

    @property
    def design(self) -> Design | None:
        return self.latest(Design)

    @property
    def tasks(self) -> Tasks | None:
        return self.latest(Tasks)

    @property
    def test_report(self) -> TestReport | None:
        return self.latest(TestReport)

    @property
    def code(self) -> dict[str, Code]:
        """The latest version of each code file, in the order files first appeared."""
        return {c.path: c for c in self.all_of(Code)}

    @property
    def tests(self) -> dict[str, Tests]:
        return {t.path: t for t in self.all_of(Tests)}

    @property
    def last_run(self) -> RunRow | None:
        return self.runs[-1] if self.runs else None

    @property
    def tests_ok(self) -> bool:
        report = self.test_report
        return report is not None and report.ok

    def tests_summary(self) -> str:
        report = self.test_report
        if report is None:
            return "no tests were run"
        failed = report.failed + report.errors
        return f"{report.passed} passed, {failed} failed, {report.skipped} skipped (round {report.round})"

    def run_summary(self) -> str:
        """The last run's status and exit code, e.g. 'done, exit 0 (done, tests pass)'."""
        run = self.last_run
        if run is None:
            return "no run"
        if run.exit_code is None:
            return f"{run.status} (no exit code: still running or killed; `softco resume` continues it)"
        return f"{run.status}, exit {run.exit_code} ({self.exit_meaning()})"

    def exit_meaning(self) -> str:
        run = self.last_run
        if run is None or run.exit_code is None:
            return "not finished"
        return EXIT_MEANINGS.get(run.exit_code, "unknown exit code")

    def role_name(self, role_id: str) -> str:
        return self.role_names.get(role_id) or role_id.replace("_", " ").title()

    def title_of(self, message: Message) -> str:
        """The one-line title of a message's artifact (as in its commit subject)."""
        cls = KINDS.get(message.kind)
        if cls is None:
            return message.subject
        try:
            return cls.model_validate(message.payload).title()
        except ValueError:
            return message.subject


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _commits(root: Path) -> list[CommitRow]:
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return []  # no repo: the board alone still shows the run
    with repo:  # closed here, after the commits are read: its git processes end now, not when collected
        try:
            found = list(repo.iter_commits())
        except ValueError:
            return []  # no commit yet
        return [
            CommitRow(
                sha=c.hexsha,
                author=str(c.author.name),
                email=str(c.author.email),
                subject=str(c.message).strip().splitlines()[0] if str(c.message).strip() else "",
                when=datetime.fromtimestamp(c.committed_date, tz=UTC),
            )
            for c in found
        ]


def _role_names(messages: list[Message], commits: list[CommitRow]) -> dict[str, str]:
    """Role id -> the author name its commits carry, e.g. 'Alice (Product Manager)'."""
    by_sha = {c.sha: c.author for c in commits}
    names: dict[str, str] = {}
    for m in messages:
        if m.commit_sha and m.commit_sha in by_sha:
            names.setdefault(m.sender_role, by_sha[m.commit_sha])
    return names


def load_project(root: Path) -> Project:
    """Read a project made by softco; :class:`ReportError` if ``root`` is not one."""
    root = root.absolute()
    board_path = project_board_path(root)
    if not board_path.exists() and not board_path.is_symlink():
        raise ReportError(f"{root} is not a softco project (no {board_path.relative_to(root)})")
    try:
        board = Board.open(board_path)  # checked: a damaged board is one line (BoardError), never a traceback
    except (OSError, sqlite3.Error) as exc:
        raise ReportError(
            f"cannot open the board {board_path} ({exc}); free disk space or fix its permissions"
        ) from None
    try:
        runs = board.runs()
        board.check_messages(*kinds_for_reading([r.settings.get("sop_dir") for r in runs]))
        messages, steps, stats = board.messages(), board.steps(), run_stats(board)
    finally:
        board.close()
    commits = _commits(root)
    return Project(root, runs, messages, steps, stats, commits, _role_names(messages, commits))
