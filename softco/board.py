"""The message board: one SQLite file per project, append-only messages and one row per step.

Roles never call each other; they publish artifacts here and react to the kinds they watch.
Schema changes are named migrations applied in order and recorded, so an old board still opens.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class Board:
    """The SQLite message board of one generated project."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed transaction survives
        # the process being killed (it is in the OS's hands); a power cut may lose the last few, never
        # corrupt the file. The project's git objects are written without fsync too.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

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
        Only the holder of the project's lock (softco.lock) may call this: no other run can be live."""
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
            )
            for r in rows
        ]
