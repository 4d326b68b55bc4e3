"""Tic-tac-toe rules on a 9-character board string."""

LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]


def _check(board: str) -> None:
    if not isinstance(board, str) or len(board) != 9 or set(board) - set("XO."):
        raise ValueError(f"a board is 9 characters of X, O and '.': {board!r}")


def winner(board: str) -> str | None:
    _check(board)
    for a, b, c in LINES:
        if board[a] != "." and board[a] == board[b] == board[c]:
            return board[a]
    return "draw" if "." not in board else None


def legal_moves(board: str) -> list[int]:
    if winner(board) is not None:
        return []
    return [i for i, cell in enumerate(board) if cell == "."]
