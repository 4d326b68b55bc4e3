"""A crash is always healed: files written but never committed are committed on resume, and a full
disk stops both the run and its resume in one line, after which a resume finishes a clean repo."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import git
import pytest
from helpers import CliResult, can_mount_tmpfs, commits, run_cli, write_script
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

    repo.close()
    res = run_cli(["resume", str(project)], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr

    with git.Repo(project) as repo:
        assert repo.git.status("--porcelain") == ""
    by_message = {c.trailers.get("Softco-Message"): c for c in commits(project)}
    design = by_message[str(design_id)]
    assert {"README.md", "pyproject.toml", "docs/design.md", "docs/design.json"} <= set(design.files)
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    uncommitted = db.execute("SELECT id, kind FROM messages WHERE commit_sha IS NULL").fetchall()
    db.close()
    assert uncommitted == []


# --- a damaged board: one line, a non-zero exit, the file as it was -------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished project, copied by each test that damages its board."""
    return _finished_project(tmp_path_factory.mktemp("finished"))


def _sql(board: Path, *statements: str) -> None:
    db = sqlite3.connect(board)
    for s in statements:
        db.execute(s)
    db.commit()
    db.close()  # the last connection checkpoints the WAL: the change is in the board file itself


def _truncate(board: Path, tmp: Path) -> None:
    os.truncate(board, board.stat().st_size // 2)


def _garbage(board: Path, tmp: Path) -> None:
    board.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(board.stat().st_size)))


def _bit_flips(board: Path, tmp: Path) -> None:
    """Flip every bit of the first 64 bytes of the messages table's root page, in the middle of the file."""
    db = sqlite3.connect(board)
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name='messages'").fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with board.open("r+b") as f:
        f.seek((root - 1) * page_size)
        data = f.read(64)
        f.seek((root - 1) * page_size)
        f.write(bytes(b ^ 0xFF for b in data))


def _bad_header(board: Path, tmp: Path) -> None:
    """The magic string stays; the header's fields (page size, versions, counters) do not."""
    with board.open("r+b") as f:
        f.seek(16)
        f.write(b"\xff" * 84)


def _bad_settings(board: Path, tmp: Path) -> None:
    _sql(board, 'UPDATE runs SET settings_json=\'{"llm": "script:\'')


def _dropped_table(board: Path, tmp: Path) -> None:
    _sql(board, "DROP TABLE steps")


def _symlink(board: Path, tmp: Path) -> None:
    other = tmp / "elsewhere.sqlite"
    board.rename(other)  # a good board, but not the project's own file
    board.symlink_to(other)


def _payload(board: Path, tmp: Path) -> None:
    _sql(board, "UPDATE messages SET payload_json='{\"x\": 1}' WHERE kind='prd'")


def _unknown_kind(board: Path, tmp: Path) -> None:
    _sql(board, "UPDATE messages SET kind='zzz' WHERE kind='tasks'")


def _empty(board: Path, tmp: Path) -> None:
    board.write_bytes(b"")


def _directory(board: Path, tmp: Path) -> None:
    board.unlink()
    board.mkdir()


def _newer(board: Path, tmp: Path) -> None:
    _sql(board, "INSERT INTO migrations VALUES ('900_from_the_future', 0)")


CORRUPTIONS = {
    "truncated": (_truncate, "is damaged"),
    "garbage": (_garbage, "is damaged"),
    "bit flips": (_bit_flips, "is damaged"),
    "bad header": (_bad_header, "is damaged"),
    "bad settings JSON": (_bad_settings, "settings of run"),
    "dropped table": (_dropped_table, "no table 'steps'"),
    "symlink": (_symlink, "is a symlink"),
    'payload {"x": 1}': (_payload, "(prd from product_manager) does not fit its kind"),
    "unknown kind": (_unknown_kind, "(zzz from architect) is of a kind this project's SOP does not define"),
    "empty file": (_empty, "is empty"),
    "directory": (_directory, "is a directory"),
    "newer schema": (_newer, "written by a newer softco"),
}


def _state(board: Path) -> tuple[object, ...]:
    """What the board file is: a link and what it names, a directory, or its bytes."""
    if board.is_symlink():
        return ("link", os.readlink(board), board.resolve().read_bytes())
    if board.is_dir():
        return ("dir", sorted(p.name for p in board.iterdir()))
    return ("file", board.read_bytes())


def _one_line(res: CliResult, code: int, *needles: str) -> None:
    out = res.stdout + res.stderr
    assert res.exit_code == code, out
    assert "Traceback" not in out
    assert res.stderr.startswith("softco: error: ") and res.stderr.count("\n") == 1, out
    for n in needles:
        assert n in res.stderr, res.stderr


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_damaged_board_is_refused_in_one_line_and_left_as_it_was(tmp_path: Path, finished: Path, name: str) -> None:
    damage, says = CORRUPTIONS[name]
    project = tmp_path / "p"
    shutil.copytree(finished, project, symlinks=True)
    board = project / ".softco" / "board.sqlite"
    damage(board, tmp_path)
    before = _state(board)
    revise = ["revise", str(project), "--feedback", "add a modulo operation"]
    for command in (["resume", str(project)], revise, ["show", str(project)], ["report", str(project)]):
        res = run_cli(command, tmp_path)
        _one_line(res, 1, str(board), says)
        if name not in ("symlink", "newer schema"):  # those say what to do instead: replace the link, upgrade
            assert "start again with `softco new`" in res.stderr  # the board is not in git: git cannot restore it
        assert _state(board) == before, f"softco {command[0]} changed the board"
    listing = run_cli(["runs", "--output", str(tmp_path)], tmp_path)
    assert listing.exit_code == 0 and "damaged board" in listing.stdout, listing.stdout + listing.stderr
    assert _state(board) == before


def test_a_board_another_program_holds_locked_is_one_line_exit_2(tmp_path: Path, finished: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(finished, project)
    board = project / ".softco" / "board.sqlite"
    before = _state(board)
    holder = sqlite3.connect(board, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")  # as a sqlite3 shell in a write transaction does
        res = run_cli(["resume", str(project)], tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _one_line(res, 2, str(board), "locked by another program", "close it")
    assert _state(board) == before


# --- a full disk, for real: a small tmpfs in a private mount namespace -----------------------------------


# Free space left when the design is asked for. Measured on main: with 53-69 KiB left (61 here), the design's files were
# written and its commit failed (README.md, pyproject.toml and docs/design.* stayed untracked after the
# resume); with 77 KiB its files were staged and never committed (they went into the tasks commit); with
# 140 KiB the same befell the tasks. Any amount must end the same: one line per stop, then a clean repo.
LEFT = [61_440, 77_824, 143_360]


@pytest.mark.e2e
@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs an unprivileged mount namespace to make a small tmpfs")
@pytest.mark.parametrize("left", LEFT)
def test_a_full_disk_stops_in_one_line_and_resume_after_freeing_space_commits_everything(
    tmp_path: Path, left: int
) -> None:
    result = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run(
        [
            "unshare", "--user", "--map-root-user", "--mount", sys.executable,
            str(Path(__file__).parent / "full_disk_run.py"), str(tmp_path), str(left), str(result),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(result.read_text())
    new, resume_full, resume = r["runs"]
    for stopped in (new, resume_full):  # the disk is full: one line saying so and what to do, exit 1
        res = CliResult(stopped["code"], "", stopped["stderr"])
        _one_line(res, 1, "writing the project failed", "free disk space", "softco resume")
    assert resume["code"] == 0, resume["stderr"]
    assert r["status"] == ""  # nothing left untracked or uncommitted
    assert r["uncommitted"] == []  # every message on the board has its commit
    designs = [c for c in r["commits"] if c["subject"].startswith("design:")]
    assert len(designs) == 1, r["commits"]
    assert {"README.md", "pyproject.toml", "docs/design.md", "docs/design.json"} <= set(designs[0]["files"])
    assert [c["subject"].split(":")[0] for c in r["commits"]][::-1][:4] == ["requirement", "prd", "design", "tasks"]
