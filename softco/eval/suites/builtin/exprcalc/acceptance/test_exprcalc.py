"""Hidden acceptance tests for the task `exprcalc` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def ev() -> ModuleType:
    return importlib.import_module("exprcalc")


def check(ev: ModuleType, cases: dict[str, float]) -> None:
    for expr, expected in cases.items():
        assert ev.evaluate(expr) == pytest.approx(expected), expr


def test_precedence(ev: ModuleType) -> None:
    check(ev, {"1 + 2 * 3": 7, "2 * 3 ^ 2": 18, "2 ^ 0.5 * 2 ^ 0.5": 2})


def test_parentheses(ev: ModuleType) -> None:
    check(ev, {"(1 + 2) * 3": 9, "((2))": 2, "2 * (3 - (4 - 1))": 0})


def test_power_is_right_associative(ev: ModuleType) -> None:
    check(ev, {"2 ^ 3 ^ 2": 512})


def test_left_associative(ev: ModuleType) -> None:
    check(ev, {"8 / 4 / 2": 1, "10 - 4 - 3": 3})


def test_unary_minus(ev: ModuleType) -> None:
    check(ev, {"-3 + 5": 2, "-(2 + 3)": -5, "4 * -2": -8})


def test_decimals_and_spaces(ev: ModuleType) -> None:
    check(ev, {"1.5 * 4": 6, "  7/2 ": 3.5, "1+1": 2})


def malformed(ev: ModuleType, exprs: list[str]) -> None:
    for expr in exprs:
        with pytest.raises(ValueError):
            ev.evaluate(expr)


def test_empty_or_not_arithmetic(ev: ModuleType) -> None:
    malformed(ev, ["", "abc", "1..2"])


def test_missing_operand_or_operator(ev: ModuleType) -> None:
    malformed(ev, ["1 +", "2 * * 3", "1 2"])


def test_unbalanced_parentheses(ev: ModuleType) -> None:
    malformed(ev, ["(1 + 2", "1 + 2)", ")"])


def test_division_by_zero(ev: ModuleType) -> None:
    for expr in ("1 / 0", "1 / (2 - 2)"):
        with pytest.raises(ZeroDivisionError):
            ev.evaluate(expr)
