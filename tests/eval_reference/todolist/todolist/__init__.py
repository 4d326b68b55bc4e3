"""A todo list kept in a JSON file."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"next_id": 1, "tasks": []}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def find(data: dict[str, Any], task_id: int) -> dict[str, Any] | None:
    for task in data["tasks"]:
        if task["id"] == task_id:
            return task
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="todolist")
    parser.add_argument("--file", required=True, type=Path)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("add").add_argument("text")
    commands.add_parser("list")
    commands.add_parser("done").add_argument("id", type=int)
    commands.add_parser("remove").add_argument("id", type=int)
    args = parser.parse_args(argv)
    data = load(args.file)
    if args.command == "add":
        task_id = data["next_id"]
        data["next_id"] += 1
        data["tasks"].append({"id": task_id, "text": args.text, "done": False})
        print(f"added {task_id}")
    elif args.command == "list":
        for task in sorted(data["tasks"], key=lambda t: t["id"]):
            print(f"{task['id']} [{'x' if task['done'] else ' '}] {task['text']}")
    else:
        task = find(data, args.id)
        if task is None:
            print(f"todolist: no task {args.id}", file=sys.stderr)
            return 1
        if args.command == "done":
            task["done"] = True
        else:
            data["tasks"].remove(task)
    save(args.file, data)
    return 0
