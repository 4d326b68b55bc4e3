"""Hidden acceptance tests for the task `bowling` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bw() -> ModuleType:
    return importlib.import_module("bowling")


@pytest.mark.parametrize(
    ("rolls", "expected"),
    [
        ([0] * 20, 0),
        ([1] * 20, 20),
        ([5, 5, 3] + [0] * 17, 16),
        ([10, 3, 4] + [0] * 16, 24),
        ([10, 10, 10] + [0] * 14, 60),
        ([10] * 12, 300),
        ([5] * 21, 150),
        ([0] * 18 + [7, 3, 5], 15),
        ([0] * 18 + [10, 10, 10], 30),
        ([0] * 18 + [10, 4, 5], 19),
        ([10, 9, 1, 5, 5, 7, 2, 10, 10, 10, 9, 0, 8, 2, 9, 1, 10], 187),
    ],
)
def test_scores(bw: ModuleType, rolls: list[int], expected: int) -> None:
    assert bw.score(rolls) == expected


@pytest.mark.parametrize("rolls", [[11] + [0] * 19, [-1, 1] + [0] * 18, [6, 5] + [0] * 18])
def test_invalid_rolls(bw: ModuleType, rolls: list[int]) -> None:
    with pytest.raises(ValueError):
        bw.score(rolls)


@pytest.mark.parametrize("rolls", [[], [0] * 19, [10] * 11, [0] * 18 + [5, 5], [0] * 18 + [10, 10]])
def test_incomplete_game(bw: ModuleType, rolls: list[int]) -> None:
    with pytest.raises(ValueError):
        bw.score(rolls)


@pytest.mark.parametrize("rolls", [[0] * 21, [10] * 13, [0] * 18 + [3, 4, 5]])
def test_extra_rolls(bw: ModuleType, rolls: list[int]) -> None:
    with pytest.raises(ValueError):
        bw.score(rolls)
