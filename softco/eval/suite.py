"""A suite: a directory of task directories, each with ``task.toml`` and ``acceptance/test_*.py``.

``task.toml`` keys: ``id``, ``requirement`` (one line, as a customer writes it, stating the observable
contract the hidden tests rely on), ``tags`` (a list of strings), ``time_limit_s`` (seconds the hidden
tests may take), and optionally ``package`` (the import name PKG the requirement states) and ``entry``
(``"cli"``: the requirement asks for ``python -m PKG``; ``"import"``: a library). ``package`` and
``entry`` decide the executability check (:mod:`softco.eval.score`).
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from softco.errors import UsageError

#: The suites softco ships, as package data: ``softco/eval/suites/<name>/``.
SUITES_DIR = Path(__file__).resolve().parent / "suites"
DEFAULT_SUITE = "builtin"
TASK_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PACKAGE_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"
#: Bounds on a task's acceptance files (they travel inside every RunSpec).
MAX_ACCEPTANCE_FILES = 64
MAX_ACCEPTANCE_FILE_BYTES = 256 * 1024
MAX_ACCEPTANCE_BYTES = 2 * 1024 * 1024
MAX_TASK_REQUIREMENT = 20_000
MAX_TASKS = 1000


class SuiteError(UsageError):
    """A suite or one of its tasks is not valid; the message names the file and what to fix."""


class TaskFile(BaseModel):
    """What ``task.toml`` holds."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=TASK_ID_PATTERN)
    requirement: str = Field(min_length=1, max_length=MAX_TASK_REQUIREMENT)  # batch: up to 20,000
    tags: list[str] = Field(default_factory=list, max_length=32)
    time_limit_s: float = Field(default=120.0, gt=0, le=3600)
    package: str | None = Field(default=None, pattern=PACKAGE_PATTERN)
    entry: Literal["cli", "import"] | None = None


class Task(TaskFile):
    """A task with its hidden acceptance files (relative path under ``acceptance/`` -> text)."""

    acceptance: dict[str, str]
    #: where the task was read from (its acceptance directory is hidden from generated code)
    source: str


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    path: str
    #: the first 12 hex digits of a hash of every task of the suite: which version a score is for
    version: str
    tasks: list[Task]


def resolve_suite(name_or_dir: str | None) -> Path:
    """``--suite``: a directory, or the name of a bundled suite (default ``builtin``)."""
    given = name_or_dir or DEFAULT_SUITE
    path = Path(given)
    if path.is_dir():
        return path.absolute()
    bundled = SUITES_DIR / given
    if "/" not in given and bundled.is_dir():
        return bundled
    names = sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir()) if SUITES_DIR.is_dir() else []
    known = f"bundled suites: {', '.join(names)}" if names else "no suite is bundled with this softco"
    raise SuiteError(f"--suite {given}: no such directory or bundled suite ({known}); give a suite directory")


def _read_acceptance(task_dir: Path) -> dict[str, str]:
    acc = task_dir / "acceptance"
    if not acc.is_dir() or acc.is_symlink():
        raise SuiteError(f"{acc}: missing; a task keeps its hidden pytest files in acceptance/")
    files: dict[str, str] = {}
    total = 0
    for p in sorted(acc.rglob("*")):
        rel = p.relative_to(acc).as_posix()
        if "__pycache__" in rel.split("/") or p.is_dir():
            continue
        if p.is_symlink() or not p.is_file():
            raise SuiteError(f"{p}: not a regular file; an acceptance directory holds plain files only")
        size = p.stat().st_size
        total += size
        if size > MAX_ACCEPTANCE_FILE_BYTES or total > MAX_ACCEPTANCE_BYTES or len(files) >= MAX_ACCEPTANCE_FILES:
            raise SuiteError(
                f"{acc}: too big (at most {MAX_ACCEPTANCE_FILES} files, {MAX_ACCEPTANCE_FILE_BYTES:,} bytes each, "
                f"{MAX_ACCEPTANCE_BYTES:,} in all)"
            )
        try:
            files[rel] = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SuiteError(f"{p}: not UTF-8 text") from None
    if not any(Path(r).name.startswith("test_") and r.endswith(".py") for r in files):
        raise SuiteError(f"{acc}: no test_*.py file")
    return files


def load_task(task_dir: Path) -> Task:
    toml_path = task_dir / "task.toml"
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"{toml_path}: cannot read it ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{toml_path}: not valid TOML ({exc})") from None
    try:
        meta = TaskFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(file)"
        raise SuiteError(f"{toml_path}: {where}: {first['msg']}") from None
    if "\n" in meta.requirement.strip():
        raise SuiteError(f"{toml_path}: requirement must be one line")
    if meta.id != task_dir.name:
        raise SuiteError(f"{toml_path}: id {meta.id!r} differs from its directory name {task_dir.name!r}")
    return Task(**meta.model_dump(), acceptance=_read_acceptance(task_dir), source=str(task_dir.absolute()))


def load_suite(name_or_dir: str | None = None, only: list[str] | None = None) -> Suite:
    """Every task of the suite (sorted by id), or those ``only`` names (``--tasks``), checked."""
    root = resolve_suite(name_or_dir)
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and (p / "task.toml").is_file())
    if not dirs:
        raise SuiteError(f"{root}: no task directories (each holds task.toml and acceptance/)")
    if len(dirs) > MAX_TASKS:
        raise SuiteError(f"{root}: {len(dirs)} tasks; at most {MAX_TASKS}")
    tasks = [load_task(d) for d in dirs]
    digest = hashlib.sha256()
    for t in tasks:
        digest.update(task_version(t).encode())
    if only:
        known = {t.id for t in tasks}
        missing = [t for t in only if t not in known]
        if missing:
            raise SuiteError(f"--tasks: no task {', '.join(missing)} in {root}; tasks are {', '.join(sorted(known))}")
        tasks = [t for t in tasks if t.id in set(only)]
    return Suite(name=root.name, path=str(root), version=digest.hexdigest()[:12], tasks=tasks)


def task_version(task: Task) -> str:
    """A hash of what the task is (requirement, settings, acceptance files), not of where it lies."""
    return hashlib.sha256(task.model_dump_json(exclude={"source"}).encode()).hexdigest()[:12]
