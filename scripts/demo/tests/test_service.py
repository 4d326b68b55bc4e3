"""Tests for todo/service.py: adding, listing, completing, removing and overdue tasks."""

from datetime import date

import pytest

from todo.models import InvalidInputError, Priority, Task
from todo.service import TaskNotFoundError, TodoList

TODAY = date(2024, 6, 15)


def titles(tasks: list[Task]) -> list[str]:
    return [t.title for t in tasks]


def test_add_assigns_increasing_ids_and_defaults() -> None:
    todos = TodoList()
    first = todos.add("  Buy milk  ")
    second = todos.add("Pay rent", priority="HIGH", due="2024-07-01")
    assert (first.id, second.id) == (1, 2)
    assert first.title == "Buy milk"
    assert (first.priority, first.due, first.done) == (Priority.MEDIUM, None, False)
    assert (second.priority, second.due) == (Priority.HIGH, date(2024, 7, 1))
    assert len(todos) == 2


@pytest.mark.parametrize(
    ("title", "priority", "due"),
    [("", "low", None), ("   ", "low", None), ("Ok", "urgent", None), ("Ok", "low", "2024-02-30")],
)
def test_add_rejects_invalid_input_and_adds_nothing(title: str, priority: str, due: str | None) -> None:
    todos = TodoList()
    with pytest.raises(InvalidInputError):
        todos.add(title, priority=priority, due=due)
    assert len(todos) == 0
    assert todos.add("Valid").id == 1


def test_list_sorts_by_priority_then_due_date_then_id() -> None:
    todos = TodoList()
    todos.add("low, dated", priority="low", due="2024-06-01")
    todos.add("medium, no due date", priority="medium")
    todos.add("high, late due", priority="high", due="2024-09-01")
    todos.add("medium, soon", priority="medium", due="2024-06-20")
    todos.add("high, no due date", priority="high")
    todos.add("high, early due", priority="high", due="2024-06-16")
    todos.add("medium, soon too", priority="medium", due="2024-06-20")
    assert titles(todos.list_tasks()) == [
        "high, early due",
        "high, late due",
        "high, no due date",
        "medium, soon",
        "medium, soon too",
        "medium, no due date",
        "low, dated",
    ]


def test_list_hides_completed_tasks_unless_include_done() -> None:
    todos = TodoList()
    todos.add("Write report")
    todos.add("Send invoice")
    todos.complete(1)
    assert titles(todos.list_tasks()) == ["Send invoice"]
    assert titles(todos.list_tasks(include_done=True)) == ["Write report", "Send invoice"]


def test_list_filters_by_priority() -> None:
    todos = TodoList()
    todos.add("Call plumber", priority="high")
    todos.add("Tidy desk", priority="low")
    todos.add("Book dentist", priority="high", due="2024-06-30")
    assert titles(todos.list_tasks(priority="high")) == ["Book dentist", "Call plumber"]
    assert titles(todos.list_tasks(priority=Priority.LOW)) == ["Tidy desk"]
    assert todos.list_tasks(priority="medium") == []
    with pytest.raises(InvalidInputError):
        todos.list_tasks(priority="whenever")


def test_complete_marks_task_done_and_is_idempotent() -> None:
    todos = TodoList()
    todos.add("Renew passport", priority="high")
    task = todos.complete(1)
    assert task.done is True
    assert todos.get(1).done is True
    assert todos.complete(1).done is True
    assert todos.list_tasks() == []


def test_unknown_id_raises_task_not_found() -> None:
    todos = TodoList()
    todos.add("Only task")
    for action in (todos.get, todos.complete, todos.remove):
        with pytest.raises(TaskNotFoundError, match="42"):
            action(42)
    assert len(todos) == 1


def test_remove_deletes_task_and_ids_are_never_reused() -> None:
    todos = TodoList()
    todos.add("Keep")
    todos.add("Drop")
    removed = todos.remove(2)
    assert removed.title == "Drop"
    assert titles(todos.list_tasks(include_done=True)) == ["Keep"]
    assert todos.add("New").id == 3
    assert todos.next_id == 4


def test_overdue_lists_pending_tasks_due_before_today_oldest_first() -> None:
    todos = TodoList()
    todos.add("a week late", priority="low", due="2024-06-08")
    todos.add("due tomorrow", priority="high", due="2024-06-16")
    todos.add("a month late", priority="medium", due="2024-05-15")
    todos.add("no due date", priority="high")
    todos.add("late but done", priority="high", due="2024-06-01")
    todos.complete(5)
    assert titles(todos.overdue(TODAY)) == ["a month late", "a week late"]


def test_task_due_today_is_not_overdue() -> None:
    todos = TodoList()
    todos.add("due today", priority="high", due=TODAY)
    todos.add("due yesterday", priority="low", due="2024-06-14")
    assert titles(todos.overdue(TODAY)) == ["due yesterday"]
