"""Steering a run from outside its process: `softco serve`'s page watches it and decides for it.

The board holds what a run did; this holds what the page needs besides, in ``DIR/.softco/live.sqlite``
(WAL, short transactions, so neither side waits on the other):

- ``running``: the steps started and not yet published (the board has a row only once an attempt ends);
- ``gates``: an ``--approve`` gate waiting for a decision, with the artifact under review; the decision
  comes from the terminal or from the page, whichever is first, and is validated here, by the run, as the
  terminal's is (:func:`check_feedback`, the kind's schema for an edit);
- ``commands``: the page's requests to a run (``cancel``), polled by the run, which stops as on Ctrl-C
  (in-flight steps cancelled, nothing half-published) and is marked ``cancelled``: ``softco resume``
  continues it.

The run writes ``running`` and opens and closes gates; the page writes decisions and commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from rich.console import Console
from rich.prompt import Prompt

from softco.artifacts import Artifact
from softco.errors import EXIT_INTERRUPTED, SoftcoError
from softco.llm.structured import describe_error
from softco.safe_text import safe_line, safe_text
from softco.steps.gates import ConsoleGate, Decision

T = TypeVar("T")

#: Seconds between two looks at the live file for a decision or a command.
POLL = 0.2
#: Seconds after which a run looks for a cancel even though the live file seems unchanged (Live._changed).
FULL_LOOK = 2.0
#: The longest feedback a person may give (terminal or page), in characters.
MAX_FEEDBACK = 20_000
#: The longest edited artifact the page may send, in characters.
MAX_EDIT = 1_000_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS running (
    run_id TEXT NOT NULL, step_key TEXT NOT NULL, role TEXT NOT NULL, started_at REAL NOT NULL,
    PRIMARY KEY (run_id, step_key)
);
CREATE TABLE IF NOT EXISTS gates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step_key TEXT NOT NULL, kind TEXT NOT NULL,
    artifact_json TEXT NOT NULL, opened_at REAL NOT NULL,
    -- the page's request: approve / feedback / edit, with its text; the run validates it
    request TEXT, request_text TEXT, request_error TEXT,
    -- the decision taken (by "terminal" or "page"), once closed
    decision TEXT, decided_by TEXT, closed_at REAL
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, command TEXT NOT NULL, created_at REAL NOT NULL,
    handled_at REAL
);
"""


def live_path(project: Path) -> Path:
    return project / ".softco" / "live.sqlite"


def connect(path: Path) -> sqlite3.Connection:
    """A read-write connection to a live file, made if need be (autocommit, WAL, no fsync, 5 s busy timeout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # no fsync, not even when the run ends and its log is folded in (~10 ms): the file holds only what a run
    # shares while it runs, and one an OS crash damaged is set aside and made again (Live.__init__)
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    return db


@contextmanager
def _write(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def check_feedback(text: str) -> str:
    """Feedback for a role, from the terminal or the page: non-empty once stripped, bounded."""
    text = text.strip()
    if not text:
        raise ValueError("the feedback is empty: say what the role should change")
    if len(text) > MAX_FEEDBACK:
        raise ValueError(f"the feedback is {len(text):,} characters; the limit is {MAX_FEEDBACK:,}")
    return text


class RunCancelled(SoftcoError):
    """The page asked the run to stop (a ``cancel`` command): resumable, like Ctrl-C."""

    exit_code = EXIT_INTERRUPTED


# the page's side -------------------------------------------------------------------------------------------


def request_cancel(project: Path, run_id: str) -> None:
    db = connect(live_path(project))
    try:
        with _write(db):
            db.execute(
                "INSERT INTO commands (run_id, command, created_at) VALUES (?, 'cancel', ?)", (run_id, time.time())
            )
    finally:
        db.close()


def request_decision(project: Path, gate_id: int, action: str, text: str = "") -> bool:
    """Hand the page's decision to an open gate; False if that gate is closed (decided or gone)."""
    if action not in ("approve", "feedback", "edit"):
        raise ValueError(f"unknown decision {action!r}: approve, feedback or edit")
    if action == "feedback":
        text = check_feedback(text)
    if action == "edit" and len(text) > MAX_EDIT:
        raise ValueError(f"the edited artifact is {len(text):,} characters; the limit is {MAX_EDIT:,}")
    db = connect(live_path(project))
    try:
        with _write(db):
            cur = db.execute(
                "UPDATE gates SET request=?, request_text=?, request_error=NULL WHERE id=? AND closed_at IS NULL",
                (action, text, gate_id),
            )
        return cur.rowcount == 1
    finally:
        db.close()


# the run's side --------------------------------------------------------------------------------------------


class Live:
    """A run's side of the live file: the steps it runs, its gates, and the page's commands to it."""

    def __init__(self, project: Path, run_id: str) -> None:
        self.project = project
        self.run_id = run_id
        path = live_path(project)
        #: the live file and its write-ahead log, whose stat tells whether anything was written since the last
        #: look for a cancel (see :meth:`_changed`)
        self._files = (path, path.with_name(path.name + "-wal"))
        self._seen: tuple[tuple[int, int, int] | None, ...] | None = None
        self._looked_at = 0.0
        try:
            self.db = connect(path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # busy, or the disk: not damage
                raise
            # damaged: it holds only what a running run shares, and the run holds the project's lock
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            path.replace(path.with_name(path.name + ".damaged"))
            self.db = connect(path)
        with _write(self.db):  # steps an earlier run left "running" (killed) are not running now
            self.db.execute("DELETE FROM running")
            self.db.execute("UPDATE gates SET closed_at=? WHERE closed_at IS NULL", (time.time(),))

    def close(self) -> None:
        with suppress(sqlite3.Error):
            with _write(self.db):
                self.db.execute("DELETE FROM running WHERE run_id=?", (self.run_id,))
                self.db.execute(
                    "UPDATE gates SET closed_at=? WHERE run_id=? AND closed_at IS NULL", (time.time(), self.run_id)
                )
        self.db.close()

    def tee(self, on_event: Callable[[Any], None]) -> Callable[[Any], None]:
        """``on_event`` that also keeps the running steps in the live file (company.Event)."""

        def both(event: Any) -> None:
            with suppress(sqlite3.Error):  # the page's view must never stop a run
                self.on_event(event)
            on_event(event)

        return both

    def on_event(self, event: Any) -> None:
        if event.kind == "start":
            role = event.step_key.partition("/")[0]
            with _write(self.db):
                self.db.execute(
                    "INSERT OR REPLACE INTO running VALUES (?, ?, ?, ?)",
                    (self.run_id, event.step_key, role, time.time()),
                )
        elif event.kind in ("publish", "skip"):
            with _write(self.db):
                self.db.execute("DELETE FROM running WHERE run_id=? AND step_key=?", (self.run_id, event.step_key))

    # cancel ------------------------------------------------------------------------------------------------
    def cancel_requested(self) -> bool:
        row = self.db.execute(
            "SELECT id FROM commands WHERE run_id=? AND command='cancel' AND handled_at IS NULL", (self.run_id,)
        ).fetchone()
        if row is None:
            return False
        with _write(self.db):
            self.db.execute("UPDATE commands SET handled_at=? WHERE id=?", (time.time(), row[0]))
        return True

    def _changed(self) -> bool:
        """Whether the live file may hold a command not looked at yet: it (or its write-ahead log, where a
        write lands in WAL mode) changed since the last look, or :data:`FULL_LOOK` seconds went by (a
        timestamp's resolution is a clock tick, and a log reset after a checkpoint can keep its size). A
        stat takes microseconds; a query of the live file, shared with the page and written at every step,
        about half a millisecond of CPU, five times a second for the whole run."""
        seen: list[tuple[int, int, int] | None] = []
        for f in self._files:
            try:
                st = os.stat(f)
            except OSError:
                seen.append(None)
            else:
                seen.append((st.st_ino, st.st_size, st.st_mtime_ns))
        now = time.monotonic()
        if tuple(seen) == self._seen and now - self._looked_at < FULL_LOOK:
            return False
        self._seen, self._looked_at = tuple(seen), now
        return True

    async def _wait_for_cancel(self) -> None:
        while True:
            with suppress(sqlite3.Error):
                if self._changed() and self.cancel_requested():
                    return
            await asyncio.sleep(POLL)

    async def cancellable(self, work: Awaitable[T]) -> T:
        """Run ``work``; a cancel from the page cancels it (as Ctrl-C does) and raises :class:`RunCancelled`."""
        main = asyncio.ensure_future(work)
        watch = asyncio.ensure_future(self._wait_for_cancel())
        try:
            await asyncio.wait({main, watch}, return_when=asyncio.FIRST_COMPLETED)
            if main.done():
                return main.result()
            main.cancel()
            with suppress(asyncio.CancelledError):
                await main
            raise RunCancelled()
        finally:
            for task in (main, watch):
                task.cancel()
            await asyncio.gather(main, watch, return_exceptions=True)

    # gates -------------------------------------------------------------------------------------------------
    def open_gate(self, step_key: str, artifact: Artifact) -> int:
        with _write(self.db):
            cur = self.db.execute(
                "INSERT INTO gates (run_id, step_key, kind, artifact_json, opened_at) VALUES (?, ?, ?, ?, ?)",
                (self.run_id, step_key, artifact.kind, json.dumps(artifact.model_dump(mode="json")), time.time()),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def page_request(self, gate_id: int) -> tuple[str, str] | None:
        row = self.db.execute("SELECT request, request_text FROM gates WHERE id=?", (gate_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        with _write(self.db):
            self.db.execute("UPDATE gates SET request=NULL WHERE id=?", (gate_id,))
        return str(row[0]), str(row[1] or "")

    def refuse_request(self, gate_id: int, error: str) -> None:
        with _write(self.db):
            self.db.execute("UPDATE gates SET request_error=? WHERE id=?", (error[:2000], gate_id))

    def close_gate(self, gate_id: int, decision: str, by: str) -> None:
        with _write(self.db):
            self.db.execute(
                "UPDATE gates SET decision=?, decided_by=?, closed_at=? WHERE id=?",
                (decision, by, time.time(), gate_id),
            )


@dataclass
class GateState:
    id: int
    run_id: str
    step_key: str
    kind: str
    artifact: dict[str, Any]
    error: str | None
    pending: str | None


def open_gate(db: sqlite3.Connection) -> GateState | None:
    """The gate waiting for a decision now, if any (read by the page)."""
    row = db.execute(
        "SELECT id, run_id, step_key, kind, artifact_json, request_error, request FROM gates WHERE closed_at IS NULL "
        "ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    try:
        artifact = json.loads(row[4])
    except ValueError:
        artifact = {}
    return GateState(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        artifact if isinstance(artifact, dict) else {},
        row[5],
        row[6],
    )


class SteeredGate(ConsoleGate):
    """An ``--approve`` gate decided on the terminal (if there is one) or on `softco serve`'s page, first come.

    The page's decision is validated here as the terminal's is: feedback must say something, an edit must fit
    the kind's schema; a refused one is shown on the page and the gate keeps waiting."""

    def __init__(self, kinds: set[str], console: Console, workdir: Path, live: Live, terminal: bool) -> None:
        super().__init__(kinds, console, workdir)
        self.live = live
        self.terminal = terminal

    async def areview(self, step_key: str, artifact: Artifact, validate: Callable[[str], Artifact]) -> Decision:
        gate_id = self.live.open_gate(step_key, artifact)
        decision: Decision | None = None
        by = "page"
        try:
            if self.terminal:
                self.show(step_key, artifact)
                self._ask(artifact)
            else:
                self.console.print(safe_line(f"review: {artifact.kind} from {step_key}: decide on softco serve's page"))
            while decision is None:
                request = self.live.page_request(gate_id)
                if request is not None:
                    decision = self._from_page(gate_id, artifact, validate, *request)
                elif self.terminal and _line_ready():
                    by = "terminal"
                    decision = self._from_terminal(sys.stdin.readline(), artifact, validate)
                    if decision is None:
                        self._ask(artifact)
                if decision is None:
                    await asyncio.sleep(POLL)
            if by == "page":
                self.console.print(safe_line(f"{artifact.kind}: {decision.action} (decided on the page)"))
            return decision
        finally:
            with suppress(sqlite3.Error):
                self.live.close_gate(gate_id, decision.action if decision else "none", by if decision else "")

    def _ask(self, artifact: Artifact) -> None:
        prompt = f"{artifact.kind}: (a)pprove, (e)dit, or give (f)eedback [a/e/f] (a), or decide on the page: "
        self.console.print(safe_line(prompt), end="")

    def _from_terminal(self, line: str, artifact: Artifact, validate: Callable[[str], Artifact]) -> Decision | None:
        choice = line.strip().lower() or "a"
        if choice == "a":
            return Decision("approve", artifact)
        if choice == "f":
            try:
                return Decision(
                    "feedback", feedback=check_feedback(Prompt.ask("feedback for the role", console=self.console))
                )
            except ValueError as exc:
                self.console.print(safe_line(str(exc), "red"))
                return None
        if choice == "e":
            edited = self._edit(artifact, validate)
            return Decision("edit", edited) if edited is not None else None
        self.console.print(safe_line("please choose a, e or f", "red"))
        return None

    def _from_page(
        self, gate_id: int, artifact: Artifact, validate: Callable[[str], Artifact], action: str, text: str
    ) -> Decision | None:
        try:
            if action == "approve":
                return Decision("approve", artifact)
            if action == "feedback":
                return Decision("feedback", feedback=check_feedback(text))
            if action == "edit":
                return Decision("edit", validate(text))
            raise ValueError(f"unknown decision {action!r}")
        except (ValidationError, ValueError) as exc:
            why = describe_error(exc) if isinstance(exc, ValidationError) else str(exc)
            if action == "edit":
                why = f"the edit does not fit the {artifact.kind} schema: {why}"
            self.live.refuse_request(gate_id, why)
            self.console.print(safe_text(f"the page's {action} was refused: {why}"))
            return None


def _line_ready() -> bool:
    """A line is waiting on the terminal (never blocks)."""
    try:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(ready)
