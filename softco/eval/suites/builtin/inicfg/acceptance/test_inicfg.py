"""Hidden acceptance tests for the task `inicfg` (library)."""

import importlib
import re
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def ini() -> ModuleType:
    return importlib.import_module("inicfg")


def test_sections_and_keys(ini: ModuleType) -> None:
    text = "[server]\nhost = example.org\nport = 8080\n[client]\nretries = 3\n"
    assert ini.parse(text) == {"server": {"host": "example.org", "port": "8080"}, "client": {"retries": "3"}}


def test_key_and_value_stripped(ini: ModuleType) -> None:
    assert ini.parse("[a]\n  name   =   some value   \n") == {"a": {"name": "some value"}}


def test_split_at_first_equals(ini: ModuleType) -> None:
    assert ini.parse("[a]\nurl = x=1&y=2\n") == {"a": {"url": "x=1&y=2"}}


def test_comments_and_blank_lines_ignored(ini: ModuleType) -> None:
    text = "; top comment\n\n[a]\n# another = comment\nk = v\n\n; k = w\n"
    assert ini.parse(text) == {"a": {"k": "v"}}


def test_last_value_wins(ini: ModuleType) -> None:
    assert ini.parse("[a]\nk = 1\nk = 2\n") == {"a": {"k": "2"}}


def test_empty_value_and_empty_section(ini: ModuleType) -> None:
    assert ini.parse("[a]\nk =\n[b]\n") == {"a": {"k": ""}, "b": {}}


def test_empty_text(ini: ModuleType) -> None:
    assert ini.parse("") == {}


def test_key_before_section(ini: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"\b1\b"):
        ini.parse("k = v\n[a]\n")


def test_bad_line_reports_its_number(ini: ModuleType) -> None:
    with pytest.raises(ValueError) as info:
        ini.parse("[a]\nk = v\n\nthis is not valid\n")
    assert re.search(r"\b4\b", str(info.value))
