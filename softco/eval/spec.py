"""The contract between `softco eval` / `softco batch` and a backend that runs their runs (local, Ray).

A driver turns the command line into :class:`RunSpec` objects, one per (task, variant, seed); a
:class:`Backend` runs each with :func:`execute_run` somewhere (a thread here, a Ray worker on another
node) and hands the :class:`RunRecord` back through ``on_done``. A spec carries everything a worker
needs (the requirement, the LLM settings, the SOP directory, the hidden acceptance files' text), so a
worker on another machine needs no path of the driver's but the SOP directory; a record carries every
per-run figure of the scoreboard. Both are JSON (pydantic, ``extra="forbid"``).

The budget of the whole eval is a :class:`softco.llm.budget.Ledger` that every run shares: in one
process a :class:`softco.llm.budget.SharedLedger`; across processes an object with the same two methods
(e.g. a Ray actor's proxy). Every call of every run reserves its worst case in it before it starts, so
the eval stops (exit 4, resumable) before any call could cross ``--budget``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from rich.console import Console

from softco.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_OK, EXIT_TESTS_FAIL, SoftcoError
from softco.eval.suite import MAX_ACCEPTANCE_BYTES, MAX_ACCEPTANCE_FILES, PACKAGE_PATTERN, TASK_ID_PATTERN
from softco.llm.budget import Ledger

#: The version of RunSpec / RunRecord (and of eval.json, which holds records): bump on any change.
SCHEMA_VERSION = 1
MAX_REQUIREMENT_CHARS = 20_000
ERROR_LIMIT = 600

RunStatus = Literal["done", "budget", "error", "interrupted", "not_started"]
Usage = Literal["measured", "recorded", "estimated", "mixed", "none"]


def _relative(value: str) -> str:
    p = PurePosixPath(value)
    if not value or p.is_absolute() or ".." in p.parts or "\\" in value or value != p.as_posix():
        raise ValueError(f"{value!r} must be a plain relative path without '..'")
    return value


class RunSpec(BaseModel):
    """One softco run to make and (unless ``score`` is false: `softco batch`) score."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    task_id: str = Field(pattern=TASK_ID_PATTERN)
    variant: str = Field(min_length=1, max_length=200)
    seed: int = Field(ge=1, le=1000)
    requirement: str = Field(min_length=1, max_length=MAX_REQUIREMENT_CHARS)
    #: the LLM settings as `softco new` takes them: --model, --llm (None/"openai", "replay:FILE",
    #: "script:FILE"), --base-url
    model: str | None = None
    llm: str | None = None
    base_url: str | None = None
    #: --sop: a SOP directory (absolute), None for softco's own
    sop_dir: str | None = None
    max_fix_rounds: int = Field(default=3, ge=0, le=50)
    #: calls at once within the run (None: softco's default for the endpoint)
    concurrency: int | None = Field(default=None, ge=1, le=256)
    #: seconds the hidden tests may take
    time_limit_s: float = Field(default=120.0, gt=0, le=3600)
    #: the hidden acceptance files: path under acceptance/ -> text. Never rendered into a prompt nor
    #: written into the project; written only into the scoring directory, after the run.
    acceptance: dict[str, str] = Field(default_factory=dict, max_length=MAX_ACCEPTANCE_FILES)
    #: the import name the requirement states (None: the one the design chose) and how it is entered
    package: str | None = Field(default=None, pattern=PACKAGE_PATTERN)
    entry: Literal["cli", "import"] = "import"
    #: where the run's project goes, relative to the eval's output directory (runs/VARIANT/seed-N/TASK)
    rel_dir: str
    #: directories the sandbox hides from generated code during the run on this machine (the suite's)
    hidden_paths: list[str] = Field(default_factory=list, max_length=64)
    score: bool = True

    @field_validator("rel_dir")
    @classmethod
    def _rel(cls, v: str) -> str:
        return _relative(v)

    @field_validator("acceptance")
    @classmethod
    def _acceptance(cls, v: dict[str, str]) -> dict[str, str]:
        for rel in v:
            _relative(rel)
        if sum(len(t.encode("utf-8")) for t in v.values()) > MAX_ACCEPTANCE_BYTES:
            raise ValueError(f"the acceptance files exceed {MAX_ACCEPTANCE_BYTES:,} bytes")
        return v

    @property
    def key(self) -> str:
        """What identifies the run within an eval: task, variant, seed."""
        return f"{self.task_id}|{self.variant}|{self.seed}"


class RunRecord(BaseModel):
    """Every figure of one run (issue 16): what it made, what it scored, what it used."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    task_id: str
    variant: str
    seed: int
    rel_dir: str
    status: RunStatus
    #: the softco run's exit code (0 tests pass, 3 tests fail, 4 budget, ...); None if it never ran
    exit_code: int | None = None
    #: one line: why the run stopped or could not be scored
    error: str = ""
    model: str = ""
    #: MetaGPT's 1-4 scale, computed (softco.eval.score); None: not scored
    executability: int | None = Field(default=None, ge=1, le=4)
    hidden_passed: int = 0
    hidden_total: int = 0
    hidden_failed: list[str] = Field(default_factory=list)
    score_detail: str = ""
    #: softco's own (QA's) tests in the last test report
    own_passed: int = 0
    own_total: int = 0
    fix_rounds: int = 0
    llm_calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: where the token figures came from: the endpoint's report (measured), a recording, or an estimate
    usage: Usage = "none"
    measured_calls: int = 0
    recorded_calls: int = 0
    estimated_calls: int = 0
    #: USD of the measured calls; None: unknown (a model without a price, or estimated usage)
    cost_usd: float | None = None
    #: the softco run's wall time (every resume of it included) and the scoring's
    wall_s: float = 0.0
    score_s: float = 0.0
    lines_of_code: int = 0
    tokens_per_line: float | None = None
    #: the run's own HTML report, relative to the eval's output directory ("" if none)
    report: str = ""
    finished_at: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.task_id}|{self.variant}|{self.seed}"

    @property
    def complete(self) -> bool:
        """Finished: not to be run (nor paid for) again by the next invocation."""
        return self.status == "done"


OnDone = Callable[[RunSpec, RunRecord], None]
OnStart = Callable[[RunSpec], None]


class Backend(Protocol):
    """Runs specs (each with :func:`execute_run` into ``output / spec.rel_dir``, sharing the eval's
    ledger) and calls ``on_done`` in the caller's thread as each finishes, ``on_start`` (if given) as each
    starts. Returns when every spec has a record; a spec not started because the shared budget stopped
    gets a record with status ``not_started``."""

    def run(self, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None = None) -> None: ...


def not_started(spec: RunSpec, why: str) -> RunRecord:
    return RunRecord(
        task_id=spec.task_id,
        variant=spec.variant,
        seed=spec.seed,
        rel_dir=spec.rel_dir,
        status="not_started",
        error=_one_line(why),
        finished_at=time.time(),
    )


def internal_error(spec: RunSpec, exc: BaseException) -> RunRecord:
    """The record of a run that met a bug in softco (an exception no run should raise)."""
    record = not_started(spec, f"internal error: {type(exc).__name__}: {exc} (a bug in softco: please report it)")
    record.status = "error"
    return record


def _one_line(text: str) -> str:
    return " ".join(text.split())[:ERROR_LIMIT]


def _status(exit_code: int) -> RunStatus:
    if exit_code in (EXIT_OK, EXIT_TESTS_FAIL):
        return "done"
    if exit_code == EXIT_BUDGET:
        return "budget"
    if exit_code == EXIT_INTERRUPTED:
        return "interrupted"
    return "error"


def execute_run(spec: RunSpec, project_dir: Path, ledger: Ledger | None = None) -> RunRecord:
    """One softco run of ``spec`` in ``project_dir`` (a new run, the resume of an unfinished one, or
    nothing if it finished), then, if it finished and ``spec.score``, its score. Never raises for what a
    run can go through (errors of the run, the endpoint, the sandbox): the record says so in one line.
    The run's terminal output goes to ``<project_dir>.log``."""
    from softco import sandbox

    project_dir = project_dir.absolute()
    project_dir.parent.mkdir(parents=True, exist_ok=True)
    sandbox.hide([Path(p) for p in spec.hidden_paths])
    record = RunRecord(task_id=spec.task_id, variant=spec.variant, seed=spec.seed, rel_dir=spec.rel_dir, status="error")
    log = project_dir.parent / f"{project_dir.name}.log"
    with log.open("a", encoding="utf-8") as out:
        console = Console(file=out, width=100, highlight=False, soft_wrap=True, no_color=True)
        try:
            code = _generate(spec, project_dir, console, ledger)
            record.exit_code = code
            record.status = _status(code)
        except SoftcoError as exc:
            record.exit_code = exc.exit_code
            record.status = _status(exc.exit_code) if exc.exit_code != EXIT_OK else "error"
            record.error = _one_line(str(exc))
            console.print(f"error: {exc}", markup=False)
    _figures(record, project_dir)
    if record.status == "done" and spec.score:
        started = time.monotonic()
        try:
            _score(record, spec, project_dir)
        except SoftcoError as exc:
            record.status, record.error = "error", _one_line(f"scoring failed: {exc}")
        except sandbox.SandboxError as exc:
            record.status, record.error = "error", _one_line(f"scoring failed: {exc}")
        record.score_s = round(time.monotonic() - started, 3)
    record.finished_at = time.time()
    return record


def _generate(spec: RunSpec, project_dir: Path, console: Console, ledger: Ledger | None) -> int:
    """Start, resume or (finished already) skip the softco run; its exit code."""
    from softco.board import Board, BoardError
    from softco.company.run import NewOptions, RunError, resume, start_new
    from softco.company.scheduler import project_board_path
    from softco.company.workspace import slugify

    board_path = project_board_path(project_dir)
    if board_path.exists():
        try:
            board = Board.open(board_path)
        except BoardError as exc:
            raise RunError(f"{project_dir}: {exc}") from None
        try:
            runs = board.runs()
        finally:
            board.close()
        last = runs[-1] if runs else None
        if last is not None and last.status == "done" and last.exit_code in (EXIT_OK, EXIT_TESTS_FAIL):
            return last.exit_code
        if last is not None:
            return resume(project_dir, console, ledger=ledger)
    if slugify(project_dir.name) != project_dir.name:
        raise RunError(f"{project_dir.name!r} is not a project directory name softco makes (use slugify)")
    if project_dir.exists():
        # a start that died before its first run began: nothing in it was paid for, and it holds only what
        # softco made (the repo and its state); anything else is not ours to delete
        if {p.name for p in project_dir.iterdir()} - {".git", ".softco", ".gitignore"}:
            raise RunError(f"{project_dir} exists and is not a run of this eval: move it away, then run again")
        shutil.rmtree(project_dir)
    opts = NewOptions(
        requirement=spec.requirement,
        name=project_dir.name,
        output=project_dir.parent,
        sop_dir=Path(spec.sop_dir) if spec.sop_dir else None,
        model=spec.model,
        base_url=spec.base_url,
        llm=spec.llm,
        max_fix_rounds=spec.max_fix_rounds,
        concurrency=spec.concurrency,
    )
    return start_new(opts, console, ledger)


def _figures(record: RunRecord, project_dir: Path) -> None:
    """The run's figures from its board (all of its runs: a resumed run counts what every part used)."""
    import sqlite3

    from softco.artifacts import TestReport
    from softco.board import Board, BoardError
    from softco.company.scheduler import project_board_path
    from softco.report.stats import run_stats

    board_path = project_board_path(project_dir)
    if not board_path.exists():
        return
    try:
        board = Board.open(board_path)
    except (BoardError, OSError, sqlite3.Error):
        return
    try:
        stats = run_stats(board)
        runs = board.runs()
        reports = [TestReport.model_validate(m.payload) for m in board.messages("test_report")]
        code = {m.payload["path"]: str(m.payload.get("content", "")) for m in board.messages("code")}
    finally:
        board.close()
    record.model = runs[-1].model if runs else ""
    record.llm_calls, record.cached_calls = stats.llm_calls, stats.cached
    record.prompt_tokens, record.completion_tokens = stats.prompt_tokens, stats.completion_tokens
    record.measured_calls = stats.measured_calls
    record.recorded_calls = stats.recorded_calls
    record.estimated_calls = stats.estimated_calls
    kinds = [
        k
        for k, n in (
            ("measured", stats.measured_calls),
            ("recorded", stats.recorded_calls),
            ("estimated", stats.estimated_calls),
        )
        if n
    ]
    record.usage = "none" if not kinds else kinds[0] if len(kinds) == 1 else "mixed"  # type: ignore[assignment]
    # estimated usage is never priced: with any estimated call the cost is unknown
    record.cost_usd = None if stats.estimated_calls or not stats.llm_calls else stats.cost_usd
    record.wall_s = round(stats.seconds, 3)
    if reports:
        last = reports[-1]
        record.own_passed, record.own_total = last.passed, len(last.results)
        record.fix_rounds = max(r.round for r in reports) - 1
    record.lines_of_code = sum(1 for text in code.values() for line in text.splitlines() if line.strip())
    tokens = record.prompt_tokens + record.completion_tokens
    record.tokens_per_line = round(tokens / record.lines_of_code, 2) if record.lines_of_code else None
    record.report = _write_report(project_dir, record.rel_dir)


def _write_report(project_dir: Path, rel_dir: str) -> str:
    from softco.report.html import write_report
    from softco.report.project import ReportError, load_project

    try:
        path = write_report(load_project(project_dir))
    except (ReportError, OSError):
        return ""
    return f"{rel_dir}/{path.relative_to(project_dir).as_posix()}"


def _score(record: RunRecord, spec: RunSpec, project_dir: Path) -> None:
    from softco.artifacts import Design
    from softco.board import Board
    from softco.company.scheduler import project_board_path
    from softco.eval.score import score_project

    board = Board.open(project_board_path(project_dir))
    try:
        designs = board.messages("design")
    finally:
        board.close()
    try:  # a custom SOP's design kind may differ: what it does not say is left out
        design = Design.model_validate(designs[-1].payload) if designs else None
    except ValueError:
        design = None
    package = spec.package or (design.package if design else "")
    if not package:
        record.executability, record.score_detail = 1, "the run named no package (no design of softco's kind)"
        return
    score = score_project(
        project_dir,
        spec.acceptance,
        package=package,
        entry=spec.entry,
        dependencies=design.dependencies if design else [],
        time_limit_s=spec.time_limit_s,
    )
    record.executability = score.executability
    record.hidden_passed, record.hidden_total = score.hidden_passed, score.hidden_total
    record.hidden_failed = score.hidden_failed
    record.score_detail = score.detail
