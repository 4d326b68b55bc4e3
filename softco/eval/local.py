"""The local backend: runs on this machine, ``--jobs`` at a time.

With ``--jobs 1`` the runs go one after the other in this process. With more, each run goes to a
worker process (forked from a fork server, with the driver's environment); several softco runs cannot
share one process, since GitPython changes the process's working directory while it adds files to a
repo's index. The eval's ledger then lives in a manager process that every worker calls (reserve /
settle per model call), so the budget holds across all of them.

The first ``--jobs`` runs start one at a time: each waits (at most :data:`RAMP_MAX_S`) until the run
started before it has made its first model call (or a run has finished). A run's start-up (checking the
SOP, making the repo and its first prompt) is all CPU; eight started at once burn it together on a small
machine, then wait on the model together, then run their tests together, and stay in step for the whole
eval. Started apart, one run's CPU work overlaps the others' model waits.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

from softco import config
from softco.eval.spec import OnDone, OnStart, RunRecord, RunSpec, execute_run, internal_error, not_started
from softco.llm.budget import Budget, Grant, Ledger, SharedLedger

INTERRUPTED = "interrupted (Ctrl-C): run the same command again to continue"
#: The longest a run waits to start for the run started before it to reach its first model call.
RAMP_MAX_S = 2.0
#: How often the driver looks whether that call was made while it waits.
RAMP_POLL_S = 0.02


class _LedgerManager(SyncManager):
    """The eval's ledger (and the start-up events of the first runs) in a manager process."""


_LedgerManager.register("SharedLedger", SharedLedger, exposed=("reserve", "settle", "stop", "stop_reason", "spent"))


def _ignore_sigint() -> None:
    """Workers and the ledger's manager leave Ctrl-C to the driver, which stops them through the ledger."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_one(spec: RunSpec, output: Path, ledger: Ledger | None) -> RunRecord:
    try:
        return execute_run(spec, output / spec.rel_dir, ledger)
    except Exception as exc:  # a bug in softco: this run's record says so, the other runs go on
        return internal_error(spec, exc)


class _Announcing:
    """The eval's ledger, which also sets ``called`` at the run's first reservation (its first model call)."""

    def __init__(self, inner: Ledger, called: Any) -> None:
        self.inner = inner
        self.called = called

    def reserve(self, tokens: int, usd: float | None) -> Grant:
        if self.called is not None:
            self.called.set()
            self.called = None
        return self.inner.reserve(tokens, usd)

    def settle(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None:
        self.inner.settle(tokens, usd, used_tokens, used_usd)


def _run_in_worker(
    spec: RunSpec,
    output: Path,
    ledger: Ledger,
    environ: dict[str, str],
    cwd: str,
    settings: config.Config,
    called: Any = None,
) -> RunRecord:
    """A worker forked from the fork server, which started with the environment of the first eval of this
    process: each run takes the driver's own environment, working directory and settings (the command's
    flags over the environment over the softco.toml its --output found, not the working directory's).
    ``called`` (an event of the manager, or None) is set when the run makes its first model call."""
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)
    os.chdir(cwd)
    with config.using(settings):
        return _run_one(spec, output, _Announcing(ledger, called) if called is not None else ledger)


def _ramp(previous: Any, running: dict[Future[RunRecord], RunSpec]) -> None:
    """Wait until the run started last made its first model call (``previous`` set), a run finished, or
    :data:`RAMP_MAX_S` passed."""
    deadline = time.monotonic() + RAMP_MAX_S
    while not previous.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        done, _ = wait(running, timeout=min(RAMP_POLL_S, left), return_when=FIRST_COMPLETED)
        if done:
            return


def _context() -> multiprocessing.context.ForkServerContext:
    """Workers forked from a fork server that imported softco's run machinery and filled its caches once
    (softco/eval/warmed.py): no thread of the driver is forked, and no worker pays for them again."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["softco.eval.warmed", "softco.eval.local"])
    return ctx


def start_fork_server() -> None:
    """Start the fork server now (it imports and warms in the background): `softco eval --jobs N` calls it
    as soon as its options are checked, so that its start-up overlaps the driver's own (the suite, the
    results so far), not the first run's."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


class LocalBackend:
    def __init__(self, output: Path, ledger: SharedLedger, jobs: int = 1) -> None:
        self.output = output
        self.ledger = ledger
        self.jobs = max(1, jobs)

    def run(self, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None = None) -> None:
        if self.jobs == 1:
            self._in_process(specs, on_done, on_start)
        else:
            self._in_workers(specs, on_done, on_start)

    def _in_process(self, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None) -> None:
        for spec in specs:
            why = self.ledger.stop_reason()
            if why is not None:
                on_done(spec, not_started(spec, why))
                continue
            if on_start is not None:
                on_start(spec)
            record = _run_one(spec, self.output, self.ledger)
            if record.status == "interrupted":
                self.ledger.stop(INTERRUPTED)
            on_done(spec, record)

    def _in_workers(self, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None) -> None:
        ctx = _context()
        manager = _LedgerManager(ctx=ctx)
        manager.start(_ignore_sigint)
        try:
            b = self.ledger.budget
            shared: Any = manager.SharedLedger(  # type: ignore[attr-defined]
                Budget(max_usd=b.max_usd, max_tokens=b.max_tokens, spent_usd=b.spent_usd, spent_tokens=b.spent_tokens),
                self.ledger.hint,
            )
            queue = list(specs)
            settings = config.current()
            running: dict[Future[RunRecord], RunSpec] = {}
            ramping = True  # until the first --jobs runs are started, or one finished
            previous: Any = None  # the event the run started last sets at its first model call
            with ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_ignore_sigint) as pool:
                try:
                    # the fork server's start (its imports and warm-up) is not a run's start-up: wait for it
                    # before the first run, so that RAMP_MAX_S counts a run's start-up only
                    pool.submit(os.getpid).result()
                    while queue or running:
                        while queue and len(running) < self.jobs:
                            if ramping and previous is not None and running:
                                _ramp(previous, running)
                                if any(f.done() for f in running):
                                    ramping = False
                                    break
                            spec = queue.pop(0)
                            why = shared.stop_reason()
                            if why is not None:
                                on_done(spec, not_started(spec, why))
                                continue
                            if on_start is not None:
                                on_start(spec)
                            previous = manager.Event() if ramping else None
                            job = pool.submit(
                                _run_in_worker,
                                spec,
                                self.output,
                                shared,
                                dict(os.environ),
                                os.getcwd(),
                                settings,
                                previous,
                            )
                            running[job] = spec
                            ramping = ramping and len(running) < self.jobs
                        if running:
                            finished, _ = wait(running, return_when=FIRST_COMPLETED)
                            ramping = False
                            for future in finished:
                                spec = running.pop(future)
                                on_done(spec, self._result(spec, future))
                except KeyboardInterrupt:
                    # every worker stops before its next model call; the runs in flight end resumable
                    shared.stop(INTERRUPTED)
                    self.ledger.stop(INTERRUPTED)
                    for spec in queue:
                        on_done(spec, not_started(spec, INTERRUPTED))
                    for future, spec in running.items():
                        record = self._result(spec, future)
                        on_done(
                            spec,
                            record.model_copy(update={"status": "interrupted"})
                            if record.status == "budget"
                            else record,
                        )
                    raise
            spent_usd, spent_tokens = shared.spent()
            b.spent_usd, b.spent_tokens = spent_usd, spent_tokens
            why = shared.stop_reason()
            if why is not None:
                self.ledger.stop(why)
        finally:
            manager.shutdown()

    @staticmethod
    def _result(spec: RunSpec, future: Future[RunRecord]) -> RunRecord:
        try:
            return future.result()
        except BrokenProcessPool as exc:  # a worker died (killed, out of memory): its project is resumable
            record = internal_error(spec, exc)
            record.error = f"the worker process running it died ({exc}); run the same command again to resume it"
            return record
