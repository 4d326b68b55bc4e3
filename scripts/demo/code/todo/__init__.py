"""todo: a command-line todo list with priorities, due dates and JSON storage.

The public API, for scripts that want the same behaviour as the ``todo`` command::

    from todo import TodoList, load_todos, save_todos
"""

from todo.models import InvalidInputError, Priority, Task, TodoError, parse_due
from todo.service import TaskNotFoundError, TodoList
from todo.storage import StorageError, load_todos, resolve_path, save_todos

__version__ = "0.1.0"

__all__ = [
    "InvalidInputError",
    "Priority",
    "StorageError",
    "Task",
    "TaskNotFoundError",
    "TodoError",
    "TodoList",
    "__version__",
    "load_todos",
    "parse_due",
    "resolve_path",
    "save_todos",
]
