"""A crash is always healed: files written but never committed are committed on resume, and a full
disk stops both the run and its resume in one line, after which a resume finishes a clean repo."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import git
import pytest
from helpers import commits, run_cli, write_script
from scripted_project import REQUIREMENT, answers


def _finished_project(tmp_path: Path) -> Path:
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    return tmp_path / "out" / "p"


def _message_ids(project: Path, kind: str) -> list[int]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT id FROM messages WHERE kind=? ORDER BY id", (kind,))]
    finally:
        db.close()


def test_files_written_but_not_committed_are_all_committed_on_resume(tmp_path: Path) -> None:
    """The crash of the issue: the design's files (and README.md, pyproject.toml) are on disk, the board has
    the design and what followed, and none of it was committed. Resume commits every one of them."""
    project = _finished_project(tmp_path)
    design_id = _message_ids(project, "design")[0]
    repo = git.Repo(project)
    before_design = next(c for c in repo.iter_commits() if f"Softco-Message: {design_id}" in str(c.message)).parents[0]
    # the state a crash leaves: every file on disk as written, git's index and HEAD from before the design
    repo.git.reset("--mixed", before_design.hexsha)
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    db.execute("UPDATE messages SET commit_sha=NULL WHERE id>=?", (design_id,))
    db.commit()
    db.close()
    assert "README.md" in repo.untracked_files and "docs/design.md" in repo.untracked_files

    res = run_cli(["resume", str(project)], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr

    repo = git.Repo(project)
    assert repo.git.status("--porcelain") == ""
    by_message = {c.trailers.get("Softco-Message"): c for c in commits(project)}
    design = by_message[str(design_id)]
    assert {"README.md", "pyproject.toml", "docs/design.md", "docs/design.json"} <= set(design.files)
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    uncommitted = db.execute("SELECT id, kind FROM messages WHERE commit_sha IS NULL").fetchall()
    db.close()
    assert uncommitted == []
