"""QA's test run reports a failure the same way every time, so the fix prompt built from it is too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import board_artifacts, only_project, run_cli, write_script
from scripted_project import REQUIREMENT, TESTS, TESTS_ANSWER, answers

from softco.steps.qa_tools import stable_message

#: a failing test whose message holds the sandbox's temporary path and an object's address
TESTS_WITH_PATHS = (
    TESTS
    + """

def test_leaves_no_trace(tmp_path):
    marker = object()
    (tmp_path / "left.txt").write_text("x")
    assert not list(tmp_path.iterdir()), (tmp_path, marker)
"""
)


def test_run_specific_details_are_masked() -> None:
    text = "AssertionError: (PosixPath('/tmp/softco-home-k2j9_x1a/pytest-0/t0'), <object object at 0x7f3a2b1c9d80>)"
    assert (
        stable_message(text) == "AssertionError: (PosixPath('/tmp/softco-home/pytest-0/t0'), <object object at 0x...>)"
    )


def test_the_same_failure_gives_the_same_bug_report_in_two_runs(tmp_path: Path) -> None:
    script: dict[str, Any] = {
        **answers(fixes=0),
        "qa_engineer/write_tests/calc/ops.py": {
            **TESTS_ANSWER,
            "content": TESTS_WITH_PATHS,
            "cases": [*TESTS_ANSWER["cases"], {"name": "test_leaves_no_trace", "req_ids": ["REQ-1"]}],
        },
    }
    path = write_script(tmp_path / "answers.json", script)
    bugs = []
    for out in ("a", "b"):
        res = run_cli(
            ["new", REQUIREMENT, "--llm", f"script:{path}", "--max-fix-rounds", "0", "--output", out], tmp_path
        )
        assert res.exit_code == 3, res.stdout + res.stderr
        reports = [d for kind, _, d in board_artifacts(only_project(tmp_path / out)) if kind == "test_report"]
        failed = [r for r in reports[-1]["results"] if r["name"] == "test_leaves_no_trace"]
        assert failed and failed[0]["outcome"] == "failed"
        bugs.append(failed[0]["message"])
    assert bugs[0] == bugs[1]
    assert "softco-home/" in bugs[0] and "0x..." in bugs[0]
    # short tracebacks: the failing line and its explanation, not the whole function with its arguments
    assert "tests/test_ops.py:" in bugs[0] and "marker = object()" not in bugs[0]
