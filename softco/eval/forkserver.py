"""The local backend's fork server: its workers are forked from a process that imported softco's run
machinery and filled its caches once (softco/eval/warmed.py), so no thread of the driver is forked and no
worker pays for them again. This module imports nothing of softco's, so that `softco eval --jobs N` can
start the fork server before it imports its own machinery (the driver, the suite, the results)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context


def context() -> multiprocessing.context.ForkServerContext:
    """The multiprocessing context of the local backend's workers."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["softco.eval.warmed", "softco.eval.local"])
    return ctx


def start_for(backend: str, jobs: int) -> None:
    """Start the fork server now if the runs will go to worker processes (``--backend local`` with more than
    one job); it imports and warms in the background, while the caller goes on. Starting it again is a
    no-op."""
    if backend != "local" or jobs <= 1:
        return
    from multiprocessing import forkserver

    context()
    forkserver.ensure_running()
