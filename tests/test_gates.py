"""Human in the loop: --approve gates on a real terminal (a pty), --yes, and --human ROLE."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer, FakeRequest
from helpers import only_project, run_cli, write_script
from scripted_project import PRD, REQUIREMENT, answers

from softco.llm.replay import exchanges_json


def run_in_pty(
    args: list[str], cwd: Path, replies: list[tuple[str, str]], env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal; when the output shows ``expect``, type ``send``."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", **(env or {})}
    full_env.pop("OPENAI_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "softco.cli", *args],
        cwd=cwd,
        env=full_env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    out, pending, deadline = "", list(replies), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if pending and pending[0][0] in out:
                expect, send = pending.pop(0)
                out = out.replace(expect, f"<{expect}>", 1)  # each expectation is consumed once
                os.write(master, send.encode())
            elif proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=30), out
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


PROMPT = "(a)pprove, (e)dit, or give (f)eedback"


@pytest.mark.e2e
def test_approve_on_a_terminal(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    code, out = run_in_pty(
        ["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out", "--approve", "prd"],
        tmp_path,
        [(PROMPT, "a\n")],
    )
    assert code == 0, out
    project = only_project(tmp_path / "out")
    assert json.loads((project / "docs" / "prd.json").read_text()) == PRD
    import sqlite3

    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    assert db.execute("SELECT key FROM steps WHERE status='review:approve'").fetchall() == [
        ("product_manager/write_prd/project",)
    ]
    db.close()


@pytest.mark.e2e
def test_edit_in_the_editor_changes_what_follows(tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import json, sys\np = sys.argv[1]\nd = json.load(open(p))\nd['project_name'] = 'EditedCalc'\n"
        "json.dump(d, open(p, 'w'))\n"
    )
    script = write_script(tmp_path / "a.json", answers())
    code, out = run_in_pty(
        [
            "new",
            REQUIREMENT,
            "--llm",
            f"script:{script}",
            "--output",
            "out",
            "--approve",
            "prd",
            "--record",
            "rec.jsonl",
        ],
        tmp_path,
        [(PROMPT, "e\n")],
        env={"EDITOR": f"{sys.executable} {editor}"},
    )
    assert code == 0, out
    project = only_project(tmp_path / "out")
    assert json.loads((project / "docs" / "prd.json").read_text())["project_name"] == "EditedCalc"
    assert (project / "README.md").read_text().startswith("# EditedCalc")  # the scaffold used the edit
    design_prompt = next(
        e for e in exchanges_json(tmp_path / "rec.jsonl") if e["step_key"] == "architect/write_design/project"
    )
    assert "EditedCalc" in json.dumps(design_prompt["request"]["messages"])


@pytest.mark.e2e
def test_an_edit_that_breaks_the_schema_is_refused_and_asked_again(tmp_path: Path) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'w').write('{\"project_name\": 3}')\n")
    script = write_script(tmp_path / "a.json", answers())
    code, out = run_in_pty(
        ["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out", "--approve", "prd"],
        tmp_path,
        [(PROMPT, "e\n"), ("does not fit the prd schema", ""), (PROMPT, "a\n")],
        env={"EDITOR": f"{sys.executable} {editor}"},
    )
    assert code == 0, out
    assert json.loads((only_project(tmp_path / "out") / "docs" / "prd.json").read_text()) == PRD


@pytest.mark.e2e
def test_feedback_makes_the_role_redo_the_step(tmp_path: Path) -> None:
    script = answers()
    prd3 = json.loads(json.dumps(PRD))
    prd3["requirements"].append(
        {
            "id": "REQ-3",
            "title": "Subtract",
            "description": "subtract(a, b) returns a - b",
            "priority": "P1",
            "acceptance_criteria": ["subtract(5, 3) == 2"],
        }
    )
    script["product_manager/write_prd/project"] = [PRD, prd3]
    path = write_script(tmp_path / "a.json", script)
    code, out = run_in_pty(
        ["new", REQUIREMENT, "--llm", f"script:{path}", "--output", "out", "--approve", "prd", "--record", "rec.jsonl"],
        tmp_path,
        [(PROMPT, "f\n"), ("feedback for the role", "Add subtraction too\n"), (PROMPT, "a\n")],
    )
    assert code == 0, out
    project = only_project(tmp_path / "out")
    assert [r["id"] for r in json.loads((project / "docs" / "prd.json").read_text())["requirements"]] == [
        "REQ-1",
        "REQ-2",
        "REQ-3",
    ]
    prd_calls = [e for e in exchanges_json(tmp_path / "rec.jsonl") if e["step_key"].startswith("product_manager/")]
    assert len(prd_calls) == 2
    second = prd_calls[1]["request"]["messages"]
    assert second[-2]["role"] == "assistant" and "Safe division" in second[-2]["content"]
    assert "Add subtraction too" in second[-1]["content"]
    design = next(
        e for e in exchanges_json(tmp_path / "rec.jsonl") if e["step_key"] == "architect/write_design/project"
    )
    assert "REQ-3" in json.dumps(design["request"]["messages"])


def test_yes_approves_without_a_terminal(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(
        ["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out", "--approve", "prd,design", "--yes"],
        tmp_path,
    )
    assert res.exit_code == 0, res.stdout + res.stderr


def test_a_person_plays_the_architect_from_files(tmp_path: Path) -> None:
    """--human: the architect's answers come from files the person wrote; validated like a model's."""
    script = {k: v for k, v in answers().items() if not k.startswith("architect/")}
    path = write_script(tmp_path / "a.json", script)
    res = run_cli(
        ["new", REQUIREMENT, "--name", "p", "--llm", f"script:{path}", "--output", "out", "--human", "architect"],
        tmp_path,
    )
    assert res.exit_code == 1 and "architect/write_design/project is yours" in res.stderr
    human = tmp_path / "out" / "p" / ".softco" / "human"
    prompt = (human / "architect__write_design__project.prompt.md").read_text()
    assert "Safe division" in prompt and "answer schema" in prompt
    full = answers()
    (human / "architect__write_design__project.json").write_text(json.dumps(full["architect/write_design/project"]))
    res = run_cli(["resume", str(tmp_path / "out" / "p")], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert (tmp_path / "out" / "p" / "docs" / "design.json").is_file()
    assert (tmp_path / "out" / "p" / "docs" / "tasks.json").is_file()  # the plan follows from the person's design


def test_human_for_an_unknown_role(tmp_path: Path) -> None:
    res = run_cli(["new", REQUIREMENT, "--llm", "script:x.json", "--human", "ceo"], tmp_path)
    assert res.exit_code == 2 and "--human ceo: no such role" in res.stderr


def test_a_rerun_with_a_person_in_the_loop_asks_neither_the_model_nor_the_person_again(tmp_path: Path) -> None:
    """--human used to turn the step cache off for the whole run. Now the model's steps are cached as
    usual, and the person's validated answer is reused for the same request."""
    full = answers()

    def model(req: FakeRequest) -> object:
        assert not (req.step or "").startswith("architect/"), "the model was asked the person's step"
        return full[req.step or ""]

    base = ["new", REQUIREMENT, "--output", "out", "--model", "gpt-4o-mini", "--human", "architect"]
    with FakeOpenAIServer(model) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url}
        first = run_cli([*base, "--name", "p"], tmp_path, env=env)
        assert first.exit_code == 1 and "is yours" in first.stderr
        human = tmp_path / "out" / "p" / ".softco" / "human"
        (human / "architect__write_design__project.json").write_text(json.dumps(full["architect/write_design/project"]))
        assert run_cli(["resume", str(tmp_path / "out" / "p")], tmp_path, env=env).exit_code == 0
        asked = len(srv.chat_requests())
        again = run_cli([*base, "--name", "p2"], tmp_path, env=env)
        assert again.exit_code == 0, again.stdout + again.stderr  # no answer file: the person was not asked
        assert len(srv.chat_requests()) == asked  # and the model was asked nothing
        assert not srv.errors, srv.errors
    assert "LLM calls  0" in again.stdout
    assert not (tmp_path / "out" / "p2" / ".softco" / "human" / "architect__write_design__project.json").exists()
