"""Hidden acceptance tests for the task `slugkit` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def sk() -> ModuleType:
    return importlib.import_module("slugkit")


def test_words_and_punctuation(sk: ModuleType) -> None:
    assert sk.slugify("Hello, World!") == "hello-world"
    assert sk.slugify("Version 2.0 Released") == "version-2-0-released"


def test_accents_removed(sk: ModuleType) -> None:
    assert sk.slugify("Crème Brûlée") == "creme-brulee"
    assert sk.slugify("ÀÉÎÕÜ ñ") == "aeiou-n"


def test_runs_become_one_dash(sk: ModuleType) -> None:
    assert sk.slugify("a---b___c") == "a-b-c"


def test_no_dash_at_the_ends(sk: ModuleType) -> None:
    assert sk.slugify("--Already-slugged--") == "already-slugged"
    assert sk.slugify("  spaced out  ") == "spaced-out"


def test_nothing_left(sk: ModuleType) -> None:
    assert sk.slugify("") == ""
    assert sk.slugify("!!!") == ""


def test_cut_at_word_end(sk: ModuleType) -> None:
    assert sk.slugify("hello world foo", 11) == "hello-world"


def test_cut_leaves_no_trailing_dash(sk: ModuleType) -> None:
    assert sk.slugify("hello world foo", 6) == "hello"


def test_cut_inside_word(sk: ModuleType) -> None:
    assert sk.slugify("abcdef", 3) == "abc"


def test_default_max_length_is_50(sk: ModuleType) -> None:
    assert sk.slugify("a" * 60) == "a" * 50
    assert sk.slugify("b" * 50) == "b" * 50


def test_bad_max_length(sk: ModuleType) -> None:
    for n in (0, -3):
        with pytest.raises(ValueError):
            sk.slugify("text", n)
