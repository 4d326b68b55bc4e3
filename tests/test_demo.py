"""`softco demo`: the bundled recording replayed through the normal path, offline."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import commits, run_cli_process

from softco.cli import demo_recording
from softco.llm.replay import load_recording
from softco.sop.load import load_sop


@pytest.mark.e2e
def test_demo_runs_the_whole_company_offline(tmp_path: Path) -> None:
    res = run_cli_process(["demo", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "warning" not in res.stdout  # the recording matches today's default prompts
    assert "all 36 tests pass" in res.stdout
    # the recording's figures were never measured (developers played the model): estimates, not priced
    tokens = next(line for line in res.stdout.splitlines() if line.startswith("tokens "))
    assert tokens.split()[1].startswith("~") and tokens.rstrip().endswith("(estimated)")
    cost = next(line for line in res.stdout.splitlines() if line.startswith("cost "))
    assert cost.split(None, 1)[1].rstrip() == "not priced (estimated usage)"
    project = tmp_path / "out" / "todo-demo"
    log = commits(project)
    authors = {c.author for c in log}
    assert {"Alice (Product Manager)", "Bob (Architect)", "Carol (Engineer)", "Dave (QA Engineer)"} <= authors
    subjects = [c.subject for c in log]
    # round 1: the planted bug in service.py is caught and fixed
    bug = next(i for i, s in enumerate(subjects) if s.startswith("bug_report: todo/service.py"))
    fix = log[bug + 1]
    assert fix.author == "Carol (Engineer)" and fix.files == ["todo/service.py"]
    assert subjects[bug + 2].startswith("test_report: round 2: 35 passed, 1 failed")
    # the engineer disputed QA's over-specified test instead of bending cli.py to it (no commit of
    # cli.py after round 1); QA re-checked it against the spec and loosened it; round 3 passes
    assert not [c for c in log[bug:] if "todo/cli.py" in c.files]
    assert subjects[bug + 3].startswith("test_dispute: tests/test_cli.py: 1 test(s) disputed")
    assert log[bug + 4].author == "Dave (QA Engineer)" and log[bug + 4].files == ["tests/test_cli.py"]
    assert subjects[bug + 5].startswith("test_report: round 3: 36 passed, 0 failed")
    assert len([f for c in log for f in c.files if f.startswith("todo/") and f.endswith(".py")]) >= 6

    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    kinds = [k for (k,) in db.execute("SELECT kind FROM messages ORDER BY id")]
    reports = [json.loads(p) for (p,) in db.execute("SELECT payload_json FROM messages WHERE kind='test_report'")]
    db.close()
    assert kinds.count("bug_report") == 2 and kinds.count("test_dispute") == 1 and kinds.count("test_report") == 3
    assert [(r["passed"], r["failed"]) for r in reports] == [(34, 2), (35, 1), (36, 0)]
    assert all(r["outcome"] == "passed" for r in reports[-1]["results"])
    assert (project / "todo" / "cli.py").is_file() and len(list((project / "tests").glob("test_*.py"))) >= 4
    (doc,) = (project / "docs" / "bugs").glob("round-2-disputed-tests_test_cli.py-*.md")
    dispute = doc.read_text()
    assert "The wording after the prefix is not in the spec" in dispute


def test_bundled_recording_is_honest_and_complete() -> None:
    header, exchanges = load_recording(demo_recording())
    assert "Not a live model" in header.produced_by
    # the header names the SOP the answers were recorded against: today's default one
    assert header.sop_hash == load_sop().sop_hash, "the default SOP changed: run python scripts/make_demo_recording.py"
    assert header.requirement.startswith("a command-line todo app")
    keys = {e.step_key for e in exchanges}
    assert "engineer/fix_code/round-1/todo/service.py" in keys
    assert "qa_engineer/recheck_tests/round-2/tests/test_cli.py" in keys
    assert len([k for k in keys if k.startswith("engineer/write_code/")]) >= 4
