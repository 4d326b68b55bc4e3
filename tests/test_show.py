"""`softco show DIR [VIEW]` on projects generated for real (scripted answers) through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli
from review_helpers import generate, untested_req_answers
from scripted_project import REQUIREMENT, answers


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("show"), answers())


def show(project: Path, *view: str) -> str:
    res = run_cli(["show", str(project), *view], project.parent)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stderr == ""
    return res.stdout


def test_overview_by_default(project: Path) -> None:
    out = show(project)
    assert REQUIREMENT in out
    assert "done, exit 0" in out
    assert "3 passed, 0 failed" in out
    assert "LLM calls" in out and "7" in out
    # scripted answers: the tokens are length-based estimates, never priced (never $0, never a made-up cost)
    assert "not priced (estimated usage)" in out and "$" not in out
    assert "(estimated)" in out and "~" in out
    assert "tokens" in out and "time" in out


def test_prd_renders_requirements(project: Path) -> None:
    out = show(project, "prd")
    assert "PRD: Calc" in out
    assert "REQ-1" in out and "Add" in out
    assert "REQ-2" in out and "Safe division" in out
    assert "divide(1, 0) raises ValueError" in out
    assert "**" not in out  # markdown rendered, not printed raw


def test_design_and_tasks(project: Path) -> None:
    design = show(project, "design")
    assert "Design: calc" in design and "calc/ops.py" in design and "sequenceDiagram" in design
    tasks = show(project, "tasks")
    assert "calc/ops.py" in tasks and "Arithmetic: add and divide" in tasks and "Package exports" in tasks


def test_code_shows_the_latest_source(project: Path) -> None:
    out = show(project, "code")
    assert "calc/ops.py" in out and "calc/__init__.py" in out
    assert 'raise ValueError("cannot divide by zero")' in out  # the fixed version, not the buggy one
    assert "return 0" not in out
    assert "def add(a: float, b: float) -> float:" in out


def test_tests_view_has_source_and_outcomes(project: Path) -> None:
    out = show(project, "tests")
    assert "def test_divide_by_zero_raises():" in out
    for name in ("test_add", "test_divide", "test_divide_by_zero_raises"):
        assert f"tests/test_ops.py::{name}" in out
    assert "passed" in out and "failed" not in out.replace("0 failed", "")


def test_board_lists_messages_in_order(project: Path) -> None:
    out = show(project, "board")
    kinds = [
        "requirement",
        "prd",
        "design",
        "tasks",
        "code",
        "code",
        "tests",
        "test_report",
        "bug_report",
        "code",
        "test_report",
    ]
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert [row.split("│")[3].strip() for row in rows] == kinds
    assert "Alice (Product Manager)" in out and "Dave (QA Engineer)" in out
    assert "#8 test_report" in out  # the bug report replies to the first test report
    shas = [row.split("│")[7].strip() for row in rows]
    assert all(len(s) == 7 for s in shas)


def test_cost_per_role_and_step(project: Path) -> None:
    out = show(project, "cost")
    for role in ("Alice (Product Manager)", "Bob (Architect)", "Carol (Engineer)", "Dave (QA Engineer)"):
        assert role in out
    for key in (
        "product_manager/write_prd/project",
        "engineer/fix_code/round-1/calc/ops.py",
        "qa_engineer/run_tests/round-1",
    ):
        assert key in out
    assert "unpriced" in out and "$" not in out
    assert "total: 6 LLM calls" in out  # PRD, design, 2 files, 1 test file, 1 fix
    assert "~ marks estimated tokens" in out


def test_trace_lists_requirements_with_tests(project: Path) -> None:
    out = show(project, "trace")
    assert "REQ-1" in out and "REQ-2" in out
    for name in ("test_add", "test_divide", "test_divide_by_zero_raises"):
        assert name in out
    assert "passed" in out
    assert "NO TEST" not in out and "FAILING" not in out
    assert "all 2 requirements have passing tests" in out


def test_trace_flags_an_untested_requirement(tmp_path: Path) -> None:
    project = generate(tmp_path, untested_req_answers())
    out = show(project, "trace")
    req3 = next(line for line in out.splitlines() if "REQ-3" in line)
    assert "NO TEST" in req3
    assert "1 of 3 requirements need attention: REQ-3" in out


def test_trace_and_cost_read_at_80_columns(tmp_path: Path) -> None:
    """On a narrow terminal the wide tables give way to layouts that do not cut names in pieces."""
    project = generate(tmp_path, untested_req_answers())
    res = run_cli(["show", str(project), "trace"], project.parent, env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert next(line for line in lines if line.startswith("REQ-3")).endswith("NO TEST")
    assert any(line.strip() == "✓ ops::test_divide_by_zero_raises" for line in lines)  # glyph and name together
    assert "┃" not in res.stdout  # no table
    res = run_cli(["show", str(project), "cost"], project.parent, env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    prose = ("total:", "~ marks")  # the terminal wraps these
    assert all(len(line) <= 80 for line in lines if not line.startswith(prose))
    row = next(line for line in lines if line.startswith("engineer/fix_code/round-1/calc/ops.py "))
    assert "unpriced" in row and row.rstrip().endswith(" s")
    assert any(line.startswith("Alice (Product Manager) ") for line in lines)


def test_not_a_project_is_a_one_line_error(tmp_path: Path) -> None:
    res = run_cli(["show", str(tmp_path)], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "is not a softco project" in res.stderr
    assert "Traceback" not in res.stderr


def test_unknown_view_is_a_one_line_error(project: Path) -> None:
    res = run_cli(["show", str(project), "everything"], project.parent)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "unknown view 'everything'" in res.stderr and "trace" in res.stderr
