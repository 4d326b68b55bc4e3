"""`softco revise`: redo a stage with feedback on a new branch; what it does not touch is reused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import git
from helpers import run_cli, write_script
from scripted_project import DESIGN, OPS_FIXED, REQUIREMENT, TESTS_ANSWER, answers, code


def test_revise_design_makes_a_branch_and_reuses_the_prd(tmp_path: Path) -> None:
    script = tmp_path / "a.json"
    write_script(script, answers())
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{script}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    project = tmp_path / "out" / "p"
    repo = git.Repo(project)
    main_head = repo.head.commit.hexsha
    prd_before = (project / "docs" / "prd.json").read_text()

    # the architect's revised answer; every later step answers as before (the code was already right)
    revised = answers(fixes=0)
    revised["architect/write_design/project"] = {**DESIGN, "approach": "Pure functions; division guards zero."}
    revised["engineer/write_code/calc/ops.py"] = revised["engineer/fix_code/round-1/calc/ops.py"] = None
    revised = {k: v for k, v in revised.items() if v is not None and not k.startswith("product_manager/")}
    guarded = '"""Arithmetic; division guards zero."""\n\n' + OPS_FIXED
    revised["engineer/write_code/calc/ops.py"] = code("calc/ops.py", guarded, ["REQ-1", "REQ-2"], "guarded")
    tests = dict(TESTS_ANSWER)
    tests["content"] += "\n\ndef test_divide_negative():\n    assert divide(-6, 3) == -2\n"
    tests["cases"] = [*tests["cases"], {"name": "test_divide_negative", "req_ids": ["REQ-2"]}]
    revised["qa_engineer/write_tests/calc/ops.py"] = tests
    write_script(script, revised)

    res = run_cli(["revise", str(project), "--stage", "design", "--feedback", "Say how division guards zero"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert repo.active_branch.name == "revise/1"
    assert repo.heads.main.commit.hexsha == main_head  # main is untouched
    new = list(repo.iter_commits(f"{main_head}..revise/1"))
    kinds = [str(c.message).split(":")[0] for c in reversed(new)]
    repo.close()
    # tasks came out identical, so they changed no file and made no commit
    assert kinds == ["design", "code", "tests", "test_report"], kinds
    assert "4 passed" in (project / "docs" / "test_report.md").read_text()
    assert "prd" not in kinds
    assert (project / "docs" / "prd.json").read_text() == prd_before
    assert json.loads((project / "docs" / "design.json").read_text())["approach"].startswith("Pure functions;")

    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    runs = db.execute("SELECT id, branch FROM runs ORDER BY started_at").fetchall()
    assert [b for _, b in runs] == ["main", "revise/1"]
    revise_run = runs[-1][0]
    keys = [
        k for (k,) in db.execute("SELECT key FROM steps WHERE run_id=? AND request_hash IS NOT NULL", (revise_run,))
    ]
    assert not [k for k in keys if k.startswith("product_manager/")]  # the PRD was reused, no call
    design_req = db.execute(
        "SELECT request_json FROM steps WHERE run_id=? AND key='architect/write_design/project'", (revise_run,)
    ).fetchone()[0]
    assert "Say how division guards zero" in design_req and "One module of pure functions." in design_req
    # the board keeps the whole history: both designs are there
    assert db.execute("SELECT count(*) FROM messages WHERE kind='design'").fetchone()[0] == 2
    db.close()


def test_revise_rejects_bad_input(tmp_path: Path) -> None:
    res = run_cli(["revise", str(tmp_path), "--feedback", "x"], tmp_path)
    assert res.exit_code == 2 and "not a softco project" in res.stderr
    script = write_script(tmp_path / "a.json", answers())
    assert (
        run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{script}", "--output", "out"], tmp_path).exit_code
        == 0
    )
    res = run_cli(["revise", str(tmp_path / "out" / "p"), "--stage", "marketing", "--feedback", "x"], tmp_path)
    assert res.exit_code == 2 and "choose one of prd, design, code, tests" in res.stderr
    res = run_cli(["revise", str(tmp_path / "out" / "p"), "--feedback", "  "], tmp_path)
    assert res.exit_code == 2 and "--feedback is empty" in res.stderr


def test_a_revised_design_that_drops_a_file_removes_it(tmp_path: Path) -> None:
    script = tmp_path / "a.json"
    write_script(script, answers())
    assert (
        run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{script}", "--output", "out"], tmp_path).exit_code
        == 0
    )
    project = tmp_path / "out" / "p"
    assert (project / "calc" / "__init__.py").is_file()
    revised = {k: v for k, v in answers(fixes=0).items() if not k.startswith("product_manager/")}
    revised["architect/write_design/project"] = {**DESIGN, "files": [DESIGN["files"][1]]}  # only calc/ops.py
    revised["engineer/write_code/calc/ops.py"] = code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "fixed")
    del revised["engineer/write_code/calc/__init__.py"]
    write_script(script, revised)
    res = run_cli(
        ["revise", str(project), "--stage", "design", "--feedback", "No package exports; drop __init__.py"], tmp_path
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert not (project / "calc" / "__init__.py").exists()
    with git.Repo(project) as repo:
        design_commit = next(c for c in repo.iter_commits() if str(c.message).startswith("design:"))
        assert "calc/__init__.py" in design_commit.stats.files  # the deletion is part of the design commit
        assert repo.heads.main.commit.tree / "calc" / "__init__.py"  # still there on main
        assert not repo.is_dirty(untracked_files=True)
