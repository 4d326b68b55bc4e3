"""TodoList: the app's operations on an in-memory list of tasks (no files, no printing)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from todo.models import InvalidInputError, Priority, Task, TodoError, parse_due


class TaskNotFoundError(TodoError):
    """No task has the given id."""


def _sort_key(task: Task) -> tuple[int, bool, date, int]:
    # high before medium before low; earliest due date first; undated tasks last; then by id
    return (task.priority.rank, task.due is None, task.due or date.max, task.id)


class TodoList:
    """An ordered collection of tasks that hands out ids and never reuses them."""

    def __init__(self, tasks: Iterable[Task] = (), next_id: int | None = None) -> None:
        self._tasks: dict[int, Task] = {}
        for task in tasks:
            if task.id in self._tasks:
                raise InvalidInputError(f"duplicate task id {task.id}")
            self._tasks[task.id] = task
        highest = max(self._tasks, default=0)
        if next_id is None:
            next_id = highest + 1
        if next_id <= highest:
            raise InvalidInputError(f"next id {next_id} must be greater than the highest task id {highest}")
        self._next_id = next_id

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> list[Task]:
        """Every task, done or not, in id order (a new list)."""
        return [self._tasks[i] for i in sorted(self._tasks)]

    @property
    def next_id(self) -> int:
        """The id the next added task will get."""
        return self._next_id

    def add(self, title: str, priority: Priority | str = Priority.MEDIUM, due: date | str | None = None) -> Task:
        """Validate and add a pending task; return it with its new id."""
        clean = title.strip() if isinstance(title, str) else ""
        if not clean:
            raise InvalidInputError("a task needs a non-empty title")
        prio = Priority.parse(priority)
        due_date = parse_due(due) if isinstance(due, str) else due
        task = Task(id=self._next_id, title=clean, priority=prio, due=due_date)
        self._tasks[task.id] = task
        self._next_id += 1
        return task

    def get(self, task_id: int) -> Task:
        """The task with this id; raise TaskNotFoundError if there is none."""
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(f"no task with id {task_id}") from None

    def list_tasks(self, include_done: bool = False, priority: Priority | str | None = None) -> list[Task]:
        """Tasks sorted high > medium > low, then earliest due date (undated last), then id."""
        wanted = Priority.parse(priority) if priority is not None else None
        return sorted(
            (
                t
                for t in self._tasks.values()
                if (include_done or not t.done) and (wanted is None or t.priority is wanted)
            ),
            key=_sort_key,
        )

    def complete(self, task_id: int) -> Task:
        """Mark the task done (a no-op if it already is) and return it."""
        task = self.get(task_id)
        task.done = True
        return task

    def remove(self, task_id: int) -> Task:
        """Delete the task for good and return it; its id is not handed out again."""
        task = self.get(task_id)
        del self._tasks[task_id]
        return task

    def overdue(self, today: date) -> list[Task]:
        """Pending tasks due strictly before ``today``, oldest due date first, then by priority."""
        late = [t for t in self._tasks.values() if not t.done and t.due is not None and t.due < today]
        return sorted(late, key=lambda t: (t.due, t.priority.rank, t.id))
