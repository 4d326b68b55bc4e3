"""`softco change`'s leftovers of issue 17: a dry run leaves the repo untouched; the command takes its settings
as `new` does (flags over the environment over softco.toml); softco's git runs nothing the repo's config
names; the repo's own conftest.py is loaded when its tests run (in the sandbox)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

from change_project import REQUIREMENT, SORTED_EDIT, answers, make_repo
from change_project import git as run_git
from fake_server import FakeOpenAIServer
from helpers import CliResult, write_script
from helpers import run_cli as _run_cli

from softco.steps.steering import request_cancel


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    """softco in-process; a dry run's scratch clone (in the system's temporary folder) is removed after."""
    res = _run_cli(args, cwd, env)
    for where in re.findall(r"delete the scratch clone (\S+)", res.stdout):
        shutil.rmtree(Path(where).parent)
    return res


def _state(repo: Path) -> dict[str, object]:
    """Every ref (softco's too), the worktrees, the status, the index and what is under .git/softco."""
    return {
        "refs": run_git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "worktrees": run_git(repo, "worktree", "list", "--porcelain"),
        "status": run_git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "index": (repo / ".git" / "index").read_bytes(),
        "state": sorted(p.name for p in (repo / ".git").iterdir()),
    }


def test_a_dry_run_leaves_the_repo_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    before = _state(repo)
    res = run_cli(["change", str(repo), REQUIREMENT, "--dry-run"], cwd=tmp_path, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.stdout + res.stderr
    assert _state(repo) == before
    assert not (repo / ".git" / "softco").exists()
    assert "dry run:" in res.stdout and "is as it was" in res.stdout
    prompts = [line for line in res.stdout.splitlines() if "rendered prompts are in" in line]
    assert prompts, res.stdout


def test_change_takes_its_settings_as_new_does(tmp_path: Path) -> None:
    """A flag's value is checked by softco.config before anything is made, and softco.toml names the model."""
    repo = make_repo(tmp_path)
    before = _state(repo)
    res = run_cli(["change", str(repo), REQUIREMENT, "--dry-run", "--structured", "bogus"], cwd=tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.startswith("softco: error: --structured 'bogus': Input should be"), res.stderr
    assert _state(repo) == before
    (tmp_path / "softco.toml").write_text('model = "model-from-toml"\n')
    res = run_cli(["change", str(repo), REQUIREMENT, "--dry-run"], cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "model model-from-toml" in res.stdout, res.stdout
    res = run_cli(["change", str(repo), REQUIREMENT, "--dry-run"], cwd=tmp_path, env={"SOFTCO_MODEL": "model-from-env"})
    assert "model model-from-env" in res.stdout, res.stdout


def _hostile_config(repo: Path, marker: Path) -> None:
    """The repo's own config names programs git would run: an fsmonitor, hooks, a filter and a diff driver
    (for every .py file, through a committed .gitattributes). Each writes ``marker`` when it runs."""
    program = repo.parent / "mark.sh"
    program.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\ncat\n')
    program.chmod(0o755)
    hooks = repo.parent / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-commit", "reference-transaction", "post-index-change"):
        (hooks / hook).write_text(f'#!/bin/sh\necho "{hook}" >> {marker}\n')
        (hooks / hook).chmod(0o755)
    (repo / ".gitattributes").write_text("*.py filter=mark diff=mark\n")
    run_git(repo, "add", ".gitattributes")
    run_git(repo, "commit", "-q", "-m", "attributes")
    for key, value in {
        "core.fsmonitor": str(program),
        "core.hooksPath": str(hooks),
        "filter.mark.clean": f"{program} clean",
        "filter.mark.smudge": f"{program} smudge",
        "diff.mark.textconv": f"{program} textconv",
    }.items():
        run_git(repo, "config", key, value)


def test_softcos_git_runs_nothing_the_repos_config_names(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    marker = tmp_path / "marker"
    _hostile_config(repo, marker)
    script = write_script(tmp_path / "answers.json", answers([SORTED_EDIT]))
    res = run_cli(["change", str(repo), REQUIREMENT, "--llm", f"script:{script}", "--concurrency", "1"], cwd=tmp_path)
    assert not marker.exists(), marker.read_text()  # before any git call of this test's own
    assert res.exit_code == 0, res.stdout + res.stderr
    wt = repo / ".git" / "softco" / "add-a-median-function-to-statlib"
    assert "def median" in (wt / "statlib" / "median.py").read_text()
    assert "review: git -C" in res.stdout


CONFTEST = '''import pytest


@pytest.fixture
def numbers():
    return [1.0, 2.0, 6.0]
'''
FIXTURE_TEST = '''from statlib.stats import total


def test_total_of_the_fixture(numbers):
    assert total(numbers) == 9.0
'''


def test_the_repos_own_conftest_is_loaded_for_its_tests(tmp_path: Path) -> None:
    """A repo test that needs a fixture of the repo's conftest.py passes at the base and after the change."""
    repo = make_repo(tmp_path)
    (repo / "conftest.py").write_text(CONFTEST)
    (repo / "tests" / "test_fixture.py").write_text(FIXTURE_TEST)
    run_git(repo, "add", "conftest.py", "tests/test_fixture.py")
    run_git(repo, "commit", "-q", "-m", "a fixture")
    script = write_script(tmp_path / "answers.json", answers([SORTED_EDIT]))
    res = run_cli(["change", str(repo), REQUIREMENT, "--llm", f"script:{script}", "--concurrency", "1"], cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "baseline: the repo's own tests at" in res.stdout and ": 4 of 4 pass (2 file(s))" in res.stdout, res.stdout
    assert "regressions none: 4 test(s) of the repo pass as before" in res.stdout, res.stdout


def test_a_change_run_is_cancelled_from_the_page_like_a_new_one(tmp_path: Path) -> None:
    """The run's live file (what `softco serve`'s page shares with it) is wired in: a cancel stops it, exit 130."""
    repo = make_repo(tmp_path)
    script = answers([SORTED_EDIT])
    prd = script["product_manager/write_prd/project"]
    wt = repo / ".git" / "softco" / "add-a-median-function-to-statlib"

    def prd_then_cancel(_request: object) -> object:  # the page's Cancel button, pressed while the PM works
        with sqlite3.connect(wt / ".softco" / "board.sqlite") as db:
            (run_id,) = db.execute("SELECT id FROM runs").fetchone()
        request_cancel(wt, run_id)
        return prd

    with FakeOpenAIServer({**script, "product_manager/write_prd/project": prd_then_cancel}) as srv:
        res = run_cli(
            ["change", str(repo), REQUIREMENT, "--model", "fake-model", "--concurrency", "1"],
            cwd=tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": ""},
        )
    assert res.exit_code == 130, res.stdout + res.stderr
    assert f"cancelled from the page; continue with: softco resume {wt}" in res.stderr


def _options(command: str) -> dict[str, tuple[object, ...]]:
    import typer.main

    from softco.cli import app

    click = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {p.name: (tuple(p.opts), getattr(p, "help", None), p.default, p.metavar) for p in click.params}


def test_new_and_change_take_one_option_set_and_so_do_eval_and_batch() -> None:
    """Each option the two commands share is the same option: flag, help, default and metavar."""
    new, change = _options("new"), _options("change")
    own = {"requirement", "name"}  # the same names, their own help (what to build; the branch's name)
    shared = set(new) & set(change) - own
    assert shared >= {"sop", "model", "base_url", "llm", "budget", "dry_run", "approve", "human", "structured"}
    assert {k: new[k] for k in shared} == {k: change[k] for k in shared}
    assert set(change) - shared == {"repo", *own}
    assert set(new) - shared == {"output", "serve", "serve_port", *own}
    eval_, batch = _options("eval"), _options("batch")
    assert set(batch) - set(eval_) == {"file"} and set(eval_) - set(batch) == {"suite", "tasks", "demo"}
    assert {k: eval_[k] for k in batch if k != "file"} == {k: batch[k] for k in batch if k != "file"}
