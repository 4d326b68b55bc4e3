"""Hidden acceptance tests for the task `romanum` (library)."""

import importlib
from types import ModuleType

import pytest

KNOWN = {1: "I", 4: "IV", 9: "IX", 14: "XIV", 40: "XL", 90: "XC", 400: "CD", 944: "CMXLIV", 1994: "MCMXCIV",
         2024: "MMXXIV", 3999: "MMMCMXCIX"}  # fmt: skip


@pytest.fixture(scope="module")
def rn() -> ModuleType:
    return importlib.import_module("romanum")


def test_to_roman_known_values(rn: ModuleType) -> None:
    assert {n: rn.to_roman(n) for n in KNOWN} == KNOWN


def test_from_roman_known_values(rn: ModuleType) -> None:
    assert {s: rn.from_roman(s) for s in KNOWN.values()} == {s: n for n, s in KNOWN.items()}


def test_round_trip_whole_range(rn: ModuleType) -> None:
    assert all(rn.from_roman(rn.to_roman(n)) == n for n in range(1, 4000))


def test_to_roman_out_of_range(rn: ModuleType) -> None:
    for n in (0, -1, 4000, 10000):
        with pytest.raises(ValueError):
            rn.to_roman(n)


def test_from_roman_rejects_non_numerals(rn: ModuleType) -> None:
    for s in ("", "ABC", "iv"):
        with pytest.raises(ValueError):
            rn.from_roman(s)


def test_from_roman_rejects_non_canonical(rn: ModuleType) -> None:
    for s in ("IIII", "IC", "VV", "MMMM", "XM", "IIV"):
        with pytest.raises(ValueError):
            rn.from_roman(s)
