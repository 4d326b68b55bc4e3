"""Git commits leave the run's critical path: a thread of their own makes them, in order, while the run goes
on asking the model (softco/company/publisher.py, Workspace.commit_soon). Each commit still holds what its
artifact wrote, as its role, in the order of the board."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import git
import pytest
from helpers import commits, run_cli, write_script
from scripted_project import REQUIREMENT, answers

from softco.company.workspace import Author, Workspace
from softco.llm.testing import ScriptedLLM

#: The longest a test waits for the other side; reached only when what it checks is broken.
PATIENCE = 20.0


def test_the_model_is_asked_while_the_requirement_is_being_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first commit is held until the first model call has started: with commits made on the run's own
    thread, the call would wait for the commit, and the commit would give up waiting first."""
    asked = threading.Event()
    seen: list[tuple[str, bool, str]] = []  # (commit subject, model asked by then, thread)
    real_commit, real_complete = Workspace._commit, ScriptedLLM.complete

    def held_commit(self: Workspace, paths: list[str], message: str, *args: Any) -> str | None:
        if not seen:
            asked.wait(PATIENCE)
        seen.append((message.splitlines()[0], asked.is_set(), threading.current_thread().name))
        return real_commit(self, paths, message, *args)

    async def complete(self: ScriptedLLM, request: Any) -> Any:
        asked.set()
        return await real_complete(self, request)

    monkeypatch.setattr(Workspace, "_commit", held_commit)
    monkeypatch.setattr(ScriptedLLM, "complete", complete)
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    subject, model_asked, thread = seen[0]
    assert subject.startswith("requirement:") and model_asked, seen[0]
    assert thread.startswith("softco-git") and threading.current_thread().name not in {t for _, _, t in seen}
    # every artifact is committed, in the board's order, as its role (what the run did before, all of it)
    made = commits(tmp_path / "out" / "p")
    assert [c.subject.split(":")[0] for c in made][:4] == ["requirement", "prd", "design", "tasks"]
    assert [c.subject for c in made] == [s for s, _, _ in seen]
    assert made[0].author == "Customer" and len({c.author for c in made}) == 5  # the customer and the four roles
    assert git.Repo(tmp_path / "out" / "p").is_dirty(untracked_files=True) is False


def test_a_file_is_written_again_only_once_its_last_commit_holds_it(tmp_path: Path) -> None:
    """A commit takes the files from the disk when its turn comes: a file written again meanwhile (a fix
    round's new version) waits for that commit, so each commit holds what its own artifact wrote."""
    ws = Workspace.create(tmp_path / "p")
    author = Author("Carol", "carol@softco.local")
    release = threading.Event()
    real = ws._commit

    def held(*args: Any) -> str | None:
        release.wait(PATIENCE)
        return real(*args)

    ws._commit = held  # type: ignore[method-assign]
    ws.write({"calc/ops.py": "VERSION = 1\n"})
    first = ws.commit_soon(["calc/ops.py"], "code: ops\n", author)
    timer = threading.Timer(0.5, release.set)  # the committer is busy for a while
    timer.start()
    try:
        assert ws.write({"calc/ops.py": "VERSION = 2\n"}) == ["calc/ops.py"]  # waits for the first commit
    finally:
        timer.cancel()
        release.set()
    second = ws.commit_soon(["calc/ops.py"], "code: ops, fixed\n", author)
    ws.close_committer()
    repo = ws.repo
    shas = [first.result(), second.result()]
    texts = [repo.commit(sha).tree["calc/ops.py"].data_stream.read().decode() for sha in shas if sha]
    assert texts == ["VERSION = 1\n", "VERSION = 2\n"]
    assert [c.author.name for c in repo.iter_commits()] == ["Carol", "Carol"]


def test_after_a_failed_commit_none_of_the_later_ones_is_made(tmp_path: Path) -> None:
    """A commit that fails stops the ones asked after it (the run stops, and resume heals them in order)."""
    ws = Workspace.create(tmp_path / "p")
    author = Author("Carol", "carol@softco.local")
    real = ws._commit
    calls: list[str] = []

    def failing(paths: list[str], message: str, *args: Any) -> str | None:
        calls.append(message)
        if message.startswith("b"):
            raise OSError(28, "No space left on device")
        return real(paths, message, *args)

    ws._commit = failing  # type: ignore[method-assign]
    futures = []
    for name in ("a", "b", "c"):
        ws.write({f"{name}.py": f"{name} = 1\n"})
        futures.append(ws.commit_soon([f"{name}.py"], f"{name}\n", author))
    ws.close_committer()
    assert futures[0].result() is not None
    for f in futures[1:]:
        with pytest.raises(OSError):
            f.result()
    assert calls == ["a\n", "b\n"]  # c was never tried
    assert [c.message for c in ws.repo.iter_commits()] == ["a\n"]
