"""What changes in the company when it works on an existing repo (``Settings.change``).

- prompts: the SOP's ``change_<template>`` replaces an action's template when the SOP has one, and every
  template gets ``change``, ``repo_map(budget)`` and ``existing_file(path)`` (:meth:`ChangeMode.variables`);
- answers: a code answer for a file the repo has is SEARCH/REPLACE blocks, applied all-or-nothing to the
  current version (a block that does not apply is re-asked with the nearest lines); a test file may not
  replace one of the repo's; a design may not name a file softco cannot edit (:meth:`ChangeMode.adapt`);
- files: docs go under ``docs/softco/<slug>/``; pyproject.toml and README.md are not written;
- tests: the repo's own tests run next to QA's, with its dependencies; one that passed on the base
  commit and fails now is a regression, routed to the changed file it imports; one that failed before
  the change too is not counted (:meth:`ChangeMode.run_tests`).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import git

from softco import git_safe
from softco.artifacts import _AST_LOCK, MAX_FILE_CHARS, Artifact, Code, Design, TestReport, TestResult, Tests
from softco.change.edits import EditError, apply_edit, has_blocks
from softco.change.repo import MAX_READ_BYTES, test_files, why_unreadable
from softco.change.repo_map import DEFAULT_MAP_BUDGET, RepoMap, build_map
from softco.steps import qa_tools

if TYPE_CHECKING:
    from softco.steps.step import BoardView, Step

BASELINE_FILE = "baseline.json"
MAP_FILE = "repo_map.json"
#: The repo's own set-up steps for its tests, run in the sandbox before them.
SETUP_SCRIPT = ".softco/setup.sh"
MAX_SETUP_BYTES = 20_000
REGRESSION = "REGRESSION: this test of the repo passed before the change and fails after it."
GONE = "It did not run after it (removed, renamed or no longer collected): a test that is gone does not pass."
BEFORE_TOO = "not counted: this test of the repo failed before the change too."

_OWN_TEST = (
    "{path} is one of the repo's own test files, which keep running as they are (one that passed before and "
    "fails now is a regression to fix in the code); put new tests in a new file (e.g. tests/test_<feature>.py)"
)


@dataclass
class ChangeMode:
    """A change run: where it works and what it started from (saved with the run, so a resume has it)."""

    repo: str
    worktree: str
    base_branch: str
    base_sha: str
    branch: str
    slug: str
    #: tracked files at the base commit
    files: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    skipped_dependencies: list[str] = field(default_factory=list)
    src_layout: bool = False
    _texts: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    def saved(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> ChangeMode:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and not k.startswith("_")}
        return cls(**known)

    @property
    def root(self) -> Path:
        return Path(self.worktree)

    @property
    def docs_dir(self) -> str:
        return f"docs/softco/{self.slug}/"

    @cached_property
    def base_files(self) -> frozenset[str]:
        return frozenset(self.files)

    @cached_property
    def existing_tests(self) -> list[str]:
        return test_files(self.files)

    @cached_property
    def map(self) -> RepoMap:
        """The repo map, read from the worktree when the run starts (the base commit's files) and kept in
        .softco/repo_map.json, so a resumed or revised run renders the same prompts (and hits the cache)."""
        kept = self.root / ".softco" / MAP_FILE
        try:
            return RepoMap.from_json(kept.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            pass
        built = build_map(self.root, self.files)
        try:
            kept.write_text(built.to_json())
        except OSError:
            pass  # kept only to be reused: the run goes on without it
        return built

    # files ------------------------------------------------------------------------------------
    def repo_files(self, files: dict[str, str]) -> dict[str, str]:
        """An artifact's files in the user's repo: its docs under docs/softco/<slug>/."""
        return {(self.docs_dir + p.removeprefix("docs/") if p.startswith("docs/") else p): c for p, c in files.items()}

    def current(self, view: BoardView, path: str) -> str | None:
        """The file as the change has it now: its latest code on the board, else the repo's (None: new)."""
        if path in view.code:
            return str(view.code[path]["content"])
        if path in self.base_files:
            return self.base_text(path)
        return None

    def base_text(self, path: str) -> str | None:
        """A file as the base commit has it (not as the worktree has it now: a resumed or revised run has changed
        it); None if it is not a text file softco edits (binary, not UTF-8, a symlink, too large)."""
        if path not in self._texts:
            text: str | None = None
            try:
                with git_safe.open_repo(self.root) as repo:
                    blob = repo.commit(self.base_sha).tree / path
                    if isinstance(blob, git.Blob) and blob.mode != git.Blob.link_mode and blob.size <= MAX_READ_BYTES:
                        data = blob.data_stream.read()
                        text = data.decode("utf-8") if b"\0" not in data else None
            except (KeyError, ValueError, git.GitError):  # not in the commit; not UTF-8 (UnicodeDecodeError)
                text = None
            self._texts[path] = text
        return self._texts[path]

    # prompts ----------------------------------------------------------------------------------
    def variables(self, view: BoardView, step: Step) -> dict[str, Any]:
        design = view.payload("design")
        paths = [f["path"] for f in design["files"]] if design else []
        modified = [p for p in paths if p in self.base_files]
        prd = view.payload("prd")
        query = " ".join(
            [
                view.requirement(),
                *(f"{r['title']} {r['description']}" for r in (prd or {}).get("requirements", [])),
                *(f"{f['path']} {f['purpose']}" for f in (design or {}).get("files", [])),
            ]
        )
        focus = [*modified, *([step.item["path"]] if step.item and "path" in step.item else [])]

        def repo_map(budget: int = DEFAULT_MAP_BUDGET) -> str:
            return self.map.render(query, focus, budget)

        def existing_file(path: str) -> str | None:
            return self.current(view, path)

        info = {
            "branch": self.branch,
            "base_branch": self.base_branch,
            "base": self.base_sha[:12],
            "docs_dir": self.docs_dir,
            "existing_tests": self.existing_tests,
            "modified": modified,
            "added": [p for p in paths if p not in self.base_files],
            "existing": sorted(self.base_files),
        }
        return {"change": info, "repo_map": repo_map, "existing_file": existing_file}

    def template(self, name: str, available: set[str]) -> str:
        """The template an action renders in a change run: ``change_<name>`` when the SOP has it."""
        return f"change_{name}" if f"change_{name}" in available else name

    # answers ----------------------------------------------------------------------------------
    def adapt(self, artifact: Artifact, view: BoardView) -> Artifact:
        """An answer checked against the repo and, for an edit, applied; ValueError re-asks it."""
        if isinstance(artifact, Design):
            folded = {p.lower(): p for p in self.base_files}
            dirs = {p.rsplit("/", 1)[0].lower() for p in self.base_files if "/" in p}
            for f in artifact.files:
                if f.path in self.base_files:
                    if self.base_text(f.path) is None:
                        raise ValueError(f"{f.path} cannot be modified: {why_unreadable(self.root, f.path)}")
                elif f.path.lower() in folded:
                    raise ValueError(
                        f"{f.path} differs only in case from the repo's {folded[f.path.lower()]}; use that"
                    )
                elif f.path.lower() in dirs:
                    raise ValueError(f"{f.path} is a directory of the repo; name a file")
            return artifact
        if isinstance(artifact, Tests):
            if artifact.path in self.base_files:
                raise ValueError(_OWN_TEST.format(path=artifact.path))
            return artifact
        if isinstance(artifact, Code):
            if artifact.path in self.existing_tests:  # else an edit could hide the regression it made
                raise ValueError(_OWN_TEST.format(path=artifact.path))
            return self._edited(artifact, view)
        return artifact

    def _edited(self, code: Code, view: BoardView) -> Code:
        now = self.current(view, code.path)
        if code.path not in self.base_files:
            if not has_blocks(code.content):
                return code  # an added file, written whole
            if now is None:
                raise ValueError(f"{code.path} is a new file: write it whole in content, not as SEARCH/REPLACE blocks")
            # a fix of a file this change added, given as blocks: applied like an edit of the repo's files
        if now is None:
            raise ValueError(f"{code.path} cannot be modified: {why_unreadable(self.root, code.path)}")
        try:
            new = apply_edit(now, code.content, code.path)
        except EditError as exc:
            raise ValueError(str(exc)) from None
        if len(new) > MAX_FILE_CHARS:
            raise ValueError(f"{code.path} would be {len(new):,} characters after the edit, over {MAX_FILE_CHARS:,}")
        if code.path.endswith(".py"):
            try:
                with _AST_LOCK:
                    ast.parse(new)
            except (SyntaxError, ValueError) as exc:
                line = getattr(exc, "lineno", "?")
                raise ValueError(
                    f"{code.path} is not valid Python after the edit (line {line}: {getattr(exc, 'msg', exc)}); "
                    "nothing was applied: give blocks whose result is valid Python"
                ) from None
        return code.model_copy(update={"content": new})

    # tests ------------------------------------------------------------------------------------
    def test_run(self, run: qa_tools.TestRun) -> qa_tools.TestRun:
        """QA's run with the repo's own tests, dependencies and layout added."""
        run.extra = [t for t in self.existing_tests if t not in run.tests]
        run.dependencies = sorted({*run.dependencies, *self.dependencies})
        # a test file of the repo that cannot be imported must not keep the others (and QA's) from running
        run.options = ["--continue-on-collection-errors"]
        run.own_config = True  # its conftest.py files and pytest configuration, as the repo's users run its tests
        script = self.setup_script()
        if self.src_layout:  # the package is under src/: put it on the path, in the sandbox's work copy
            script = 'export PYTHONPATH="$PYTHONPATH:$PWD/src"\n' + (script or "")
        run.setup = script
        return run

    def setup_script(self) -> str | None:
        """The repo's own ``.softco/setup.sh`` (tracked), run in the sandbox before its tests; None if it has none."""
        if SETUP_SCRIPT not in self.base_files:
            return None
        target = self.root / SETUP_SCRIPT
        try:
            if target.is_symlink() or target.stat().st_size > MAX_SETUP_BYTES:
                raise ValueError(f"{SETUP_SCRIPT} is a symbolic link or over {MAX_SETUP_BYTES:,} bytes")
            return target.read_bytes().decode("utf-8")
        except (OSError, ValueError) as exc:
            raise qa_tools.SandboxUnavailable(f"cannot use the repo's {SETUP_SCRIPT}: {exc}") from None

    def baseline_path(self) -> Path:
        return self.root / ".softco" / BASELINE_FILE

    def record_baseline(self, run: qa_tools.TestRun) -> dict[str, str]:
        """Run the repo's own tests on the base commit (``run.project``: the worktree before any change, or a
        copy of the base commit) and keep the outcomes."""
        outcomes: dict[str, str] = {}
        if self.existing_tests:
            report = qa_tools.run_tests(self.test_run(run))
            outcomes = {r.nodeid: r.outcome for r in report.results}
        self.baseline_path().write_text(json.dumps({"base": self.base_sha, "outcomes": outcomes}))
        return outcomes

    def baseline(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.baseline_path().read_text())
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("base") != self.base_sha
            or not isinstance(data.get("outcomes"), dict)
        ):
            return None
        return {str(k): str(v) for k, v in data["outcomes"].items()}

    def run_tests(self, run: qa_tools.TestRun) -> TestReport:
        if self.baseline() is None and self.existing_tests:  # lost (a run stopped before it was kept): measure it
            self.record_baseline(qa_tools.TestRun(self.base_copy(), {}, 1, [], run.limits))
        return self.judge(qa_tools.run_tests(self.test_run(run)))

    def base_copy(self) -> Path:
        """The base commit's files, fresh under .softco/base (the worktree has the change by now)."""
        dest = self.root / ".softco" / "base"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        with git_safe.open_repo(self.root) as repo:
            for item in repo.commit(self.base_sha).tree.traverse():
                if not isinstance(item, git.Blob):
                    continue  # trees are made as their files are; submodules are left out
                target = dest / str(item.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                data = item.data_stream.read()
                if item.mode == git.Blob.link_mode:
                    os.symlink(data.decode("utf-8", "surrogateescape"), target)
                else:
                    target.write_bytes(data)
        return dest

    def judge(self, report: TestReport) -> TestReport:
        """Mark the repo's own tests that passed before and fail now as regressions; leave out of the count
        those that failed before the change too."""
        before = self.baseline()
        existing = set(self.existing_tests)
        results: list[TestResult] = []
        regressions: list[str] = []
        uncounted = 0
        for r in report.results:
            if r.file in existing and r.outcome in ("failed", "error") and before is not None:
                was = before.get(r.nodeid) or before.get(f"{r.file}::collection")
                if was == "passed":
                    regressions.append(r.nodeid)
                    r = r.model_copy(update={"message": f"{REGRESSION}\n{r.message}"})
                elif was in ("failed", "error"):
                    uncounted += 1
                    r = r.model_copy(update={"outcome": "skipped", "message": f"{BEFORE_TOO}\n{r.message}"})
            results.append(r)
        ran = {r.nodeid for r in report.results}
        for nodeid, was in sorted((before or {}).items()):
            file, _, name = nodeid.partition("::")
            if was == "passed" and file in existing and nodeid not in ran:  # removed, renamed or no longer collected
                regressions.append(nodeid)
                results.append(
                    TestResult(file=file, name=name, req_ids=[], outcome="failed", message=f"{REGRESSION} {GONE}")
                )
        count = {o: sum(x.outcome == o for x in results) for o in ("passed", "failed", "error", "skipped")}
        exit_code = report.exit_code
        output = report.output
        if uncounted and report.exit_code == 1 and not (count["failed"] or count["error"]):
            exit_code = 0
            output = (
                f"(pytest exited 1 for {uncounted} test(s) of the repo that failed before the change too)\n{output}"
            )
        return report.model_copy(
            update={
                "results": results,
                "passed": count["passed"],
                "failed": count["failed"],
                "errors": count["error"],
                "skipped": count["skipped"],
                "exit_code": exit_code,
                "output": output,
                "regressions": regressions,
            }
        )

    def owners(self, design_paths: set[str]) -> dict[str, str]:
        """Each of the repo's test files -> the changed file a failure of it goes to: the changed file it
        imports (directly, else through the project's other files), else the first modified file."""
        modified = sorted(p for p in design_paths if p in self.base_files) or sorted(design_paths)
        graph = self.map.graph()
        out: dict[str, str] = {}
        for t in self.existing_tests:
            seen: set[str] = set()
            frontier = [t]
            owner = None
            while frontier and owner is None:
                nxt: list[str] = []
                for p in frontier:
                    for d in sorted(graph.get(p, set())):
                        if d in design_paths:
                            owner = owner or d
                        if d not in seen:
                            seen.add(d)
                            nxt.append(d)
                frontier = nxt
            if owner is not None or modified:
                out[t] = owner or modified[0]
        return out
