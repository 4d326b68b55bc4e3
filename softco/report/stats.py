"""Figures of a run, derived from the board: calls, tokens, cost, time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from softco.board import Board, StepRow


@dataclass
class RunStats:
    """``cost_usd`` is what the measured calls cost (None: a model with no known price); estimated
    usage is never priced and replayed (recorded) usage cost nothing now. The ``*_calls`` fields count
    the calls whose token figures came from each source (calls that reported no tokens, e.g. a timeout,
    are in none of them)."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seconds: float
    files: int
    cached: int = 0
    measured_calls: int = 0
    recorded_calls: int = 0
    estimated_calls: int = 0
    runs: int = 1


def run_stats(board: Board, run_id: str | None = None) -> RunStats:
    """The figures of one run, or of every run of the project when ``run_id`` is None."""
    rows = [s for s in board.steps(run_id) if s.request_hash is not None]
    steps = [s for s in rows if s.status != "cached"]
    mix = usage_mix(steps)
    costs = [s.cost_usd for s in steps if s.usage_source == "measured"]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    runs = [r for r in board.runs() if run_id is None or r.id == run_id]
    seconds = sum((r.finished_at or r.started_at) - r.started_at for r in runs)
    files = {m.payload["path"] for m in board.messages("code")}
    return RunStats(
        llm_calls=len(steps),
        prompt_tokens=sum(s.prompt_tokens for s in steps),
        completion_tokens=sum(s.completion_tokens for s in steps),
        cost_usd=cost,
        seconds=seconds,
        files=len(files),
        cached=len(rows) - len(steps),
        measured_calls=mix["measured"],
        recorded_calls=mix["recorded"],
        estimated_calls=mix["estimated"],
        runs=len(runs),
    )


def usage_mix(steps: Iterable[StepRow]) -> dict[str, int]:
    """How many of these calls had measured, recorded and estimated figures; a measured call counts
    even with no tokens (its price decides the cost), an estimate or a recording only with some."""
    mix = {"measured": 0, "recorded": 0, "estimated": 0}
    for s in steps:
        source = s.usage_source if s.usage_source in mix else "estimated"
        if source == "measured" or s.prompt_tokens + s.completion_tokens:
            mix[source] += 1
    return mix
