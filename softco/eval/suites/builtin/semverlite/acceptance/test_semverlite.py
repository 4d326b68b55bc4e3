"""Hidden acceptance tests for the task `semverlite` (library)."""

import importlib
from types import ModuleType

import pytest

# SemVer 2.0.0, section 11: each version has lower precedence than the next
ORDERED = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
           "1.0.0-rc.1", "1.0.0"]  # fmt: skip


@pytest.fixture(scope="module")
def sv() -> ModuleType:
    return importlib.import_module("semverlite")


def test_numeric_parts(sv: ModuleType) -> None:
    assert sv.compare("1.10.0", "1.9.0") == 1
    assert sv.compare("1.9.0", "1.10.0") == -1
    assert sv.compare("2.0.0", "1.99.99") == 1
    assert sv.compare("0.0.9", "0.0.10") == -1
    assert sv.compare("3.4.5", "3.4.5") == 0


def test_pre_release_below_release(sv: ModuleType) -> None:
    assert sv.compare("1.0.0-alpha", "1.0.0") == -1
    assert sv.compare("1.0.0", "1.0.0-rc.1") == 1
    assert sv.compare("1.0.0-rc.1", "0.9.9") == 1


def test_pre_release_order_from_the_spec(sv: ModuleType) -> None:
    for lower, higher in zip(ORDERED, ORDERED[1:], strict=False):
        assert sv.compare(lower, higher) == -1, (lower, higher)
        assert sv.compare(higher, lower) == 1, (higher, lower)


def test_build_metadata_ignored(sv: ModuleType) -> None:
    assert sv.compare("1.0.0+build.5", "1.0.0+other") == 0
    assert sv.compare("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta") == 0


def test_bump(sv: ModuleType) -> None:
    assert sv.bump("1.2.3", "patch") == "1.2.4"
    assert sv.bump("1.2.3", "minor") == "1.3.0"
    assert sv.bump("1.2.3", "major") == "2.0.0"
    assert sv.bump("0.9.9", "minor") == "0.10.0"


def test_bump_drops_pre_release_and_build(sv: ModuleType) -> None:
    assert sv.bump("1.2.3-rc.1+b7", "patch") == "1.2.4"
    assert sv.bump("1.2.3+b7", "major") == "2.0.0"


def test_invalid_versions(sv: ModuleType) -> None:
    for bad in ("1.2", "1.2.3.4", "a.b.c", "", "1.2.-3", "1.2.3-"):
        with pytest.raises(ValueError):
            sv.compare(bad, "1.0.0")
        with pytest.raises(ValueError):
            sv.bump(bad, "patch")


def test_invalid_part(sv: ModuleType) -> None:
    with pytest.raises(ValueError):
        sv.bump("1.2.3", "huge")
