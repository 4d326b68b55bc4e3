"""Hidden acceptance tests for the task `md2html` (library)."""

import importlib
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def md() -> ModuleType:
    return importlib.import_module("md2html")


def test_headings(md: ModuleType) -> None:
    assert md.convert("# Title") == "<h1>Title</h1>"
    assert md.convert("### Part two") == "<h3>Part two</h3>"
    assert md.convert("###### Six") == "<h6>Six</h6>"


def test_not_headings(md: ModuleType) -> None:
    assert md.convert("#Title") == "<p>#Title</p>"
    assert md.convert("####### Seven") == "<p>####### Seven</p>"


def test_paragraph_lines_joined(md: ModuleType) -> None:
    assert md.convert("one\ntwo\nthree") == "<p>one two three</p>"


def test_blocks_joined_by_newline(md: ModuleType) -> None:
    text = "# Head\n\nfirst para\nstill first\n\n\n\nsecond para\n"
    assert md.convert(text) == "<h1>Head</h1>\n<p>first para still first</p>\n<p>second para</p>"


def test_heading_ends_a_paragraph(md: ModuleType) -> None:
    assert md.convert("before\n## Mid\nafter") == "<p>before</p>\n<h2>Mid</h2>\n<p>after</p>"


def test_escaping(md: ModuleType) -> None:
    assert md.convert("a < b & c > d") == "<p>a &lt; b &amp; c &gt; d</p>"
    assert md.convert("<script>x</script>") == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_strong_and_em(md: ModuleType) -> None:
    assert md.convert("**bold** and *it*") == "<p><strong>bold</strong> and <em>it</em></p>"


def test_code(md: ModuleType) -> None:
    assert md.convert("use `x + 1` here") == "<p>use <code>x + 1</code> here</p>"


def test_empty(md: ModuleType) -> None:
    assert md.convert("") == ""
    assert md.convert("\n\n") == ""
