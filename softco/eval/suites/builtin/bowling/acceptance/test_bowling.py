"""Hidden acceptance tests for the task `bowling` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bw() -> ModuleType:
    return importlib.import_module("bowling")


def test_open_frames(bw: ModuleType) -> None:
    assert bw.score([0] * 20) == 0
    assert bw.score([1] * 20) == 20


def test_spare(bw: ModuleType) -> None:
    assert bw.score([5, 5, 3] + [0] * 17) == 16
    assert bw.score([5] * 21) == 150


def test_strike(bw: ModuleType) -> None:
    assert bw.score([10, 3, 4] + [0] * 16) == 24


def test_consecutive_strikes(bw: ModuleType) -> None:
    assert bw.score([10, 10, 10] + [0] * 14) == 60
    assert bw.score([10] * 12) == 300


def test_tenth_frame_bonus_rolls(bw: ModuleType) -> None:
    assert bw.score([0] * 18 + [7, 3, 5]) == 15
    assert bw.score([0] * 18 + [10, 10, 10]) == 30
    assert bw.score([0] * 18 + [10, 4, 5]) == 19


def test_mixed_game(bw: ModuleType) -> None:
    assert bw.score([10, 9, 1, 5, 5, 7, 2, 10, 10, 10, 9, 0, 8, 2, 9, 1, 10]) == 187


def test_roll_out_of_range(bw: ModuleType) -> None:
    for rolls in ([11] + [0] * 19, [-1, 1] + [0] * 18):
        with pytest.raises(ValueError):
            bw.score(rolls)


def test_frame_over_ten_pins(bw: ModuleType) -> None:
    for rolls in ([6, 5] + [0] * 18, [0] * 18 + [6, 5]):
        with pytest.raises(ValueError):
            bw.score(rolls)


def test_incomplete_game(bw: ModuleType) -> None:
    for rolls in ([], [0] * 19, [10] * 11, [0] * 18 + [5, 5], [0] * 18 + [10, 10]):
        with pytest.raises(ValueError):
            bw.score(rolls)


def test_extra_rolls(bw: ModuleType) -> None:
    for rolls in ([0] * 21, [10] * 13, [0] * 18 + [3, 4, 5]):
        with pytest.raises(ValueError):
            bw.score(rolls)
