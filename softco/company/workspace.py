"""The generated repo: choosing its directory, writing files safely, committing with gitpython."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from softco import git_safe
from softco.artifacts import check_file_set, check_relative_path
from softco.errors import SoftcoError
from softco.safe_text import one_line

if TYPE_CHECKING:
    import git

GITIGNORE = ".softco/\n__pycache__/\n*.pyc\n.pytest_cache/\n*.egg-info/\n"
MAX_FILE_BYTES = 512 * 1024
#: A git lock file this old, in a repo whose project lock softco holds, was left by a run killed mid-commit.
STALE_GIT_LOCK_S = 10.0


def _parents(path: str) -> list[str]:
    """The directories above a repo path, the top one ('') first: 'a/b/c.py' -> ['', 'a', 'a/b']."""
    names = path.split("/")
    return ["/".join(names[:i]) for i in range(len(names))]


class WorkspaceError(SoftcoError):
    """A path or directory problem; the message says what to do."""


def slugify(text: str, limit: int = 40) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = ""
    for w in words:
        if len(slug) + len(w) + 1 > limit:
            break
        slug = f"{slug}-{w}" if slug else w
    return slug or "project"


def choose_project_dir(output: Path, name: str) -> Path:
    """A new directory under ``output``: ``name``, else ``name-2``, ``name-3``... never an existing one."""
    for n in range(1, 1000):
        candidate = output / (name if n == 1 else f"{name}-{n}")
        if not candidate.exists():
            return candidate
    raise WorkspaceError(f"{output}: too many projects named {name!r}; pass --name")


@cache
def _object_db() -> type[Any]:
    """The repo's object store, read through git itself but written in-process (the class is made when a repo
    is first opened: gitpython is imported then, not when softco starts).

    gitpython writes a blob or a commit by starting ``git hash-object`` (a process each, a few ms);
    a loose object is only a zlib-compressed file named by its SHA-1, which gitdb writes itself
    (as gitpython already does for trees). Same objects, same SHAs, no process. Kept because it pays:
    ``python benchmarks/git_objects.py`` measured 33.6 vs 65.9 and 49.4 vs 73.1 ms a commit (with it vs
    gitpython's own store; 40 commits, median of 9, on 2 shared CPUs at load 10-14), and every publish
    commits on the run's critical path.
    """
    from git.db import GitCmdObjectDB
    from gitdb import IStream
    from gitdb.db import LooseObjectDB

    class ObjectDB(GitCmdObjectDB):
        def store(self, istream: IStream) -> IStream:
            return LooseObjectDB.store(self, istream)

    return ObjectDB


def with_git_errors(*kinds: type[BaseException]) -> tuple[type[BaseException], ...]:
    """``kinds`` and gitpython's error, for an ``except`` clause (evaluated when something is raised): without it
    before gitpython was imported, since nothing can have raised it then."""
    git = sys.modules.get("git")
    return (*kinds, git.GitError) if git is not None else kinds


@dataclass(frozen=True)
class Author:
    name: str
    email: str


class Workspace:
    """The git repo of one generated project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._repo: git.Repo | None = None
        #: commits made through this object, newest last: (message, sha)
        self._made: list[tuple[str, str]] = []
        #: the paths in git's index, read once and then kept up to date by commit()
        self._tracked: set[str] | None = None
        #: the commit this object made last, with its tree's SHA
        self._last: tuple[git.Commit, bytes] | None = None

    @property
    def repo(self) -> git.Repo:
        """The repo, opened when first needed (a new project's first commit waits until its first request is
        out: the gitpython import is not in the way of it)."""
        if self._repo is None:
            self._repo = git_safe.open_repo(self.root, odbt=_object_db())
        return self._repo

    @classmethod
    def create(cls, root: Path) -> Workspace:
        try:
            root.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise WorkspaceError(f"{root} already exists; softco never writes into an existing directory") from None
        except OSError as exc:
            raise WorkspaceError(f"cannot create {root}: {exc.strerror}; choose another --output") from None
        # as gitpython's Repo.init does, without importing it (git runs no hook when it makes a repo)
        try:
            subprocess.run(
                ["git", "init", "--quiet", "--initial-branch=main", str(root)],
                env=git_safe.environment(git_safe.FIXED),
                capture_output=True,
                check=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            said = exc.stderr.decode("utf-8", "replace") if isinstance(exc, subprocess.CalledProcessError) else ""
            why = one_line(said.strip() or str(exc))[:300]
            raise WorkspaceError(f"cannot make a git repo in {root}: {why}; check that git works here") from None
        (root / ".gitignore").write_text(GITIGNORE)
        (root / ".softco").mkdir()
        ws = cls(root)
        ws._tracked = set()  # a new repo tracks nothing: no need to open it to know
        return ws

    def resolve(self, rel: str) -> Path:
        """The absolute path for a repo-relative path, refusing anything that escapes the repo.

        The path is checked again here (the artifact that carried it was checked when validated): a
        path that got past validation, or one read back from an old board, is still refused.
        """
        try:
            check_relative_path(rel)
        except ValueError as exc:
            raise WorkspaceError(f"refusing to write the project: {exc}") from None
        target = self.root / rel
        cur = self.root
        for part in Path(rel).parts:
            cur = cur / part
            if cur.is_symlink():
                raise WorkspaceError(f"{rel}: goes through a symlink; refusing to write")
        if not target.resolve().is_relative_to(self.root.resolve()):
            raise WorkspaceError(f"{rel}: resolves outside the project; refusing to write")
        return target

    def check(self, paths: Iterable[str]) -> None:
        """Refuse a set of files to write, before anything is written: each path (:meth:`resolve`), and
        the set together with what the project holds (tracked files, and what is on disk in every directory
        they go to): no two names that differ only in case, no name both a file and a directory, no
        directory that git would take for a repository (HEAD or config next to objects, refs, commondir).
        """
        paths = list(paths)
        for rel in paths:
            self.resolve(rel)
        dirs = {d for p in paths for d in _parents(p)}
        folded = {d.lower() for d in dirs}
        existing: dict[str, bool] = {}  # path -> is a directory
        for t in self.tracked():  # what a tracked file puts in the directories written to (case-blind)
            names = t.split("/")
            deepest = max(i for i in range(len(names)) if "/".join(names[:i]).lower() in folded)
            existing["/".join(names[: deepest + 1])] = deepest + 1 < len(names)
        for where in sorted(dirs):
            try:
                with os.scandir(self.root / where) as it:
                    for entry in it:
                        existing[f"{where}/{entry.name}" if where else entry.name] = entry.is_dir(follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                continue
        try:
            check_file_set(paths, existing.items())
        except ValueError as exc:
            raise WorkspaceError(f"refusing to write the project: {exc}") from None

    def tracked(self) -> set[str]:
        """The paths git tracks in this project."""
        if self._tracked is None:
            self._tracked = {str(e[0]) for e in self.repo.index.entries}
        return self._tracked

    def note_tracked(self, paths: list[str], removed: list[str]) -> None:
        """What :meth:`tracked` says once ``paths`` are added and ``removed`` removed by a commit not made yet."""
        self._tracked = (self.tracked() - set(removed)) | set(paths)

    def write(self, files: dict[str, str]) -> list[str]:
        """Write files (all checked first, see :meth:`check`); return the ones whose content changed."""
        for rel, content in files.items():
            size = len(content.encode("utf-8"))
            if size > MAX_FILE_BYTES:
                raise WorkspaceError(f"{rel}: {size} bytes is over the {MAX_FILE_BYTES} byte limit")
        self.check(files)
        changed = []
        for rel, content in files.items():
            data = content.encode("utf-8")
            target = self.resolve(rel)
            if target.is_file() and target.read_bytes() == data:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            changed.append(rel)
        return changed

    def read(self, rel: str) -> str | None:
        target = self.resolve(rel)
        return target.read_text(encoding="utf-8") if target.is_file() else None

    def clear_stale_locks(self, older_than: float = STALE_GIT_LOCK_S) -> list[str]:
        """Remove the lock files git (and gitpython) leave when killed while writing the index, HEAD or the
        branch's ref, once they are ``older_than`` seconds: the caller holds the project's lock, so no softco
        process writes this repo now, and a git command that holds one lives for less. The names removed."""
        git_dir, common = Path(self.repo.git_dir), Path(self.repo.common_dir)
        candidates = [git_dir / "index.lock", git_dir / "HEAD.lock", common / "packed-refs.lock"]
        if not self.repo.head.is_detached:
            candidates.append(common / f"{self.repo.head.reference.path}.lock")
        removed = []
        for path in candidates:
            try:
                st = path.lstat()
                if stat.S_ISREG(st.st_mode) and time.time() - st.st_mtime >= older_than:
                    path.unlink()
                    removed.append(os.path.relpath(path, self.root))
            except OSError:  # none there; or one softco may not remove, which the commit then names
                continue
        return removed

    def head(self) -> str | None:
        return self.repo.head.commit.hexsha if self.repo.head.is_valid() else None

    def commit_with_trailer(self, trailer: str) -> str | None:
        """The commit whose message carries ``trailer`` on a line of its own, if any."""
        if not self.repo.head.is_valid():
            return None
        for message, sha in reversed(self._made):  # made by this process: no need to ask git log
            if trailer in message.splitlines():
                return sha
        out = self.repo.git.log(f"--grep=^{trailer}$", "--format=%H")
        return out.split()[0] if out.strip() else None

    def remove(self, paths: list[str]) -> list[str]:
        """Delete tracked files (a revised design dropped them); return the ones that were there."""
        tracked = {str(e[0]) for e in self.repo.index.entries}
        gone = []
        for rel in paths:
            target = self.resolve(rel)
            if rel in tracked and target.is_file():
                target.unlink()
                gone.append(rel)
        return gone

    def commit(self, paths: list[str], message: str, author: Author, removed: list[str] | None = None) -> str | None:
        """Commit ``paths`` (and the deletion of ``removed``) as ``author``; None when nothing changed."""
        if not paths and not removed:
            return None
        index = self.repo.index
        if removed:
            index.remove(removed, working_tree=False)
        if paths:
            index.add(paths)
        if self._tracked is not None:
            self._tracked = (self._tracked - set(removed or [])) | set(paths)
        # what `index.commit(..., skip_hooks=True)` does, with "nothing changed" told by the tree's SHA
        # (the index's tree is HEAD's tree) rather than by a `git diff` process
        tree = index.write_tree()
        parent, parent_tree = self._head_and_tree()
        if parent is not None and parent_tree == tree.binsha:
            return None
        import git
        from git.refs.log import RefLog
        from git.refs.symbolic import SymbolicReference

        actor = git.Actor(author.name, author.email)
        branch = None if parent is None or self.repo.head.is_detached else self.repo.head.reference
        commit = git.Commit.create_from_tree(
            self.repo,
            tree,
            message,
            parent_commits=[parent] if parent is not None else [],
            head=branch is None,  # the first commit, or a detached HEAD: gitpython's own way
            author=actor,
            committer=actor,
        )
        if branch is not None and parent is not None:
            # what gitpython's head=True does for a branch (the ref, then its reflog and HEAD's, with the
            # committer of the new commit), without reading back through `git cat-file` the commits it knows
            SymbolicReference.set_reference(branch, commit)
            for ref in (branch, self.repo.head):
                RefLog.append_entry(actor, RefLog.path(ref), parent.binsha, commit.binsha, message)
        self._last = (commit, tree.binsha)
        self._made.append((message, commit.hexsha))
        return commit.hexsha

    def _head_and_tree(self) -> tuple[git.Commit | None, bytes | None]:
        """HEAD's commit and its tree's SHA (None, None in an empty repo): the commit this object made last
        when HEAD still names it (the ref files read, no object), else read from git."""
        from git.refs.symbolic import SymbolicReference

        try:
            sha = SymbolicReference.dereference_recursive(self.repo, "HEAD")
        except ValueError:  # no commit yet
            return None, None
        if self._last is not None and self._last[0].hexsha == sha:
            return self._last
        head = self.repo.head.commit
        return head, head.tree.binsha
