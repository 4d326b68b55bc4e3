"""Publishing: an artifact goes on the board, then into the project's git repo (its files and docs/ views,
one commit authored by its role); :meth:`Publisher.heal` finishes what a crash left between the two.

The files are written at once; the commit may wait (``defer``) until :meth:`Publisher.flush`, which the
scheduler calls once the steps the artifact made ready have had time to send their requests (and at the
end of a run): a commit takes ~20 ms, a time in which no model would work if it came first. A commit
waiting is one a crash leaves to :meth:`Publisher.heal`, like one cut short. Its files stay as written
until it is made: an artifact that writes a path a waiting commit holds makes the waiting ones first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from softco.artifacts import Artifact, Design
from softco.board import Board, Message
from softco.company.scaffold import pyproject, readme
from softco.company.workspace import Author, Workspace
from softco.safe_text import one_line, visible
from softco.sop.load import Sop
from softco.steps.step import BoardView
from softco.views import doc_files

if TYPE_CHECKING:
    from softco.steps.hooks import ChangeHooks

CUSTOMER = Author("Customer", "customer@softco.local")


@dataclass(frozen=True)
class _Commit:
    """A commit to make: an artifact's changed and removed files, as they are on disk now."""

    message_id: int
    paths: list[str]
    removed: list[str]
    text: str
    author: Author


class Publisher:
    def __init__(
        self,
        sop: Sop,
        board: Board,
        workspace: Workspace,
        run_id: str,
        view: BoardView,
        superseded: dict[tuple[str, str], dict[str, Any]],
        change: ChangeHooks | None = None,
        defer: bool = False,
    ) -> None:
        self.sop = sop
        self.board = board
        self.ws = workspace
        self.run_id = run_id
        self.view = view
        #: Artifacts a revision replaces, by (kind, subject) (Company's, shared).
        self.superseded = superseded
        #: `softco change`: the repo is the user's (softco/change/mode.py)
        self.change = change
        #: commits wait for :meth:`flush` (see the module's docstring)
        self.defer = defer
        self._waiting: list[_Commit] = []

    def publish(self, artifact: Artifact, cause_id: int | None, step_key: str, role_id: str, action: str) -> Message:
        """Put an artifact on the board, then into the repo (files + one commit).

        Its files are checked against the project first, so an answer the repo refuses is not left on
        the board for `softco resume` to write again.
        """
        files = self._files(artifact)
        self.ws.check(files)
        if self._waiting and (isinstance(artifact, Design) or not self._waiting_paths().isdisjoint(files)):
            self.flush()  # a waiting commit takes its files from the disk: make it before they change
        payload = artifact.model_dump(mode="json")
        msg = self.board.publish(
            self.run_id, artifact.kind, artifact.subject(), role_id, action, step_key, payload, cause_id
        )
        self.view.add(msg)
        self._materialize(msg, artifact, files)
        return msg

    def _author(self, role_id: str) -> Author:
        role = next((r for r in self.sop.roles if r.id == role_id), None)
        return Author(role.author, role.email) if role else CUSTOMER

    def _files(self, artifact: Artifact) -> dict[str, str]:
        """What the artifact puts in the repo: its own files and its docs/ views."""
        # docs/*.md are for people to read (`cat docs/prd.md`): a model's control characters are shown there
        docs = {path: visible(text) if path.endswith(".md") else text for path, text in doc_files(artifact).items()}
        files = {**artifact.repo_files(), **docs}
        if self.change is not None:  # the user's repo: docs under docs/softco/<slug>/, no scaffold
            return self.change.repo_files(files)
        if isinstance(artifact, Design):
            prd = self.view.prd()
            if prd is not None:
                files["pyproject.toml"] = pyproject(prd, artifact)
                files["README.md"] = readme(prd, artifact, self.view.requirement())
        return files

    def _materialize(
        self, msg: Message, artifact: Artifact, files: dict[str, str] | None = None, every_file: bool = False
    ) -> None:
        """Write the artifact's files and commit them. A publish commits what changed; a heal (``every_file``)
        commits every file of the artifact, since a crash may have come after the files were written and
        before their commit (committing a file git already has is a no-op: the tree's SHA tells)."""
        files = self._files(artifact) if files is None else files
        changed = self.ws.write(files)
        if every_file:
            changed = list(files)
        removed = self.ws.remove(self._dropped_by(artifact)) if isinstance(artifact, Design) else []
        if artifact.kind == "requirement" and self.change is None:
            changed.append(".gitignore")
        # the subject quotes model text: one visible line, so no escape reaches `git log` and no newline in
        # a title can add trailer lines (heal() trusts Softco-Message)
        message = (
            f"{one_line(f'{artifact.kind}: {artifact.title()}')}\n\nSoftco-Run: {msg.run_id}\n"
            f"Softco-Message: {msg.id}\nSoftco-SOP: {self.sop.sop_hash}\n"
        )
        commit = _Commit(msg.id, changed, removed, message, self._author(msg.sender_role))
        if self.defer and not every_file:
            self.ws.note_tracked(changed, removed)  # what the next artifact's check sees, as if committed
            self._waiting.append(commit)
        else:
            self._commit(commit)

    def _commit(self, commit: _Commit) -> None:
        sha = self.ws.commit(commit.paths, commit.text, commit.author, commit.removed)
        if sha:
            self.board.set_commit(commit.message_id, sha)

    def waiting(self) -> bool:
        """Whether commits wait for :meth:`flush`."""
        return bool(self._waiting)

    def _waiting_paths(self) -> set[str]:
        return {p for c in self._waiting for p in (*c.paths, *c.removed)}

    def flush(self) -> int:
        """Make the waiting commits, in the order their artifacts were published; returns how many waited."""
        waiting, self._waiting = self._waiting, []
        for i, commit in enumerate(waiting):
            try:
                self._commit(commit)
            except BaseException:
                self._waiting = waiting[i:] + self._waiting  # still waiting; a crash leaves them to heal()
                raise
        return len(waiting)

    def _dropped_by(self, design: Design) -> list[str]:
        """Files of the design this one replaces (`softco revise`) that it no longer lists, and their tests."""
        old = self.superseded.get(("design", "project"))
        if old is None:
            return []
        stale = {f["path"] for f in old["files"]} - design.paths()
        if self.change is not None:  # never delete a file of the user's repo
            stale -= self.change.base_files
        tests = [t["path"] for (kind, source), t in self.superseded.items() if kind == "tests" and source in stale]
        return sorted(stale) + sorted(tests)

    def heal(self) -> int:
        """Finish what a crash left between "on the board" and "committed"; returns how many."""
        self.flush()
        healed = 0
        for m in list(self.view.messages):
            if m.commit_sha is not None:
                continue
            sha = self.ws.commit_with_trailer(f"Softco-Message: {m.id}")
            if sha is None:
                before = self.ws.head()
                self._materialize(m, self.sop.kind(m.kind).model_validate(m.payload), every_file=True)
                healed += self.ws.head() != before
            else:
                self.board.set_commit(m.id, sha)
        return healed
