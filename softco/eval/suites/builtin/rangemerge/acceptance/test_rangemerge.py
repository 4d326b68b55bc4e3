"""Hidden acceptance tests for the task `rangemerge` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def rm() -> ModuleType:
    return importlib.import_module("rangemerge")


def test_empty(rm: ModuleType) -> None:
    assert rm.merge([]) == []


def test_single(rm: ModuleType) -> None:
    assert rm.merge([(3, 7)]) == [(3, 7)]


def test_overlapping_unsorted(rm: ModuleType) -> None:
    assert rm.merge([(5, 8), (1, 3), (2, 4)]) == [(1, 4), (5, 8)]


def test_touching_ranges_merge(rm: ModuleType) -> None:
    assert rm.merge([(1, 2), (2, 3)]) == [(1, 3)]


def test_gap_of_one_does_not_merge(rm: ModuleType) -> None:
    assert rm.merge([(3, 4), (1, 2)]) == [(1, 2), (3, 4)]


def test_contained_range(rm: ModuleType) -> None:
    assert rm.merge([(1, 10), (2, 3), (4, 12)]) == [(1, 12)]


def test_points_and_negatives(rm: ModuleType) -> None:
    assert rm.merge([(-5, -5), (-5, 0), (7, 7)]) == [(-5, 0), (7, 7)]


def test_invalid_pair(rm: ModuleType) -> None:
    with pytest.raises(ValueError):
        rm.merge([(1, 2), (5, 4)])


def test_input_not_modified(rm: ModuleType) -> None:
    ranges = [(5, 8), (1, 3), (2, 4)]
    rm.merge(ranges)
    assert ranges == [(5, 8), (1, 3), (2, 4)]
