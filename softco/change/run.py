"""`softco change REPO "REQUIREMENT"`: from the user's options to a company working in a worktree."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import git
from rich.console import Console
from rich.text import Text

from softco.board import Board
from softco.change.mode import ChangeMode
from softco.change.repo import (
    BaseRepo,
    add_worktree,
    detect_dependencies,
    open_repo,
    pick_branch,
    scratch_clone,
    src_layout,
)
from softco.change.summary import SAVED_KEY, print_change_summary
from softco.company.lock import ProjectLock
from softco.company.run import (
    NewOptions,
    RunError,
    _check_people,
    _describe_io,
    _gate,
    _jsonable,
    _provider,
    _wrap,
    _writing,
    check_environment,
    check_limits,
    check_requirement,
    checked_sop,
    dry_run_llm,
    execute,
    open_live,
    pick_concurrency,
    print_dry_run,
    remember_modes,
    step_cache,
)
from softco.company.scheduler import Company, Settings, project_board_path
from softco.company.workspace import Workspace, WorkspaceError, slugify
from softco.errors import EXIT_USAGE
from softco.llm.budget import Budget
from softco.report.stats import run_stats
from softco.report.terminal import Progress, print_sandbox, print_summary
from softco.safe_text import safe_line, safe_text
from softco.steps.qa_tools import SandboxUnavailable, TestRun


def start_change(repo_path: Path, opts: NewOptions, console: Console) -> int:
    """Run the company on an existing repo, in a worktree on a new branch; the user's checkout is never touched."""
    concurrency, why = pick_concurrency(opts)
    opts.concurrency = concurrency
    check_limits(opts.budget, opts.token_budget, opts.max_fix_rounds, concurrency)
    check_environment()
    requirement = check_requirement(opts.requirement)
    base = open_repo(repo_path)
    sop = checked_sop(opts)
    _check_people(opts, sop)
    dry = dry_run_llm(opts, console, sop)
    budget = Budget(opts.budget, opts.token_budget)
    provider = _provider(opts, console, budget, dry, [r.model.model for r in sop.roles])
    slug = slugify(opts.name or requirement, 32)
    # a dry run leaves the repo as it is: it works in a scratch clone of the base commit, in a temporary folder
    scratch = Path(tempfile.mkdtemp(prefix="softco-change-dry-run-")) if dry is not None else None
    state = scratch if scratch is not None else base.state_dir()
    lock: ProjectLock | None = None
    try:
        branch = pick_branch(base, slug)
        if scratch is not None:
            worktree = scratch_clone(base, branch, scratch / branch.removeprefix("softco/"))
        else:
            worktree = add_worktree(base, branch)
        ws = Workspace(worktree)
        (worktree / ".softco").mkdir(exist_ok=True)
        (worktree / ".softco" / ".gitignore").write_text("*\n")  # softco's state: never part of the worktree's status
        lock = ProjectLock(worktree)
        lock.acquire()
        board = Board(project_board_path(worktree))
    except (WorkspaceError, OSError, sqlite3.Error, git.GitError) as exc:
        if lock is not None:
            lock.release()
        raise RunError(f"cannot make the worktree under {state}: {_describe_io(exc)}") from None
    mode = _mode(base, worktree, branch)
    mode.map  # noqa: B018 - read the repo now, before any step runs in a thread
    if dry is not None:
        dry.prompts_dir = worktree / ".softco" / "prompts"
    remember_modes(provider, state)
    llm = step_cache(state, opts, _wrap(provider, opts, sop.sop_hash, requirement, budget, worktree))
    run_id, live = open_live(worktree, board, lock)
    settings = Settings(
        max_fix_rounds=opts.max_fix_rounds,
        concurrency=concurrency,
        gate=_gate(opts, sop, console, worktree, live),
        change=mode,
    )
    saved = {**_jsonable(opts), SAVED_KEY: mode.saved()}
    try:
        with _writing(worktree):
            board.start_run(run_id, requirement, sop.sop_hash, llm.model, saved)
        head = f" ({base.branch} at {base.sha[:8]}) on the new branch {branch} (run {run_id}, model {llm.model})"
        console.print(Text.assemble("softco: changing ", safe_text(base.root, "bold"), safe_text(head)))
        where = "a scratch clone (dry run): your repo is not touched" if scratch else "your checkout is not touched"
        console.print(safe_line(f"  worktree {worktree}: {where}", limit=400))
        if why is not None:
            console.print(safe_text(why))
        print_sandbox(console)
        if dry is None:
            _baseline(console, mode, settings)
        progress = Progress(console, budget)
        company = Company(sop, llm, board, ws, run_id, settings, on_event=live.tee(progress.on_event))
        progress.watch(company)
        outcome = execute(company, llm, board, run_id, requirement, live)
        print_summary(console, worktree, outcome, run_stats(board, run_id), run_stats(board))
        print_change_summary(console, mode, outcome, scratch=scratch is not None)
        if dry is not None:
            print_dry_run(console, dry, sop)
        return outcome.exit_code
    finally:
        live.close()
        ws.repo.close()  # its git processes end now, not when the collector gets to it
        board.close()
        lock.release()


def _mode(base: BaseRepo, worktree: Path, branch: str) -> ChangeMode:
    deps, skipped = detect_dependencies(worktree, base.files)
    return ChangeMode(
        repo=str(base.root),
        worktree=str(worktree),
        base_branch=base.branch,
        base_sha=base.sha,
        branch=branch,
        slug=branch.removeprefix("softco/"),
        files=base.files,
        dependencies=deps,
        skipped_dependencies=skipped,
        src_layout=src_layout(base.files),
    )


def _baseline(console: Console, mode: ChangeMode, settings: Settings) -> None:
    """The repo's own tests at the base commit, in the sandbox: what a regression is measured against."""
    if not mode.existing_tests:
        console.print(safe_text("  the repo has no tests of its own (test_*.py, *_test.py): no regression check"))
        mode.record_baseline(TestRun(mode.root, {}, 1, [], settings.limits))
        return
    try:
        outcomes = mode.record_baseline(TestRun(mode.root, {}, 1, [], settings.limits))
    except SandboxUnavailable as exc:
        raise RunError(f"{exc}; the repo's own tests could not run", EXIT_USAGE) from None
    passed = sum(o == "passed" for o in outcomes.values())
    line = (
        f"  baseline: the repo's own tests at {mode.base_sha[:8]}: {passed} of {len(outcomes)} pass "
        f"({len(mode.existing_tests)} file(s)); a test that passes there and fails after the change is a regression"
    )
    console.print(safe_line(line, limit=400))
