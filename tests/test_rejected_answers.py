"""A step whose answers fail validation every time: the last one is kept on disk with its errors, and
`softco resume` has ways out other than the same three calls (issue 13.3): a fixed answer
(--answer STEP=FILE), another endpoint (--model/--base-url), or a person (--human ROLE)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer
from helpers import only_project, run_cli
from scripted_project import DESIGN, REQUIREMENT, answers

from softco.company.run import RunError, Takeover
from softco.steps.rejected import file_stem

DESIGN_STEP = "architect/write_design/project"
NO_SUCH_STEP = "engineer/write_code/calc/nothing.py"
BAD_DESIGN = {**DESIGN, "package": "Calc-Lib"}  # fails the package rule, whatever the endpoint was sent


def failing_run(tmp_path: Path) -> tuple[Path, str]:
    """`softco new` against an endpoint whose design answer is rejected three times; the project and stderr."""
    script: dict[str, Any] = {"product_manager/write_prd/project": answers()["product_manager/write_prd/project"]}
    script[DESIGN_STEP] = [BAD_DESIGN] * 3
    with FakeOpenAIServer(script) as srv:
        res = run_cli(["new", REQUIREMENT, "--output", "out"], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
        srv.assert_complete()
    assert res.exit_code == 1, res.stdout + res.stderr
    return only_project(tmp_path / "out"), res.stderr


def rest_of_the_run() -> dict[str, Any]:
    script = answers()
    del script["product_manager/write_prd/project"], script[DESIGN_STEP]
    return script


def design_calls(project: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    rows = db.execute("SELECT status, response_json FROM steps WHERE key=? AND attempt>0 ORDER BY id", (DESIGN_STEP,))
    out = [(s, json.loads(r)["model"]) for s, r in rows.fetchall()]
    db.close()
    return out


def test_the_rejected_answer_is_kept_and_a_fixed_one_finishes_the_run(tmp_path: Path) -> None:
    project, stderr = failing_run(tmp_path)
    kept = project / ".softco" / "rejected" / f"{file_stem(DESIGN_STEP)}.json"
    errors = kept.with_name(f"{file_stem(DESIGN_STEP)}.error.txt")
    # one line: what failed, where the answer is, and the ways out
    assert stderr.count("\n") == 1 and str(kept) in stderr and f"--answer {DESIGN_STEP}={kept}" in stderr
    assert "--model M --base-url URL" in stderr and "--human architect" in stderr and "Calc-Lib" in stderr
    assert json.loads(kept.read_text())["package"] == "Calc-Lib"
    text = errors.read_text()
    assert text.startswith(f"step: {DESIGN_STEP}\n") and text.count("must be a lowercase Python identifier") == 3

    # a fix that is still wrong is refused with its error (exit 2), and nothing is asked of any model
    broken = {**json.loads(kept.read_text()), "package": "calc lib"}
    kept.write_text(json.dumps(broken))
    with FakeOpenAIServer([]) as idle:
        res = run_cli(
            ["resume", str(project), "--answer", f"{DESIGN_STEP}={kept}"],
            tmp_path,
            env={"OPENAI_BASE_URL": idle.base_url},
        )
        assert not idle.requests
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "does not validate" in res.stderr and "'calc lib'" in res.stderr and res.stderr.count("\n") == 1

    # the fixed answer is validated like a model's and used; the run goes on with a model
    kept.write_text(json.dumps({**broken, "package": "calc"}, indent=1))
    with FakeOpenAIServer(rest_of_the_run()) as srv:
        res = run_cli(
            ["resume", str(project), "--answer", f"{DESIGN_STEP}={kept}", "--answer", f"{NO_SUCH_STEP}={kept}"],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        assert not srv.chat_requests(DESIGN_STEP)  # the design was not asked again
        srv.assert_complete()
    assert res.exit_code == 0, res.stdout + res.stderr
    assert f"warning: --answer {NO_SUCH_STEP} was not used" in res.stdout
    assert json.loads((project / "docs" / "design.json").read_text())["package"] == "calc"
    statuses = design_calls(project)
    assert statuses == [("invalid", "gpt-4o-mini")] * 3 + [("invalid", "answer file"), ("ok", "answer file")]

    # an answer to a step that is done is refused before anything runs
    res = run_cli(["resume", str(project), "--answer", f"{DESIGN_STEP}={kept}"], tmp_path)
    assert res.exit_code == 2 and "done already" in res.stderr, res.stderr


def test_resume_with_another_endpoint_or_a_person(tmp_path: Path) -> None:
    project, _ = failing_run(tmp_path)
    # a plain resume asks the same model again, and says what else can be done
    with FakeOpenAIServer({DESIGN_STEP: [BAD_DESIGN] * 3}) as srv:
        res = run_cli(["resume", str(project)], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
    assert res.exit_code == 1
    assert f"note: the answers to step {DESIGN_STEP} were rejected last time" in res.stdout
    assert "--answer" in res.stdout and "--human architect" in res.stdout

    # --human: the step is the person's from now on (here with no terminal: they are told where to answer)
    with FakeOpenAIServer([]) as idle:
        res = run_cli(
            ["resume", str(project), "--human", "architect"], tmp_path, env={"OPENAI_BASE_URL": idle.base_url}
        )
        assert not idle.requests
    assert res.exit_code == 1 and "is yours (--human)" in res.stderr, res.stdout + res.stderr
    assert (project / ".softco" / "human" / f"{file_stem(DESIGN_STEP)}.prompt.md").is_file()

    # --model/--base-url: another endpoint answers from there on, and the run finishes
    script = {**rest_of_the_run(), DESIGN_STEP: DESIGN}
    with FakeOpenAIServer(script) as good:
        res = run_cli(
            ["resume", str(project), "--base-url", good.base_url, "--model", "better-model"],
            tmp_path,
            env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},  # the first endpoint is gone
        )
        assert all(r.body["model"] == "better-model" for r in good.chat_requests())
        good.assert_complete()
    assert res.exit_code == 0, res.stdout + res.stderr
    assert design_calls(project)[-1] == ("ok", "better-model")


def test_answer_options_are_checked() -> None:
    with pytest.raises(RunError, match="give STEP=FILE"):
        Takeover(answers=["answer.json"]).answer_files()
    with pytest.raises(RunError, match="cannot read"):
        Takeover(answers=[f"{DESIGN_STEP}=/nonexistent/answer.json"]).answer_files()
    assert len(file_stem("engineer/write_code/" + "a/" * 100 + "x.py")) <= 150
    assert file_stem(DESIGN_STEP) == "architect__write_design__project"
