"""Starting and resuming runs: from the user's options to a company working on a board."""

from __future__ import annotations

import asyncio
import functools
import math
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from softco import config, warmup
from softco.board import Board, BoardBusy, BoardError, RunRow, StepRow
from softco.company.dryrun import DryRunLLM, DryRunStep
from softco.company.lock import Holder, ProjectLock, holder
from softco.company.scheduler import Company, Outcome, Settings, project_board_path
from softco.company.workspace import Workspace, WorkspaceError, choose_project_dir, slugify, with_git_errors
from softco.dependencies import check_dependencies
from softco.errors import (
    EXIT_BUDGET,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TESTS_FAIL,
    EXIT_USAGE,
    Interrupted,
    SoftcoError,
    UsageError,
)
from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse, Usage
from softco.llm.budget import (
    Budget,
    BudgetedLLM,
    BudgetExceeded,
    Ledger,
    PriceFileError,
    completion_bound,
    counted_usd,
    price_of,
    prices,
    unreported_bound,
)
from softco.llm.cache import CachedLLM, StepCache
from softco.llm.human import HumanLLM, RoutingLLM
from softco.llm.openai import LOCAL_CONCURRENCY, EndpointNotConfigured, OpenAILLM, check_role_endpoints, serves_locally
from softco.llm.providers import ProviderError, default_model, make_llm
from softco.llm.replay import RecordingLLM, ReplayError, check_recording_path, make_header
from softco.llm.tokens import ESTIMATE
from softco.report.costs import format_total_cost
from softco.report.stats import run_stats
from softco.report.terminal import Progress, print_sandbox, print_summary
from softco.safe_text import one_line, safe_line, safe_text
from softco.sop.check import load_checked_sop
from softco.sop.load import Sop, SopError, kinds_for_reading
from softco.sop.prompts import TemplateError
from softco.steps.gates import AutoApprove, Gate
from softco.steps.qa_tools import SandboxUnavailable
from softco.steps.rejected import StepRejected, read_answer_file, rejected_steps
from softco.steps.steering import Live, RunCancelled, SteeredGate

MAX_REQUIREMENT_CHARS = 20_000
#: Model calls and tool steps at once, unless --concurrency says (LOCAL_CONCURRENCY for a local server).
DEFAULT_CONCURRENCY = 16
#: The structured-output mode each endpoint takes, shared by the projects of an output directory.
ENDPOINTS_FILE = "endpoints.json"


class RunError(SoftcoError):
    """A run could not start or had to stop; ``exit_code`` is one of softco.errors' exit codes."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class NewOptions:
    requirement: str
    name: str | None = None
    output: Path | None = None
    sop_dir: Path | None = None
    model: str | None = None
    base_url: str | None = None
    max_fix_rounds: int = 3
    #: None: DEFAULT_CONCURRENCY, or LOCAL_CONCURRENCY for a server on this machine (see :func:`pick_concurrency`)
    concurrency: int | None = None
    llm: str | None = None
    record: Path | None = None
    produced_by: str | None = None
    budget: float | None = None
    token_budget: int | None = None
    approve: list[str] = field(default_factory=list)
    yes: bool = False
    human: list[str] = field(default_factory=list)
    cache: bool = True
    dry_run: bool = False
    #: --structured: schema, json or prompt (None: SOFTCO_STRUCTURED, else negotiated per endpoint)
    structured: str | None = None
    #: --serve / --approve-on-page: gates may be decided on `softco serve`'s page (no terminal needed); not saved
    on_page: bool = False


def _jsonable(opts: NewOptions) -> dict[str, Any]:
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    saved["sop_dir"] = str(opts.sop_dir.resolve()) if opts.sop_dir else None
    saved["record"] = None  # a resumed run does not overwrite the first run's recording
    if opts.base_url is not None:  # a password in the URL is never kept: a resume asks for the URL again
        saved["base_url"] = config.redact_url(opts.base_url)
    saved.pop("on_page")
    return saved


def output_dir(output: Path | None) -> Path:
    return output or config.current().output


def pick_concurrency(opts: NewOptions) -> tuple[int, str | None]:
    """How many calls at once, and a line saying why when softco chose fewer than usual: --concurrency if
    given; for a server on this machine or the local network, which mostly answers one request at a time,
    LOCAL_CONCURRENCY; otherwise DEFAULT_CONCURRENCY."""
    if opts.concurrency is not None:
        return opts.concurrency, None
    url = opts.base_url or config.current().base_url or ""
    if opts.llm in (None, "openai") and not opts.dry_run and url and serves_locally(url):
        return LOCAL_CONCURRENCY, (
            f"concurrency {LOCAL_CONCURRENCY}: {config.redact_url(url)} is a local server, which mostly answers one "
            "request at a time (--concurrency N to change)"
        )
    return DEFAULT_CONCURRENCY, None


def remember_modes(llm: LLM, output: Path) -> None:
    """Let an OpenAI-compatible provider remember what structured output each endpoint takes, in the output
    directory's state (next to the step cache), so the next run does not probe again."""
    if isinstance(llm, OpenAILLM):
        llm.remember_modes_in(output / ".softco" / ENDPOINTS_FILE)


def check_limits(budget: float | None, token_budget: int | None, max_fix_rounds: int = 0, concurrency: int = 1) -> None:
    """The numeric flags, checked before anything is created. A budget is a positive, finite amount: 0 would
    allow no call at all and a negative or NaN one nothing sensible; leave the flag out for no budget."""
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise UsageError(
            f"--budget {budget}: give a positive amount of USD, e.g. --budget 0.50, or leave it out for no budget"
        )
    if token_budget is not None and token_budget <= 0:
        raise UsageError(
            f"--token-budget {token_budget}: give a positive number of tokens, e.g. --token-budget 200000, or "
            "leave it out for no budget"
        )
    if max_fix_rounds < 0:
        raise UsageError(f"--max-fix-rounds {max_fix_rounds}: give 0 or more")
    if concurrency < 1:
        raise UsageError(f"--concurrency {concurrency}: give 1 or more")


def check_environment() -> None:
    """softco's settings (flags, environment, softco.toml: softco.config), checked before anything is created."""
    config.current()  # a setting that is not valid stops here (ConfigError, one line naming its source)
    prices()  # a SOFTCO_PRICES file that is not valid stops here (PriceFileError)


def check_requirement(text: str) -> str:
    text = text.strip()
    if not text:
        raise RunError('the requirement is empty; say what to build, e.g. softco new "a CLI todo app"')
    if len(text) > MAX_REQUIREMENT_CHARS:
        raise RunError(f"the requirement is {len(text)} characters; the limit is {MAX_REQUIREMENT_CHARS}")
    return text


def _provider(
    opts: NewOptions,
    console: Console,
    budget: Budget,
    provider: LLM | None = None,
    role_models: Sequence[str | None] = (),
) -> LLM:
    """The provider: ``provider`` (the dry-run stand-in) or the one --llm names, checked for a price."""

    def warn(msg: str) -> None:
        console.print(Text.assemble(("warning:", "yellow"), " ", safe_text(msg)))

    try:
        llm = provider or make_llm(opts.llm, opts.model, opts.base_url, on_warning=warn, structured=opts.structured)
        models = [llm.model, *(m for m in role_models if m)]
        unpriced = next((m for m in models if price_of(m) is None), None) if budget.max_usd is not None else None
        if unpriced is not None:
            raise RunError(
                f"--budget needs a price, and none is known for model {unpriced!r}: use --token-budget, or "
                "name a JSON file of prices in SOFTCO_PRICES"
            )
    except (EndpointNotConfigured, ProviderError, ReplayError, PriceFileError) as exc:
        raise RunError(str(exc)) from None
    return llm


def _wrap(
    llm: LLM,
    opts: NewOptions,
    sop_hash: str,
    requirement: str,
    budget: Budget,
    project: Path,
    ledger: Ledger | None = None,
) -> LLM:
    """People playing roles first, then the budget check (and a budget shared with other runs), then the
    recording outermost."""
    if opts.human:
        llm = RoutingLLM(llm, {r: HumanLLM(project / ".softco" / "human", sys.stdin.isatty()) for r in opts.human})
    llm = BudgetedLLM(llm, budget, ledger)
    if opts.record is not None:
        produced = opts.produced_by or f"recorded from model {llm.model} via softco {opts.llm or 'openai'}"
        llm = RecordingLLM(llm, opts.record, make_header(sop_hash, llm.model, produced, requirement))
    return llm


def _gate(opts: NewOptions, sop: Sop, console: Console, project: Path, live: Live) -> Gate | None:
    if not opts.approve:
        return None
    kinds = set(opts.approve)
    if opts.yes:
        return AutoApprove(kinds)
    return SteeredGate(kinds, console, project / ".softco" / "edit", live, sys.stdin.isatty())


def _check_people(opts: NewOptions, sop: Sop) -> None:
    """--approve and --human name real kinds and roles, and --approve has a terminal to ask on."""
    unknown = sorted(set(opts.approve) - set(sop.kinds))
    if unknown:
        kinds = ", ".join(sorted(sop.kinds))
        raise RunError(f"--approve {','.join(unknown)}: no such artifact kind; kinds are {kinds}")
    if opts.approve and not opts.yes and not opts.on_page and not sys.stdin.isatty():
        raise RunError(
            "--approve asks on a terminal and stdin is not one; add --yes to approve automatically, or --serve to "
            "decide on the page"
        )
    roles = {r.id for r in sop.roles}
    strangers = sorted(set(opts.human) - roles)
    if strangers:
        raise RunError(f"--human {','.join(strangers)}: no such role; roles are {', '.join(sorted(roles))}")


def step_cache(output: Path, opts: NewOptions, llm: LLM) -> LLM:
    """``llm`` inside the output dir's step cache, unless disabled, recording (which must see every call) or
    free answers (replayed or scripted ones; a person's answers under --human are cached like a model's)."""
    # a step key of "" names no role, so it asks the default provider; people (--human) are cached too
    if not opts.cache or opts.record is not None or (not llm.caches() and not opts.human):
        return llm
    return CachedLLM(llm, StepCache(output / ".softco" / "cache.sqlite"))


def spent(board: Board) -> Budget:
    """What the project's runs spent, as their budgets counted it: measured usage at its price, and for calls an
    endpoint answered without usage figures the bound the budget counted (:func:`unreported`)."""
    rows = board.steps()
    extra_usd, extra_tokens = unreported(board, rows)
    return Budget(
        spent_usd=sum(r.cost_usd or 0.0 for r in rows) + extra_usd,
        spent_tokens=sum(r.prompt_tokens + r.completion_tokens for r in rows if r.status != "cached") + extra_tokens,
    )


def unreported(board: Board | Sequence[RunRow], rows: Sequence[StepRow]) -> tuple[float, int]:
    """(USD, tokens) a run's budget counted beyond the board's figures for the calls a real endpoint answered
    without usage figures: the board keeps their estimate, unpriced; the budget counted their bound
    (softco.llm.budget.unreported_bound) at the model's price. A resume counts them again, or the same budget
    would pay for them twice. ``board`` may be its runs, already read (`softco serve`'s page)."""
    endpoint_runs = {
        r.id: r.model
        for r in (board.runs() if isinstance(board, Board) else board)
        if r.settings.get("llm") in (None, "openai") and not r.settings.get("dry_run")
    }
    usd, tokens = 0.0, 0
    for r in rows:
        if r.usage_source != "estimated" or r.status == "cached" or r.run_id not in endpoint_runs:
            continue
        if r.prompt_tokens + r.completion_tokens == 0:
            continue
        estimate = Usage(prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens)
        try:
            request = LLMRequest.model_validate_json(r.request_json or "")
            response = LLMResponse.model_validate_json(r.response_json or "")
        except ValueError:  # a row this softco cannot read back: its estimate, as the board has it
            bound, requested, answered = estimate, endpoint_runs[r.run_id], ""
        else:  # priced as the budget priced it: the model that answered, else the role's, else the run's
            bound = unreported_bound(request, response.content, estimate)
            requested, answered = request.settings.model or endpoint_runs[r.run_id], response.model
        tokens += bound.total - estimate.total
        usd += counted_usd(requested, answered, bound.prompt_tokens, bound.completion_tokens)
    return usd, tokens


async def _drive(company: Company, llm: LLM, requirement: str | None, live: Live | None) -> Outcome:
    try:
        return await (live.cancellable(company.run(requirement)) if live else company.run(requirement))
    finally:
        await llm.aclose()


def _warm(sop: Sop) -> None:
    """What the steps after the first need the first time (see softco.warmup): the SOP's templates compiled,
    the parser of a design's dependencies imported."""
    for name in sorted(sop.template_names()):
        sop.env.get_template(name)
    check_dependencies(["pytest"])


def execute(
    company: Company, llm: LLM, board: Board, run_id: str, requirement: str | None, live: Live | None = None
) -> Outcome:
    warmup.add("sop", functools.partial(_warm, company.sop))
    try:
        outcome = asyncio.run(_drive(company, llm, requirement, live))
    except RunCancelled:  # from `softco serve`'s page: stopped as on Ctrl-C, between or inside steps
        _finish_quietly(board, run_id, "cancelled", EXIT_INTERRUPTED)
        raise Interrupted(f"cancelled from the page; continue with: softco resume {company.ws.root}") from None
    except KeyboardInterrupt:
        # asyncio.run cancelled the run on Ctrl-C: the steps in flight (and their model calls) were cancelled,
        # what was published is on the board and in git; a second Ctrl-C lands here at once
        _finish_quietly(board, run_id, "interrupted", EXIT_INTERRUPTED)
        raise Interrupted(f"interrupted; continue with: softco resume {company.ws.root}") from None
    except ReplayError as exc:
        board.finish_run(run_id, "stopped", EXIT_USAGE)
        raise RunError(str(exc), EXIT_USAGE) from None
    except BudgetExceeded as exc:
        board.finish_run(run_id, "stopped", EXIT_BUDGET)
        raise RunError(str(exc).replace("DIR", str(company.ws.root)), EXIT_BUDGET) from None
    except StepRejected as exc:  # its message names where the answer is kept and the ways out
        board.finish_run(run_id, "stopped", exc.exit_code)
        raise RunError(str(exc), exc.exit_code) from None
    except WorkspaceError as exc:  # files of a model's answer that the project refuses: nothing was written
        board.finish_run(run_id, "stopped", EXIT_ERROR)
        raise RunError(
            f"{exc}; the run stopped with that answer unwritten: start again with `softco new --no-cache` "
            "(with another model if it recurs)",
            EXIT_ERROR,
        ) from None
    except with_git_errors(OSError, sqlite3.Error) as exc:
        _finish_quietly(board, run_id)
        raise RunError(
            f"writing the project failed ({_describe_io(exc)}); fix that (free disk space, permissions), then "
            f"`softco resume {company.ws.root}`",
            EXIT_ERROR,
        ) from None
    except (LLMError, TemplateError, SandboxUnavailable) as exc:
        board.finish_run(run_id, "stopped", EXIT_ERROR)
        raise RunError(
            f"{exc}; the run stopped: continue it with `softco resume {company.ws.root}`", EXIT_ERROR
        ) from None
    finally:
        if isinstance(llm, CachedLLM):
            llm.cache.close()
    board.finish_run(run_id, "done", outcome.exit_code)
    return outcome


@contextmanager
def _writing(project: Path) -> Iterator[None]:
    """Writes to the board or the repo outside a run: a failure (a full disk) is one line, and resumable."""
    try:
        yield
    except with_git_errors(OSError, sqlite3.Error) as exc:
        raise RunError(
            f"writing the project failed ({_describe_io(exc)}); fix that (free disk space, permissions), then "
            f"`softco resume {project}`",
            EXIT_ERROR,
        ) from None


def open_live(project: Path, board: Board, lock: ProjectLock) -> tuple[str, Live]:
    """A new run's id and the live file `softco serve`'s page shares with it; if that cannot be written (a
    full disk: one line), the board is closed and the project's lock released before the error goes up."""
    run_id = uuid.uuid4().hex[:12]
    try:
        with _writing(project):
            return run_id, Live(project, run_id)
    except RunError:
        board.close()
        lock.release()
        raise


def open_board(path: Path) -> Board:
    """An existing project's board, checked (:meth:`Board.open`): damage is a one-line BoardError, and so is
    an I/O error on the way (an unreadable file, a full disk)."""
    try:
        return Board.open(path)
    except (OSError, sqlite3.Error) as exc:  # after the check passed: setting up WAL, applying migrations
        raise BoardError(
            f"cannot open the board {path} ({_describe_io(exc)}); free disk space or fix its permissions, then "
            "try again"
        ) from None


def _describe_io(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


def _finish_quietly(board: Board, run_id: str, status: str = "stopped", exit_code: int = EXIT_ERROR) -> None:
    """Mark the run stopped if the board can still be written (it may be the full disk that failed)."""
    try:
        board.finish_run(run_id, status, exit_code)
    except sqlite3.Error:
        pass


def checked_sop(opts: NewOptions) -> Sop:
    """The SOP, checked as `softco sop validate` does (every problem on its own line), and its endpoints. A SOP
    this softco found clean before is not checked again (noted in the per-user cache, softco.config.cache_home)."""
    try:
        sop = load_checked_sop(opts.sop_dir, config.cache_home())
    except SopError as exc:
        if not exc.problems:
            raise RunError(str(exc)) from None
        where = opts.sop_dir or "the default SOP"
        head = f"{len(exc.problems)} problem(s) in {where}; nothing was run:"
        err = RunError(f"{head}\n{exc}")
        err.lines = (head, *exc.lines)
        raise err from None
    if opts.llm in (None, "openai") and not opts.dry_run:
        try:
            check_role_endpoints([r.model for r in sop.roles])
        except EndpointNotConfigured as exc:
            raise RunError(str(exc)) from None
    return sop


def answer_bounds(sop: Sop) -> dict[str, int]:
    """Role id -> the longest answer its calls may get (its max_tokens, or the default; sent as max_tokens)."""
    return {r.id: completion_bound(r.model) for r in sop.roles}


def dry_run_llm(opts: NewOptions, console: Console, sop: Sop) -> DryRunLLM | None:
    """For --dry-run: the placeholder stand-in, printing each step as it is asked."""
    if not opts.dry_run:
        return None
    if opts.llm not in (None, "openai"):
        raise RunError("--dry-run answers every step with placeholders; leave out --llm")
    bounds = answer_bounds(sop)

    def on_step(s: DryRunStep) -> None:
        where = f" -> {s.prompt_file.name}" if s.prompt_file else ""
        bound = bounds.get(s.key.split("/", 1)[0])
        answer = f", answer at most {bound:,} tokens (max_tokens)" if bound else ""
        n, how = s.prompt_tokens, s.token_method
        counted = f"~{n:,} prompt tokens (estimate)" if how == ESTIMATE else f"{n:,} prompt tokens ({how})"
        line = f"  dry run: {s.key}: {s.prompt_chars:,} chars, {counted}{answer}"
        console.print(safe_line(line + where, limit=400))

    url = opts.base_url or config.current().base_url  # a model's name tells its tokenizer only on OpenAI's
    return DryRunLLM(opts.model or default_model(), on_step=on_step, base_url=url)


def print_dry_run(console: Console, dry: DryRunLLM, sop: Sop) -> None:
    tokens = sum(s.prompt_tokens for s in dry.steps)
    bounds = answer_bounds(sop)
    longest = sum(bounds.get(s.key.split("/", 1)[0], 0) for s in dry.steps)
    methods = {s.token_method for s in dry.steps}
    how = (
        f"{tokens:,} prompt tokens in all (counted with {methods.pop()}; the chat framing adds a few a message)"
        if len(methods) == 1 and ESTIMATE not in methods
        else f"~{tokens:,} prompt tokens in all (an estimate at 4 characters a token: no tokenizer for this model here)"
    )
    console.print(
        safe_text(
            f"dry run: {len(dry.steps)} LLM steps, {how} and answers of at most {longest:,} tokens in all (each "
            "role's max_tokens); "
            f"no model was called and nothing was spent. The rendered prompts are in {dry.prompts_dir}"
        )
    )


def takes_checkpoints(ledger: Ledger | None) -> bool:
    """Whether a shared ledger takes the project's state before every call (a Ray worker's, so that another
    worker can resume the run: softco.eval.ray_backend), which must then hold every artifact's commit."""
    return bool(getattr(ledger, "takes_checkpoints", False))


def start_new(opts: NewOptions, console: Console, ledger: Ledger | None = None) -> int:
    concurrency, why = pick_concurrency(opts)
    opts.concurrency = concurrency  # saved with the run: a resume keeps it
    check_limits(opts.budget, opts.token_budget, opts.max_fix_rounds, concurrency)
    check_environment()
    if opts.record is not None:
        check_recording_path(opts.record)
    requirement = check_requirement(opts.requirement)
    sop = checked_sop(opts)
    _check_people(opts, sop)
    out = output_dir(opts.output).absolute()
    dry = dry_run_llm(opts, console, sop)
    budget = Budget(opts.budget, opts.token_budget)
    base = _provider(opts, console, budget, dry, [r.model.model for r in sop.roles])
    lock: ProjectLock | None = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        slug = slugify(requirement, 32) + "-dry-run" if dry and not opts.name else slugify(opts.name or requirement)
        project = choose_project_dir(out, slug)
        ws = Workspace.create(project)
        lock = ProjectLock(project)
        lock.acquire()
        board = Board(project_board_path(project))
    except with_git_errors(WorkspaceError, OSError, sqlite3.Error) as exc:
        if lock is not None:
            lock.release()
        raise RunError(f"cannot create the project under {out}: {_describe_io(exc)}") from None
    if dry is not None:
        dry.prompts_dir = project / ".softco" / "prompts"
    remember_modes(base, out)
    llm = step_cache(out, opts, _wrap(base, opts, sop.sop_hash, requirement, budget, project, ledger))
    run_id, live = open_live(project, board, lock)
    settings = Settings(
        max_fix_rounds=opts.max_fix_rounds,
        concurrency=concurrency,
        gate=_gate(opts, sop, console, project, live),
        defer_commits=not takes_checkpoints(ledger),
    )
    saved = _jsonable(opts)
    try:
        with _writing(project):
            board.start_run(run_id, requirement, sop.sop_hash, llm.model or default_model(), saved)
    except RunError:
        live.close()
        board.close()
        lock.release()
        raise
    head = safe_text(f" (run {run_id}, model {llm.model})")
    console.print(Text.assemble("softco: building ", safe_text(project, "bold"), head))
    if why is not None:
        console.print(safe_text(why))
    print_sandbox(console)
    progress = Progress(console, budget)
    company = Company(sop, llm, board, ws, run_id, settings, on_event=live.tee(progress.on_event))
    progress.watch(company)
    try:
        outcome = execute(company, llm, board, run_id, requirement, live)
        print_summary(console, project, outcome, run_stats(board, run_id), run_stats(board))
        if dry is not None:
            print_dry_run(console, dry, sop)
        return outcome.exit_code
    finally:
        live.close()
        board.close()
        lock.release()


def run_status(run: RunRow | None, live: Holder | None) -> str:
    """What a project's last run is now: live (its lock is held), or how it ended; a run the board still
    calls running whose lock nobody holds was killed."""
    if live is not None:
        return f"running (pid {live.pid if live.pid is not None else '?'})"
    if run is None:
        return "no run"
    if run.status in ("running", "killed"):
        return "killed"
    if run.status in ("interrupted", "cancelled"):
        return run.status
    meaning = {
        EXIT_OK: "done",
        EXIT_TESTS_FAIL: "done, tests fail",
        EXIT_BUDGET: "budget",
        EXIT_ERROR: "failed",
        EXIT_USAGE: "stopped",
    }
    return meaning.get(run.exit_code if run.exit_code is not None else -1, f"{run.status} (exit {run.exit_code})")


def project_runs(out: Path) -> list[tuple[str, str, str, str, str]]:
    """`softco runs`: (project, when its last run started, status, cost, requirement) per project."""

    def has_board(p: Path) -> bool:
        board = project_board_path(p)
        return board.exists() or board.is_symlink()

    found = sorted(p for p in out.iterdir() if has_board(p)) if out.is_dir() else []
    rows = []
    for p in found:
        try:
            board = Board.open(project_board_path(p))  # checked: a damaged board is a row saying so
            try:
                runs = board.runs()
                board.check_messages(*kinds_for_reading([r.settings.get("sop_dir") for r in runs]))
                cost = format_total_cost(run_stats(board))
            finally:
                board.close()
        except BoardError as exc:
            what = "board locked by another program" if isinstance(exc, BoardBusy) else "damaged board"
            rows.append((one_line(p.name, 60), "?", f"{what} (`softco show` says why)", "?", ""))
            continue
        except (OSError, sqlite3.Error) as exc:
            rows.append((one_line(p.name, 60), "?", f"unreadable board: {one_line(str(exc), 60)}", "?", ""))
            continue
        last = runs[-1] if runs else None
        started = datetime.fromtimestamp(last.started_at).strftime("%Y-%m-%d %H:%M") if last else "-"
        requirement = one_line(" ".join(last.requirement.split()), 60) if last else ""
        rows.append((one_line(p.name, 60), started, run_status(last, holder(p)), cost, requirement))
    return rows


STAGES = ("prd", "design", "code", "tests")


@dataclass
class Revision:
    """`softco revise`: redo ``stage`` with ``feedback``, then everything downstream, on a new branch."""

    feedback: str
    stage: str


@dataclass
class Takeover:
    """`softco resume` options that change who answers from there on: the ways out of a step whose
    answers kept failing validation (softco/steps/rejected.py)."""

    model: str | None = None
    base_url: str | None = None
    #: roles a person plays in this resume (added to those `softco new --human` gave)
    human: list[str] = field(default_factory=list)
    #: "STEP=FILE": that step's answer is read from FILE (validated like a model's) instead of asked
    answers: list[str] = field(default_factory=list)
    #: --approve-on-page: gates may be decided on `softco serve`'s page
    on_page: bool = False

    def apply(self, opts: NewOptions) -> None:
        opts.on_page = self.on_page
        if self.model is not None:
            opts.model = self.model
        if self.base_url is not None:
            opts.base_url = self.base_url
            opts.llm = None  # an endpoint URL means the OpenAI-compatible provider, whatever answered before
        opts.human = sorted({*opts.human, *self.human})

    def answer_files(self) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for spec in self.answers:
            key, eq, name = spec.partition("=")
            key = key.strip()
            if not eq or key.count("/") < 2 or not name.strip():
                raise RunError(
                    f"--answer {spec!r}: give STEP=FILE, e.g. --answer architect/write_design/project=answer.json"
                )
            path = Path(name.strip()).absolute()
            try:
                read_answer_file(path)
            except ValueError as exc:
                raise RunError(f"--answer {key}: {exc}") from None
            files[key] = path
        return files


def resume(
    project: Path,
    console: Console,
    budget: float | None = None,
    token_budget: int | None = None,
    takeover: Takeover | None = None,
    ledger: Ledger | None = None,
) -> int:
    """Continue the last run of a project: finished steps are not redone."""
    check_limits(budget, token_budget)
    return _continue(project, console, budget, token_budget, None, takeover, ledger)


def revise(project: Path, console: Console, revision: Revision) -> int:
    """Redo one stage with feedback on a new git branch `revise/<n>`; what it does not touch is reused."""
    if revision.stage not in STAGES:
        raise RunError(f"--stage {revision.stage!r}: choose one of {', '.join(STAGES)}")
    if not revision.feedback.strip():
        raise RunError("--feedback is empty; say what to change")
    return _continue(project, console, None, None, revision)


def _continue(
    project: Path,
    console: Console,
    budget: float | None,
    token_budget: int | None,
    revision: Revision | None,
    takeover: Takeover | None = None,
    ledger: Ledger | None = None,
) -> int:
    check_environment()
    project = project.absolute()
    board_path = project_board_path(project)
    if not board_path.exists() and not board_path.is_symlink():
        raise RunError(f"{project} is not a softco project (no {board_path.relative_to(project)})")
    lock = ProjectLock(project)
    try:
        lock.acquire()
    except OSError as exc:
        raise RunError(f"cannot lock {project}: {_describe_io(exc)}") from None
    try:
        board = open_board(board_path)  # checked before anything is written to it (a BoardError says what is wrong)
    except BaseException:
        lock.release()
        raise
    ws: Workspace | None = None
    try:
        with _writing(project):  # the board's first writes: a full disk is one line, and resumable
            board.close_dead_runs()  # we hold the lock: a run still marked running died without saying so
        runs = board.runs()
        if not runs:
            raise RunError(
                f"{project}: the board has no run to resume (the first never started); start again with `softco new`"
            )
        last = runs[-1]
        saved = last.settings
        known = {f.name for f in fields(NewOptions)}
        opts = NewOptions(
            **{
                **{k: v for k, v in saved.items() if k in known},
                "record": None,
                "output": None,
                "sop_dir": Path(saved["sop_dir"]) if saved.get("sop_dir") else None,
            }
        )
        takeover = takeover or Takeover()
        extra: dict[str, Any] = {"human": list(opts.human)}  # --human on resume is for this resume only
        takeover.apply(opts)
        if config.is_redacted(opts.base_url):
            raise RunError(
                f"the run's endpoint {opts.base_url} held a password, which softco does not keep: give the URL "
                f"again, softco resume {project} --base-url URL"
            )
        answers = takeover.answer_files()
        sop = checked_sop(opts)
        board.check_messages(sop.kinds)  # every payload fits its kind, before a role reads one
        _check_people(opts, sop)
        roles = {r.id for r in sop.roles}
        for key in answers:
            role = key.split("/", 1)[0]
            if role not in roles:
                raise RunError(f"--answer {key}: no role {role!r}; roles are {', '.join(sorted(roles))}")
        if budget is not None:
            opts.budget = budget
        if token_budget is not None:
            opts.token_budget = token_budget
        check_limits(opts.budget, opts.token_budget, opts.max_fix_rounds, pick_concurrency(opts)[0])  # saved ones too
        lineage = [(str(b), below) for b, below in saved.get("lineage", [["main", None]])]
        changes: dict[str, str] = dict(saved.get("revise", {}))
        branch = last.branch
        ws = Workspace(project)
        for left in ws.clear_stale_locks():  # a run killed mid-commit left git's lock: resume finishes that commit
            console.print(safe_text(f"removed {left}, left by a run killed while it committed"))
        from softco.change.summary import change_of, print_change_summary  # a change run's; `new` needs none

        change = change_of(saved)
        if revision is not None:
            with _writing(project):  # a change run's revision branches off its own branch, in the user's repo
                prefix = f"{change.branch}-revise-" if change is not None else "revise/"
                lineage, branch = _branch_for(board, ws, sop, lineage, revision, prefix)
            changes = {revision.stage: revision.feedback}
        if answers:
            probe = Company(sop, None, board, ws, "", Settings(lineage=lineage))
            done = sorted(k for k in answers if k in probe.finished)
            if done:
                raise RunError(f"--answer {done[0]}: that step is done already; only a step still to run takes one")
        limits = spent(board)
        limits.max_usd, limits.max_tokens = opts.budget, opts.token_budget
        dry = dry_run_llm(opts, console, sop)
        if dry is not None:
            dry.prompts_dir = project / ".softco" / "prompts"
        base = _provider(opts, console, limits, dry, [r.model.model for r in sop.roles])
        remember_modes(base, project.parent)
        llm = step_cache(
            project.parent, opts, _wrap(base, opts, sop.sop_hash, last.requirement, limits, project, ledger)
        )
        run_id = uuid.uuid4().hex[:12]
        extra.update(lineage=lineage, revise=changes)
        with _writing(project):
            board.start_run(
                run_id, last.requirement, sop.sop_hash, llm.model, {**saved, **_jsonable(opts), **extra}, branch=branch
            )
        with _writing(project):
            live = Live(project, run_id)
        settings = Settings(
            max_fix_rounds=opts.max_fix_rounds,
            concurrency=pick_concurrency(opts)[0],
            gate=_gate(opts, sop, console, project, live),
            lineage=lineage,
            revise=changes,
            answers=answers,
            change=change,
            defer_commits=not takes_checkpoints(ledger),
        )
        progress = Progress(console, limits)
        company = Company(sop, llm, board, ws, run_id, settings, on_event=live.tee(progress.on_event))
        progress.watch(company)
        verb = f"revising {revision.stage} of" if revision else "resuming"
        head = safe_text(f" (run {run_id}, branch {branch})")
        console.print(Text.assemble(f"softco: {verb} ", safe_text(project, "bold"), head))
        _note_rejected(console, project, company.finished | set(answers), opts.human)
        print_sandbox(console)
        try:
            outcome = execute(company, llm, board, run_id, None, live)
        finally:
            live.close()
        for key in sorted(set(answers) - company.finished):
            warning = f" --answer {key} was not used: no step of that key ran"
            console.print(Text.assemble(("warning:", "yellow"), safe_line(warning, limit=400)))
        print_summary(console, project, outcome, run_stats(board, run_id), run_stats(board))
        if change is not None:
            print_change_summary(console, change, outcome)
        return outcome.exit_code
    finally:
        if ws is not None:
            ws.repo.close()  # its git processes end now, not when the collector gets to it
        board.close()
        lock.release()


def _note_rejected(console: Console, project: Path, handled: set[str], humans: list[str]) -> None:
    """Say which steps ended rejected last time and are asked again as they were, and the other ways."""
    for key, answer in rejected_steps(project):
        if key in handled or key.split("/", 1)[0] in humans:
            continue
        note = (
            f"note: the answers to step {key} were rejected last time and it is asked again; to use its last answer "
            f"fixed instead, edit {answer} and resume with --answer {key}={answer} (or --model/--base-url for "
            f"another model, --human {key.split('/', 1)[0]} to answer it yourself)"
        )
        console.print(safe_line(note, limit=1000))


def _branch_for(
    board: Board,
    ws: Workspace,
    sop: Sop,
    lineage: list[tuple[str, int | None]],
    revision: Revision,
    prefix: str = "revise/",
) -> tuple[list[tuple[str, int | None]], str]:
    """Where a revision starts: the first message of the stage in the current lineage; a new git branch."""
    probe = Company(sop, None, board, ws, "", Settings(lineage=lineage))
    base = next((m.id for m in probe.view.messages if m.kind == revision.stage), None)
    if base is None:
        raise RunError(f"this project has no {revision.stage} yet; finish the run first with `softco resume`")
    if ws.repo.is_dirty(untracked_files=True):
        raise RunError(f"{ws.root} has uncommitted changes; commit or stash them before `softco revise`")
    existing = {h.name for h in ws.repo.heads}
    n = next(i for i in range(1, 10_000) if f"{prefix}{i}" not in existing)
    branch = f"{prefix}{n}"
    # the repo's hooks (a change run's worktree shares the user's) do not run on what a model wrote
    ws.repo.git.execute(["git", "-c", f"core.hooksPath={os.devnull}", "checkout", "-b", branch])
    current, _ = lineage[-1]
    return [*lineage[:-1], (current, base), (branch, None)], branch
