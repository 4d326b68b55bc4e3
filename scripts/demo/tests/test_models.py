"""Tests for todo/models.py: priorities, due dates and the stored task record."""

from datetime import date

import pytest

from todo.models import InvalidInputError, Priority, Task, TodoError, parse_due


@pytest.mark.parametrize("text", ["high", "HIGH", " High "])
def test_priority_parse_is_case_insensitive(text: str) -> None:
    assert Priority.parse(text) is Priority.HIGH


def test_priority_parse_rejects_unknown_value_naming_the_choices() -> None:
    with pytest.raises(InvalidInputError) as info:
        Priority.parse("urgent")
    message = str(info.value)
    assert "urgent" in message
    for name in ("high", "medium", "low"):
        assert name in message
    assert isinstance(info.value, TodoError)


def test_priority_rank_orders_high_medium_low() -> None:
    assert sorted(Priority, key=lambda p: p.rank) == [Priority.HIGH, Priority.MEDIUM, Priority.LOW]


def test_parse_due_accepts_iso_date() -> None:
    assert parse_due("2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize("text", ["2024-02-30", "2024-13-01", "tomorrow", "2024/05/01", "20240501", "", "5-1-2024"])
def test_parse_due_rejects_anything_but_a_real_yyyy_mm_dd_date(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_due(text)


def test_new_task_defaults_to_medium_pending_without_due_date() -> None:
    task = Task(id=1, title="Water the plants")
    assert (task.priority, task.due, task.done) == (Priority.MEDIUM, None, False)


def test_task_round_trips_through_its_json_record() -> None:
    task = Task(id=7, title="File taxes", priority=Priority.HIGH, due=date(2024, 4, 15), done=True)
    record = task.to_dict()
    assert record == {"id": 7, "title": "File taxes", "priority": "high", "due": "2024-04-15", "done": True}
    assert Task.from_dict(record) == task
    undated = Task(id=8, title="Read a book")
    assert Task.from_dict(undated.to_dict()) == undated


@pytest.mark.parametrize(
    "record",
    [
        {"title": "no id", "priority": "low", "due": None, "done": False},
        {"id": "1", "title": "string id", "priority": "low", "due": None, "done": False},
        {"id": 1, "title": "  ", "priority": "low", "due": None, "done": False},
        {"id": 1, "title": "bad priority", "priority": "urgent", "due": None, "done": False},
        {"id": 1, "title": "bad due", "priority": "low", "due": "someday", "done": False},
        {"id": 1, "title": "bad done", "priority": "low", "due": None, "done": "yes"},
    ],
)
def test_task_from_dict_rejects_malformed_records(record: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        Task.from_dict(record)
