"""Figures of a run, derived from the board: calls, tokens, cost, time."""

from __future__ import annotations

from dataclasses import dataclass

from softco.board import Board


@dataclass
class RunStats:
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seconds: float
    files: int
    cached: int = 0


def run_stats(board: Board, run_id: str | None = None) -> RunStats:
    rows = [s for s in board.steps(run_id) if s.request_hash is not None]
    steps = [s for s in rows if s.status != "cached"]
    costs = [s.cost_usd for s in steps]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    runs = [r for r in board.runs() if run_id is None or r.id == run_id]
    seconds = sum((r.finished_at or r.started_at) - r.started_at for r in runs)
    files = {m.payload["path"] for m in board.messages("code")}
    return RunStats(
        llm_calls=len(steps),
        prompt_tokens=sum(s.prompt_tokens for s in steps),
        completion_tokens=sum(s.completion_tokens for s in steps),
        cost_usd=cost if steps else 0.0,
        seconds=seconds,
        files=len(files),
        cached=len(rows) - len(steps),
    )
