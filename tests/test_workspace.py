"""Workspace commits: objects written in-process are the ones git itself would write."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git.cmd as gitcmd
import pytest

from softco.company.workspace import Author, Workspace

ALICE = Author("Alice (Product Manager)", "product-manager@softco.local")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def test_commits_are_what_git_would_write(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "proj")
    changed = ws.write({"docs/prd.md": "# PRD\n", "calc/ops.py": "def add(a, b):\n    return a + b\n"})
    first = ws.commit([*changed, ".gitignore"], "prd: one\n\nSoftco-Message: 1\n", ALICE)
    assert first is not None and ws.head() == first
    # the blob is the one `git hash-object` names, and git reads back every object
    assert git(ws.root, "rev-parse", "HEAD:calc/ops.py").strip() == git(ws.root, "hash-object", "calc/ops.py").strip()
    git(ws.root, "fsck", "--strict")
    assert git(ws.root, "status", "--porcelain") == ""
    assert git(ws.root, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B") == (
        f"{ALICE.name} <{ALICE.email}>|{ALICE.name} <{ALICE.email}>|prd: one\n\nSoftco-Message: 1\n\n"
    )

    # the same content again: no commit
    assert ws.commit(ws.write({"docs/prd.md": "# PRD\n"}) or ["docs/prd.md"], "prd: same\n", ALICE) is None
    assert ws.head() == first

    second = ws.commit(ws.write({"docs/prd.md": "# PRD v2\n"}), "prd: two\n\nSoftco-Message: 2\n", ALICE)
    removed = ws.remove(["calc/ops.py"])
    third = ws.commit([], "design: drop ops\n\nSoftco-Message: 3\n", ALICE, removed)
    assert removed == ["calc/ops.py"] and second is not None and third is not None
    assert git(ws.root, "rev-list", "HEAD").split() == [third, second, first]
    assert git(ws.root, "ls-files").split() == [".gitignore", "docs/prd.md"]
    git(ws.root, "fsck", "--strict")

    # a trailer is found for commits this object made and, from git log, by a fresh one
    for w in (ws, Workspace(ws.root)):
        assert w.commit_with_trailer("Softco-Message: 2") == second
        assert w.commit_with_trailer("Softco-Message: 1") == first
        assert w.commit_with_trailer("Softco-Message: 9") is None
        w.repo.close()  # its git processes end now, not when the collector gets to it


def test_commits_read_no_object_back_and_keep_the_reflogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit after the first asks `git cat-file` nothing (it knows HEAD's commit and tree: it made them),
    yet the branch, HEAD and both reflogs are what git's own commits leave; a commit made behind its back
    (another process, a fresh object) is still the parent of the next."""
    ws = Workspace.create(tmp_path / "proj")
    first = ws.commit(ws.write({"a.txt": "1\n"}), "one\n", ALICE)
    asked: list[str] = []
    header, stream = gitcmd.Git.get_object_header, gitcmd.Git.stream_object_data
    monkeypatch.setattr(gitcmd.Git, "get_object_header", lambda self, ref: asked.append(ref) or header(self, ref))
    monkeypatch.setattr(gitcmd.Git, "stream_object_data", lambda self, ref: asked.append(ref) or stream(self, ref))
    second = ws.commit(ws.write({"a.txt": "2\n"}), "two\n\nSoftco-Message: 2\n", ALICE)
    assert ws.commit(ws.write({"a.txt": "2\n"}) or ["a.txt"], "same\n", ALICE) is None
    third = ws.commit(ws.write({"b.txt": "3\n"}), "three\n", ALICE)
    assert asked == []
    monkeypatch.undo()
    assert first and second and third and git(ws.root, "rev-list", "HEAD").split() == [third, second, first]
    assert git(ws.root, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    for ref in ("HEAD", "main"):
        log = git(ws.root, "reflog", "show", "--format=%H %gs", ref).splitlines()
        assert log[:2] == [f"{third} three", f"{second} two"] and log[2].startswith(first)
    entries = (ws.root / ".git" / "logs" / "HEAD").read_text().splitlines()
    assert [e.split(" ", 2)[:2] for e in entries[1:]] == [[first, second], [second, third]]
    assert f"{ALICE.name} <{ALICE.email}>" in entries[-1]
    other = Workspace(ws.root)  # another writer moves the branch
    fourth = other.commit(other.write({"c.txt": "4\n"}), "four\n", ALICE)
    other.repo.close()
    fifth = ws.commit(ws.write({"d.txt": "5\n"}), "five\n", ALICE)
    assert fourth and fifth and git(ws.root, "rev-list", "HEAD").split()[:3] == [fifth, fourth, third]
    git(ws.root, "fsck", "--strict")
    ws.repo.close()
