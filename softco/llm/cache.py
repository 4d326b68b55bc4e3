"""The step cache: a step whose request is identical to one already answered reuses its answer.

Keys are (provider, request hash): the hash covers the rendered messages, the schema and the model
settings, so a changed template misses exactly for the steps that render it, and everything their
output feeds. Only a step's final, validated answer is stored (never a rejected one, which would
make a re-ask meet the same bad answer again). One SQLite file per output directory, shared by its
projects, so re-running the same requirement or resuming a killed run pays for nothing twice. Only
real endpoints are cached; replayed and scripted answers are free already.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from softco.llm.base import LLMResponse


class StepCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # as the board: safe when killed, no fsync per answer
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS answers (provider TEXT NOT NULL, request_hash TEXT NOT NULL,"
            " response_json TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (provider, request_hash))"
        )

    def get(self, provider: str, request_hash: str) -> LLMResponse | None:
        row = self.db.execute(
            "SELECT response_json FROM answers WHERE provider=? AND request_hash=?", (provider, request_hash)
        ).fetchone()
        return LLMResponse.model_validate_json(row[0]) if row else None

    def put(self, provider: str, request_hash: str, response: LLMResponse) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
            (provider, request_hash, response.model_dump_json(), time.time()),
        )

    def close(self) -> None:
        self.db.close()
