"""Workspace commits: objects written in-process are the ones git itself would write."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
