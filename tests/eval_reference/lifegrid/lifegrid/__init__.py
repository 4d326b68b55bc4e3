"""Conway's Game of Life on a bounded grid."""


def _check(grid: list[str]) -> None:
    widths = {len(row) for row in grid}
    if len(widths) > 1:
        raise ValueError("rows of different lengths")
    if any(set(row) - {"#", "."} for row in grid):
        raise ValueError("a grid holds only '#' and '.'")


def step(grid: list[str]) -> list[str]:
    _check(grid)
    height = len(grid)
    width = len(grid[0]) if grid else 0

    def alive(r: int, c: int) -> bool:
        return 0 <= r < height and 0 <= c < width and grid[r][c] == "#"

    out = []
    for r in range(height):
        row = []
        for c in range(width):
            near = sum(alive(r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc)
            row.append("#" if near == 3 or (near == 2 and grid[r][c] == "#") else ".")
        out.append("".join(row))
    return out


def run(grid: list[str], n: int) -> list[str]:
    _check(grid)
    for _ in range(n):
        grid = step(grid)
    return list(grid)
