"""The local backend: runs on this machine, ``--jobs`` at a time.

With ``--jobs 1`` the runs go one after the other in this process. With more, each run goes to a
worker process (forked from a fork server, with the driver's environment); several softco runs cannot
share one process, since GitPython changes the process's working directory while it adds files to a
repo's index. The eval's ledger then lives in a manager process that every worker calls (reserve /
settle per model call), so the budget holds across all of them.

Where ``--jobs``, and the runs to do, are more than the machine's CPUs, the first runs are paced: each
starts once the run started before it has had its first answer from the model, has ended, or has run
for :data:`PACE_MAX_S`. Runs started together stay in step for the whole eval: they wait on the model
together while the CPUs idle, then run their tests, commit and score together, eight processes
time-sharing two CPUs, and end together, so that the next ones start together too. Started one answer
apart, one run's CPU work overlaps the others' model waits, and runs end, and the next ones start,
apart. Pacing ends once ``--jobs`` runs are started or a run that had an answer has ended (one that
ended before, having finished earlier or failed at its start, says nothing about the others); then
runs start as others end: pacing every start would cap the eval at one start an answer's time. With no
more jobs than CPUs every run has a CPU, and all start at once. A worker that dies breaks the pool: the
runs it was running and the runs not started yet end as errors, which the next invocation runs again.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

from softco import config
from softco.eval import forkserver
from softco.eval.spec import OnDone, OnStart, RunRecord, RunSpec, execute_run, internal_error, not_started
from softco.llm.budget import Budget, Grant, Ledger, SharedLedger

INTERRUPTED = "interrupted (Ctrl-C): run the same command again to continue"
WORKER_DIED = (
    "not started: a worker process died (killed, or out of memory) and the others stopped with it; "
    "run the same command again to run it"
)
#: The longest a run waits to start for the run started before it to have its first answer.
PACE_MAX_S = 2.0
#: How often the driver looks whether that answer came while it waits.
PACE_POLL_S = 0.02


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
    """The eval's ledger, which also sets ``answered`` when the run's first model call is settled (its answer
    came, or the call failed)."""

    def __init__(self, inner: Ledger, answered: Any) -> None:
        self.inner = inner
        self.answered = answered

    def reserve(self, tokens: int, usd: float | None) -> Grant:
        return self.inner.reserve(tokens, usd)

    def settle(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None:
        self.inner.settle(tokens, usd, used_tokens, used_usd)
        if self.answered is not None:
            self.answered.set()
            self.answered = None


def _run_in_worker(
    spec: RunSpec,
    output: Path,
    ledger: Ledger,
    environ: dict[str, str],
    cwd: str,
    settings: config.Config,
    answered: Any = None,
) -> RunRecord:
    """A worker forked from the fork server, which started with the environment of the first eval of this
    process: each run takes the driver's own environment, working directory and settings (the command's
    flags over the environment over the softco.toml its --output found, not the working directory's).
    ``answered`` (an event of the manager, or None) is set when the run has its first answer."""
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)
    os.chdir(cwd)
    with config.using(settings):
        return _run_one(spec, output, _Announcing(ledger, answered) if answered is not None else ledger)


@dataclass
class _Started:
    """The run started last: the event it sets at its first answer, its future, when it was started."""

    answered: Any
    future: Future[RunRecord]
    at: float = field(default_factory=time.monotonic)

    def holds_the_next(self) -> bool:
        """The next run waits: this one has had no answer yet, is still running, and started less than
        :data:`PACE_MAX_S` ago."""
        return (
            time.monotonic() - self.at < PACE_MAX_S and not self.future.done() and not self.answered.is_set()
        )


def _never_started(spec: RunSpec) -> RunRecord:
    """The record of a run the workers could not start, one of them having died."""
    record = not_started(spec, WORKER_DIED)
    record.status = "error"  # not the budget's "not_started": the eval failed, and the next one starts it
    return record


def cpus() -> int:
    """The CPUs this process may run on: its CPU affinity, lowered to its cgroup's CPU quota where it has one
    (a container started with ``--cpus 2`` on a larger machine)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = cpu_quota(Path("/sys/fs/cgroup"))
    return max(1, min(n, math.ceil(quota))) if quota is not None else n


def cpu_quota(root: Path) -> float | None:
    """The CPUs' worth of time this process's cgroup may use (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``
    over ``cpu.cfs_period_us``), looked for in its own cgroup, then at the hierarchy's root (a container's);
    None where there is no quota or nothing readable."""
    own = {"": "/"}
    try:
        for line in (Path("/proc/self/cgroup")).read_text().splitlines():
            _, controllers, where = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                own[c] = where
    except (OSError, ValueError):
        pass
    places: list[tuple[Path, str | None]] = [
        (root / own.get("", "/").lstrip("/") / "cpu.max", None),
        (root / "cpu.max", None),
        (root / "cpu" / own.get("cpu", "/").lstrip("/") / "cpu.cfs_quota_us", "cpu.cfs_period_us"),
        (root / "cpu" / "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    ]
    for path, period_name in places:
        try:
            if period_name is None:
                quota_text, period_text = path.read_text().split()[:2]
            else:
                quota_text, period_text = path.read_text().strip(), (path.parent / period_name).read_text().strip()
        except (OSError, ValueError):
            continue
        if quota_text in ("max", "-1"):
            return None
        try:
            quota, period = int(quota_text), int(period_text)
        except ValueError:
            return None
        return quota / period if quota > 0 and period > 0 else None
    return None


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
        ctx = forkserver.context()
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
            pacing = min(self.jobs, len(queue)) > cpus()  # the first runs, only where runs outnumber the CPUs
            last: _Started | None = None
            paced_runs: dict[Future[RunRecord], Any] = {}  # the runs started while pacing: their first-answer events
            with ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_ignore_sigint) as pool:
                try:
                    # the fork server's start (its imports and warm-up) is not a run's: wait for it before the
                    # first run, so that PACE_MAX_S counts a run's own start-up only
                    pool.submit(os.getpid).result()
                    while queue or running:
                        free = bool(queue) and len(running) < self.jobs
                        if free and (last is None or not last.holds_the_next()):
                            spec = queue.pop(0)
                            why = shared.stop_reason()
                            if why is not None:
                                on_done(spec, not_started(spec, why))
                                continue
                            if on_start is not None:
                                on_start(spec)
                            answered = manager.Event() if pacing else None
                            try:
                                job = pool.submit(
                                    _run_in_worker,
                                    spec,
                                    self.output,
                                    shared,
                                    dict(os.environ),
                                    os.getcwd(),
                                    settings,
                                    answered,
                                )
                            except BrokenProcessPool:  # a worker died: the pool starts nothing more
                                for unstarted in [spec, *queue]:
                                    on_done(unstarted, _never_started(unstarted))
                                queue.clear()
                                continue
                            running[job] = spec
                            if answered is not None:
                                paced_runs[job] = answered
                            last = _Started(answered, job) if pacing else None
                            pacing = pacing and len(paced_runs) < self.jobs  # the first --jobs runs only
                            continue
                        # a free worker waits for the run started last to have its first answer: look again soon
                        finished, _ = wait(running, timeout=PACE_POLL_S if free else None, return_when=FIRST_COMPLETED)
                        for future in finished:
                            spec = running.pop(future)
                            on_done(spec, self._result(spec, future))
                            answered = paced_runs.get(future)
                            if answered is not None and answered.is_set():
                                pacing = False  # a run went through its model calls and ended: runs are apart now
                        # a run that ended before its first answer (resumed when it had finished, or failed at its
                        # start) does not end the pacing: its worker takes the next run once the run started last
                        # has had its answer. Once pacing ends, runs start as others end, at different times.
                        if finished and not pacing:
                            last = None
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
