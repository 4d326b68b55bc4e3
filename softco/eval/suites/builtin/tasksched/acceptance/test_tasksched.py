"""Hidden acceptance tests for the task `tasksched` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def ts() -> ModuleType:
    return importlib.import_module("tasksched")


def test_empty(ts: ModuleType) -> None:
    assert ts.order({}) == []


def test_independent_tasks_alphabetical(ts: ModuleType) -> None:
    assert ts.order({"b": [], "c": [], "a": []}) == ["a", "b", "c"]


def test_chain(ts: ModuleType) -> None:
    assert ts.order({"c": ["b"], "b": ["a"], "a": []}) == ["a", "b", "c"]


def test_diamond(ts: ModuleType) -> None:
    assert ts.order({"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": []}) == ["a", "b", "c", "d"]


def test_newly_ready_task_competes_alphabetically(ts: ModuleType) -> None:
    assert ts.order({"b": [], "c": [], "a": ["b"]}) == ["b", "a", "c"]
    assert ts.order({"a": ["z"], "z": [], "m": []}) == ["m", "z", "a"]


def test_every_task_after_its_dependencies(ts: ModuleType) -> None:
    tasks = {f"t{i:02d}": [f"t{j:02d}" for j in range(i) if (i * j) % 7 == 1] for i in range(40)}
    result = ts.order(tasks)
    assert sorted(result) == sorted(tasks)
    position = {name: i for i, name in enumerate(result)}
    assert all(position[dep] < position[name] for name, deps in tasks.items() for dep in deps)


def test_cycle_raises(ts: ModuleType) -> None:
    for tasks in ({"a": ["b"], "b": ["a"]}, {"a": ["a"]}, {"x": [], "a": ["c"], "b": ["a"], "c": ["b"]}):
        with pytest.raises(ValueError):
            ts.order(tasks)


def test_unknown_dependency_raises(ts: ModuleType) -> None:
    with pytest.raises(ValueError):
        ts.order({"a": ["ghost"]})
