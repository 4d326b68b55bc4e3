"""Work a run will need soon, done in a background thread once a model request is on its way.

An answer takes at least a few tenths of a second; what the steps after it need the first time (the price
data loaded, the SOP's templates compiled, the dependency parser imported) is made ready meanwhile, so that
it is not made between two steps, a time in which no model works. A run adds jobs (:func:`add`); the model
client starts them whenever a request's body is sent (softco.llm.openai, through
:func:`softco.llm.prices.warm_up`).

A job must be safe beside the main thread and worth nothing more than time: one that fails is ignored (the
work is done again where it is needed, and fails there with its own error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Seconds the thread waits before its first job: the request that started it leaves first (its sending
#: thread would otherwise take turns with this one); its answer takes longer than this to come back.
DELAY = 0.1

_lock = threading.Lock()
_pending: dict[str, Callable[[], object]] = {}
_thread: threading.Thread | None = None


def add(key: str, job: Callable[[], object]) -> None:
    """Have ``job`` run in the background once a request is on its way, instead of a job added before under the
    same ``key`` that has not run yet (a process that makes many runs keeps only the last one's)."""
    with _lock:
        _pending[key] = job


def start() -> threading.Thread | None:
    """Run the jobs added so far in the background: the thread that runs them (one at a time; jobs added while
    it runs are run by it too), or None when there is nothing to run."""
    global _thread
    with _lock:
        if _thread is None and _pending:
            _thread = threading.Thread(target=_run, name="softco-warm-up", daemon=True)
            _thread.start()
        return _thread


def _run() -> None:
    global _thread
    time.sleep(DELAY)
    while True:
        with _lock:
            if not _pending:
                _thread = None
                return
            jobs = list(_pending.values())
            _pending.clear()
        for job in jobs:
            try:
                job()
            except Exception:  # see the module's docstring: the work is done again where it is needed
                pass
