"""Hidden acceptance tests for the task `exprcalc` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def ev() -> ModuleType:
    return importlib.import_module("exprcalc")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 * 3 ^ 2", 18),
        ("2 ^ 3 ^ 2", 512),
        ("8 / 4 / 2", 1),
        ("10 - 4 - 3", 3),
        ("-3 + 5", 2),
        ("-(2 + 3)", -5),
        ("4 * -2", -8),
        ("1.5 * 4", 6),
        ("  7/2 ", 3.5),
        ("((2))", 2),
        ("2 ^ 0.5 * 2 ^ 0.5", 2),
    ],
)
def test_evaluates(ev: ModuleType, expr: str, expected: float) -> None:
    assert ev.evaluate(expr) == pytest.approx(expected)


@pytest.mark.parametrize("expr", ["", "1 +", "(1 + 2", "1 + 2)", "1 2", "2 * * 3", "abc", ")", "1..2"])
def test_malformed_raises_value_error(ev: ModuleType, expr: str) -> None:
    with pytest.raises(ValueError):
        ev.evaluate(expr)


@pytest.mark.parametrize("expr", ["1 / 0", "1 / (2 - 2)"])
def test_division_by_zero(ev: ModuleType, expr: str) -> None:
    with pytest.raises(ZeroDivisionError):
        ev.evaluate(expr)
