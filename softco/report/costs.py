"""Where the calls, tokens, money and time went: per role and per step, from the board's step rows.

An LLM call is a step row with a request (re-asks are extra rows of the same step); tool steps
(running the tests, triage) cost time but no call. A cost is ``None`` when any call in the group
had no known price: "unknown", never $0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict

from softco.board import StepRow
from softco.report.stats import RunStats


class CostRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    calls: int
    reasks: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seconds: float


def _row(name: str, steps: list[StepRow]) -> CostRow:
    calls = [s for s in steps if s.request_hash is not None]
    costs = [s.cost_usd for s in calls]
    return CostRow(
        name=name,
        calls=len(calls),
        reasks=sum(1 for s in calls if s.attempt > 1),
        prompt_tokens=sum(s.prompt_tokens for s in calls),
        completion_tokens=sum(s.completion_tokens for s in calls),
        cost_usd=None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        seconds=sum(s.duration for s in steps),
    )


def _group(steps: Iterable[StepRow], key: Callable[[StepRow], str]) -> list[CostRow]:
    groups: dict[str, list[StepRow]] = {}
    for s in steps:
        groups.setdefault(key(s), []).append(s)
    return [_row(name, rows) for name, rows in groups.items()]


def cost_by_role(steps: Iterable[StepRow], names: Callable[[str], str] = str) -> list[CostRow]:
    """One row per role, in the order roles first worked; ``names`` turns a role id into a display name."""
    return _group(steps, lambda s: names(s.role))


def cost_by_step(steps: Iterable[StepRow]) -> list[CostRow]:
    """One row per step key (``role/action/subject``), in the order steps first ran."""
    return _group(steps, lambda s: s.key)


def format_cost(row: CostRow) -> str:
    """'$0.0123', 'unknown' when the price is not known, '-' when no LLM call was made."""
    if row.calls == 0:
        return "-"
    return "unknown" if row.cost_usd is None else f"${row.cost_usd:.4f}"


def format_total_cost(stats: RunStats) -> str:
    """The whole project's cost from :func:`softco.report.stats.run_stats`."""
    if stats.llm_calls == 0:
        return "-"
    return "unknown (no price for this model)" if stats.cost_usd is None else f"${stats.cost_usd:.4f}"


def format_tokens(prompt: int, completion: int) -> str:
    return f"{prompt:,} prompt + {completion:,} completion"
