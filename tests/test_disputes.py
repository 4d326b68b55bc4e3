"""A test the engineer says is wrong goes back to QA, who rules on it from the spec, never the code."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from helpers import board_artifacts, commits, only_project, run_cli, write_script
from scripted_project import OPS_BUGGY, OPS_FIXED, REQUIREMENT, TESTS, TESTS_ANSWER, answers, code

from softco.artifacts import TestReport, TestResult, Tests
from softco.steps.qa_tools import KEPT, Disputes, triage

MESSAGE_TEST = """

def test_divide_by_zero_names_the_problem():
    with pytest.raises(ValueError, match="division by zero"):
        divide(1, 0)
"""
#: QA's first tests also pin the error message, which the spec (REQ-2) leaves open
TESTS_WITH_WORDING: dict[str, Any] = {
    **TESTS_ANSWER,
    "content": TESTS + MESSAGE_TEST,
    "cases": [*TESTS_ANSWER["cases"], {"name": "test_divide_by_zero_names_the_problem", "req_ids": ["REQ-2"]}],
}
WORDING = "tests/test_ops.py::test_divide_by_zero_names_the_problem"
RAISES = "tests/test_ops.py::test_divide_by_zero_raises"


def prompts(project: Path, action: str) -> dict[str, str]:
    """Step subject -> the user prompt of each `action` step on the board."""
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    rows = db.execute(
        "SELECT subject, request_json FROM steps WHERE action = ? AND request_json IS NOT NULL", (action,)
    )
    out = {subject: json.loads(req)["messages"][1]["content"] for subject, req in rows}
    db.close()
    return out


def run(tmp_path: Path, script: dict[str, Any], *extra: str) -> tuple[int, str, Path]:
    path = write_script(tmp_path / "answers.json", script)
    res = run_cli(["new", REQUIREMENT, "--llm", f"script:{path}", "--output", "out", *extra], tmp_path)
    return res.exit_code, res.stdout + res.stderr, only_project(tmp_path / "out")


def test_a_disputed_test_the_spec_does_not_back_is_changed_by_qa(tmp_path: Path) -> None:
    """The code is right; QA's test pins a message wording the spec never states. The engineer keeps
    the code and disputes the test; the next failure goes to QA, not back to the engineer; QA rewrites
    the test from the spec and the tests pass."""
    reason = "REQ-2 only says divide raises ValueError when b is 0; the message wording is not in the spec"
    script = {
        **answers(fixes=0),
        "engineer/write_code/calc/ops.py": code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "add and divide"),
        "qa_engineer/write_tests/calc/ops.py": TESTS_WITH_WORDING,
        "engineer/fix_code/round-1/calc/ops.py": {
            **code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "no change: the test is wrong"),
            "disputed_tests": [{"test": WORDING, "reason": reason}],
        },
        "qa_engineer/recheck_tests/round-2/tests/test_ops.py": TESTS_ANSWER,
    }
    exit_code, output, project = run(tmp_path, script)
    assert exit_code == 0, output
    kinds = [(kind, data.get("round"), data.get("path")) for kind, _, data in board_artifacts(project)]
    assert ("bug_report", 1, "calc/ops.py") in kinds
    assert ("test_dispute", 2, "tests/test_ops.py") in kinds
    assert not [k for k in kinds if k[0] == "bug_report" and k[1] != 1], (
        "the disputed failure went back to the engineer"
    )
    reports = [TestReport.model_validate(d) for kind, _, d in board_artifacts(project) if kind == "test_report"]
    assert [(r.round, r.ok) for r in reports] == [(1, False), (2, False), (3, True)]
    assert (project / "tests/test_ops.py").read_text() == TESTS
    # QA ruled from the engineer's reason, the failure and the spec, without seeing the code (the
    # failure output may quote a traceback line or two, never the file)
    recheck = prompts(project, "recheck_tests")["round-2/tests/test_ops.py"]
    assert reason in recheck and "Regex pattern did not match" in recheck
    assert "divide(1, 0) raises ValueError" in recheck and "def test_divide_by_zero_names_the_problem" in recheck
    assert "return a + b" not in recheck and OPS_FIXED.strip() not in recheck
    # the dispute is on record for a reviewer: in docs/ and in git, by QA
    (found,) = (project / "docs" / "bugs").glob("round-2-disputed-tests_test_ops.py-*.md")
    doc = found.read_text()
    assert WORDING in doc and reason in doc
    log = [(c.author, c.subject.split(":")[0]) for c in commits(project)]
    i = log.index(("Dave (QA Engineer)", "test_dispute"))
    assert log[i + 1] == ("Dave (QA Engineer)", "tests") and log[-1][1] == "test_report"
    board = run_cli(["show", str(project), "board"], tmp_path)
    assert board.exit_code == 0 and "test_dispute" in board.stdout
    report = run_cli(["report", str(project), "-o", str(tmp_path / "r.html")], tmp_path)
    assert report.exit_code == 0, report.stdout + report.stderr
    html = (tmp_path / "r.html").read_text()
    assert "tests the engineer disputed, sent to QA" in html and f"The engineer: {reason}" in html


def test_a_test_qa_keeps_goes_back_to_the_engineer_with_that_said(tmp_path: Path) -> None:
    """The engineer wrongly disputes a right test. QA keeps it; the next failure goes to the engineer
    saying QA kept it, and the fix lands."""
    script = {
        **answers(fixes=0),
        "engineer/fix_code/round-1/calc/ops.py": {
            **code("calc/ops.py", OPS_BUGGY, ["REQ-1", "REQ-2"], "no change"),
            "disputed_tests": [{"test": RAISES, "reason": "returning 0 is friendlier than raising"}],
        },
        "qa_engineer/recheck_tests/round-2/tests/test_ops.py": TESTS_ANSWER,  # kept as it was
        "engineer/fix_code/round-3/calc/ops.py": code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "raise"),
    }
    exit_code, output, project = run(tmp_path, script, "--max-fix-rounds", "3")
    assert exit_code == 0, output
    kinds = [(kind, data.get("round")) for kind, _, data in board_artifacts(project)]
    assert [k for k in kinds if k[0] in ("bug_report", "test_dispute")] == [
        ("bug_report", 1),
        ("test_dispute", 2),
        ("bug_report", 3),
    ]
    fix3 = prompts(project, "fix_code")["round-3/calc/ops.py"]
    assert KEPT in fix3 and RAISES in fix3
    assert KEPT not in prompts(project, "fix_code")["round-1/calc/ops.py"]
    assert (project / "calc/ops.py").read_text() == OPS_FIXED


def test_disputes_count_against_the_fix_rounds(tmp_path: Path) -> None:
    """An engineer who disputes a right test forever cannot keep the run going: the rounds run out."""
    script = {
        **answers(fixes=0),
        "engineer/fix_code/round-1/calc/ops.py": {
            **code("calc/ops.py", OPS_BUGGY, ["REQ-1", "REQ-2"], "no change"),
            "disputed_tests": [{"test": RAISES, "reason": "returning 0 is friendlier"}],
        },
        "qa_engineer/recheck_tests/round-2/tests/test_ops.py": TESTS_ANSWER,
    }
    exit_code, output, project = run(tmp_path, script, "--max-fix-rounds", "2")
    assert exit_code == 3, output
    assert RAISES in output


def test_only_a_failure_the_engineer_was_shown_can_be_disputed(tmp_path: Path) -> None:
    """A fix that breaks add() and, in the same answer, disputes test_add, which had not failed: when
    test_add fails in the next round it goes to the engineer as a bug report, not to QA."""
    broken_add = OPS_FIXED.replace("return a + b", "return a - b")
    script = {
        **answers(fixes=0),
        "engineer/fix_code/round-1/calc/ops.py": {
            **code("calc/ops.py", broken_add, ["REQ-1", "REQ-2"], "raise on zero"),
            "disputed_tests": [{"test": "tests/test_ops.py::test_add", "reason": "pre-emptive"}],
        },
        "engineer/fix_code/round-2/calc/ops.py": code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "add again"),
    }
    exit_code, output, project = run(tmp_path, script)
    assert exit_code == 0, output
    kinds = [(kind, data.get("round")) for kind, _, data in board_artifacts(project)]
    assert [k for k in kinds if k[0] in ("bug_report", "test_dispute")] == [("bug_report", 1), ("bug_report", 2)]


def test_without_a_role_that_rechecks_tests_every_failure_goes_to_the_engineer() -> None:
    """An SOP with no action on test_dispute: a disputed failure is a bug report as before."""
    tests = {"tests/test_ops.py": Tests.model_validate(TESTS_ANSWER)}
    failing = TestResult(
        file="tests/test_ops.py", name="test_divide_by_zero_raises", req_ids=["REQ-2"], outcome="failed"
    )
    report = TestReport(round=2, passed=2, failed=1, errors=0, skipped=0, exit_code=1, results=[failing])
    paths = {"calc/ops.py", "calc/__init__.py"}
    disputed = {"calc/ops.py": (5, {RAISES: "the spec says nothing"})}
    bugs, to_qa = triage(report, tests, paths, Disputes(by_owner=disputed, tests_at={"tests/test_ops.py": 3}))
    assert not bugs and [d.disputes[0].test for d in to_qa] == [RAISES]
    bugs, to_qa = triage(
        report, tests, paths, Disputes(by_owner=disputed, tests_at={"tests/test_ops.py": 3}, rechecked=False)
    )
    assert not to_qa and [(f.test, f.note) for b in bugs for f in b.failures] == [(RAISES, "")]
    # once QA republished the test file after the dispute, the failure is the engineer's again, with a note
    bugs, to_qa = triage(report, tests, paths, Disputes(by_owner=disputed, tests_at={"tests/test_ops.py": 7}))
    assert not to_qa and bugs[0].failures[0].note == KEPT
