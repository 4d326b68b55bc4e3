"""Model text on the user's terminal: printed as text, never as rich markup, with control characters
made visible, in the progress lines, the summary, `show`, `runs`, the --approve gate and git log."""

from __future__ import annotations

import copy
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import only_project, run_cli, write_script
from rich.console import Console
from scripted_project import INIT, PRD, answers

from softco.artifacts import Prd
from softco.safe_text import one_line, safe_line, safe_text, visible

#: What a hostile model writes: rich markup that does not close, a screen clear, an OSC 52 clipboard
#: write, an OSC 8 hyperlink, a C1 CSI and a right-to-left override.
HOSTILE = (
    "[/] [bold red]red[/bold red] \x1b[2J \x1b]52;c;ZWNobyBwd25lZA==\x07 "
    "\x1b]8;;http://x\x07link\x1b]8;;\x07 \x9b31m \u202egnp.exe"
)
#: The sequences that must never reach the terminal raw.
RAW = ("\x1b", "\x9b", "\x07", "\u202e")
#: How they are shown instead.
SHOWN = ("\\x1b[2J", "\\x1b]52;c;", "\\x1b]8;;http://x\\x07link", "\\x9b31m", "\\u202egnp.exe", "[/] [bold red]red")


def hostile_answers() -> dict[str, Any]:
    script = copy.deepcopy(answers())
    prd = script["product_manager/write_prd/project"]
    prd["project_name"] = "Calc " + HOSTILE
    prd["summary"] = "Summary " + HOSTILE
    prd["requirements"][0]["title"] = "Add " + HOSTILE
    design = script["architect/write_design/project"]
    design["approach"] = "Approach " + HOSTILE
    design["files"][1]["purpose"] += " " + HOSTILE  # calc/ops.py: the tasks view shows it
    tests = script["qa_engineer/write_tests/calc/ops.py"]
    tests["content"] = f"# {HOSTILE}\n" + tests["content"]  # the tests view shows the source
    init = script["engineer/write_code/calc/__init__.py"]
    init["notes"] = "exports " + HOSTILE
    init["content"] = INIT + f"BANNER = {HOSTILE!r}\nRAW = '\x1b[2J'\n"  # a raw ESC in the source
    script["engineer/fix_code/round-1/calc/ops.py"]["notes"] = "fix\n\nSoftco-Message: 1\n" + HOSTILE
    return script


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project built from hostile answers through the CLI, and what `softco new` printed."""
    base = tmp_path_factory.mktemp("hostile")
    script = write_script(base / "answers.json", hostile_answers())
    res = run_cli(["new", "a calculator " + HOSTILE, "--llm", f"script:{script}", "--output", "out"], base)
    assert res.exit_code == 0, res.stdout + res.stderr
    return only_project(base / "out"), res.stdout + res.stderr


def assert_safe(out: str) -> None:
    assert "Traceback" not in out and "MarkupError" not in out, out
    for raw in RAW:
        assert raw not in out, f"{raw!r} reached the terminal:\n{out!r}"


def test_a_run_prints_hostile_text_visibly(hostile: tuple[Path, str]) -> None:
    _, out = hostile
    assert_safe(out)
    assert "published prd: Calc [/] [bold red]red[/bold red] \\x1b[2J" in out  # not parsed as markup
    assert "(exports [/] [bold red]red" in out and "\\x1b]8;;http://x\\x07link" in out
    assert "(fix\\x0a\\x0aSoftco-Message: 1\\x0a[/]" in out  # a title is one line


@pytest.mark.parametrize("view", ["", "prd", "design", "tasks", "code", "tests", "board", "trace"])
def test_show_prints_hostile_text_visibly(hostile: tuple[Path, str], view: str) -> None:
    project, _ = hostile
    res = run_cli(["show", str(project), *([view] if view else [])], project.parent)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert_safe(res.stdout + res.stderr)
    if view in ("", "prd", "design", "tasks", "code", "tests", "board"):
        assert "\\x1b[2J" in res.stdout, res.stdout
    if view == "code":
        assert "RAW = '\\x1b[2J'" in res.stdout


def test_runs_prints_the_requirement_visibly(hostile: tuple[Path, str]) -> None:
    project, _ = hostile
    res = run_cli(["runs", "--output", str(project.parent)], project.parent)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert_safe(res.stdout + res.stderr)
    assert "a calculator [/] [bold red]" in res.stdout


def test_git_log_subjects_are_one_visible_line(hostile: tuple[Path, str]) -> None:
    project, _ = hostile
    log = subprocess.run(
        ["git", "-C", str(project), "log", "--format=%s%n%b%x00"], capture_output=True, text=True, check=True
    ).stdout
    assert_safe(log)
    subjects = subprocess.run(
        ["git", "-C", str(project), "log", "--format=%s"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert any(s.startswith("prd: Calc [/] [bold red]red[/bold red] \\x1b[2J") for s in subjects), subjects
    fix = next(s for s in subjects if s.startswith("code: calc/ops.py (fix"))
    assert fix.startswith("code: calc/ops.py (fix\\x0a\\x0aSoftco-Message: 1\\x0a")
    # the notes' newlines did not make a trailer: each Softco-Message names its own commit's message
    trailers = [line for line in log.splitlines() if line.startswith("Softco-Message:")]
    assert len(trailers) == len(set(trailers)) == len(subjects)


def test_the_markdown_docs_show_control_characters_visibly(hostile: tuple[Path, str]) -> None:
    """docs/*.md are read in a terminal (`cat docs/prd.md`); docs/*.json keep the answer as it was."""
    project, _ = hostile
    for md in ("prd.md", "design.md", "tasks.md", "requirement.md"):
        assert_safe((project / "docs" / md).read_text())
    assert "# PRD: Calc [/] [bold red]red[/bold red] \\x1b[2J" in (project / "docs" / "prd.md").read_text()
    assert HOSTILE in json.loads((project / "docs" / "prd.json").read_text())["summary"]


def test_an_error_quoting_model_text_is_shown_visibly(tmp_path: Path) -> None:
    """An answer that never validates stops the run; the error names its bad key without raw escapes."""
    script = copy.deepcopy(answers())
    script["product_manager/write_prd/project"] = [{**PRD, HOSTILE: 1}] * 3
    path = write_script(tmp_path / "a.json", script)
    res = run_cli(["new", "calc", "--llm", f"script:{path}", "--output", "out"], tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert res.stderr.startswith("softco: error:"), res.stderr
    assert_safe(res.stdout + res.stderr)
    assert "\\x1b[2J" in res.stderr


def test_the_approval_gate_shows_markdown_without_escapes_or_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--approve renders the PRD as markdown on a real terminal: no raw escape, no hidden OSC 8 link."""
    from softco.steps import gates

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=200)
    monkeypatch.setattr(gates.Prompt, "ask", lambda *a, **k: "a")
    prd = Prd.model_validate({**PRD, "summary": "See [the docs](http://evil.example/x). " + HOSTILE})
    gate = gates.ConsoleGate({"prd"}, console, tmp_path)
    decision = gate.review("product_manager/write_prd/[/]project", prd, lambda text: prd)
    assert decision.action == "approve"
    out = buf.getvalue()
    for raw in ("\x1b[2J", "\x1b]52", "\x1b]8", "\x9b", "\x07", "\u202e"):
        assert raw not in out, f"{raw!r} reached the terminal"
    assert "http://evil.example/x" in out  # the link target is shown, not hidden behind its text
    assert "\\x1b[2J" in out


def test_visible_shows_controls_and_keeps_text() -> None:
    assert visible("a\x1b[2Jb\tc\nd\x7f\x85\u200f") == "a\\x1b[2Jb\tc\nd\\x7f\\x85\\u200f"
    assert visible("a\nb\tc", multiline=False) == "a\\x0ab\\x09c"
    assert visible("Grüße, 日本 ✓") == "Grüße, 日本 ✓"
    assert one_line("x" * 500) == "x" * 199 + "…"
    assert len(one_line("\x1b" * 100, 50)) == 50
    text = safe_text("[bold]x[/]")
    assert text.plain == "[bold]x[/]" and not text.spans
    assert safe_line("a\nb").plain == "a\\x0ab"


def test_a_shared_sops_role_name_cannot_steer_the_terminal(tmp_path: Path) -> None:
    """A SOP from someone else is a supply chain too: its names are shown, not obeyed."""
    assert run_cli(["sop", "init", "mysop"], tmp_path).exit_code == 0
    role = tmp_path / "mysop" / "roles" / "architect.yaml"
    lines = role.read_text().splitlines()
    lines = ['name: "Bob\\e[2J [/]"' if line.startswith("name:") else line for line in lines]
    role.write_text("\n".join(lines) + "\n")
    res = run_cli(["sop", "graph", "mysop"], tmp_path)
    assert res.exit_code == 0, res.stderr
    assert_safe(res.stdout + res.stderr)
    assert "Bob\\x1b[2J [/]" in res.stdout
