"""A project shipped from a Ray worker to the driver (softco/eval/shipping.py): git bundle + board file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git
import pytest

from softco.board import Board
from softco.company.workspace import Author, Workspace
from softco.eval.shipping import ProjectPack, ShippingError, pack_project, unpack_project

AUTHOR = Author("Engineer", "engineer@softco.invalid")


def _project(root: Path, branch: str | None = None) -> tuple[Workspace, Board]:
    ws = Workspace.create(root)
    (root / "calc").mkdir()
    (root / "calc" / "__init__.py").write_text("X = 1\n")
    ws.commit([".gitignore", "calc/__init__.py"], "code: calc", AUTHOR)
    if branch is not None:
        ws.repo.git.checkout("-b", branch)
        (root / "calc" / "__init__.py").write_text("X = 2\n")
        ws.commit(["calc/__init__.py"], "code: calc again", AUTHOR)
    board = Board(root / ".softco" / "board.sqlite")
    board.start_run("run1", "a calculator", "sop", "model", {})
    return ws, board


def _git(args: list[str], cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_a_project_comes_back_the_same_with_a_board_still_being_written(tmp_path: Path) -> None:
    ws, board = _project(tmp_path / "worker", branch="revise/1")
    # the run is still going: its board holds a write in the WAL that no checkpoint has put in the file yet
    board.db.execute("PRAGMA wal_autocheckpoint=0")
    board.start_run("run2", "a calculator", "sop", "model", {})
    try:
        pack = pack_project(tmp_path / "worker")
    finally:
        board.close()
        ws.repo.close()
    assert pack.head == "revise/1"

    back = tmp_path / "driver" / "task" / "variant"
    unpack_project(ProjectPack.model_validate(pack.model_dump()), back)
    history = ["log", "--all", "--format=%H %s"]
    assert _git(history, back) == _git(history, tmp_path / "worker")
    assert _git(["symbolic-ref", "--short", "HEAD"], back).strip() == "revise/1"
    assert _git(["status", "--porcelain"], back) == ""  # the work tree is checked out, nothing left over
    assert (back / "calc" / "__init__.py").read_text() == "X = 2\n"
    assert _git(["remote"], back) == ""  # as the local backend leaves it: no remote pointing at a temp file
    assert sorted(p.name for p in (back / ".softco").iterdir()) == ["board.sqlite"]  # no lock, no venv
    restored = Board.open(back / ".softco" / "board.sqlite")
    try:
        assert [r.id for r in restored.runs()] == ["run1", "run2"]
    finally:
        restored.close()


def test_a_project_before_its_first_commit_ships_its_board_only(tmp_path: Path) -> None:
    Workspace.create(tmp_path / "worker").repo.close()
    Board(tmp_path / "worker" / ".softco" / "board.sqlite").close()
    pack = pack_project(tmp_path / "worker")
    assert pack.bundle is None and pack.board is not None
    unpack_project(pack, tmp_path / "back")
    assert git.Repo(tmp_path / "back").head.is_valid() is False
    Board.open(tmp_path / "back" / ".softco" / "board.sqlite").close()


@pytest.mark.parametrize("head", ["../../etc", "-x", "main.lock", "a..b", "main/"])
def test_a_head_that_is_not_a_branch_name_is_refused(tmp_path: Path, head: str) -> None:
    with pytest.raises(ShippingError, match="not a branch name"):
        unpack_project(ProjectPack(head=head), tmp_path / "back")
    assert not (tmp_path / "back").exists()


def test_a_damaged_bundle_or_board_is_refused(tmp_path: Path) -> None:
    ws, board = _project(tmp_path / "worker")
    board.close()
    ws.repo.close()
    pack = pack_project(tmp_path / "worker")
    assert pack.bundle is not None and pack.board is not None
    with pytest.raises(ShippingError, match="git bundle (is not valid|could not be read)"):
        unpack_project(pack.model_copy(update={"bundle": pack.bundle[:100]}), tmp_path / "b1")
    with pytest.raises(ShippingError, match="board that came back"):
        unpack_project(pack.model_copy(update={"board": b"SQLite format 3\x00" + b"\x01" * 500}), tmp_path / "b2")
    with pytest.raises(ShippingError, match="cannot create"):
        unpack_project(pack, tmp_path / "worker")  # never into an existing directory


def test_placing_a_run_replaces_its_old_state_only_once_the_new_one_is_whole(tmp_path: Path) -> None:
    from softco.eval.ray_backend import place

    ws, board = _project(tmp_path / "worker")
    board.close()
    ws.repo.close()
    good = pack_project(tmp_path / "worker")
    dest = tmp_path / "ev" / "runs" / "m" / "seed-1" / "calc"
    place(good, dest)  # a first (partial) state
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    assert good.board is not None
    with pytest.raises(ShippingError):
        place(good.model_copy(update={"board": good.board[:200]}), dest)  # a later state that is not whole
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before  # the old state is untouched
    assert sorted(p.name for p in dest.parent.iterdir()) == ["calc"]  # nothing half-written left beside it
    place(good, dest)  # and a whole one replaces it
    assert sorted(p.name for p in dest.parent.iterdir()) == ["calc"]
