"""Tests for todo/cli.py: the todo command end to end, against a tasks file in tmp_path."""

import json
import re
from pathlib import Path

import pytest

from todo.cli import main


@pytest.fixture
def todo_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh tasks file path; HOME and TODO_FILE point into tmp_path so nothing real is touched."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TODO_FILE", raising=False)
    return tmp_path / "todo.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


LINE = re.compile(r"^\s*(?P<id>\d+)\s+\[(?P<done>[x ])\]\s+(?P<priority>\w+)\s+(?P<due>\S+)\s+(?P<title>.+)$")


def listed_titles(out: str) -> list[str]:
    """Titles from task lines: id, [x] or [ ], priority, due date or '-', title."""
    titles = []
    for line in out.splitlines():
        match = LINE.match(line)
        assert match, f"not a task line: {line!r}"
        titles.append(match["title"])
    return titles


def test_add_then_list_shows_tasks_by_priority_and_due_date(
    todo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = str(todo_file)
    code, out, _ = run(capsys, "--file", f, "add", "Buy", "milk")
    assert code == 0
    assert "Added task 1: Buy milk (medium, no due date)" in out
    assert run(capsys, "--file", f, "add", "Pay rent", "--priority", "high", "--due", "2024-07-01")[0] == 0
    assert run(capsys, "--file", f, "add", "Tax return", "-p", "high", "-d", "2024-05-31")[0] == 0
    code, out, err = run(capsys, "--file", f, "list")
    assert (code, err) == (0, "")
    assert listed_titles(out) == ["Tax return", "Pay rent", "Buy milk"]
    first, _, last = (LINE.match(line) for line in out.splitlines())
    assert first and last
    assert (first["id"], first["done"], first["priority"], first["due"]) == ("3", " ", "high", "2024-05-31")
    assert (last["id"], last["priority"], last["due"]) == ("1", "medium", "-")


def test_list_on_missing_file_says_no_tasks(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--file", str(todo_file), "list") == (0, "No tasks.\n", "")
    assert not todo_file.exists(), "listing must not create the file"


def test_done_hides_task_unless_all_and_priority_filter(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(todo_file)
    run(capsys, "--file", f, "add", "Walk dog", "-p", "low")
    run(capsys, "--file", f, "add", "Fix bike", "-p", "high")
    code, out, _ = run(capsys, "--file", f, "done", "2")
    assert code == 0
    assert "Completed task 2: Fix bike" in out
    assert listed_titles(run(capsys, "--file", f, "list")[1]) == ["Walk dog"]
    out = run(capsys, "--file", f, "list", "--all")[1]
    assert listed_titles(out) == ["Fix bike", "Walk dog"]
    done_line = LINE.match(out.splitlines()[0])
    assert done_line and done_line["done"] == "x"
    assert listed_titles(run(capsys, "--file", f, "list", "--all", "--priority", "low")[1]) == ["Walk dog"]
    stored = {t["id"]: t for t in json.loads(todo_file.read_text(encoding="utf-8"))["tasks"]}
    assert stored[2]["done"] is True


def test_remove_deletes_task_from_file(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(todo_file)
    run(capsys, "--file", f, "add", "Keep me")
    run(capsys, "--file", f, "add", "Delete me")
    code, out, _ = run(capsys, "--file", f, "remove", "2")
    assert code == 0
    assert "Removed task 2: Delete me" in out
    assert listed_titles(run(capsys, "--file", f, "list", "--all")[1]) == ["Keep me"]
    assert [t["title"] for t in json.loads(todo_file.read_text(encoding="utf-8"))["tasks"]] == ["Keep me"]


def test_overdue_as_of_date_lists_only_late_pending_tasks(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(todo_file)
    run(capsys, "--file", f, "add", "Late report", "-d", "2024-06-01")
    run(capsys, "--file", f, "add", "Future trip", "-d", "2024-12-24")
    run(capsys, "--file", f, "add", "Very late", "-p", "low", "-d", "2024-03-01")
    run(capsys, "--file", f, "add", "Late but done", "-d", "2024-06-02")
    run(capsys, "--file", f, "add", "Someday")
    run(capsys, "--file", f, "done", "4")
    code, out, _ = run(capsys, "--file", f, "overdue", "--as-of", "2024-06-10")
    assert code == 0
    assert listed_titles(out) == ["Very late", "Late report"]
    assert run(capsys, "--file", f, "overdue", "--as-of", "2024-01-01")[1] == "No overdue tasks.\n"


def test_todo_file_env_var_selects_the_file(
    todo_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TODO_FILE", str(todo_file))
    assert run(capsys, "add", "From env")[0] == 0
    assert json.loads(todo_file.read_text(encoding="utf-8"))["tasks"][0]["title"] == "From env"
    other = todo_file.with_name("other.json")
    assert run(capsys, "--file", str(other), "list")[1] == "No tasks.\n", "--file wins over TODO_FILE"


@pytest.mark.parametrize(
    "argv",
    [["add", "Bad date", "--due", "2024-02-30"], ["add", "Bad priority", "-p", "urgent"], ["add", "   "]],
)
def test_invalid_input_exits_1_with_error_and_saves_nothing(
    todo_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, "--file", str(todo_file), *argv)
    assert code == 1
    assert out == ""
    assert err.startswith("todo: error:")
    assert not todo_file.exists()


def test_unknown_id_exits_1_and_leaves_file_unchanged(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(todo_file)
    run(capsys, "--file", f, "add", "Only task")
    before = todo_file.read_text(encoding="utf-8")
    for command in ("done", "remove"):
        code, _, err = run(capsys, "--file", f, command, "99")
        assert code == 1
        assert "todo: error: no task with id 99" in err
    assert todo_file.read_text(encoding="utf-8") == before


def test_corrupt_file_is_reported_and_not_overwritten(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    todo_file.write_text("{oops", encoding="utf-8")
    code, out, err = run(capsys, "--file", str(todo_file), "add", "Anything")
    assert code == 1
    assert out == ""
    assert err.startswith("todo: error:")
    assert str(todo_file) in err
    assert todo_file.read_text(encoding="utf-8") == "{oops"


@pytest.mark.parametrize("argv", [[], ["fly"], ["done", "abc"], ["add"]])
def test_usage_errors_exit_2(todo_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, "--file", str(todo_file), *argv)
    assert code == 2
    assert "usage:" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("add", "list", "done", "remove", "overdue"):
        assert command in out


def test_due_date_in_another_format_is_rejected(todo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--file", str(todo_file), "add", "Dentist", "--due", "31/05/2024")
    assert (code, out) == (1, "")
    assert err == "todo: error: due date must be YYYY-MM-DD, got '31/05/2024'\n"
    assert not todo_file.exists()
