"""The example SOPs in examples/ run end to end with scripted answers: new roles and new kinds
declared in YAML only, validated, on the board, in docs/, in git, and reacted to."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from helpers import commits, only_project, run_cli, write_script
from scripted_project import OPS_BUGGY, OPS_FIXED, REQUIREMENT, answers, code

from softco.artifacts import Refs
from softco.defaults import EXAMPLES_DIR, ROLES_DIR
from softco.sop.load import load_sop
from softco.views import doc_name

EXAMPLES = EXAMPLES_DIR

REVIEW_OPS: dict[str, Any] = {
    "path": "calc/ops.py",
    "summary": "divide() fails open: dividing by zero silently returns 0.",
    "findings": [
        {
            "line": 7,
            "severity": "medium",
            "problem": "divide(a, 0) returns 0 instead of failing, so callers act on a wrong result",
            "fix": "raise ValueError when b == 0",
        }
    ],
}
REVIEW_INIT: dict[str, Any] = {
    "path": "calc/__init__.py",
    "summary": "Re-exports only; nothing to fix.",
    "findings": [],
}


def messages(project: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    rows = db.execute(
        "SELECT id, kind, subject, sender_role, step_key, cause_id, payload_json FROM messages ORDER BY id"
    )
    out = [
        {"id": i, "kind": k, "subject": s, "sender": r, "step": st, "cause": c, "payload": json.loads(p)}
        for i, k, s, r, st, c, p in rows
    ]
    db.close()
    return out


def step_keys(project: Path) -> set[str]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    keys = {k for (k,) in db.execute("SELECT key FROM steps")}
    db.close()
    return keys


def test_security_review_example_end_to_end(tmp_path: Path) -> None:
    script = answers(fixes=0)
    script["security_reviewer/review_code/calc/ops.py"] = REVIEW_OPS
    script["security_reviewer/review_code/calc/__init__.py"] = REVIEW_INIT
    script["engineer/fix_review/calc/ops.py"] = code(
        "calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "raise ValueError on division by zero (security review)"
    )
    path = write_script(tmp_path / "answers.json", script)
    res = run_cli(
        ["new", REQUIREMENT, "--sop", str(EXAMPLES / "security_review"), "--llm", f"script:{path}", "--output", "out"],
        tmp_path,
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "all 3 tests pass" in res.stdout
    project = only_project(tmp_path / "out")
    board = messages(project)

    # the review is on the board, one per file (the step key dedupes), from the new role
    reviews = [m for m in board if m["kind"] == "review"]
    assert sorted(m["subject"] for m in reviews) == ["calc/__init__.py", "calc/ops.py"]
    assert {m["sender"] for m in reviews} == {"security_reviewer"}
    assert sorted(m["step"] for m in reviews) == [
        "security_reviewer/review_code/calc/__init__.py",
        "security_reviewer/review_code/calc/ops.py",
    ]
    ops_review = next(m for m in reviews if m["subject"] == "calc/ops.py")
    assert ops_review["payload"] == REVIEW_OPS

    # ... in docs/, as markdown for people and JSON that validates as the declared kind
    sop = load_sop(EXAMPLES / "security_review")
    base = project / "docs" / "review" / doc_name("calc/ops.py")
    doc = base.with_name(base.name + ".md")
    assert "divide(a, 0) returns 0" in doc.read_text() and "| 7 | medium |" in doc.read_text()
    review_cls = sop.kind("review")
    refs = Refs(design_paths={"calc/ops.py", "calc/__init__.py"})
    parsed = review_cls.model_validate_json(base.with_name(base.name + ".json").read_text(), context=refs)
    assert parsed.subject() == "calc/ops.py"
    assert (project / "docs" / "review" / f"{doc_name('calc/__init__.py')}.md").is_file()

    # ... and the engineer's fix follows: caused by the review, committed after it, by the engineer
    fixes = [m for m in board if m["step"].startswith("engineer/fix_review/")]
    assert [(m["kind"], m["subject"], m["cause"]) for m in fixes] == [("code", "calc/ops.py", ops_review["id"])]
    assert "raise ValueError" in fixes[0]["payload"]["content"]
    log = commits(project)
    review_at = next(i for i, c in enumerate(log) if c.trailers["Softco-Message"] == str(ops_review["id"]))
    fix_at = next(i for i, c in enumerate(log) if c.trailers["Softco-Message"] == str(fixes[0]["id"]))
    assert review_at < fix_at
    assert log[review_at].author == "Erin (Security Reviewer)" and log[review_at].subject.startswith(
        "review: calc/ops.py"
    )
    assert log[fix_at].author == "Carol (Engineer)" and log[fix_at].files == ["calc/ops.py"]
    # QA's batch test run comes after the fix and tests the fixed code: all pass, no bug report
    report_at = max(i for i, c in enumerate(log) if c.subject.startswith("test_report:"))
    assert report_at > fix_at
    assert not [m for m in board if m["kind"] == "bug_report"]
    # a review without findings makes no fix step (its `when:` is false)
    assert not any(k.startswith("engineer/fix_review/calc/__init__.py") for k in step_keys(project))
    assert not [m for m in board if m["step"] == "engineer/fix_review/calc/__init__.py"]

    # ... and shown for review: `softco show DIR review` and the HTML report render the declared kind
    shown = run_cli(["show", str(project), "review"], tmp_path)
    assert shown.exit_code == 0, shown.stderr
    assert "divide(a, 0) returns 0" in shown.stdout and "Re-exports only" in shown.stdout
    assert run_cli(["report", str(project), "-o", "r.html"], tmp_path).exit_code == 0
    html = (tmp_path / "r.html").read_text()
    assert 'id="other"' in html and "divide(a, 0) returns 0 instead of failing" in html
    bad = run_cli(["show", str(project), "reviews"], tmp_path)
    assert bad.exit_code == 2 and "review" in bad.stderr


GUIDE: dict[str, Any] = {
    "guide_title": "Using Calc",
    "overview": "Calc adds and divides numbers, and refuses to divide by zero.",
    "installation": "```bash\npip install .\npython -c 'import calc'\n```",
    "sections": [
        {
            "heading": "Adding numbers",
            "body": "```python\nfrom calc import add\nadd(2, 3)  # 5\n```",
            "req_ids": ["REQ-1"],
        },
        {
            "heading": "Dividing safely",
            "body": "`divide(1, 0)` raises `ValueError`; catch it.",
            "req_ids": ["REQ-2"],
        },
    ],
    "faq": ["Does it support floats? Yes."],
}


def test_tech_writer_example_end_to_end(tmp_path: Path) -> None:
    script = answers(fixes=1)  # round 1 fails (no guide: the `when` is false), the fix makes round 2 pass
    script["technical_writer/write_user_guide/round-2"] = GUIDE
    path = write_script(tmp_path / "answers.json", script)
    res = run_cli(
        ["new", REQUIREMENT, "--sop", str(EXAMPLES / "tech_writer"), "--llm", f"script:{path}", "--output", "out"],
        tmp_path,
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    project = only_project(tmp_path / "out")
    guides = [m for m in messages(project) if m["kind"] == "user_guide"]
    assert [(m["sender"], m["step"]) for m in guides] == [
        ("technical_writer", "technical_writer/write_user_guide/round-2")
    ]
    assert "technical_writer/write_user_guide/round-1" not in step_keys(project)
    text = (project / "docs" / "user_guide.md").read_text()
    assert text.startswith("# User guide: Using Calc")
    assert "### 2. Dividing safely" in text and "`divide(1, 0)` raises `ValueError`" in text
    assert json.loads((project / "docs" / "user_guide.json").read_text()) == GUIDE
    last = commits(project)[-1]
    assert last.author == "Frank (Technical Writer)" and last.subject.startswith("user_guide: Using Calc")
    assert last.files == ["docs/user_guide.json", "docs/user_guide.md"]


def test_an_answer_that_breaks_the_declared_kind_is_re_asked(tmp_path: Path) -> None:
    bad = {**REVIEW_OPS, "findings": [{**REVIEW_OPS["findings"][0], "severity": "catastrophic"}], "extra": 1}
    script = answers(fixes=0)
    script["security_reviewer/review_code/calc/ops.py"] = [bad, {**REVIEW_OPS, "path": "calc/other.py"}, REVIEW_OPS]
    script["security_reviewer/review_code/calc/__init__.py"] = REVIEW_INIT
    script["engineer/fix_review/calc/ops.py"] = code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "fixed")
    path = write_script(tmp_path / "answers.json", script)
    res = run_cli(
        ["new", REQUIREMENT, "--sop", str(EXAMPLES / "security_review"), "--llm", f"script:{path}", "--output", "out"],
        tmp_path,
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    db = sqlite3.connect(only_project(tmp_path / "out") / ".softco" / "board.sqlite")
    rows = db.execute(
        "SELECT status, error FROM steps WHERE key = 'security_reviewer/review_code/calc/ops.py' AND attempt > 0 "
        "ORDER BY id"
    ).fetchall()
    db.close()
    assert [s for s, _ in rows] == ["invalid", "invalid", "ok"]
    assert "catastrophic" in rows[0][1] or "severity" in rows[0][1]
    assert "extra" in rows[0][1]
    assert "not in the design" in rows[1][1]


def test_max_rounds_bounds_a_batch_action(tmp_path: Path) -> None:
    sop = tmp_path / "sop" / "roles"
    sop.mkdir(parents=True)
    qa = (ROLES_DIR / "qa_engineer.yaml").read_text()
    (sop / "qa_engineer.yaml").write_text(qa.replace("    batch: true\n", "    batch: true\n    max_rounds: 1\n"))
    path = write_script(tmp_path / "answers.json", answers(fixes=1))
    res = run_cli(
        ["new", REQUIREMENT, "--sop", str(tmp_path / "sop"), "--llm", f"script:{path}", "--output", "out"], tmp_path
    )
    assert res.exit_code == 3, res.stdout + res.stderr  # the fix was written but never tested again
    project = only_project(tmp_path / "out")
    board = messages(project)
    assert [m["payload"]["round"] for m in board if m["kind"] == "test_report"] == [1]
    assert [m["step"] for m in board if m["step"].startswith("engineer/fix_code/")] == [
        "engineer/fix_code/round-1/calc/ops.py"
    ]
    assert OPS_BUGGY != OPS_FIXED


def test_a_batch_test_run_waits_for_findings_that_will_become_code(tmp_path: Path) -> None:
    """With the default QA (run_tests does not watch `review`), tests still run only after the
    reviewer's finding has become the engineer's fix: the scheduler follows the kind graph upstream."""
    import shutil

    sop = tmp_path / "sop"
    shutil.copytree(EXAMPLES / "security_review", sop)
    (sop / "roles" / "qa_engineer.yaml").unlink()
    script = answers(fixes=0)
    script["security_reviewer/review_code/calc/ops.py"] = REVIEW_OPS
    script["security_reviewer/review_code/calc/__init__.py"] = REVIEW_INIT
    script["engineer/fix_review/calc/ops.py"] = code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "fixed")
    path = write_script(tmp_path / "answers.json", script)
    res = run_cli(["new", REQUIREMENT, "--sop", str(sop), "--llm", f"script:{path}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    board = messages(only_project(tmp_path / "out"))
    fix = next(m["id"] for m in board if m["step"].startswith("engineer/fix_review/"))
    reports = [m for m in board if m["kind"] == "test_report"]
    assert len(reports) == 1 and reports[0]["id"] > fix  # one run, on the fixed code
    assert not [m for m in board if m["kind"] == "bug_report"]
