"""Hostile file paths from the model, through the CLI: nothing lands in .git or .softco, QA's tests stay
QA's, and no git directory is built inside the project (git would run its config's fsmonitor).

Every answer here is what a hostile model could send; everything else (git, the board, pytest) is real.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import CliResult, run_cli, write_script
from scripted_project import DESIGN, REQUIREMENT, TESTS, TESTS_ANSWER, answers, code

#: What the engineer tries to put in QA's test file.
SWAPPED_TESTS = "def test_add():\n    assert True  # swapped-by-the-engineer\n"


def fsmonitor_config(marker: Path) -> str:
    """A git config whose fsmonitor hook (run by `git status`) touches ``marker``."""
    return f"[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ..\n\tfsmonitor = touch {marker} #\n"


def hostile_run(tmp_path: Path, extra: dict[str, str]) -> tuple[CliResult, Path]:
    """A run whose design adds the files ``extra`` (path -> content the engineer then writes) every time
    the Architect is asked (3 times), and whose engineer writes them."""
    files = [
        *DESIGN["files"],
        *({"path": p, "purpose": "support", "req_ids": [], "interfaces": []} for p in extra),
    ]
    design: dict[str, Any] = {**DESIGN, "files": files}
    script = answers()
    script["architect/write_design/project"] = [design, design, design]
    for path, content in extra.items():
        script[f"engineer/write_code/{path}"] = code(path, content, [])
    res = run_cli(
        [
            "new",
            REQUIREMENT,
            "--name",
            "p",
            "--llm",
            f"script:{write_script(tmp_path / 'a.json', script)}",
            "--output",
            "out",
        ],
        tmp_path,
    )
    return res, tmp_path / "out" / "p"


def git_status_runs_no_fsmonitor(where: Path, marker: Path) -> None:
    if where.is_dir():
        subprocess.run(["git", "status"], cwd=where, capture_output=True, check=False)
    assert not marker.exists(), f"`git status` in {where} ran the model's fsmonitor"


def history(project: Path) -> str:
    """Every file of every commit (paths and contents), as git shows them."""
    if not (project / ".git").is_dir():
        return ""
    out = subprocess.run(["git", "log", "--all", "-p", "--format=%H"], cwd=project, capture_output=True, text=True)
    return out.stdout


def refused(res: CliResult, *needles: str) -> None:
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stderr.startswith("softco: error: ") and res.stderr.count("\n") <= 2, res.stderr
    for n in needles:
        assert n in res.stderr, res.stderr


def test_a_path_that_normalises_into_dot_git_writes_nothing_there(tmp_path: Path) -> None:
    marker = tmp_path / "fsmonitor-ran"
    res, project = hostile_run(tmp_path, {"./.git/config": fsmonitor_config(marker)})
    refused(res, "architect/write_design/project", "'./.git/config'", "'.' or '..'")
    assert "fsmonitor" not in (project / ".git" / "config").read_text()
    git_status_runs_no_fsmonitor(project, marker)
    assert "fsmonitor" not in history(project)


def test_a_path_that_normalises_into_dot_softco_writes_nothing_there(tmp_path: Path) -> None:
    pth = "./.softco/venv/lib/python3.11/site-packages/evil.pth"
    res, project = hostile_run(tmp_path, {pth: f"import os; open({str(tmp_path / 'pth-ran')!r}, 'w')\n"})
    refused(res, "architect/write_design/project", repr(pth))
    assert not [p for p in project.rglob("evil.pth")]
    assert not (tmp_path / "pth-ran").exists()


def test_the_engineer_cannot_overwrite_qas_tests_through_dot_slash(tmp_path: Path) -> None:
    res, project = hostile_run(tmp_path, {"./tests/test_ops.py": SWAPPED_TESTS})
    refused(res, "architect/write_design/project", "'./tests/test_ops.py'")
    tests = project / "tests" / "test_ops.py"
    assert not tests.exists() or tests.read_text() == TESTS
    assert "swapped-by-the-engineer" not in history(project)


@pytest.mark.parametrize(
    "layout",
    [
        ("inner/HEAD", "inner/config", "inner/objects/info/packs", "inner/refs/heads/main"),
        # a git dir whose objects/, refs/ (and config) are in the directory its commondir names
        ("inner/HEAD", "inner/commondir", "store/config", "store/objects/info/packs", "store/refs/heads/main"),
    ],
    ids=["objects-refs", "commondir"],
)
def test_an_embedded_git_directory_is_refused(tmp_path: Path, layout: tuple[str, ...]) -> None:
    marker = tmp_path / "fsmonitor-ran"
    contents = {
        "inner/HEAD": "ref: refs/heads/main\n",
        "inner/config": fsmonitor_config(marker),
        "store/config": fsmonitor_config(marker),
        "inner/commondir": "../store\n",
    }
    res, project = hostile_run(tmp_path, {p: contents.get(p, "\n") for p in layout})
    refused(res, "architect/write_design/project", "git directory")
    git_status_runs_no_fsmonitor(project, marker)
    git_status_runs_no_fsmonitor(project / "inner", marker)
    if (project / "inner").is_dir():  # git finds the project's own repository there, not one of the model's
        found = subprocess.run(
            ["git", "rev-parse", "--absolute-git-dir"], cwd=project / "inner", capture_output=True, text=True
        ).stdout.strip()
        assert Path(found) == project / ".git", found
    clone = tmp_path / "clone"
    if (project / ".git").is_dir():
        subprocess.run(["git", "clone", "-q", str(project), str(clone)], capture_output=True, check=True)
        git_status_runs_no_fsmonitor(clone / "inner", marker)
    assert "inner/HEAD" not in history(project)


def test_test_files_that_differ_only_in_case_stop_the_run_before_either_is_overwritten(tmp_path: Path) -> None:
    """Each QA answer is valid alone; together they are one file on macOS: the second is refused at write
    time (the Workspace's own check), with nothing of it on the board or in the repo."""
    more = {
        "path": "calc/more.py",
        "purpose": "More arithmetic",
        "req_ids": ["REQ-1"],
        "interfaces": ["def add(a: float, b: float) -> float: Sum."],
    }
    script = answers()
    script["architect/write_design/project"] = {**DESIGN, "files": [*DESIGN["files"], more]}
    script["engineer/write_code/calc/more.py"] = code("calc/more.py", "from calc.ops import add\n", ["REQ-1"])
    script["qa_engineer/write_tests/calc/more.py"] = {
        **TESTS_ANSWER,
        "path": "tests/test_OPS.py",
        "source": "calc/more.py",
        "content": SWAPPED_TESTS,
        "cases": [{"name": "test_add", "req_ids": ["REQ-1"]}],
    }
    res = run_cli(
        [
            "new",
            REQUIREMENT,
            "--name",
            "p",
            "--llm",
            f"script:{write_script(tmp_path / 'a.json', script)}",
            "--output",
            "out",
        ],
        tmp_path,
    )
    refused(res, "'tests/test_OPS.py' and 'tests/test_ops.py' differ only in case", "start again with `softco new")
    assert "free disk space" not in res.stderr  # it is the answer that is refused, not the disk
    project = tmp_path / "out" / "p"
    files = subprocess.run(["git", "ls-files"], cwd=project, capture_output=True, text=True).stdout.split()
    assert len({f.lower() for f in files}) == len(files), files
    assert "swapped-by-the-engineer" not in history(project)
    assert not (project / "tests" / "test_OPS.py").exists()
    published = sqlite3.connect(project / ".softco" / "board.sqlite").execute(
        "SELECT payload_json FROM messages WHERE kind = 'tests'"
    )
    assert "test_OPS" not in " ".join(p for (p,) in published)
