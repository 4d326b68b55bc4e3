"""Hidden acceptance tests for the task `tictac` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def ttt() -> ModuleType:
    return importlib.import_module("tictac")


def test_rows_win(ttt: ModuleType) -> None:
    assert [ttt.winner(b) for b in ("XXXOO....", "XX.OOOX..", "OO....XXX")] == ["X", "O", "X"]


def test_columns_win(ttt: ModuleType) -> None:
    assert [ttt.winner(b) for b in ("XO.XO.X..", ".OXXOX.O.", "O.XO.X..X")] == ["X", "O", "X"]


def test_diagonals_win(ttt: ModuleType) -> None:
    assert [ttt.winner(b) for b in ("XO.OX...X", "XXO.O.O.X")] == ["X", "O"]


def test_draw(ttt: ModuleType) -> None:
    assert ttt.winner("XOXXOOOXX") == "draw"


def test_game_in_progress(ttt: ModuleType) -> None:
    for board in (".........", "XO.......", "XOXOXO..."):
        assert ttt.winner(board) is None, board


def test_win_on_full_board_is_not_a_draw(ttt: ModuleType) -> None:
    assert ttt.winner("XOXOXOOXX") == "X"  # diagonal 0-4-8 on a full board


def test_legal_moves(ttt: ModuleType) -> None:
    assert ttt.legal_moves(".........") == list(range(9))
    assert ttt.legal_moves("XO.X.....") == [2, 4, 5, 6, 7, 8]
    assert ttt.legal_moves("XOXXOOOXX") == []


def test_no_moves_after_a_win(ttt: ModuleType) -> None:
    assert ttt.legal_moves("XXXOO....") == []
    assert ttt.legal_moves("X.OX.OX..") == []


def malformed(ttt: ModuleType, boards: list[str]) -> None:
    for board in boards:
        with pytest.raises(ValueError):
            ttt.winner(board)
        with pytest.raises(ValueError):
            ttt.legal_moves(board)


def test_board_of_wrong_length(ttt: ModuleType) -> None:
    malformed(ttt, ["XXX", "..........", ""])


def test_board_with_other_characters(ttt: ModuleType) -> None:
    malformed(ttt, ["XXXOOO..A", "xo......."])
