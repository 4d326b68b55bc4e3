"""Stand-ins for a run in a worker process (tests/test_eval_jobs.py): the task id says what the run does."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from softco.eval import local
from softco.eval.spec import RunRecord, RunSpec


def fake_run(
    spec: RunSpec, output: Path, ledger: Any, environ: dict[str, str], cwd: str, settings: Any, answered: Any = None
) -> RunRecord:
    """``quick-...``: ends at once, no model call; ``die-...``: its worker process dies (as if killed) 0.2 s in;
    ``call-...``: 0.1 s of start-up, one call answered 1 s later."""
    if spec.task_id.startswith("die"):
        time.sleep(0.2)
        os._exit(9)
    if not spec.task_id.startswith("quick"):
        led = local._Announcing(ledger, answered) if answered is not None else ledger
        time.sleep(0.1)
        grant = led.reserve(1, 0.0)
        time.sleep(1.0)
        if grant.ok:
            led.settle(1, 0.0, 1, 0.0)
        time.sleep(0.2)
    return RunRecord(task_id=spec.task_id, variant=spec.variant, seed=spec.seed, rel_dir=spec.rel_dir, status="done")
