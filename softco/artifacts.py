"""Artifact kinds: what roles publish on the board, and the registry that names them.

Every artifact is a pydantic model with ``extra="forbid"``. Cross-artifact references (a REQ id
that the PRD never defined, a file the design never listed) are checked when an artifact is
validated with a :class:`Refs` context, so an LLM answer that invents ids is rejected and re-asked.
"""

from __future__ import annotations

import ast
import graphlib
import re
import threading
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from softco.dependencies import MAX_COUNT as MAX_DEPENDENCIES
from softco.dependencies import MAX_LENGTH as MAX_DEPENDENCY_CHARS
from softco.dependencies import check_dependencies

REQ_ID = re.compile(r"^REQ-[1-9][0-9]*$")
#: The largest generated file softco accepts; a bigger answer is re-asked with the error.
MAX_FILE_CHARS = 200_000
#: The characters of a model-given repo path: ASCII letters, digits, '_', '-', '.', and '/' between names.
SAFE_PATH = re.compile(r"[A-Za-z0-9_.\-/]+")
#: Bounds on a model-given repo path (check_relative_path): names, levels, characters in all.
MAX_NAME_BYTES = 255
MAX_PATH_DEPTH = 8
MAX_PATH_CHARS = 200
PATH_RULES = (
    "write a repo-relative path like calc/ops.py: names of letters, digits, '_', '-' and '.' joined by single "
    f"'/', no '.', '..' or empty names, none starting with '-' or ending with '.', nothing named .git* or "
    f".softco, at most {MAX_PATH_DEPTH} levels and {MAX_PATH_CHARS} characters"
)
#: Entries that, together in one directory, make git take that directory for a repository (HEAD next to
#: objects/ and refs/, or a commondir naming where they are), with margin: config counts like HEAD.
GIT_DIR_HEAD = frozenset({"head", "config"})
GIT_DIR_STORE = frozenset({"objects", "refs", "commondir"})

# What the request schema tells the model (softco/schemas.py), next to the rules it approximates. Each
# pattern is as strict as the validator or stricter, so an answer that fits the schema passes it; the
# validators stay the authority. Patterns use only what JSON schema engines and grammar compilers share:
# anchors, classes, groups, alternation and counted repeats (no lookaround, no \d or \w, no (?:...)).
#: One name of a repo path: no leading '.' or '-' (so no .git*, .softco, '.', '..'), no trailing '.'.
_PATH_NAME = r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_-])?"
PATH_PATTERN = rf"^{_PATH_NAME}(/{_PATH_NAME}){{0,{MAX_PATH_DEPTH - 1}}}$"
REQ_ID_PATTERN = r"^REQ-[1-9][0-9]*$"
PACKAGE_PATTERN = r"^[a-z_][a-z0-9_]*$"
TEST_PATH_PATTERN = rf"^tests/([A-Za-z0-9_]+/){{0,{MAX_PATH_DEPTH - 2}}}test_[A-Za-z0-9_]+\.py$"
TEST_ID_PATTERN = rf"{TEST_PATH_PATTERN[:-1]}::[A-Za-z_][A-Za-z0-9_]*(\[[^\]\n]*\])?$"
_DIST = r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"(==|!=|>=|<=|~=|>|<)[0-9]+(\.[0-9]+){0,3}"
#: A plain PEP 508 requirement without spaces, URLs or markers: name[extra,...]>=1.2,<2
DEPENDENCY_PATTERN = rf"^{_DIST}(\[{_DIST}(,{_DIST}){{0,4}}\])?({_VERSION}(,{_VERSION}){{0,3}})?$"
#: JSON schema key naming what a field refers to ("design_file" or "requirement"): the request schema
#: turns it into an ``enum`` of the design's files or the PRD's REQ ids when those are known.
REFERS_TO_KEY = "x-softco-refers-to"
#: JSON schema key listing the trigger kinds whose steps get this field in their request schema (a
#: fix-only field, e.g. Code.disputed_tests only on steps triggered by a bug report).
ONLY_ON_KEY = "x-softco-only-on"
_PATH_SCHEMA: dict[str, Any] = {"pattern": PATH_PATTERN, "maxLength": MAX_PATH_CHARS}
_DESIGN_FILE: dict[str, Any] = {REFERS_TO_KEY: "design_file", **_PATH_SCHEMA}
#: Strings as the request schema describes them (the annotations add schema only, never a check).
SchemaPath = Annotated[str, Field(json_schema_extra=_PATH_SCHEMA)]
DesignFileRef = Annotated[str, Field(json_schema_extra=_DESIGN_FILE)]
ReqRef = Annotated[str, Field(json_schema_extra={REFERS_TO_KEY: "requirement", "pattern": REQ_ID_PATTERN})]


class Refs(BaseModel):
    """What an artifact may refer to: the PRD's requirement ids and the design's file paths."""

    model_config = ConfigDict(extra="forbid")

    req_ids: set[str] | None = None
    design_paths: set[str] | None = None


def _refs(info: ValidationInfo) -> Refs:
    ctx = info.context
    if isinstance(ctx, Refs):
        return ctx
    return Refs()


def _check_req_ids(ids: list[str], info: ValidationInfo) -> list[str]:
    for rid in ids:
        if not REQ_ID.fullmatch(rid):
            raise ValueError(f"{rid!r} is not a requirement id; use the form REQ-1, REQ-2, ...")
    known = _refs(info).req_ids
    if known is not None:
        unknown = [r for r in ids if r not in known]
        if unknown:
            raise ValueError(f"unknown requirement id(s) {unknown}; the PRD defines {sorted(known, key=_req_num)}")
    return ids


def _check_design_path(path: str, info: ValidationInfo) -> str:
    known = _refs(info).design_paths
    if known is not None and path not in known:
        raise ValueError(f"file {path!r} is not in the design; the design lists {sorted(known)}")
    return path


def _check_acyclic(deps: dict[str, list[str]], what: str) -> None:
    """Raise ValueError naming the cycle if ``deps`` (path -> paths it depends on) has one."""
    try:  # graphlib reads path -> its predecessors: what it depends on
        graphlib.TopologicalSorter({p: [d for d in ds if d != p] for p, ds in deps.items()}).prepare()
    except graphlib.CycleError as exc:
        cycle: list[str] = list(reversed(exc.args[1][1:]))  # each path depends on the next
        order = list(deps)
        first = cycle.index(min(cycle, key=lambda p: order.index(p) if p in order else len(order)))
        cycle = cycle[first:] + cycle[:first]
        raise ValueError(f"{what} form a cycle: {' -> '.join([*cycle, cycle[0]])}") from None


def _req_num(rid: str) -> int:
    return int(rid.split("-")[1]) if REQ_ID.fullmatch(rid) else 0


def _path_problem(path: str) -> str | None:
    """What makes ``path`` unsafe as a model-given repo path, or None when it is safe and canonical."""
    if not path:
        return "it is empty"
    bad = next((c for c in path if not SAFE_PATH.fullmatch(c)), None)
    if bad is not None:
        return f"it contains {bad!r}"
    if path.startswith("/"):
        return "it is absolute"
    names = path.split("/")
    for name in names:
        low = name.lower()
        if not name:
            return "it has an empty name ('//', or '/' at the start or the end)"
        if name in (".", ".."):
            return "it has a '.' or '..' name"
        if len(name.encode()) > MAX_NAME_BYTES:
            return f"the name {name[:20]}... is {len(name.encode())} bytes, over {MAX_NAME_BYTES}"
        if low.startswith(".git"):
            return (
                f"git treats {name!r} specially (.git, .gitignore, .gitattributes, .gitmodules, any .git* name): "
                "softco writes .gitignore itself and refuses the others"
            )
        if low.startswith(".softco"):
            return f"{name!r} is softco's own directory"
        if name.endswith("."):
            return f"the name {name!r} ends with '.' (Windows drops it, so '.git.' would be '.git')"
        if name.startswith("-"):
            return f"the name {name!r} starts with '-' (a command line would take it for an option)"
    if len(names) > MAX_PATH_DEPTH:
        return f"it is {len(names)} levels deep, over {MAX_PATH_DEPTH}"
    if len(path) > MAX_PATH_CHARS:
        return f"it is {len(path)} characters long, over {MAX_PATH_CHARS}"
    return None


def check_relative_path(path: str) -> str:
    """The one authority on a model-given repo path: return it if it is safe, else raise ValueError.

    Only the canonical form is accepted (no '.', '..' or empty names), so a path is compared, listed and
    written as is: ``./tests/x.py`` or ``tests//x.py`` cannot pass for another file. Names are ASCII
    letters, digits, '_', '-', '.' (so no control character, newline, backslash, '~' as in the NTFS
    short name ``GIT~1``, nor a Unicode look-alike); none is ``.git*`` or ``.softco*`` in any case, ends
    with '.', starts with '-' or is over 255 bytes; at most 8 levels and 200 characters. The message
    says what to write instead: it goes back to the model when its answer is re-asked.
    """
    problem = _path_problem(path)
    if problem is not None:
        shown = repr(path) if len(path) <= 80 else f"{path[:60]!r}... ({len(path)} characters)"
        raise ValueError(f"{shown} is not a safe relative file path: {problem}; {PATH_RULES}")
    return path


def check_file_set(paths: Iterable[str], existing: Iterable[tuple[str, bool]] = ()) -> None:
    """Refuse files that cannot sit together in one repo: raise ValueError saying which and why.

    ``paths`` are the files to write (each already passed :func:`check_relative_path`); ``existing``
    is what the repo holds already, as (path, is a directory). Refused: two names of one directory that
    differ only in case (one file on macOS and Windows), a name that is both a file and a directory,
    and a directory that git would take for a repository of its own (see GIT_DIR_HEAD and
    GIT_DIR_STORE): ``cd`` into it and ``git status`` would run whatever its config says.
    """
    # directory (lower case) -> name (lower case) -> (name as written, is a directory, is new)
    dirs: dict[str, dict[str, tuple[str, bool, bool]]] = {}

    def add(path: str, is_dir: bool, new: bool) -> None:
        names = path.split("/")
        for i, name in enumerate(names):
            where = "/".join(names[:i])
            here = "/".join(names[: i + 1])
            entries = dirs.setdefault(where.lower(), {})
            as_dir = is_dir or i < len(names) - 1
            seen = entries.get(name.lower())
            if seen is None:
                entries[name.lower()] = (name, as_dir, new)
                continue
            other, other_dir, other_new = seen
            if not (new or other_new):
                continue
            prefix = f"{where}/" if where else ""
            if other != name:
                raise ValueError(
                    f"{here!r} and {prefix + other!r} differ only in case, which makes them one file on macOS "
                    "and Windows; use one spelling"
                )
            if other_dir != as_dir:
                raise ValueError(f"{here!r} would be both a file and a directory; rename one of them")
            if new and not other_new:
                entries[name.lower()] = (name, as_dir, True)

    for path, is_dir in existing:
        add(path, is_dir, False)
    for path in paths:
        add(path, False, True)
    for where, entries in sorted(dirs.items()):
        head, store = GIT_DIR_HEAD & entries.keys(), GIT_DIR_STORE & entries.keys()
        if head and store and any(new for _, _, new in entries.values()):
            names = sorted(entries[n][0] for n in head | store)
            raise ValueError(
                f"{names} in {where or 'the top directory'!r} would make it a git directory, whose config git "
                "runs commands from; no directory may hold HEAD or config next to objects, refs or commondir"
            )


class Artifact(BaseModel):
    """Base of every artifact kind."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = ""

    def title(self) -> str:
        return self.kind

    def subject(self) -> str:
        """What this artifact is about; part of the step keys of the steps it triggers."""
        return self.kind

    def repo_files(self) -> dict[str, str]:
        """Source files this artifact puts into the generated repo (path -> content)."""
        return {}


class Requirement(Artifact):
    kind: ClassVar[str] = "requirement"
    text: str = Field(min_length=1, description="The user's one-line requirement, verbatim.")

    def title(self) -> str:
        return self.text if len(self.text) <= 60 else self.text[:57] + "..."

    def subject(self) -> str:
        return "project"


class RequirementItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="REQ-1, REQ-2, ... in order", json_schema_extra={"pattern": REQ_ID_PATTERN})
    title: str = Field(min_length=1)
    description: str
    priority: Literal["P0", "P1", "P2"]
    acceptance_criteria: list[str] = Field(min_length=1)


class Prd(Artifact):
    kind: ClassVar[str] = "prd"
    project_name: str = Field(description="Short product name")
    summary: str
    goals: list[str] = Field(min_length=1)
    user_stories: list[str] = Field(min_length=1)
    requirements: list[RequirementItem] = Field(min_length=1)
    competitive_analysis: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_in_order(self) -> Prd:
        expected = [f"REQ-{i}" for i in range(1, len(self.requirements) + 1)]
        got = [r.id for r in self.requirements]
        if got != expected:
            raise ValueError(f"requirement ids must be {expected} in that order, got {got}")
        return self

    def title(self) -> str:
        return f"{self.project_name} ({len(self.requirements)} requirements)"

    def subject(self) -> str:
        return "project"

    def req_ids(self) -> set[str]:
        return {r.id for r in self.requirements}


#: Files that would change how the generated tests run or what Python does at start-up: the design may
#: not name them (QA's tests are run with softco's own pytest configuration, without conftest files).
TEST_RUNNER_FILES = frozenset(
    {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "sitecustomize.py", "usercustomize.py"}
)


class DesignFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="Repo-relative path, e.g. todo/storage.py", json_schema_extra=_PATH_SCHEMA)
    purpose: str = Field(description="What the file does: its behaviour and the edge cases it must handle")
    req_ids: list[ReqRef] = Field(description="REQ ids this file implements (may be empty)")
    interfaces: list[str] = Field(
        description="Public signatures with a one-line docstring each, e.g. "
        "'def add_task(title: str, priority: str) -> Task: Add a task and return it.'"
    )
    depends_on: list[SchemaPath] = Field(
        default_factory=list, description="Paths of the other design files whose interfaces this file imports"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_relative_path(v)

    @field_validator("req_ids")
    @classmethod
    def _reqs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return _check_req_ids(v, info)


class Design(Artifact):
    kind: ClassVar[str] = "design"
    approach: str
    package: str = Field(
        description="Import name of the Python package, e.g. 'todo'", json_schema_extra={"pattern": PACKAGE_PATTERN}
    )
    entry_point: str = Field(
        default="",
        description="Console script target 'package.module:function', or empty for a library",
    )
    dependencies: list[
        Annotated[str, Field(json_schema_extra={"pattern": DEPENDENCY_PATTERN, "maxLength": MAX_DEPENDENCY_CHARS})]
    ] = Field(
        default_factory=list,
        description="Third-party PyPI requirements; prefer the stdlib",
        json_schema_extra={"maxItems": MAX_DEPENDENCIES},
    )
    files: list[DesignFile] = Field(min_length=1)
    class_diagram: str = Field(description="mermaid classDiagram source")
    sequence_diagram: str = Field(description="mermaid sequenceDiagram source")

    @field_validator("package")
    @classmethod
    def _package(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", v):
            raise ValueError(f"package {v!r} must be a lowercase Python identifier")
        return v

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, v: list[str]) -> list[str]:
        return check_dependencies(v)

    @model_validator(mode="after")
    def _files(self) -> Design:
        paths = [f.path for f in self.files]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ValueError(f"files listed twice in the design: {dupes}")
        # paths are canonical (check_relative_path); compared without case, as macOS and Windows do
        tests = [p for p in paths if p.split("/")[0].lower() == "tests"]
        if tests:
            raise ValueError(f"tests belong to QA, not to the design: {tests}")
        reserved = [
            p for p in paths if p.lower() in {"pyproject.toml", "readme.md"} or p.split("/")[0].lower() == "docs"
        ]
        if reserved:
            raise ValueError(f"softco writes these files itself; leave them out: {reserved}")
        runner = [p for p in paths if p.rsplit("/", 1)[-1].lower() in TEST_RUNNER_FILES]
        if runner:
            raise ValueError(
                f"these files would configure how QA's tests run, which is QA's and softco's to decide: {runner}; "
                "leave them out (fixtures belong in the test files)"
            )
        check_file_set(paths)
        unknown = sorted({d for f in self.files for d in f.depends_on if d not in paths})
        if unknown:
            raise ValueError(f"depends_on names files that are not in the design: {unknown}; the design lists {paths}")
        _check_acyclic({f.path: f.depends_on for f in self.files}, "file dependencies")
        return self

    def title(self) -> str:
        return f"{self.package}: {len(self.files)} files"

    def subject(self) -> str:
        return "project"

    def paths(self) -> set[str]:
        return {f.path for f in self.files}

    def tasks(self) -> Tasks:
        """The work plan the design implies: one task per file, in the design's order."""
        return Tasks(
            tasks=[
                Task(path=f.path, description=f.purpose, req_ids=f.req_ids, depends_on=f.depends_on) for f in self.files
            ]
        )


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="The one design file this task writes", json_schema_extra=_DESIGN_FILE)
    description: str
    req_ids: list[ReqRef]
    depends_on: list[DesignFileRef] = Field(
        default_factory=list, description="Paths of design files whose interfaces this file uses"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str, info: ValidationInfo) -> str:
        return _check_design_path(v, info)

    @field_validator("req_ids")
    @classmethod
    def _reqs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return _check_req_ids(v, info)

    @field_validator("depends_on")
    @classmethod
    def _deps(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_check_design_path(p, info) for p in v]


class Tasks(Artifact):
    kind: ClassVar[str] = "tasks"
    tasks: list[Task] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_per_file_no_cycles(self, info: ValidationInfo) -> Tasks:
        paths = [t.path for t in self.tasks]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ValueError(f"one task per file; these files have several: {dupes}")
        known = _refs(info).design_paths
        if known is not None and set(paths) != known:
            raise ValueError(f"every design file needs exactly one task; missing {sorted(known - set(paths))}")
        _check_acyclic({t.path: t.depends_on for t in self.tasks}, "task dependencies")
        return self

    def title(self) -> str:
        return f"{len(self.tasks)} tasks"

    def subject(self) -> str:
        return "project"


#: A pytest node id of a generated test: tests/test_x.py::test_name (a parametrized case keeps its [id]).
TEST_NODEID = re.compile(r"tests/(?:[A-Za-z0-9_]+/)*test_[A-Za-z0-9_]+\.py::[A-Za-z_]\w*(?:\[.*\])?")


class DisputedTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    test: str = Field(
        description="The failing test: tests/test_x.py::test_name", json_schema_extra={"pattern": TEST_ID_PATTERN}
    )
    reason: str = Field(
        min_length=1,
        description="Why the test is wrong: quote the requirement, acceptance criterion or interface line it "
        "contradicts, or say what it asserts that the spec leaves open",
    )

    @field_validator("test")
    @classmethod
    def _test(cls, v: str) -> str:
        if not TEST_NODEID.fullmatch(v):
            raise ValueError(f"disputed test {v!r} must be a test id like tests/test_x.py::test_name")
        return v


class Code(Artifact):
    kind: ClassVar[str] = "code"
    path: str = Field(json_schema_extra=_DESIGN_FILE)
    content: str = Field(description="The whole file", max_length=MAX_FILE_CHARS)
    req_ids: list[ReqRef] = Field(description="REQ ids this file implements")
    notes: str = Field(default="", description="One line: what this version does or fixes")
    disputed_tests: list[DisputedTest] = Field(
        default_factory=list,
        description="Only when fixing failing tests: the ones that are wrong because they assert what the spec "
        "does not state. QA re-checks them against the spec. Empty when writing a file.",
        json_schema_extra={ONLY_ON_KEY: ["bug_report"]},
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str, info: ValidationInfo) -> str:
        return _check_design_path(check_relative_path(v), info)

    @field_validator("req_ids")
    @classmethod
    def _reqs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return _check_req_ids(v, info)

    def title(self) -> str:
        return f"{self.path}" + (f" ({self.notes})" if self.notes else "")

    def subject(self) -> str:
        return self.path

    def repo_files(self) -> dict[str, str]:
        return {self.path: self.content}


class TestCase(BaseModel):
    __test__: ClassVar[bool] = False
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        description="The test function's name, e.g. test_add_task_sets_priority",
        json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
    )
    req_ids: list[ReqRef] = Field(min_length=1)

    @field_validator("req_ids")
    @classmethod
    def _reqs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return _check_req_ids(v, info)


class Tests(Artifact):
    kind: ClassVar[str] = "tests"
    __test__: ClassVar[bool] = False
    path: str = Field(
        description="tests/test_<something>.py",
        json_schema_extra={"pattern": TEST_PATH_PATTERN, "maxLength": MAX_PATH_CHARS},
    )
    source: str = Field(description="The design file these tests exercise", json_schema_extra=_DESIGN_FILE)
    content: str = Field(description="The whole pytest file", max_length=MAX_FILE_CHARS)
    cases: list[TestCase] = Field(min_length=1, description="Every test function with its REQ ids")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        check_relative_path(v)
        if not re.fullmatch(r"tests/(?:[A-Za-z0-9_]+/)*test_[A-Za-z0-9_]+\.py", v):
            raise ValueError(f"test file {v!r} must be named tests/test_<name>.py")
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v: str, info: ValidationInfo) -> str:
        return _check_design_path(v, info)

    @model_validator(mode="after")
    def _cases_exist(self) -> Tests:
        defined = _test_functions(self.content)
        missing = [c.name for c in self.cases if c.name not in defined]
        if missing:
            raise ValueError(f"cases name tests that are not defined in content: {missing}")
        return self

    def title(self) -> str:
        return f"{self.path}: {len(self.cases)} tests for {self.source}"

    def subject(self) -> str:
        return self.source

    def repo_files(self) -> dict[str, str]:
        return {self.path: self.content}


_AST_LOCK = threading.Lock()


def _test_functions(source: str) -> set[str]:
    """The names of the test functions a pytest file defines (at module level or in a class), read with
    ``ast``: a comment or a string that merely contains ``def test_x(`` does not count."""
    try:
        with _AST_LOCK:  # CPython 3.11's parser is not safe to call from two threads at once
            tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"the test file is not valid Python: line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # e.g. a NUL byte
        raise ValueError(f"the test file is not valid Python: {exc}") from None
    except (RecursionError, MemoryError):  # CPython's parser gives up on an expression nested thousands deep
        raise ValueError("the test file is too deeply nested for Python's parser; write plain pytest code") from None
    names: set[str] = set()
    for node in tree.body:
        bodies = [node] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
        if isinstance(node, ast.ClassDef):
            bodies = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        names.update(n.name for n in bodies)
    return names


Outcome = Literal["passed", "failed", "error", "skipped"]


class TestResult(BaseModel):
    __test__: ClassVar[bool] = False
    model_config = ConfigDict(extra="forbid")
    file: str
    name: str
    req_ids: list[str]
    outcome: Outcome
    message: str = ""
    duration: float = 0.0

    @property
    def nodeid(self) -> str:
        return f"{self.file}::{self.name}"


class TestReport(Artifact):
    kind: ClassVar[str] = "test_report"
    __test__: ClassVar[bool] = False
    round: int = Field(ge=1)
    passed: int
    failed: int
    errors: int
    skipped: int
    exit_code: int
    results: list[TestResult]
    output: str = Field(default="", description="The tail of pytest's output")
    sandbox: str = Field(default="", description="How the generated code was isolated, e.g. 'bwrap, as nobody'")
    sandbox_warnings: list[str] = Field(default_factory=list, description="What the sandbox could not isolate")
    #: a change run: the repo's own tests that passed before the change and fail after it
    regressions: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """All tests pass: pytest itself exited 0, and every test it collected or QA declared passed
        or was skipped (a declared case that did not run counts as an error), with at least one pass."""
        return self.exit_code == 0 and self.failed == 0 and self.errors == 0 and self.passed > 0

    def title(self) -> str:
        regressions = f" ({len(self.regressions)} regression(s))" if self.regressions else ""
        return f"round {self.round}: {self.passed} passed, {self.failed + self.errors} failed{regressions}"

    def subject(self) -> str:
        return f"round-{self.round}"


class Failure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    test: str = Field(description="tests/test_x.py::test_name")
    message: str
    #: set when the engineer disputed this test and QA re-checked it against the spec and kept it
    note: str = ""


class BugReport(Artifact):
    kind: ClassVar[str] = "bug_report"
    round: int = Field(ge=1)
    path: str = Field(description="The design file that owns the failure")
    req_ids: list[str]
    failures: list[Failure] = Field(min_length=1)

    def title(self) -> str:
        return f"{self.path}: {len(self.failures)} failing test(s) in round {self.round}"

    def subject(self) -> str:
        return f"round-{self.round}/{self.path}"


class Dispute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    test: str = Field(description="tests/test_x.py::test_name")
    message: str = Field(description="How it failed")
    reason: str = Field(description="Why the engineer says the test, not the code, is wrong")


class TestDispute(Artifact):
    """Failing tests of one test file that the engineer who owns the code disputes: QA re-checks them."""

    kind: ClassVar[str] = "test_dispute"
    __test__: ClassVar[bool] = False
    round: int = Field(ge=1)
    path: str = Field(description="The test file")
    source: str = Field(description="The design file these tests exercise")
    disputes: list[Dispute] = Field(min_length=1)

    def title(self) -> str:
        return f"{self.path}: {len(self.disputes)} test(s) disputed by the engineer in round {self.round}"

    def subject(self) -> str:
        return f"round-{self.round}/{self.path}"


KINDS: dict[str, type[Artifact]] = {
    cls.kind: cls for cls in (Requirement, Prd, Design, Tasks, Code, Tests, TestReport, BugReport, TestDispute)
}


def artifact_class(kind: str) -> type[Artifact]:
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown artifact kind {kind!r}; known kinds: {sorted(KINDS)}") from None


def parse_artifact(kind: str, data: Any, refs: Refs | None = None) -> Artifact:
    """Validate ``data`` (a dict or JSON text) as an artifact of ``kind``."""
    cls = artifact_class(kind)
    if isinstance(data, str | bytes):
        return cls.model_validate_json(data, context=refs or Refs())
    return cls.model_validate(data, context=refs or Refs())
