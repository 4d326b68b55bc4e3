"""Tests for todo/storage.py: locating, loading and atomically saving the JSON tasks file."""

import json
import os
from datetime import date
from pathlib import Path

import pytest

from todo.models import Priority
from todo.service import TodoList
from todo.storage import StorageError, load_todos, resolve_path, save_todos


def sample() -> TodoList:
    todos = TodoList()
    todos.add("Pay rent", priority="high", due="2024-07-01")
    todos.add("Café with Zoë", priority="low")
    todos.add("Old chore")
    todos.complete(1)
    todos.remove(3)
    return todos


def test_missing_file_loads_as_empty_list(tmp_path: Path) -> None:
    todos = load_todos(tmp_path / "nothing-here.json")
    assert len(todos) == 0
    assert todos.next_id == 1


def test_save_then_load_round_trips_tasks_and_next_id(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "todo.json"
    save_todos(sample(), path)
    loaded = load_todos(path)
    assert [(t.id, t.title, t.priority, t.due, t.done) for t in loaded.tasks] == [
        (1, "Pay rent", Priority.HIGH, date(2024, 7, 1), True),
        (2, "Café with Zoë", Priority.LOW, None, False),
    ]
    assert loaded.next_id == 4
    assert loaded.add("Next").id == 4


def test_saved_file_is_readable_versioned_json(tmp_path: Path) -> None:
    path = tmp_path / "todo.json"
    save_todos(sample(), path)
    text = path.read_text(encoding="utf-8")
    assert any(line[:1].isspace() for line in text.splitlines()), "the file should be indented for humans"
    assert "Café with Zoë" in text
    data = json.loads(text)
    assert data["version"] == 1
    assert data["next_id"] == 4
    by_id = {record["id"]: record for record in data["tasks"]}
    assert by_id[1] == {"id": 1, "title": "Pay rent", "priority": "high", "due": "2024-07-01", "done": True}


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2, 3]",
        '{"version": 1, "tasks": "nope"}',
        '{"version": 99, "tasks": []}',
        '{"version": 1, "tasks": [{"id": 1, "title": "x", "priority": "urgent", "due": null, "done": false}]}',
        '{"version": 1, "tasks": [{"id": 1, "title": "a"}, {"id": 1, "title": "b"}]}',
    ],
)
def test_corrupt_file_raises_storage_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "todo.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StorageError) as info:
        load_todos(path)
    assert str(path) in str(info.value)
    assert path.read_text(encoding="utf-8") == content


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "todo.json"
    save_todos(sample(), path)
    before = path.read_text(encoding="utf-8")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    todos = load_todos(path)
    todos.add("This save will fail")
    with pytest.raises(StorageError):
        save_todos(todos, path)
    assert path.read_text(encoding="utf-8") == before
    assert [p.name for p in tmp_path.iterdir()] == ["todo.json"]


def test_resolve_path_prefers_explicit_file_then_env_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    explicit = tmp_path / "explicit.json"
    from_env = tmp_path / "env.json"
    assert resolve_path(explicit, {"TODO_FILE": str(from_env)}) == explicit
    assert resolve_path(None, {"TODO_FILE": str(from_env)}) == from_env
    assert resolve_path(None, {"TODO_FILE": ""}) == tmp_path / "home" / ".todo.json"
    assert resolve_path(None, {}) == tmp_path / "home" / ".todo.json"
    monkeypatch.setenv("TODO_FILE", str(from_env))
    assert resolve_path() == from_env
