"""Hidden acceptance tests of the demo task `tempconv` (never shown to a role)."""

import importlib

import pytest

tempconv = importlib.import_module("tempconv")


def test_celsius_to_fahrenheit():
    assert tempconv.convert(100, "C", "F") == pytest.approx(212)


def test_fahrenheit_to_celsius():
    assert tempconv.convert(212, "F", "C") == pytest.approx(100)


def test_celsius_to_kelvin():
    assert tempconv.convert(0, "C", "K") == pytest.approx(273.15)


def test_fahrenheit_to_kelvin():
    assert tempconv.convert(32, "F", "K") == pytest.approx(273.15)


def test_unknown_unit():
    with pytest.raises(ValueError):
        tempconv.convert(1, "C", "X")


def test_below_absolute_zero():
    with pytest.raises(ValueError):
        tempconv.convert(-1, "K", "C")
