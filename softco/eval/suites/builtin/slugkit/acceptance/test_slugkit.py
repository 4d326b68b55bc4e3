"""Hidden acceptance tests for the task `slugkit` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def sk() -> ModuleType:
    return importlib.import_module("slugkit")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello-world"),
        ("  Crème Brûlée  ", "creme-brulee"),
        ("a---b___c", "a-b-c"),
        ("--Already-slugged--", "already-slugged"),
        ("Version 2.0 Released", "version-2-0-released"),
        ("ÀÉÎÕÜ ñ", "aeiou-n"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_slugify(sk: ModuleType, text: str, expected: str) -> None:
    assert sk.slugify(text) == expected


def test_cut_at_word_end(sk: ModuleType) -> None:
    assert sk.slugify("hello world foo", 11) == "hello-world"


def test_cut_leaves_no_trailing_dash(sk: ModuleType) -> None:
    assert sk.slugify("hello world foo", 6) == "hello"


def test_cut_inside_word(sk: ModuleType) -> None:
    assert sk.slugify("abcdef", 3) == "abc"


def test_default_max_length_is_50(sk: ModuleType) -> None:
    assert sk.slugify("a" * 60) == "a" * 50
    assert sk.slugify("b" * 50) == "b" * 50


@pytest.mark.parametrize("n", [0, -3])
def test_bad_max_length(sk: ModuleType, n: int) -> None:
    with pytest.raises(ValueError):
        sk.slugify("text", n)
