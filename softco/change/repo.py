"""The user's repository: checked, read at its base commit, and worked on only through a git worktree.

Nothing here writes to the user's working tree, index, or existing branches. What is created is a new
branch ``softco/<slug>`` (numbered if taken) and its worktree under ``<git common dir>/softco/<slug>``,
which holds the run's board, venv and prompts in its ``.softco/`` (ignored, never committed).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import git

from softco import git_safe
from softco.artifacts import check_relative_path
from softco.dependencies import check_dependencies
from softco.errors import UsageError

#: A repo with more tracked files than this is refused: the map would be a guess, and git would crawl.
MAX_TRACKED_FILES = 20_000
#: A file larger than this is not read (not mapped, not shown, not editable).
MAX_READ_BYTES = 200_000
STATE_DIR = "softco"
BRANCH_PREFIX = "softco/"
#: The one file a repo may track under .softco/ (the rest of it is softco's state in the worktree).
SETUP = ".softco/setup.sh"
#: Names of test files pytest collects by default.
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")


class ChangeError(UsageError):
    """The repo cannot be worked on as it is; the message says why and what to do."""


@dataclass
class BaseRepo:
    """The user's repo as the change starts from it."""

    root: Path
    common_dir: Path
    branch: str
    sha: str
    #: tracked files at the base commit (paths, '/'-separated)
    files: list[str] = field(default_factory=list)

    def state_dir(self) -> Path:
        return self.common_dir / STATE_DIR


def open_repo(path: Path) -> BaseRepo:
    """Check that ``path`` is the top of a non-bare git repo of a Python project on a branch."""
    path = path.absolute()
    if not path.exists():
        raise ChangeError(f"{path} does not exist; give the directory of a git repository")
    if not path.is_dir():
        raise ChangeError(f"{path} is not a directory; give the directory of a git repository")
    try:
        repo = git_safe.open_repo(path, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        raise ChangeError(f"{path} is not a git repository; run `git init` and commit your project first") from None
    except git.NoSuchPathError:
        raise ChangeError(f"{path} does not exist; give the directory of a git repository") from None
    try:
        if repo.bare:
            raise ChangeError(f"{path} is a bare repository (no working tree); clone it and give the clone's directory")
        top = Path(str(repo.working_tree_dir)).resolve()
        if top != path.resolve():
            raise ChangeError(f"{path} is inside the repository {top}; give its top directory, {top}")
        if not repo.head.is_valid():
            raise ChangeError(f"{path} has no commit yet; commit your project first")
        if repo.head.is_detached:
            raise ChangeError(
                f"{path} is on a detached HEAD; check out a branch (git switch NAME) so the change has a base branch"
            )
        branch = repo.active_branch.name
        sha = repo.head.commit.hexsha
        listing = repo.git.ls_tree("-r", "-z", "--name-only", sha)
        files = [f for f in listing.split("\0") if f]
        common = Path(repo.common_dir).resolve()
    finally:
        repo.close()
    if len(files) > MAX_TRACKED_FILES:
        raise ChangeError(
            f"{path} tracks {len(files):,} files, over the {MAX_TRACKED_FILES:,} softco reads; run it on the "
            "sub-project that the change is about (its own repository)"
        )
    state = next((f for f in files if f != SETUP and (f.lower() + "/").startswith(".softco/")), None)
    if state is not None:
        raise ChangeError(
            f"{path} tracks {state}, which is where softco keeps its own state (board, map, venv) in the worktree; "
            f"remove it from the repo (git rm -r --cached .softco, keeping {SETUP} if you use it) and commit"
        )
    if not any(f.endswith(".py") for f in files):
        raise ChangeError(f"{path} has no Python file at {branch} ({sha[:8]}); softco changes Python projects")
    return BaseRepo(root=path, common_dir=common, branch=branch, sha=sha, files=files)


def branch_names(base: BaseRepo) -> set[str]:
    with git_safe.open_repo(base.root) as repo:
        return {h.name for h in repo.heads}


def pick_branch(base: BaseRepo, slug: str) -> str:
    """``softco/<slug>``, else ``softco/<slug>-2``, ... a branch and a worktree dir that do not exist yet."""
    taken = branch_names(base)
    for n in range(1, 1000):
        name = slug if n == 1 else f"{slug}-{n}"
        if BRANCH_PREFIX + name not in taken and not (base.state_dir() / name).exists():
            return BRANCH_PREFIX + name
    raise ChangeError(f"too many softco branches named {BRANCH_PREFIX}{slug}; delete old ones (git branch -D ...)")


def add_worktree(base: BaseRepo, branch: str) -> Path:
    """A new worktree of ``branch`` (made at the base commit) under the repo's git dir; the user's hooks do
    not run, nor does anything else its configuration names (softco.git_safe)."""
    where = base.state_dir() / branch.removeprefix(BRANCH_PREFIX)
    where.parent.mkdir(parents=True, exist_ok=True)
    with git_safe.open_repo(base.root) as repo:
        repo.git.execute(["git", "worktree", "add", "--quiet", "-b", branch, str(where), base.sha])
    return where


def scratch_clone(base: BaseRepo, branch: str, where: Path) -> Path:
    """For --dry-run: a clone of the repo at ``where`` (sharing its objects, which are only read), on a new
    ``branch`` at the base commit. The user's repo gets nothing: no branch, no worktree, no file."""
    env = git_safe.environment(git_safe.FIXED)
    where.parent.mkdir(parents=True, exist_ok=True)
    clone = ["git", "clone", "--quiet", "--shared", "--no-checkout", str(base.root), str(where)]
    try:
        subprocess.run(clone, env=env, capture_output=True, check=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        raise git.GitCommandError(clone, exc.returncode, exc.stderr) from None
    except subprocess.TimeoutExpired:
        raise git.GitCommandError(clone, "timed out after 600 s") from None
    with git_safe.open_repo(where) as repo:
        repo.git.execute(["git", "checkout", "--quiet", "-b", branch, base.sha])
    return where


def branch_head(root: Path, branch: str) -> str | None:
    """Where ``branch`` of the repo at ``root`` points now (None: it is gone)."""
    try:
        with git_safe.open_repo(root) as repo:
            head = next((h for h in repo.heads if h.name == branch), None)
            return head.commit.hexsha if head is not None else None
    except (git.GitError, ValueError, OSError):
        return None


def read_text(root: Path, rel: str) -> str | None:
    """A file of the worktree at ``root`` as text, or None if it is missing, too large, binary or not UTF-8."""
    try:
        check_relative_path(rel)
    except ValueError:
        return None
    target = root / rel
    try:
        if target.is_symlink() or not target.is_file() or target.stat().st_size > MAX_READ_BYTES:
            return None
        data = target.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def why_unreadable(root: Path, rel: str) -> str:
    target = root / rel
    try:
        size = target.stat().st_size
    except OSError:
        return "it cannot be read"
    if target.is_symlink():
        return "it is a symbolic link"
    if size > MAX_READ_BYTES:
        return f"it is {size:,} bytes, over the {MAX_READ_BYTES:,} softco edits"
    return "it is a binary file (or not UTF-8 text); softco edits text files only"


def test_files(files: list[str]) -> list[str]:
    """The repo's own test files (pytest's default names), safe paths only."""
    out = []
    for f in files:
        if not _TEST_FILE.search(f):
            continue
        try:
            check_relative_path(f)
        except ValueError:
            continue
        out.append(f)
    return sorted(out)


def detect_dependencies(root: Path, files: list[str]) -> tuple[list[str], list[str]]:
    """The repo's declared runtime and test dependencies (pyproject.toml, requirements*.txt) that softco can
    install in the sandbox (plain PEP 508 names, wheels only), and those it cannot (said in the summary)."""
    wanted: list[str] = []
    tracked = set(files)
    if "pyproject.toml" in tracked:
        text = read_text(root, "pyproject.toml") or ""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}
        project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
        deps = project.get("dependencies", [])
        wanted += [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
        extras = project.get("optional-dependencies", {})
        if isinstance(extras, dict):
            for name in ("test", "tests", "dev"):
                more = extras.get(name, [])
                wanted += [d for d in more if isinstance(d, str)] if isinstance(more, list) else []
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-test.txt"):
        if name in tracked:
            for line in (read_text(root, name) or "").splitlines():
                line = line.split("#", 1)[0].strip()
                if line and not line.startswith("-"):
                    wanted.append(line)
    ok: list[str] = []
    skipped: list[str] = []
    for dep in dict.fromkeys(d.replace(" ", "") for d in wanted):
        if dep.split("[")[0].split("=")[0].split(">")[0].split("<")[0].lower() in ("pytest", "softco"):
            continue  # the sandbox has softco's own pytest
        try:
            check_dependencies([dep])
        except ValueError:
            skipped.append(dep)
            continue
        ok.append(dep)
    return ok, skipped


def src_layout(files: list[str]) -> bool:
    """Whether the package lives under src/ (its tests then need src on sys.path)."""
    return any(f.startswith("src/") and f.endswith("/__init__.py") for f in files)
