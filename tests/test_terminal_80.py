"""The first five minutes at 80 columns: `show`, the --approve gate and `--help` wrap and never cut,
markdown keeps `__init__.py`, `--version` and shell completion work.

The CLI runs in-process (typer's CliRunner) on a console 80 columns wide, configured as the real one.
"""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

import pytest
from review_helpers import generate
from rich.cells import cell_len
from rich.console import Console
from scripted_project import PRD, answers
from typer.testing import CliRunner

import softco
import softco.cli
from softco.cli import app

WIDTH = 80
#: A sentence longer than a line, with its last word the one a cut would lose.
LONG = (
    "returns a + b, and this description keeps going with plain words well past the right edge of an "
    "eighty column terminal until it ends with the word LASTWORD"
)
DUNDERS = "the package's __init__.py exports add, and __main__ runs it"


def long_answers() -> dict[str, Any]:
    script = copy.deepcopy(answers())
    prd = script["product_manager/write_prd/project"]
    prd["summary"] = DUNDERS
    prd["requirements"][0]["description"] = LONG
    design = script["architect/write_design/project"]
    ops = next(f for f in design["files"] if f["path"] == "calc/ops.py")
    ops["purpose"] = "Arithmetic " + LONG
    fix = script["engineer/fix_code/round-1/calc/ops.py"]
    fix["notes"] = "the fix " + LONG
    fix["content"] += f"\n# COMMENT {LONG}\n"
    return script


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("eighty"), long_answers())


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal 80 columns wide: the CLI makes its console from COLUMNS on every call."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def cli(*args: str) -> str:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": str(WIDTH)}, prog_name="softco")
    assert res.exit_code == 0, res.output
    return res.stdout


def assert_fits(out: str) -> None:
    wide = [line for line in out.splitlines() if cell_len(line) > WIDTH]
    assert not wide, "\n".join(wide)


def words(out: str) -> str:
    """The text with its line breaks and indentation as single spaces (what a reader reads)."""
    return " ".join(out.split())


def test_every_view_fits_80_columns(project: Path, narrow: None) -> None:
    for view in ("", "prd", "design", "tasks", "code", "tests", "board", "cost", "trace"):
        assert_fits(cli("show", str(project), *([view] if view else [])))


@pytest.mark.parametrize(
    ("view", "text"),
    [
        ("prd", LONG),
        ("design", "Arithmetic " + LONG),
        ("tasks", "Arithmetic " + LONG),
        ("code", "the fix " + LONG),
        ("code", "# COMMENT " + LONG),
    ],
)
def test_long_text_wraps_and_is_never_cut(project: Path, narrow: None, view: str, text: str) -> None:
    out = cli("show", str(project), view)
    assert "…" not in out
    assert words(text) in words(out), out  # every word, in order, not in table cells


def test_board_at_80_columns_is_one_block_per_message(project: Path, narrow: None) -> None:
    out = cli("show", str(project), "board")
    assert "…" not in out and "┃" not in out and "│" not in out
    lines = out.splitlines()
    heads = [line for line in lines if line.startswith("#")]
    assert len(heads) == 11
    first_code = next(line for line in heads if " code " in line)
    assert "Carol (Engineer)" in first_code and "re #4 tasks" in first_code
    assert re.search(r"\b[0-9a-f]{7}\b", first_code)
    assert "calc/__init__.py (exports)" in out  # whole, not `calc/__ini…`


def test_prd_keeps_dunders(project: Path, narrow: None) -> None:
    out = cli("show", str(project), "prd")
    assert "__init__.py" in out and "__main__" in out
    assert words(DUNDERS) in words(out)


def test_a_custom_kind_keeps_dunders() -> None:
    from softco.report.show import _markdown
    from softco.views import generic_md

    buf = io.StringIO()
    md = _markdown(generic_md("review", "calc/__init__.py", {"summary": "guard with if __name__ == '__main__'"}))
    Console(file=buf, width=WIDTH).print(md)
    assert "calc/__init__.py" in buf.getvalue() and "__name__ == '__main__'" in buf.getvalue()


def test_the_html_report_keeps_dunders_and_stays_escaped(project: Path) -> None:
    from softco.report.html import md, md_inline, render_report
    from softco.report.project import load_project

    assert str(md_inline("the __init__.py and __main__")) == "the __init__.py and __main__"
    assert str(md_inline("**bold** and _it_")) == "<strong>bold</strong> and <em>it</em>"  # markdown still works
    assert "<script" not in str(md("<script>__x__</script> __init__.py"))
    assert "&lt;script&gt;__x__&lt;/script&gt; __init__.py" in str(md("<script>__x__</script> __init__.py"))
    page = render_report(load_project(project))
    assert "__init__.py exports add, and __main__ runs it" in page


def test_the_approve_gate_shows_the_whole_artifact_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.prompt import Prompt

    from softco.artifacts import Prd
    from softco.steps.gates import ConsoleGate

    prd = copy.deepcopy(PRD)
    prd["summary"] = DUNDERS
    prd["requirements"][0]["description"] = LONG
    artifact = Prd.model_validate(prd)
    monkeypatch.setattr(Prompt, "ask", classmethod(lambda cls, *a, **k: "a"))
    buf = io.StringIO()
    console = Console(file=buf, highlight=False, soft_wrap=True, width=WIDTH)  # as the CLI's console
    gate = ConsoleGate({"prd"}, console, tmp_path)
    decision = gate.review("product_manager/write_prd/project", artifact, lambda text: artifact)
    assert decision.action == "approve"
    out = buf.getvalue()
    assert_fits(out)
    assert words(LONG) in words(out) and "__init__.py" in out and "__main__" in out


# -- the command line itself ----------------------------------------------------------------------


def test_version() -> None:
    assert cli("--version") == f"softco {softco.__version__}\n"


def test_shell_completion_script_and_completions(monkeypatch: pytest.MonkeyPatch) -> None:
    script = cli("--show-completion", "bash")
    assert "_SOFTCO_COMPLETE" in script and "complete" in script
    env = {"_SOFTCO_COMPLETE": "complete_bash", "COMP_WORDS": "softco sh", "COMP_CWORD": "1"}
    res = CliRunner().invoke(app, [], env=env, prog_name="softco")
    assert res.stdout.split() == ["show"]
    env = {"_SOFTCO_COMPLETE": "complete_bash", "COMP_WORDS": "softco show DIR t", "COMP_CWORD": "3"}
    res = CliRunner().invoke(app, [], env=env, prog_name="softco")
    assert res.stdout.split() == ["tasks", "tests", "trace"]


COMMANDS = [[], ["new"], ["change"], ["resume"], ["revise"], ["demo"], ["runs"], ["show"], ["report"], ["sop"]]
COMMANDS += [["sop", "init"], ["sop", "validate"], ["sop", "graph"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "softco")
def test_help_fits_80_columns_and_names_what_options_take(command: list[str]) -> None:
    out = cli(*command, "--help")
    assert_fits(out)
    options = out.partition("Options:")[2]
    assert options.strip()
    leaks = re.findall(r"<(?:bool|int|float|str|path|list\[[a-z]+\])>", options)
    assert not leaks, options


def test_help_says_what_each_option_takes() -> None:
    out = cli("new", "--help")
    for shown in ("--human ROLE", "--budget USD", "--approve KIND,...", "--output DIR", "--base-url URL"):
        assert shown in out
    assert "STEP=FILE" in cli("resume", "--help")


def test_long_step_keys_are_not_split_mid_word(project: Path, narrow: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step key too long to share a line with its figures gets a line of its own, broken only after a `/`."""
    import softco.report.show
    from softco.report.costs import CostRow

    key = "engineer/fix_code/round-12/" + "/".join(["a_package_with_a_rather_long_name"] * 3) + "/the_module.py"
    row = CostRow(name=key, calls=2, reasks=1, prompt_tokens=12_345, completion_tokens=678, cost_usd=0.0123, seconds=9)
    row.measured_calls = 2
    short = row.model_copy(update={"name": "architect/write_design/project"})
    monkeypatch.setattr(softco.report.show, "cost_by_step", lambda steps: [short, row])
    out = cli("show", str(project), "cost")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("engineer/fix_code/round-12/"))
    parts = []
    for line in lines[start:]:
        if line.startswith(" "):
            break
        parts.append(line)
    assert "".join(parts) == key and all(p.endswith("/") for p in parts[:-1])  # whole parts only
    figures = lines[start + len(parts)].split()
    assert figures == ["2", "1", "12,345+678", "$0.0123", "9.00", "s"]
    assert next(line for line in lines if line.startswith("architect/write_design/project ")).endswith(" s")
    assert_fits(out)
