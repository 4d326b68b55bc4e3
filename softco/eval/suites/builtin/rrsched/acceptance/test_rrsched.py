"""Hidden acceptance tests for the task `rrsched` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def rr() -> ModuleType:
    return importlib.import_module("rrsched")


def test_no_jobs(rr: ModuleType) -> None:
    assert rr.round_robin([], 3) == []


def test_single_job(rr: ModuleType) -> None:
    assert rr.round_robin([("a", 5)], 2) == [("a", 5)]


def test_classic_example(rr: ModuleType) -> None:
    assert rr.round_robin([("a", 5), ("b", 3), ("c", 1)], 2) == [("c", 5), ("b", 8), ("a", 9)]


def test_large_quantum_is_first_come_first_served(rr: ModuleType) -> None:
    assert rr.round_robin([("a", 3), ("b", 2), ("c", 4)], 10) == [("a", 3), ("b", 5), ("c", 9)]


def test_quantum_one(rr: ModuleType) -> None:
    assert rr.round_robin([("x", 2), ("y", 2)], 1) == [("x", 3), ("y", 4)]


def test_burst_equal_to_quantum_finishes_in_one_turn(rr: ModuleType) -> None:
    assert rr.round_robin([("a", 4), ("b", 2)], 2) == [("b", 4), ("a", 6)]


def test_unfinished_job_goes_to_the_back(rr: ModuleType) -> None:
    assert rr.round_robin([("a", 3), ("b", 1), ("c", 1)], 1) == [("b", 2), ("c", 3), ("a", 5)]


def test_invalid_quantum(rr: ModuleType) -> None:
    for quantum in (0, -2):
        with pytest.raises(ValueError):
            rr.round_robin([("a", 1)], quantum)


def test_invalid_burst(rr: ModuleType) -> None:
    for jobs in ([("a", 0)], [("a", 2), ("b", -1)]):
        with pytest.raises(ValueError):
            rr.round_robin(jobs, 2)


def test_input_not_modified(rr: ModuleType) -> None:
    jobs = [("a", 5), ("b", 3)]
    rr.round_robin(jobs, 2)
    assert jobs == [("a", 5), ("b", 3)]
