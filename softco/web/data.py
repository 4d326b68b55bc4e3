"""What `softco serve` reads: projects of an output directory, through read-only SQLite connections.

A read-only connection to a WAL board never takes a write lock and never blocks the run's writes; every
read here is one short statement (no transaction is held open between polls), so the run's checkpoints
are not held back either. Changes are noticed with ``PRAGMA data_version``, which costs no file read.
"""

from __future__ import annotations

import re
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from softco.board import MIGRATIONS, Board, BoardError
from softco.company.lock import Holder, holder
from softco.company.scheduler import project_board_path
from softco.errors import SoftcoError, UsageError
from softco.report.project import Project, _commits, _role_names
from softco.report.stats import run_stats
from softco.safe_text import one_line
from softco.sop.load import kinds_for_reading
from softco.steps.steering import GateState, live_path, open_gate

#: A project's directory name as the page takes it: one plain name, no path.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class NotFound(UsageError):
    """No such project under the output directory (or a name that is not one): the page answers 404."""


class LinkedState(NotFound):
    """A project whose ``.softco`` is a symbolic link (or not a directory): refused, never read nor written."""

    def __str__(self) -> str:
        return (
            f"{self.args[0]}/.softco is a symbolic link, not the project's own directory: softco serve neither reads "
            "nor writes through it; replace the link with the directory it points to"
        )


def connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection (``mode=ro``): it can never write to the file nor lock writers out."""
    db = sqlite3.connect(
        "file:" + quote(str(path)) + "?mode=ro", uri=True, timeout=5.0, isolation_level=None, check_same_thread=False
    )
    db.row_factory = sqlite3.Row
    return db


class NotReady(SoftcoError):
    """The project's board exists but its run has not started yet (tables or first run still being written)."""


class ReadOnlyBoard(Board):
    """A project's board, read through a read-only connection (no migration, no WAL switch, no write)."""

    def __init__(self, path: Path) -> None:  # noqa: D107 - replaces Board's opening, which writes
        self.path = path
        self.db = connect_ro(path)


def project_dir(out: Path, name: str) -> Path:
    """The project ``name`` under ``out``: a plain directory name whose board is a regular file. Anything
    else (``..``, a slash, a symlink out of ``out``, a directory with no board) is :class:`NotFound`."""
    if not NAME.fullmatch(name) or name in (".", ".."):
        raise NotFound(name)
    root = out.resolve()
    path = root / name
    try:
        if path.is_symlink() or path.resolve().parent != root or not path.is_dir():
            raise NotFound(name)
        if not stat.S_ISDIR((path / ".softco").lstat().st_mode):  # a link: the board, live file and logs are elsewhere
            raise LinkedState(name)
        board = project_board_path(path)
        if not stat.S_ISREG(board.lstat().st_mode):
            raise NotFound(name)
    except OSError:
        raise NotFound(name) from None
    return path


@dataclass(frozen=True)
class Listed:
    name: str
    started: str
    status: str
    cost: str
    requirement: str
    live: bool


def list_projects(out: Path) -> list[Listed]:
    """Every project under ``out``, newest run first: its status (live or how it ended), cost, requirement."""
    from softco.company.run import run_status
    from softco.report.costs import format_total_cost

    rows: list[tuple[float, Listed]] = []
    if not out.is_dir():
        return []
    for p in out.iterdir():
        try:
            p = project_dir(out, p.name)
        except NotFound:
            continue
        try:
            board = ReadOnlyBoard(project_board_path(p))
            try:
                runs = board.runs()
                cost = format_total_cost(run_stats(board))
            finally:
                board.close()
        except (sqlite3.Error, ValueError, KeyError) as exc:
            rows.append((0.0, Listed(p.name, "?", f"unreadable board ({one_line(str(exc), 60)})", "?", "", False)))
            continue
        last = runs[-1] if runs else None
        live = holder(p)
        started = datetime.fromtimestamp(last.started_at).strftime("%Y-%m-%d %H:%M") if last else "-"
        req = one_line(" ".join(last.requirement.split()), 100) if last else ""
        listed = Listed(p.name, started, run_status(last, live), cost, req, live is not None)
        rows.append((last.started_at if last else 0.0, listed))
    return [r for _, r in sorted(rows, key=lambda r: (-r[0], r[1].name))]


class Watch:
    """One page's view of one project: read-only connections kept open to notice changes cheaply."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.board = ReadOnlyBoard(project_board_path(project))
        self.live: sqlite3.Connection | None = None
        self._versions: tuple[Any, ...] = ()
        self._commits_key: tuple[str | None, ...] | None = None
        self._commits: list[Any] = []

    def close(self) -> None:
        self.board.close()
        if self.live is not None:
            self.live.close()

    def _live(self) -> sqlite3.Connection | None:
        if self.live is None and live_path(self.project).is_file():
            try:
                self.live = connect_ro(live_path(self.project))
            except sqlite3.Error:
                return None
        return self.live

    def changed(self) -> bool:
        """Whether the board, the live file or the run's liveness changed since the last call."""
        versions: list[Any] = [self.board.db.execute("PRAGMA data_version").fetchone()[0]]
        live = self._live()
        if live is not None:
            try:
                versions.append(live.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                versions.append(None)
        versions.append(holder(self.project))
        now = tuple(versions)
        if now == self._versions:
            return False
        self._versions = now
        return True

    def ready(self) -> bool:
        """Whether the run has written the board's tables and its first run (a page opened earlier waits)."""
        try:
            return self.board.db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None
        except sqlite3.OperationalError:  # no table yet, or busy for a moment
            return False
        except sqlite3.Error as exc:  # not an SQLite file at all: it will never be ready
            raise BoardError(
                f"the board {self.board.path} is damaged ({one_line(str(exc), 80)}); restore it from a backup"
            ) from None

    def check(self) -> None:
        """The board is one this softco can read (all migrations applied) and its payloads fit their kinds."""
        if not self.ready():
            raise NotReady(f"{self.project.name} is starting")
        try:
            applied = {r[0] for r in self.board.db.execute("SELECT name FROM migrations")}
        except sqlite3.Error as exc:
            raise BoardError(
                f"{self.board.path} is not a softco board ({one_line(str(exc), 80)}); restore it from a backup"
            ) from None
        known = [name for name, _ in MIGRATIONS]
        if set(known) - applied:
            raise BoardError(
                f"the board {self.board.path} was made by an older softco: run `softco show {self.project}` once to "
                "upgrade it"
            )
        self.board._check()
        self.board.check_messages(*kinds_for_reading([r.settings.get("sop_dir") for r in self.board.runs()]))

    def snapshot(self) -> Snapshot:
        board = self.board
        runs, messages, steps, stats = board.runs(), board.messages(), board.steps(), run_stats(board)
        key = tuple(m.commit_sha for m in messages)
        if key != self._commits_key:
            self._commits, self._commits_key = _commits(self.project), key
        project = Project(
            self.project, runs, messages, steps, stats, self._commits, _role_names(messages, self._commits)
        )
        running: list[tuple[str, str, float]] = []
        gate: GateState | None = None
        live = self._live()
        who = holder(self.project)
        if live is not None and who is not None and runs:
            try:
                running = [
                    (str(r[0]), str(r[1]), float(r[2]))
                    for r in live.execute(
                        "SELECT step_key, role, started_at FROM running WHERE run_id=? ORDER BY started_at",
                        (runs[-1].id,),
                    )
                ]
                gate = open_gate(live)
            except sqlite3.Error:
                pass
            if gate is not None and gate.run_id != runs[-1].id:
                gate = None
        return Snapshot(project, running, gate, who)


@dataclass
class Snapshot:
    project: Project
    #: (step key, role id, started at) of the steps running now
    running: list[tuple[str, str, float]]
    gate: GateState | None
    holder: Holder | None

    @property
    def live(self) -> bool:
        return self.holder is not None
