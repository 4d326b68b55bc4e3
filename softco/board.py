"""The message board: one SQLite file per project, append-only messages and one row per step.

Roles never call each other; they publish artifacts here and react to the kinds they watch.
Schema changes are named migrations applied in order and recorded, so an old board still opens.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from softco.errors import EXIT_ERROR, EXIT_USAGE, SoftcoError

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            requirement TEXT NOT NULL,
            sop_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            settings_json TEXT NOT NULL,
            status TEXT NOT NULL,
            exit_code INTEGER,
            started_at REAL NOT NULL,
            finished_at REAL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            sender_role TEXT NOT NULL,
            action TEXT NOT NULL,
            step_key TEXT NOT NULL,
            cause_id INTEGER REFERENCES messages(id),
            payload_json TEXT NOT NULL,
            commit_sha TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_kind ON messages(kind);
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            run_id TEXT NOT NULL,
            role TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL,
            request_hash TEXT,
            request_json TEXT,
            response_json TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            started_at REAL NOT NULL,
            finished_at REAL,
            error TEXT
        );
        CREATE INDEX steps_key ON steps(key);
        """,
    ),
    (
        "002_run_branch",
        """
        ALTER TABLE runs ADD COLUMN branch TEXT NOT NULL DEFAULT 'main';
        """,
    ),
    (
        # where a step's token figures came from (softco.llm.base.UsageSource). Rows of older boards
        # are what their run says: scripted, replayed and dry runs had length-based estimates, which
        # are not priced (their cost becomes unknown); calls to an endpoint stay measured.
        "003_usage_source",
        """
        ALTER TABLE steps ADD COLUMN usage_source TEXT NOT NULL DEFAULT 'measured';
        UPDATE steps SET usage_source = 'estimated', cost_usd = CASE WHEN status = 'cached' THEN cost_usd END
        WHERE request_hash IS NOT NULL AND run_id IN (
            SELECT id FROM runs WHERE CASE WHEN json_valid(settings_json) THEN
                coalesce(json_extract(settings_json, '$.dry_run'), 0) = 1
                OR coalesce(json_extract(settings_json, '$.llm'), '') LIKE 'script:%'
                OR coalesce(json_extract(settings_json, '$.llm'), '') LIKE 'replay:%'
            ELSE 0 END
        );
        """,
    ),
]


def _short(text: str, limit: int = 60) -> str:
    """Text read from a damaged board, made fit for one line of an error message."""
    flat = "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _check_file(path: Path) -> None:
    """The board must be a regular file of its own (not a symlink, a directory or a device) that starts
    like an SQLite database: SQLite would take an empty file for a new database and write into it."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise BoardError(f"{path} does not exist: this is not a softco project, or its board was deleted") from None
    except OSError as exc:
        raise BoardError(f"cannot read the board {path} ({exc.strerror}); check its permissions") from None
    if stat.S_ISLNK(st.st_mode):
        raise BoardError(
            f"the board {path} is a symlink (to {_short(os.readlink(path), 120)}); softco opens only a board file "
            "of the project's own: put the board file itself in its place"
        )
    if stat.S_ISDIR(st.st_mode):
        raise BoardError(f"the board {path} is a directory, not a board file; {RESTORE}")
    if not stat.S_ISREG(st.st_mode):
        raise BoardError(f"the board {path} is not a regular file; {RESTORE}")
    if st.st_size == 0:
        raise BoardError(f"the board {path} is empty (0 bytes); {RESTORE}")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BoardError(f"cannot read the board {path} ({exc.strerror}); check its permissions") from None
    if header != SQLITE_HEADER:
        raise BoardError(f"the board {path} is damaged (it does not start like an SQLite database); {RESTORE}")


_SCHEMAS: dict[tuple[str, ...], dict[str, set[str]]] = {}


def _schema(applied: list[str]) -> dict[str, set[str]]:
    """Table -> columns of a board to which exactly ``applied`` migrations were applied (built in memory)."""
    key = tuple(applied)
    if key not in _SCHEMAS:
        db = sqlite3.connect(":memory:")
        try:
            db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            for name, sql in MIGRATIONS:
                if name in applied:
                    db.executescript(sql)
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            _SCHEMAS[key] = {
                t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables if not t.startswith("sqlite_")
            }
        finally:
            db.close()
    return _SCHEMAS[key]


@dataclass(frozen=True)
class Message:
    id: int
    run_id: str
    kind: str
    subject: str
    sender_role: str
    action: str
    step_key: str
    cause_id: int | None
    payload: dict[str, Any]
    commit_sha: str | None
    created_at: float


@dataclass(frozen=True)
class StepRow:
    id: int
    key: str
    run_id: str
    role: str
    action: str
    subject: str
    attempt: int
    status: str
    request_hash: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    started_at: float
    finished_at: float | None
    error: str | None
    response_json: str | None
    #: "measured", "recorded" or "estimated" (softco.llm.base.UsageSource); only measured is priced
    usage_source: str = "estimated"
    #: the request sent (an LLM call's row), as JSON
    request_json: str | None = None

    @property
    def duration(self) -> float:
        return (self.finished_at or self.started_at) - self.started_at


@dataclass(frozen=True)
class RunRow:
    id: str
    requirement: str
    sop_hash: str
    model: str
    settings: dict[str, Any]
    status: str
    exit_code: int | None
    started_at: float
    finished_at: float | None
    branch: str = "main"


#: The board's numeric columns and the range softco writes them in (times: 1970 to the year 9999).
_MAX_TIME = 253_402_300_799.0
_NUMBERS: list[tuple[str, str, float, float]] = [
    ("runs", "started_at", 0.0, _MAX_TIME),
    ("runs", "finished_at", 0.0, _MAX_TIME),
    ("runs", "exit_code", -(2**31), 2**31),
    ("messages", "created_at", 0.0, _MAX_TIME),
    ("steps", "started_at", 0.0, _MAX_TIME),
    ("steps", "finished_at", 0.0, _MAX_TIME),
    ("steps", "attempt", 0, 2**31),
    ("steps", "prompt_tokens", 0, 2**53),
    ("steps", "completion_tokens", 0, 2**53),
    ("steps", "cost_usd", 0.0, 1e12),
]

#: What to do about a board that cannot be used: it is not in git, so the repo cannot give it back.
RESTORE = (
    "the board is not in git, so the repo cannot restore it: put back a copy from a backup, or start again with "
    "`softco new` (the generated code stays in this project's git history; delete the project when done with it)"
)
SQLITE_HEADER = b"SQLite format 3\x00"


class BoardError(SoftcoError):
    """A board that cannot be used as it is (damaged, not a board, from a newer softco): exit 1, one line
    naming the file, what is wrong and what to do. Nothing was written to it."""

    exit_code = EXIT_ERROR


class BoardBusy(BoardError):
    """Another program holds a lock on the board file: exit 2, like a project in use."""

    exit_code = EXIT_USAGE


def _sqlite_problem(path: Path, exc: sqlite3.Error) -> BoardError:
    """The one line for an SQLite error met while checking a board."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return BoardBusy(f"the board {path} is locked by another program ({exc}); close it, then try again")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return BoardError(f"the board {path} is damaged ({exc}); {RESTORE}")
    if name.startswith("SQLITE_FULL"):
        return BoardError(f"cannot open the board {path}: the disk is full ({exc}); free disk space, then try again")
    return BoardError(
        f"cannot open the board {path} ({exc}); check that its directory is writable and the disk has space, then "
        "try again"
    )


class Board:
    """The SQLite message board of one generated project."""

    def __init__(self, path: Path, check: bool = False) -> None:
        """Open the board at ``path``, creating it if need be. ``check``: the board must already exist and
        pass :meth:`_check` (a :class:`BoardError` otherwise) before anything is written to it."""
        if check:
            _check_file(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        if check:
            try:
                self._check()
            except sqlite3.Error as exc:
                self.db.close()
                raise _sqlite_problem(path, exc) from None
            except BaseException:
                self.db.close()
                raise
        self.db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed transaction survives
        # the process being killed (it is in the OS's hands); a power cut may lose the last few, never
        # corrupt the file. The project's git objects are written without fsync too.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @classmethod
    def open(cls, path: Path) -> Board:
        """An existing board, checked before use (:meth:`_check`); a :class:`BoardError` says what is wrong."""
        return cls(path, check=True)

    def close(self) -> None:
        self.db.close()

    def _check(self) -> None:
        """Refuse a damaged board before anything is written to it (so the check leaves it as it was):
        SQLite's own check of its pages (``PRAGMA quick_check``), the schema (every migration known to this
        softco, every table and column they make), and each run's settings. The payloads are checked against
        their kinds by :meth:`check_messages`, once the SOP is known."""
        rows = self.db.execute("PRAGMA quick_check").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            first = " ".join(problems[0].replace("*** in database main ***", "").split())
            raise BoardError(f"the board {self.path} is damaged (SQLite's check: {first[:200]}); {RESTORE}")
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "migrations" not in tables:
            raise BoardError(f"the board {self.path} has no migrations table: it is not a softco board; {RESTORE}")
        applied = [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]
        known = [name for name, _ in MIGRATIONS]
        newer = sorted(set(applied) - set(known))
        if newer:
            raise BoardError(
                f"the board {self.path} was written by a newer softco (schema {newer[-1]}; this softco knows up to "
                f"{known[-1]}); upgrade softco to open it"
            )
        expected = _schema([name for name in known if name in applied])
        for table, columns in expected.items():
            if table not in tables:
                raise BoardError(f"the board {self.path} has no table {table!r} (it was dropped); {RESTORE}")
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            missing = sorted(columns - have)
            if missing:
                raise BoardError(
                    f"the board {self.path}: table {table} lacks column(s) {', '.join(missing)}; {RESTORE}"
                )
        for table, column, low, high in _NUMBERS:
            if column not in expected.get(table, set()):
                continue
            # SQLite keeps any value in any column: text in a REAL column, a time no date can show
            bad = self.db.execute(
                f"SELECT rowid FROM {table} WHERE {column} IS NOT NULL AND (typeof({column}) NOT IN "
                f"('integer', 'real') OR NOT {column} BETWEEN ? AND ?) LIMIT 1",
                (low, high),
            ).fetchone()
            if bad is not None:
                raise BoardError(
                    f"the board {self.path}: {table}.{column} of row {bad[0]} is not a number softco wrote; {RESTORE}"
                )
        if "runs" in expected:
            for run_id, settings in self.db.execute("SELECT id, settings_json FROM runs"):
                try:
                    ok = isinstance(json.loads(settings), dict)
                except (TypeError, ValueError, RecursionError):
                    ok = False
                if not ok:
                    raise BoardError(
                        f"the board {self.path}: the settings of run {str(run_id)[:40]!r} are not a JSON object; "
                        f"{RESTORE}"
                    )

    def check_messages(self, kinds: Mapping[str, type[BaseModel]], unknown_kinds: bool = False) -> None:
        """Every message's payload is a JSON object that validates against its kind's schema (without the
        cross references, which depend on the branch a message is on). A kind not in ``kinds`` is refused
        unless ``unknown_kinds`` (a reader that could not load the project's SOP, whose custom kinds it lacks)."""
        rows = self.db.execute("SELECT id, kind, sender_role, payload_json FROM messages ORDER BY id")
        for mid, kind, role, payload in rows:
            where = f"the board {self.path}: message {mid} ({_short(kind)} from {_short(role)})"
            try:
                data = json.loads(payload)
            except (TypeError, ValueError, RecursionError):
                raise BoardError(f"{where} is not valid JSON; {RESTORE}") from None
            if not isinstance(data, dict):
                raise BoardError(f"{where} is not a JSON object; {RESTORE}")
            cls = kinds.get(kind)
            if cls is None:
                if unknown_kinds:
                    continue
                raise BoardError(
                    f"{where} is of a kind this project's SOP does not define (kinds: {', '.join(sorted(kinds))}); "
                    f"{RESTORE}"
                )
            try:
                cls.model_validate(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                at = ".".join(str(p) for p in err.get("loc", ())) or "payload"
                raise BoardError(
                    f"{where} does not fit its kind ({_short(at)}: {_short(str(err.get('msg', '')), 120)}); {RESTORE}"
                ) from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as db:
                for statement in sql.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))

    # runs -------------------------------------------------------------------------------
    def start_run(
        self, run_id: str, requirement: str, sop_hash: str, model: str, settings: dict[str, Any], branch: str = "main"
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, requirement, sop_hash, model, settings_json, status, started_at, branch)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, requirement, sop_hash, model, json.dumps(settings), time.time(), branch),
            )

    def finish_run(self, run_id: str, status: str, exit_code: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status=?, exit_code=?, finished_at=? WHERE id=?",
                (status, exit_code, time.time(), run_id),
            )

    def close_dead_runs(self) -> int:
        """Mark 'killed' the runs still 'running' whose process died without saying so (SIGKILL, power cut).
        Only the holder of the project's lock (softco.company.lock) may call this: no other run can be live."""
        with self.transaction() as db:
            cur = db.execute("UPDATE runs SET status='killed' WHERE status='running'")
        return cur.rowcount

    def runs(self) -> list[RunRow]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        return [
            RunRow(
                id=r["id"],
                requirement=r["requirement"],
                sop_hash=r["sop_hash"],
                model=r["model"],
                settings=json.loads(r["settings_json"]),
                status=r["status"],
                exit_code=r["exit_code"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                branch=r["branch"],
            )
            for r in rows
        ]

    # messages ---------------------------------------------------------------------------
    def publish(
        self,
        run_id: str,
        kind: str,
        subject: str,
        sender_role: str,
        action: str,
        step_key: str,
        payload: dict[str, Any],
        cause_id: int | None = None,
    ) -> Message:
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO messages (run_id, kind, subject, sender_role, action, step_key, cause_id,"
                " payload_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    kind,
                    subject,
                    sender_role,
                    action,
                    step_key,
                    cause_id,
                    json.dumps(payload, sort_keys=True),
                    now,
                ),
            )
            mid = cur.lastrowid
        assert mid is not None
        return Message(mid, run_id, kind, subject, sender_role, action, step_key, cause_id, payload, None, now)

    def set_commit(self, message_id: int, sha: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE messages SET commit_sha=? WHERE id=?", (sha, message_id))

    def messages(self, kind: str | None = None) -> list[Message]:
        if kind is None:
            rows = self.db.execute("SELECT * FROM messages ORDER BY id").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM messages WHERE kind=? ORDER BY id", (kind,)).fetchall()
        return [
            Message(
                id=r["id"],
                run_id=r["run_id"],
                kind=r["kind"],
                subject=r["subject"],
                sender_role=r["sender_role"],
                action=r["action"],
                step_key=r["step_key"],
                cause_id=r["cause_id"],
                payload=json.loads(r["payload_json"]),
                commit_sha=r["commit_sha"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    # steps ------------------------------------------------------------------------------
    def record_step(
        self,
        key: str,
        run_id: str,
        role: str,
        action: str,
        subject: str,
        status: str,
        started_at: float,
        finished_at: float,
        attempt: int = 1,
        request_hash: str | None = None,
        request_json: str | None = None,
        response_json: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float | None = None,
        error: str | None = None,
        usage_source: str = "estimated",
    ) -> int:
        """One row per LLM call (each attempt) or tool call."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO steps (key, run_id, role, action, subject, attempt, status, request_hash,"
                " request_json, response_json, prompt_tokens, completion_tokens, cost_usd,"
                " started_at, finished_at, error, usage_source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    run_id,
                    role,
                    action,
                    subject,
                    attempt,
                    status,
                    request_hash,
                    request_json,
                    response_json,
                    prompt_tokens,
                    completion_tokens,
                    cost_usd,
                    started_at,
                    finished_at,
                    error,
                    usage_source,
                ),
            )
            sid = cur.lastrowid
        assert sid is not None
        return sid

    def steps(self, run_id: str | None = None) -> list[StepRow]:
        sql = "SELECT * FROM steps" + (" WHERE run_id=?" if run_id else "") + " ORDER BY id"
        rows = self.db.execute(sql, (run_id,) if run_id else ()).fetchall()
        return [
            StepRow(
                id=r["id"],
                key=r["key"],
                run_id=r["run_id"],
                role=r["role"],
                action=r["action"],
                subject=r["subject"],
                attempt=r["attempt"],
                status=r["status"],
                request_hash=r["request_hash"],
                prompt_tokens=r["prompt_tokens"],
                completion_tokens=r["completion_tokens"],
                cost_usd=r["cost_usd"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                error=r["error"],
                response_json=r["response_json"],
                usage_source=r["usage_source"],
                request_json=r["request_json"],
            )
            for r in rows
        ]
