"""What a step and the company ask of a run that works on an existing repo (`softco change`).

The implementation is :class:`softco.change.mode.ChangeMode`, on a floor above; the company and the steps
know it only through this protocol (``Settings.change``, ``StepContext.change``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from softco.artifacts import Artifact, TestReport

if TYPE_CHECKING:
    from softco.steps.qa_tools import TestRun
    from softco.steps.step import BoardView, Step


class ChangeHooks(Protocol):
    @property
    def base_files(self) -> frozenset[str]:
        """The files of the user's repo at the base commit (never deleted)."""
        ...

    def variables(self, view: BoardView, step: Step) -> dict[str, Any]:
        """The template variables of a change run: change, repo_map, existing_file."""
        ...

    def template(self, name: str, available: set[str]) -> str:
        """The template an action renders in a change run."""
        ...

    def adapt(self, artifact: Artifact, view: BoardView) -> Artifact:
        """An answer checked against the repo (and an edit applied); ValueError re-asks it."""
        ...

    def run_tests(self, run: TestRun) -> TestReport:
        """QA's tests with the repo's own, regressions marked."""
        ...

    def owners(self, design_paths: set[str]) -> dict[str, str]:
        """Each of the repo's test files -> the changed file its failures go to."""
        ...

    def repo_files(self, files: dict[str, str]) -> dict[str, str]:
        """An artifact's files as they go into the user's repo."""
        ...
