"""Roman numerals, 1 to 3999, canonical form only."""

_SYMBOLS = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]  # fmt: skip


def to_roman(n: int) -> str:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 3999:
        raise ValueError(f"cannot write {n!r} as a Roman numeral (1 to 3999 only)")
    out = []
    for value, symbol in _SYMBOLS:
        while n >= value:
            out.append(symbol)
            n -= value
    return "".join(out)


def from_roman(s: str) -> int:
    if not isinstance(s, str) or not s or any(ch not in "MDCLXVI" for ch in s):
        raise ValueError(f"not a Roman numeral: {s!r}")
    total, i = 0, 0
    for value, symbol in _SYMBOLS:
        while s.startswith(symbol, i):
            total += value
            i += len(symbol)
    if i != len(s) or not 1 <= total <= 3999 or to_roman(total) != s:
        raise ValueError(f"not a canonical Roman numeral: {s!r}")
    return total
