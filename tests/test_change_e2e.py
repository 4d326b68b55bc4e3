"""`softco change` end to end, in-process, over HTTP with scripted answers, on a repo softco did not generate:
a feature lands on softco/<slug>, the user's checkout is byte-identical, old and new tests pass; a broken
existing test is a regression routed to the file that broke it and fixed; a SEARCH block that does not
match is re-asked with the nearest lines and nothing is half-applied."""

from __future__ import annotations

import json
from pathlib import Path

import git
from change_project import (
    BREAKING_EDIT,
    FIX_EDIT,
    MISMATCHED_EDIT,
    REQUIREMENT,
    SORTED_EDIT,
    answers,
    code,
    make_repo,
    snapshot,
)
from change_project import git as run_git
from fake_server import FakeOpenAIServer
from typer.testing import CliRunner

from softco.cli import app


def _change(repo: Path, script: dict[str, object], *extra: str) -> tuple[int, str, list[object]]:
    with FakeOpenAIServer(script) as srv:
        code, out = _invoke(
            srv, "change", str(repo), REQUIREMENT, "--model", "fake-model", "--concurrency", "1", *extra
        )
        requests = list(srv.requests)
        assert not srv.errors, srv.errors
        srv.assert_complete()
    return code, out, requests


def _invoke(srv: FakeOpenAIServer, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        app, list(args), env={"OPENAI_BASE_URL": srv.base_url, "COLUMNS": "200", "OPENAI_API_KEY": ""}
    )
    return res.exit_code, res.output


def _worktree(repo: Path, branch: str) -> Path:
    return repo / ".git" / "softco" / branch.removeprefix("softco/")


def test_change_adds_a_feature_on_a_branch_and_leaves_the_checkout_alone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    script = answers([MISMATCHED_EDIT, SORTED_EDIT, SORTED_EDIT])  # the last one for the revision at the end
    script["engineer/write_code/statlib/median.py"] = [script["engineer/write_code/statlib/median.py"]] * 2
    with FakeOpenAIServer(script) as srv:  # one endpoint for the run and its revision (the cache is per endpoint)
        _feature_then_revision(repo, srv)
        assert not srv.errors, srv.errors
        srv.assert_complete()


def _feature_then_revision(repo: Path, srv: FakeOpenAIServer) -> None:
    # the user's hooks never run on what a model wrote: not at the worktree, a commit, nor revise's new branch
    ran = repo.parent / "hook-ran"
    for hook in ("post-checkout", "pre-commit", "commit-msg", "post-commit", "reference-transaction"):
        (repo / ".git" / "hooks" / hook).write_text(f"#!/bin/sh\necho {hook} >> '{ran}'\n")
        (repo / ".git" / "hooks" / hook).chmod(0o755)
    before = snapshot(repo)
    code_, out = _invoke(srv, "change", str(repo), REQUIREMENT, "--model", "fake-model", "--concurrency", "1")
    requests = list(srv.requests)
    assert code_ == 0, out
    assert snapshot(repo) == before  # working tree, untracked and staged files, index, HEAD, refs: untouched

    branch = "softco/add-a-median-function-to-statlib"
    assert branch in run_git(repo, "branch", "--list", "softco/*")
    wt = _worktree(repo, branch)
    stats = (wt / "statlib" / "stats.py").read_text()
    assert "def sorted_values" in stats and stats.count("def sorted_values") == 1
    assert '"""The sum of the values."""' in stats  # the unmatched block was not applied in any form
    assert (wt / "statlib" / "median.py").is_file() and (wt / "tests" / "test_median.py").is_file()
    assert (wt / "tests" / "test_stats.py").read_text() == (repo / "tests" / "test_stats.py").read_text()
    # the docs of the change are on the branch under docs/softco/<slug>/, nothing of softco's scaffold
    changed = run_git(repo, "diff", "--name-only", "main", branch).split()
    assert "docs/softco/add-a-median-function-to-statlib/prd.md" in changed
    assert not {"pyproject.toml", "README.md", ".gitignore", "docs/prd.md"} & set(changed)
    assert not [p for p in changed if p.startswith(".softco")]
    # one commit per artifact, authored by the role
    with git.Repo(repo) as r:
        authors = [str(c.author.name) for c in r.iter_commits(f"main..{branch}")]
    assert "Carol (Engineer)" in authors and "Alice (Product Manager)" in authors

    # the SEARCH block that did not match was re-asked with the nearest lines of the file
    asks = [r for r in requests if r.step == "engineer/write_code/statlib/stats.py"]  # type: ignore[attr-defined]
    assert len(asks) == 2
    again = asks[1].last_user_message  # type: ignore[attr-defined]
    assert "does not match statlib/stats.py exactly" in again and "none of its blocks" in again
    assert "def total(values: list[float]) -> float:" in again  # the nearest lines, shown
    # the first prompt showed the file whole and the repo map
    first = asks[0].last_user_message  # type: ignore[attr-defined]
    assert "return total(values) / len(values)" in first and "statlib/stats.py" in first

    # summary: the branch, the diff stat against the base, the regression result
    assert f"branch     {branch} (from main" in out
    assert "statlib/median.py" in out and "files changed" in out
    assert "regressions none: 3 test(s) of the repo pass as before" in out
    report = json.loads((wt / "docs/softco/add-a-median-function-to-statlib/test_report.json").read_text())
    assert report["regressions"] == [] and report["failed"] == 0 and report["passed"] == 9

    # a revision of the code: the edits apply to the base commit's file again, on a branch of the change's own;
    # QA's prompts render as before (the map was kept), so its steps are answered from the step cache
    code_, out = _invoke(srv, "revise", str(wt), "--stage", "code", "--feedback", "keep the docstrings short")
    assert code_ == 0, out
    assert f"{branch}-revise-1" in run_git(repo, "branch", "--list", "softco/*")
    assert (wt / "statlib" / "stats.py").read_text().count("def sorted_values") == 1
    assert snapshot(repo) == before
    assert not ran.exists(), ran.read_text()


def test_a_broken_existing_test_is_a_regression_on_the_file_that_broke_it_and_is_fixed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    before = snapshot(repo)
    script = answers([BREAKING_EDIT])
    script["engineer/fix_code/round-1/statlib/stats.py"] = code("statlib/stats.py", FIX_EDIT, "mean divides by n again")
    code_, out, requests = _change(repo, script)
    assert code_ == 0, out
    assert snapshot(repo) == before
    wt = _worktree(repo, "softco/add-a-median-function-to-statlib")
    docs = wt / "docs/softco/add-a-median-function-to-statlib"
    bug = (docs / "bugs").glob("round-1-*.md")
    bugs = {p.name: p.read_text() for p in bug}
    assert len(bugs) == 1, bugs
    (text,) = bugs.values()
    assert "`statlib/stats.py`" in text and "tests/test_stats.py::test_mean" in text
    assert "REGRESSION: this test of the repo passed before the change" in text
    report_md = run_git(wt, "show", "HEAD~3:docs/softco/add-a-median-function-to-statlib/test_report.md")
    assert "**Regressions** (passed before the change, fail after it): tests/test_stats.py::test_mean" in report_md
    fix = [r for r in requests if r.step == "engineer/fix_code/round-1/statlib/stats.py"]  # type: ignore[attr-defined]
    assert fix and "one of the project's own tests: it passed before this change" in fix[0].last_user_message  # type: ignore[attr-defined]
    final = json.loads((docs / "test_report.json").read_text())
    assert final["round"] == 2 and final["regressions"] == [] and final["failed"] == 0
    assert "return total(ordered) / len(ordered)" in (wt / "statlib/stats.py").read_text()


def test_a_stopped_change_resumes_and_says_when_its_base_branch_moved(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    script = answers([SORTED_EDIT])
    prd = script["product_manager/write_prd/project"]

    def prd_while_main_moves(_request: object) -> object:  # the user commits on main while the run works
        run_git(repo, "commit", "-q", "--allow-empty", "-m", "meanwhile on main")
        return prd

    first = {**script, "product_manager/write_prd/project": prd_while_main_moves}
    del first["engineer/write_code/statlib/stats.py"]  # the endpoint fails there: the run stops
    before = snapshot(repo)
    env = {"COLUMNS": "200", "OPENAI_API_KEY": ""}
    with FakeOpenAIServer(first) as srv:
        res = CliRunner().invoke(
            app,
            ["change", str(repo), REQUIREMENT, "--model", "fake-model", "--concurrency", "1"],
            env={**env, "OPENAI_BASE_URL": srv.base_url},
        )
    assert res.exit_code != 0
    wt = _worktree(repo, "softco/add-a-median-function-to-statlib")
    assert f"softco resume {wt}" in str(res.exception)
    moved = snapshot(repo)
    assert moved["refs"] != before["refs"]  # main moved: the user did that, not softco
    rest = {k: v for k, v in script.items() if k.startswith(("engineer/", "qa_engineer/"))}
    with FakeOpenAIServer(rest) as srv:
        res = CliRunner().invoke(app, ["resume", str(wt)], env={**env, "OPENAI_BASE_URL": srv.base_url})
        assert not srv.errors, srv.errors
        srv.assert_complete()
    assert res.exit_code == 0, res.output
    assert snapshot(repo) == moved
    assert "regressions none: 3 test(s) of the repo pass as before" in res.output  # still a change run
    assert "note: main moved during the run" in res.output and "git rebase main" in res.output
    assert (wt / "docs/softco/add-a-median-function-to-statlib/test_report.md").is_file()
    assert not (wt / "docs" / "prd.md").exists()
    shown = CliRunner().invoke(app, ["show", str(wt), "prd"], env=env)
    assert shown.exit_code == 0 and "Median" in shown.output
    page = CliRunner().invoke(app, ["report", str(wt), "-o", str(tmp_path / "r.html")], env=env)
    assert page.exit_code == 0 and (tmp_path / "r.html").is_file()


def test_demo_change_replays_a_change_run_offline(tmp_path: Path) -> None:
    from softco.change.demo import recording
    from softco.llm.replay import load_recording
    from softco.sop.load import load_sop

    header, exchanges = load_recording(recording())
    assert "Not a live model" in header.produced_by
    assert header.sop_hash == load_sop().sop_hash, (
        "the default SOP changed: run python scripts/make_change_recording.py"
    )
    res = CliRunner().invoke(app, ["demo", "--change", "--output", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "answer rejected (the edit of statlib/stats.py was not applied" in res.output
    assert "published test_report: round 1: 8 passed, 1 failed (1 regression(s))" in res.output
    assert "published bug_report: statlib/stats.py: 1 failing test(s) in round 1" in res.output
    assert "regressions none: 3 test(s) of the repo pass as before" in res.output
    assert "warning" not in res.output.lower()  # every prompt matched its recording
