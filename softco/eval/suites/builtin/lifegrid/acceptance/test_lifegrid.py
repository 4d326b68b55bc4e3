"""Hidden acceptance tests for the task `lifegrid` (library)."""

import importlib
from types import ModuleType

import pytest

BLINKER_V = [".....", "..#..", "..#..", "..#..", "....."]
BLINKER_H = [".....", ".....", ".###.", ".....", "....."]
GLIDER = [".#....", "..#...", "###...", "......", "......", "......"]


@pytest.fixture(scope="module")
def life() -> ModuleType:
    return importlib.import_module("lifegrid")


def test_blinker(life: ModuleType) -> None:
    assert life.step(BLINKER_V) == BLINKER_H
    assert life.step(BLINKER_H) == BLINKER_V


def test_block_is_still(life: ModuleType) -> None:
    block = ["....", ".##.", ".##.", "...."]
    assert life.step(block) == block


def test_lonely_cell_dies(life: ModuleType) -> None:
    assert life.step(["...", ".#.", "..."]) == ["...", "...", "..."]


def test_birth_needs_exactly_three(life: ModuleType) -> None:
    assert life.step(["#.#", "...", "..."]) == ["...", "...", "..."]
    assert life.step(["#.#", "...", "#.."]) == ["...", ".#.", "..."]


def test_overcrowded_cell_dies(life: ModuleType) -> None:
    assert life.step(["###", "###", "###"]) == ["#.#", "...", "#.#"]


def test_edges_do_not_wrap(life: ModuleType) -> None:
    assert life.step(["#..", "#..", "#.."]) == ["...", "##.", "..."]


def test_glider_moves(life: ModuleType) -> None:
    moved = ["......", "..#...", "...#..", ".###..", "......", "......"]
    assert life.run(GLIDER, 4) == moved


def test_run_zero_and_period(life: ModuleType) -> None:
    assert life.run(BLINKER_V, 0) == BLINKER_V
    assert life.run(BLINKER_V, 2) == BLINKER_V


def test_input_not_modified(life: ModuleType) -> None:
    grid = list(BLINKER_V)
    life.step(grid)
    assert grid == BLINKER_V


def test_ragged_rows(life: ModuleType) -> None:
    with pytest.raises(ValueError):
        life.step(["..", "..."])


def test_other_characters(life: ModuleType) -> None:
    with pytest.raises(ValueError):
        life.step(["#.", ".x"])
