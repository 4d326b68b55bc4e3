"""The `todo` command line: parse arguments, call TodoList, load and save the JSON file, print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from todo.models import Priority, Task, TodoError, parse_due
from todo.storage import DEFAULT_FILENAME, ENV_VAR, load_todos, resolve_path, save_todos

Handler = Callable[[argparse.Namespace, Path], int]


def format_task(task: Task) -> str:
    """One aligned line: id, [x] or [ ], priority, due date or '-', title."""
    mark = "x" if task.done else " "
    due = task.due.isoformat() if task.due else "-"
    return f"{task.id:>4}  [{mark}]  {task.priority.value:<6}  {due:<10}  {task.title}"


def _describe(task: Task) -> str:
    due = f"due {task.due.isoformat()}" if task.due else "no due date"
    return f"task {task.id}: {task.title} ({task.priority.value}, {due})"


def _cmd_add(args: argparse.Namespace, path: Path) -> int:
    todos = load_todos(path)
    task = todos.add(" ".join(args.title), priority=args.priority, due=args.due)
    save_todos(todos, path)
    print(f"Added {_describe(task)}")
    return 0


def _cmd_list(args: argparse.Namespace, path: Path) -> int:
    tasks = load_todos(path).list_tasks(include_done=args.all, priority=args.priority)
    if not tasks:
        print("No tasks.")
    for task in tasks:
        print(format_task(task))
    return 0


def _cmd_done(args: argparse.Namespace, path: Path) -> int:
    todos = load_todos(path)
    if todos.get(args.id).done:
        print(f"Task {args.id} is already done.")
        return 0
    task = todos.complete(args.id)
    save_todos(todos, path)
    print(f"Completed {_describe(task)}")
    return 0


def _cmd_remove(args: argparse.Namespace, path: Path) -> int:
    todos = load_todos(path)
    task = todos.remove(args.id)
    save_todos(todos, path)
    print(f"Removed {_describe(task)}")
    return 0


def _cmd_overdue(args: argparse.Namespace, path: Path) -> int:
    today = parse_due(args.as_of) if args.as_of else date.today()
    tasks = load_todos(path).overdue(today)
    if not tasks:
        print("No overdue tasks.")
    for task in tasks:
        print(format_task(task))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the add, list, done, remove and overdue subcommands."""
    priorities = ", ".join(p.value for p in Priority)
    parser = argparse.ArgumentParser(
        prog="todo",
        description="A small command-line todo list with priorities and due dates, stored as JSON.",
        epilog=f"The tasks file is --file, else ${ENV_VAR}, else ~/{DEFAULT_FILENAME}.",
    )
    parser.add_argument(
        "-f", "--file", metavar="PATH", help=f"tasks file (default: ${ENV_VAR} or ~/{DEFAULT_FILENAME})"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = sub.add_parser("add", help="add a task")
    add.add_argument("title", nargs="+", help="what to do (several words are joined)")
    add.add_argument("-p", "--priority", default=Priority.MEDIUM.value, help=f"{priorities} (default: medium)")
    add.add_argument("-d", "--due", metavar="YYYY-MM-DD", help="due date")
    add.set_defaults(handler=_cmd_add)

    lst = sub.add_parser("list", aliases=["ls"], help="list pending tasks by priority, then due date")
    lst.add_argument("-a", "--all", action="store_true", help="include completed tasks")
    lst.add_argument("-p", "--priority", help=f"only tasks of this priority ({priorities})")
    lst.set_defaults(handler=_cmd_list)

    done = sub.add_parser("done", help="mark a task as completed")
    done.add_argument("id", type=int, help="task id, as shown by 'todo list'")
    done.set_defaults(handler=_cmd_done)

    remove = sub.add_parser("remove", aliases=["rm"], help="delete a task")
    remove.add_argument("id", type=int, help="task id, as shown by 'todo list'")
    remove.set_defaults(handler=_cmd_remove)

    overdue = sub.add_parser("overdue", help="list pending tasks whose due date has passed")
    overdue.add_argument("--as-of", metavar="YYYY-MM-DD", help="check against this date instead of today")
    overdue.set_defaults(handler=_cmd_overdue)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return 0 on success, 1 on an error (message on stderr), 2 on a usage error."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits after --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler: Handler = args.handler
    try:
        return handler(args, resolve_path(args.file))
    except TodoError as exc:
        print(f"todo: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
