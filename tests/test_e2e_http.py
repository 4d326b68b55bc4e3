"""The acceptance test of the core: `softco new` as a real subprocess, the real openai client
talking HTTP to a fake OpenAI-compatible server on 127.0.0.1, a real SQLite board, real git
commits, and a real pytest run of the generated code, including one bug -> fix round."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer, FakeReply
from helpers import commits, only_project, run_cli_process
from scripted_project import PRD, REQUIREMENT, answers

from softco.artifacts import KINDS, parse_artifact

AUTHORS = {
    "requirement": "Customer",
    "prd": "Alice (Product Manager)",
    "design": "Bob (Architect)",
    "tasks": "Bob (Architect)",
    "code": "Carol (Engineer)",
    "tests": "Dave (QA Engineer)",
    "test_report": "Dave (QA Engineer)",
    "bug_report": "Dave (QA Engineer)",
}


@pytest.mark.e2e
def test_one_line_to_tested_repo_through_http(tmp_path: Path) -> None:
    script = answers()
    # the PM's first answer is not JSON and its second fails the schema: both are re-asked
    script["product_manager/write_prd/project"] = [
        "Sure! Here is the PRD you asked for.",
        {**PRD, "requirements": [{**PRD["requirements"][0], "priority": "urgent"}]},
        PRD,
    ]
    # the architect's endpoint is rate limited once
    script["architect/write_design/project"] = [FakeReply.rate_limited(0), script["architect/write_design/project"]]
    with FakeOpenAIServer(script) as srv:
        res = run_cli_process(
            ["new", REQUIREMENT, "--output", "out", "--model", "fake-model"],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        requests = list(srv.requests)
        assert not srv.errors, srv.errors
        srv.assert_complete()
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "all 3 tests pass" in res.stdout
    # each re-ask and retry was on the terminal as it happened, after the time since the start
    shown = [line for line in res.stdout.splitlines() if re.match(r"\d+:\d\d ! ", line)]
    assert [line.split(" ", 1)[1].split(" (")[0] for line in shown] == [
        "! answer rejected",
        "! answer rejected",
        "! endpoint slow or unreachable",
    ]
    assert shown[0].endswith("re-ask 1/2: product_manager/write_prd/project")
    assert "priority" in shown[1] and shown[1].endswith("re-ask 2/2: product_manager/write_prd/project")
    assert all(re.match(r"\d+:\d\d ", line) for line in shown)

    # re-asks carried the error text, not the same prompt again
    prd_calls = [r for r in requests if r.step == "product_manager/write_prd/project"]
    assert len(prd_calls) == 3
    assert "Invalid JSON" in prd_calls[1].last_user_message
    assert "priority" in prd_calls[2].last_user_message and "urgent" in json.dumps(prd_calls[2].messages)
    assert all(r.response_format and r.response_format["type"] == "json_schema" for r in requests)  # type: ignore[index]
    assert all("authorization" not in r.headers or r.headers["authorization"] != "Bearer " for r in requests)
    design_calls = [r for r in requests if r.step == "architect/write_design/project"]
    assert len(design_calls) == 2  # 429, then success

    project = only_project(tmp_path / "out")
    log = commits(project)
    kinds = [c.subject.split(":")[0] for c in log]
    assert kinds == [
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
    for c in log:
        kind = c.subject.split(":")[0]
        assert c.author == AUTHORS[kind], c
        assert c.email.endswith("@softco.local")
        assert set(c.trailers) == {"Softco-Run", "Softco-Message", "Softco-SOP"}
    # the roles' first commits come in SOP order
    first_seen = list(dict.fromkeys(c.author for c in log))
    assert first_seen == [
        "Customer",
        "Alice (Product Manager)",
        "Bob (Architect)",
        "Carol (Engineer)",
        "Dave (QA Engineer)",
    ]
    # the fix commit changes the buggy file and follows the bug report
    fix = log[9]
    assert fix.files == ["calc/ops.py"] and "raise ValueError" in fix.subject

    # every docs/*.json validates as its kind
    for doc in (project / "docs").glob("*.json"):
        assert doc.stem in KINDS
        parse_artifact(doc.stem, doc.read_text())

    # the report names the real tests with their real outcomes, per round, on the board
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    reports = [
        json.loads(p) for (p,) in db.execute("SELECT payload_json FROM messages WHERE kind='test_report' ORDER BY id")
    ]
    assert [(r["round"], r["passed"], r["failed"]) for r in reports] == [(1, 2, 1), (2, 3, 0)]
    failing = [x for x in reports[0]["results"] if x["outcome"] == "failed"]
    assert [(x["name"], x["req_ids"]) for x in failing] == [("test_divide_by_zero_raises", ["REQ-2"])]
    assert "DID NOT RAISE" in failing[0]["message"]
    bugs = [json.loads(p) for (p,) in db.execute("SELECT payload_json FROM messages WHERE kind='bug_report'")]
    assert [(b["path"], b["round"]) for b in bugs] == [("calc/ops.py", 1)]
    # one step row per LLM call, with tokens; the invalid answers are rows too
    rows = db.execute("SELECT key, status, prompt_tokens FROM steps WHERE request_hash IS NOT NULL").fetchall()
    assert [s for k, s, _ in rows if k == "product_manager/write_prd/project"] == ["invalid", "invalid", "ok"]
    assert [s for k, s, _ in rows if k == "architect/write_design/project"] == ["fault", "ok"]  # the 429 is visible
    assert all(t > 0 for _, s, t in rows if s != "fault")
    db.close()
    # the generated project is a normal repo with nothing left uncommitted
    assert (project / "pyproject.toml").is_file() and (project / "README.md").is_file()
    assert (project / "tests" / "test_ops.py").is_file()
    import git

    assert not git.Repo(project).is_dirty(untracked_files=True)
