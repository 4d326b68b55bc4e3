"""JSON storage: where the tasks file lives, reading it, and writing it atomically."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from todo.models import InvalidInputError, Task, TodoError
from todo.service import TodoList

FORMAT_VERSION = 1
ENV_VAR = "TODO_FILE"
DEFAULT_FILENAME = ".todo.json"


class StorageError(TodoError):
    """The tasks file cannot be read, is not valid JSON, has the wrong shape, or cannot be written."""


def resolve_path(file: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The tasks file: ``file`` if given, else $TODO_FILE if set and non-empty, else ~/.todo.json."""
    if file:
        return Path(file).expanduser()
    environ = os.environ if env is None else env
    from_env = environ.get(ENV_VAR, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return Path.home() / DEFAULT_FILENAME


def load_todos(path: Path) -> TodoList:
    """Read the tasks file; a missing or empty file is an empty list; anything malformed raises StorageError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TodoList()
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    if not text.strip():
        return TodoList()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StorageError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix or move the file, it was left untouched"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise StorageError(f"{path} is not a todo file: expected a JSON object with a 'tasks' list")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise StorageError(f"{path} has format version {version!r}; this app reads version {FORMAT_VERSION}")
    next_id = data.get("next_id")
    if next_id is not None and (isinstance(next_id, bool) or not isinstance(next_id, int)):
        raise StorageError(f"{path}: next_id must be an integer, got {next_id!r}")
    try:
        tasks = [Task.from_dict(record) for record in data["tasks"]]
        return TodoList(tasks, next_id=next_id)
    except InvalidInputError as exc:
        raise StorageError(f"{path} has a bad task: {exc}") from exc


def save_todos(todos: TodoList, path: Path) -> None:
    """Write all tasks as indented UTF-8 JSON via a temp file + rename, so a failed save keeps the old file."""
    path = Path(path)
    payload = {
        "version": FORMAT_VERSION,
        "next_id": todos.next_id,
        "tasks": [task.to_dict() for task in todos.tasks],
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        if path.exists():  # keep the old file's permissions; a new file stays private (0600)
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StorageError(f"cannot save tasks to {path}: {exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
