"""The local backend: runs on this machine, ``--jobs`` at a time, in threads of this process.

A softco run spends its time waiting on the endpoint (I/O) and on sandboxed subprocesses, so threads
suffice; every run has its own event loop, board, repo and console, and they share the eval's ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from softco.budget import Ledger
from softco.eval.spec import OnDone, OnStart, RunRecord, RunSpec, execute_run, internal_error, not_started


class LocalBackend:
    def __init__(self, output: Path, ledger: Ledger | None, jobs: int = 1) -> None:
        self.output = output
        self.ledger = ledger
        self.jobs = max(1, jobs)
        #: set by the driver (Ctrl-C) or when the shared budget stopped: no further run starts
        self.stop = threading.Event()
        self.why_stopped = ""

    def _stopped(self) -> str | None:
        if self.stop.is_set():
            return self.why_stopped or "the eval was stopped"
        stopped = getattr(self.ledger, "stopped", None)
        return stopped if isinstance(stopped, str) else None

    def _one(self, spec: RunSpec) -> RunRecord:
        try:
            return execute_run(spec, self.output / spec.rel_dir, self.ledger)
        except Exception as exc:  # a bug in softco: this run's record says so, the other runs go on
            return internal_error(spec, exc)

    def run(self, specs: Sequence[RunSpec], on_done: OnDone, on_start: OnStart | None = None) -> None:
        queue = list(specs)
        running: dict[Future[RunRecord], RunSpec] = {}
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="softco-eval") as pool:
            while queue or running:
                while queue and len(running) < self.jobs:
                    spec = queue.pop(0)
                    why = self._stopped()
                    if why is not None:
                        on_done(spec, not_started(spec, why))
                        continue
                    if on_start is not None:
                        on_start(spec)
                    running[pool.submit(self._one, spec)] = spec
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec = running.pop(future)
                    on_done(spec, future.result())
