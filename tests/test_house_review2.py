"""Defects found by a second review of the house: secrets in eval's files, settings of eval/batch/change,
the live page's spend, error lines and SOP templates. Each test failed on the code before its fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli


@pytest.mark.parametrize("command", [["show"], ["resume"], ["report"], ["sop", "validate"]])
def test_a_path_with_a_newline_is_named_on_one_visible_line(tmp_path: Path, command: list[str]) -> None:
    res = run_cli([*command, "no\nwhere\x1b[2J"], tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.startswith("softco: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "no\\x0awhere\\x1b[2J" in res.stderr and "\x1b" not in res.stderr


@pytest.mark.parametrize("make", ["dir", "fifo", "dangling"])
def test_a_sop_template_that_is_not_a_file_is_a_sop_problem_not_the_default(tmp_path: Path, make: str) -> None:
    sop = tmp_path / "sop"
    assert run_cli(["sop", "init", str(sop)], tmp_path).exit_code == 0
    path = sop / "sop_templates" / "write_code.j2"
    path.unlink()
    if make == "dir":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(tmp_path / "gone.j2", path)
    said = "cannot read it" if make == "dangling" else "not a regular file"
    res = run_cli(["sop", "validate", str(sop)], tmp_path)
    assert res.exit_code == 2 and f"{path}:1: {said}" in res.stdout + res.stderr, res.stdout + res.stderr
    res = run_cli(["new", "a todo app", "--sop", str(sop), "--dry-run", "--output", "out"], tmp_path)
    assert res.exit_code == 2 and "internal error" not in res.stderr, res.stderr
    # the SOP's problems stay one a line, each one visible line
    lines = res.stderr.splitlines()
    assert len(lines) == 2 and lines[0].endswith("nothing was run:") and lines[1].startswith(f"{path}:1: {said}")
    assert not (tmp_path / "out").exists()


def test_batch_workers_use_the_softco_toml_of_output_not_the_working_directorys(tmp_path: Path) -> None:
    """`batch --jobs 2` (and `eval`): the driver read out/softco.toml, but each worker process loaded the
    settings again from its working directory, so a run used another file's settings (here: one that is
    not valid, which stopped every run)."""
    from eval_helpers import calc_script

    reqs = tmp_path / "reqs.jsonl"
    line = '{"name": "%s", "requirement": "a tiny calculator library with safe division"}\n'
    reqs.write_text(line % "one" + line % "two")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "softco.toml").write_text("timeout = 30\n")
    (tmp_path / "softco.toml").write_text("timeout = -1\n")  # not this one: --output names the project's
    llm = calc_script(tmp_path / "script.json")
    res = run_cli(["batch", str(reqs), "--llm", llm, "--output", "out", "--jobs", "2"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    records = json.loads((tmp_path / "out" / "batch.json").read_text())["records"]
    assert [(r["task_id"], r["status"], r["error"]) for r in records] == [("one", "done", ""), ("two", "done", "")]


def _files_holding(root: Path, secret: str) -> list[str]:
    found = [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    return sorted(str(p.relative_to(root)) for p in found)


def test_a_password_in_the_base_url_is_kept_by_no_eval_file_and_a_rerun_takes_it_again(tmp_path: Path) -> None:
    """`batch`/`eval --base-url https://user:KEY@proxy/v1`: eval.json (batch.json) kept each variant's URL with
    its password, and eval.md / scoreboard.html were written from it."""
    from fake_server import FakeOpenAIServer
    from scripted_project import answers

    secret = "sk-EVALURLSECRET42"
    reqs = tmp_path / "reqs.jsonl"
    line = '{"name": "%s", "requirement": "a tiny calculator library with safe division"}\n'
    reqs.write_text(line % "one")
    with FakeOpenAIServer(lambda req: answers()[req.step or ""]) as srv:
        url = srv.base_url.replace("http://", f"http://user:{secret}@")
        args = ["batch", str(reqs), "--output", "out", "--base-url", url]
        res = run_cli(args, tmp_path)
        assert res.exit_code == 0 and secret not in res.stdout + res.stderr, res.stdout + res.stderr
        asked = len(srv.chat_requests())
        assert asked > 0
        data = json.loads((tmp_path / "out" / "batch.json").read_text())
        assert [v["base_url"] for v in data["variants"]] == [url.replace(secret, "***")]
        assert _files_holding(tmp_path / "out", secret) == []
        # the same command goes on with a new line: its run reaches the endpoint with the URL given again
        reqs.write_text(line % "one" + line.replace("tiny", "small") % "two")  # not answered from the step cache
        res = run_cli(args, tmp_path)
        assert res.exit_code == 0 and secret not in res.stdout + res.stderr, res.stdout + res.stderr
        assert len(srv.chat_requests()) > asked
        records = json.loads((tmp_path / "out" / "batch.json").read_text())["records"]
        assert [(r["task_id"], r["status"]) for r in records] == [("one", "done"), ("two", "done")]
    assert _files_holding(tmp_path / "out", secret) == []


def test_the_live_page_shows_the_spend_the_runs_budget_counted_marked_estimated(tmp_path: Path) -> None:
    """An endpoint that reports no usage: the run's budget counts the call's bound at the model's price and the
    status line shows `budget ~$0.00045 of $0.50`; the page summed the board's costs only and showed $0."""
    from softco.board import Board
    from softco.company.scheduler import project_board_path
    from softco.report.project import load_project
    from softco.web.data import Snapshot
    from softco.web.pages import spend

    project = tmp_path / "p"
    project_board_path(project).parent.mkdir(parents=True)
    board = Board(project_board_path(project))
    board.start_run("r1", "a todo app", "sop", "gpt-4o-mini", {"budget": 0.5, "token_budget": 9000})
    board.record_step(
        "engineer/write_code/a.py",
        "r1",
        "engineer",
        "write_code",
        "a.py",
        "ok",
        0.0,
        1.0,
        request_hash="h",
        prompt_tokens=1000,
        completion_tokens=500,
        usage_source="estimated",
    )
    board.close()
    line = spend(Snapshot(load_project(project), [], None, None))
    # gpt-4o-mini: $0.15 / $0.60 a million tokens, so the estimate's bound costs $0.00045; never priced as measured
    assert "budget ~$0.00045 of $0.50" in line and "token budget ~1,500 of 9,000" in line, line
