"""A generated project in transit between a Ray worker and the driver: a git bundle plus the board file.

A worker builds each project on its own disk; the driver needs the same project, at the same path, as the
local backend would leave it. What makes a softco project is its git repo (every artifact is a commit) and
its board (``.softco/board.sqlite``); everything else under ``.softco/`` (the sandbox venv, the lock) is
made again when needed. So a :class:`ProjectPack` holds:

- ``bundle``: ``git bundle create --all`` of the repo (every branch and HEAD), or None before the first
  commit;
- ``board``: a consistent copy of the board, taken with SQLite's online backup while the run may still be
  writing it (so a snapshot mid-run is a board as of one moment, never a torn file);
- ``head``: the branch HEAD named.

The board is copied *before* the bundle: a snapshot taken between a commit and its board message then has
the commit without its message, which is the crash softco heals on resume (the other order could give a
message whose commit is missing).

:func:`unpack_project` writes a pack into a new directory: ``git init``, fetch the bundle's branches,
check out HEAD, put the board in place. A pack comes from our own workers, but it is still read as
untrusted data: sizes are bounded, the bundle is verified by git, only branches are fetched (a bundle
carries no hooks or config), the branch name is checked, and the board is opened and checked like any
other before the project is used.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from softco.board import Board, BoardError
from softco.errors import SoftcoError

#: The largest bundle or board a pack may carry: a generated project is a few hundred KB.
MAX_PACK_BYTES = 256 * 1024 * 1024
BOARD_FILE = Path(".softco") / "board.sqlite"
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
GIT_TIMEOUT = 300


class ShippingError(SoftcoError):
    """A project could not be packed or unpacked; the message says what and where (exit 1)."""


class ProjectPack(BaseModel):
    """A project's repo and board, as bytes (see the module)."""

    model_config = ConfigDict(extra="forbid")
    bundle: bytes | None = Field(default=None, description="git bundle of every branch, None before any commit")
    board: bytes | None = Field(default=None, description="the board file, None before the board exists")
    head: str = Field(default="main", description="the branch HEAD names")

    @property
    def size(self) -> int:
        return len(self.bundle or b"") + len(self.board or b"")


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ShippingError(f"git {args[0]} in {cwd} failed: {exc}") from None
    return proc


def _checked(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise ShippingError(f"{what}: {last}")
    return proc.stdout


def snapshot_board(path: Path) -> bytes | None:
    """A consistent copy of the SQLite board at ``path`` (None if there is none yet), as one file's bytes."""
    if not path.is_file():
        return None
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(":memory:")
            try:
                src.backup(dst)
                data = dst.serialize()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise ShippingError(f"cannot copy the board {path}: {exc}") from None
    if len(data) > MAX_PACK_BYTES:
        raise ShippingError(f"the board {path} is {len(data):,} bytes; the limit is {MAX_PACK_BYTES:,}")
    return data


def _head(project: Path) -> tuple[str, bool]:
    """The branch HEAD names and whether it has a commit, read from .git without starting git."""
    git_dir = project / ".git"
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return "main", False
    if not head.startswith("ref: refs/heads/"):
        return "main", False  # detached: softco never leaves a project so; bundle what is there under main
    branch = head.removeprefix("ref: refs/heads/")
    try:
        packed = (git_dir / "packed-refs").read_text(encoding="utf-8")
    except OSError:
        packed = ""
    has_commit = (git_dir / "refs" / "heads" / branch).is_file() or f" refs/heads/{branch}\n" in packed + "\n"
    return branch, has_commit


def pack_project(project: Path) -> ProjectPack:
    """The project at ``project`` as a :class:`ProjectPack`: the board first, then the bundle (see the module)."""
    board = snapshot_board(project / BOARD_FILE)
    if not (project / ".git").exists():
        return ProjectPack(board=board)
    head, has_commit = _head(project)
    if not has_commit:
        return ProjectPack(board=board, head=head)
    with tempfile.TemporaryDirectory(prefix="softco-bundle-") as tmp:
        target = Path(tmp) / "project.bundle"
        _checked(_git(["bundle", "create", "--quiet", str(target), "--all"], project), f"git bundle of {project}")
        size = target.stat().st_size
        if size > MAX_PACK_BYTES:
            raise ShippingError(f"the repo {project} bundles to {size:,} bytes; the limit is {MAX_PACK_BYTES:,}")
        bundle = target.read_bytes()
    return ProjectPack(bundle=bundle, board=board, head=head)


def unpack_project(pack: ProjectPack, dest: Path) -> None:
    """Write ``pack`` as a project at ``dest``, which must not exist yet: repo, work tree and board."""
    if pack.size > 2 * MAX_PACK_BYTES:
        raise ShippingError(f"a project of {pack.size:,} bytes came back; the limit is {2 * MAX_PACK_BYTES:,}")
    if not _BRANCH.match(pack.head) or ".." in pack.head or pack.head.endswith((".lock", "/")):
        raise ShippingError(f"a project came back with HEAD on {pack.head[:80]!r}, not a branch name")
    try:
        dest.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ShippingError(f"cannot create {dest}: {exc.strerror or exc}") from None
    _checked(_git(["init", "--quiet", "--initial-branch", pack.head], dest), f"git init {dest}")
    if pack.bundle is not None:
        with tempfile.TemporaryDirectory(prefix="softco-bundle-") as tmp:
            bundle = Path(tmp) / "project.bundle"
            bundle.write_bytes(pack.bundle)
            _checked(_git(["bundle", "verify", "--quiet", str(bundle)], dest), "the project's git bundle is not valid")
            _checked(
                _git(["fetch", "--quiet", "--update-head-ok", str(bundle), "+refs/heads/*:refs/heads/*"], dest),
                f"the project's git bundle could not be read into {dest}",
            )
        _checked(_git(["symbolic-ref", "HEAD", f"refs/heads/{pack.head}"], dest), f"git symbolic-ref in {dest}")
        _checked(_git(["reset", "--quiet", "--hard", "HEAD"], dest), f"git checkout in {dest}")
    (dest / ".softco").mkdir(exist_ok=True)
    if pack.board is not None:
        board_path = dest / BOARD_FILE
        board_path.write_bytes(pack.board)
        try:
            Board.open(board_path).close()  # checked as any board softco opens: damage is refused here
        except (BoardError, sqlite3.Error) as exc:
            raise ShippingError(f"the board that came back for {dest} is not valid: {exc}") from None
