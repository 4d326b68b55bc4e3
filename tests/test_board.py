"""The board file: named migrations in order, so a board from an older softco still opens."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from softco.board import MIGRATIONS, Board


def test_a_board_from_before_migration_002_opens_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "board.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    name, sql = MIGRATIONS[0]
    db.executescript(sql)
    db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
    db.execute(
        "INSERT INTO runs (id, requirement, sop_hash, model, settings_json, status, started_at)"
        " VALUES ('old', 'a todo app', 'h', 'm', '{}', 'done', 1.0)"
    )
    db.commit()
    db.close()

    board = Board(path)
    try:
        (run,) = board.runs()
        assert (run.id, run.requirement, run.branch) == ("old", "a todo app", "main")
        applied = [r[0] for r in board.db.execute("SELECT name FROM migrations ORDER BY name")]
        assert applied == [m for m, _ in MIGRATIONS]
        board.start_run("new", "x", "h", "m", {}, branch="revise/1")
        assert [r.branch for r in board.runs()] == ["main", "revise/1"]
    finally:
        board.close()
    Board(path).close()  # opening again applies nothing twice
