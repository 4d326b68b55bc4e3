"""The todo domain: priorities, due dates, the Task record and the app's error types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class TodoError(Exception):
    """Base class of every error the app reports to the user (the CLI exits with code 1)."""


class InvalidInputError(TodoError):
    """A title, priority, due date or stored task record is not valid."""


class Priority(StrEnum):
    """How urgent a task is; the value is the lowercase name used on the command line and on disk."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Sort position: 0 for high, 1 for medium, 2 for low."""
        return _RANK[self]

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        """Parse 'high', 'Medium', ' LOW ' ...; raise InvalidInputError naming the allowed values."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        allowed = ", ".join(p.value for p in cls)
        raise InvalidInputError(f"invalid priority {value!r}: choose one of {allowed}")


_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}


def parse_due(value: str) -> date:
    """Parse a due date written exactly as YYYY-MM-DD; raise InvalidInputError otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidInputError(f"invalid due date {value!r}: expected a real date as YYYY-MM-DD, e.g. 2024-05-31")


@dataclass
class Task:
    """One todo item. ``due`` is None when the task has no due date."""

    id: int
    title: str
    priority: Priority = Priority.MEDIUM
    due: date | None = None
    done: bool = False

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready record: id, title, priority, due ('YYYY-MM-DD' or None), done."""
        return {
            "id": self.id,
            "title": self.title,
            "priority": self.priority.value,
            "due": self.due.isoformat() if self.due else None,
            "done": self.done,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Task:
        """Build a Task from a stored record; raise InvalidInputError on missing or malformed fields."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"a task record must be a JSON object, got {type(data).__name__}")
        task_id = data.get("id")
        if isinstance(task_id, bool) or not isinstance(task_id, int) or task_id < 1:
            raise InvalidInputError(f"task id must be a positive integer, got {task_id!r}")
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise InvalidInputError(f"task {task_id}: title must be a non-empty string, got {title!r}")
        raw_priority = data.get("priority", Priority.MEDIUM.value)
        if not isinstance(raw_priority, str):
            raise InvalidInputError(f"task {task_id}: priority must be a string, got {raw_priority!r}")
        raw_due = data.get("due")
        if raw_due is not None and not isinstance(raw_due, str):
            raise InvalidInputError(f"task {task_id}: due must be 'YYYY-MM-DD' or null, got {raw_due!r}")
        done = data.get("done", False)
        if not isinstance(done, bool):
            raise InvalidInputError(f"task {task_id}: done must be true or false, got {done!r}")
        return cls(
            id=task_id,
            title=title,
            priority=Priority.parse(raw_priority),
            due=parse_due(raw_due) if raw_due is not None else None,
            done=done,
        )
