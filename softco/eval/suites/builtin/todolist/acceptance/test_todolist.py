"""Hidden acceptance tests for the task `todolist` (CLI)."""

import json
import subprocess
import sys
from pathlib import Path


def todo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    store = tmp_path / "tasks.json"
    return subprocess.run(
        [sys.executable, "-m", "todolist", "--file", str(store), *args], cwd=tmp_path, capture_output=True,
        text=True, encoding="utf-8", timeout=60,
    )  # fmt: skip


def listed(tmp_path: Path) -> list[str]:
    result = todo(tmp_path, "list")
    assert result.returncode == 0, result.stderr
    return [line.rstrip() for line in result.stdout.splitlines() if line.strip()]


def test_add_prints_ids_from_1(tmp_path: Path) -> None:
    assert todo(tmp_path, "add", "buy milk").stdout.strip() == "added 1"
    assert todo(tmp_path, "add", "walk dog").stdout.strip() == "added 2"


def test_list(tmp_path: Path) -> None:
    todo(tmp_path, "add", "buy milk")
    todo(tmp_path, "add", "walk dog")
    assert listed(tmp_path) == ["1 [ ] buy milk", "2 [ ] walk dog"]


def test_done(tmp_path: Path) -> None:
    todo(tmp_path, "add", "buy milk")
    todo(tmp_path, "add", "walk dog")
    assert todo(tmp_path, "done", "2").returncode == 0
    assert listed(tmp_path) == ["1 [ ] buy milk", "2 [x] walk dog"]


def test_remove(tmp_path: Path) -> None:
    todo(tmp_path, "add", "buy milk")
    todo(tmp_path, "add", "walk dog")
    assert todo(tmp_path, "remove", "1").returncode == 0
    assert listed(tmp_path) == ["2 [ ] walk dog"]


def test_ids_never_reused(tmp_path: Path) -> None:
    todo(tmp_path, "add", "a")
    todo(tmp_path, "add", "b")
    todo(tmp_path, "remove", "2")
    assert todo(tmp_path, "add", "c").stdout.strip() == "added 3"
    assert listed(tmp_path) == ["1 [ ] a", "3 [ ] c"]


def test_unknown_id(tmp_path: Path) -> None:
    todo(tmp_path, "add", "a")
    for command in ("done", "remove"):
        result = todo(tmp_path, command, "9")
        assert result.returncode == 1
        assert result.stderr.strip()
    assert listed(tmp_path) == ["1 [ ] a"]


def test_empty_list(tmp_path: Path) -> None:
    assert listed(tmp_path) == []


def test_store_is_json(tmp_path: Path) -> None:
    todo(tmp_path, "add", "café au lait")
    json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))
    assert listed(tmp_path) == ["1 [ ] café au lait"]
