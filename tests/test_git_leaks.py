"""The test session's net for git processes (tests/git_leaks.py) catches what it is there for."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git
import git_leaks


def _repo_with_commits(root: Path, n: int) -> git.Repo:
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t").set_value("user", "email", "t@t")
    for i in range(n):
        (root / "f").write_text(str(i))
        repo.index.add(["f"])
        repo.index.commit(f"c{i}")
    return repo


def test_two_repos_of_one_path_are_both_closed(tmp_path: Path) -> None:
    # a Repo equals any Repo of the same git dir: the net once kept them in a set and closed only the first
    first = _repo_with_commits(tmp_path / "r", 1)
    second = git.Repo(tmp_path / "r")
    assert first == second and first is not second
    for repo in (first, second):
        assert repo.head.commit.message == "c0"  # starts the repo's persistent `git cat-file` processes
    running = [r.git.cat_file_all for r in (first, second)]
    assert all(p is not None and p.poll() is None for p in running)
    git_leaks.close_repos()
    assert first.git.cat_file_all is None and second.git.cat_file_all is None
    assert all(p.proc is None for p in running)  # type: ignore[union-attr]  # ended and waited for


def test_a_half_read_commit_iterator_is_named_with_where_it_started(tmp_path: Path) -> None:
    repo = _repo_with_commits(tmp_path / "r", 2)
    since = git_leaks.mark()
    commits = repo.iter_commits()
    assert next(commits).message == "c1"
    leaked = git_leaks.leaked_git_processes(since)
    assert len(leaked) == 1
    assert "'rev-list'" in leaked[0] and f"{__file__}\", line" in leaked[0] and "repo.iter_commits()" in leaked[0]
    assert git_leaks.leaked_git_processes(since) == []  # ended and waited for: reported once
    del commits


def test_a_git_popen_never_waited_for_is_reported_and_one_waited_for_is_not(tmp_path: Path) -> None:
    since = git_leaks.mark()
    done = subprocess.Popen(["git", "--version"], stdout=subprocess.DEVNULL)
    done.wait()
    subprocess.run(["git", "--version"], check=True, capture_output=True)
    forgotten = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    leaked = git_leaks.leaked_git_processes(since)
    assert len(leaked) == 1 and "'cat-file', '--batch'" in leaked[0]
    assert forgotten.returncode is not None
    assert forgotten.stdin is not None
    forgotten.stdin.close()
