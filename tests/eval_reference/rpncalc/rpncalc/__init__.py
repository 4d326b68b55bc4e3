"""A reverse-Polish calculator."""

import sys
from collections.abc import Callable

_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


class CalcError(Exception):
    pass


def evaluate(expr: str) -> float:
    stack: list[float] = []
    for token in expr.split():
        if token in _OPS:
            if len(stack) < 2:
                raise CalcError(f"too few operands for {token}")
            b = stack.pop()
            a = stack.pop()
            if token == "/" and b == 0:
                raise CalcError("division by zero")
            stack.append(_OPS[token](a, b))
        else:
            try:
                stack.append(float(token))
            except ValueError:
                raise CalcError(f"bad token: {token}") from None
    if len(stack) != 1:
        raise CalcError(f"expected one result, {len(stack)} values left")
    return stack[0]


def fmt(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{round(value, 6):.6f}".rstrip("0").rstrip(".")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print('usage: python -m rpncalc "EXPR"', file=sys.stderr)
        return 2
    try:
        print(fmt(evaluate(argv[0])))
    except CalcError as exc:
        print(f"rpncalc: {exc}", file=sys.stderr)
        return 2
    return 0
