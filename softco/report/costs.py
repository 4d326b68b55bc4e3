"""Where the calls, tokens, money and time went: per role and per step, from the board's step rows.

An LLM call is a step row with a request (re-asks and retries are extra rows of the same step); tool
steps (running the tests, triage) cost time but no call. A re-ask follows an answer that was rejected
(status ``invalid``: it is asked again with the error); a retry follows a transport fault (``fault``:
a rate limit, a 5xx, a timeout, a dropped connection). They are counted apart. A cost is ``None``
when any measured call in the group had no known price: "unknown", never $0.

Token figures are what an endpoint measured, what a replayed recording says an endpoint measured
("recorded": nothing was spent now), or a length-based estimate (scripted and dry-run answers, an
endpoint that reported no usage). Estimates print as "~1,234" and are never priced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict

from softco.board import StepRow
from softco.report.stats import RunStats, usage_mix

ESTIMATED_NOTE = (
    "~ marks estimated tokens (4 characters a token: scripted or dry-run answers, or an endpoint that reported "
    "no usage); estimates are never priced."
)
RECORDED_NOTE = "Recorded figures are what a replayed recording says an endpoint measured; replaying spent nothing."


def usage_note(stats: RunStats) -> str:
    """What the marks mean, under figures that are not all measured ("" when they all are)."""
    notes = [ESTIMATED_NOTE] if stats.estimated_calls else []
    notes += [RECORDED_NOTE] if stats.recorded_calls else []
    return " ".join(notes)


class CostRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    calls: int
    #: answers rejected by validation, each re-asked with the error (unless the step gave up)
    reasks: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seconds: float
    #: transport faults (rate limits, 5xx, timeouts, dropped connections), each retried with backoff
    retries: int = 0
    measured_calls: int = 0
    recorded_calls: int = 0
    estimated_calls: int = 0


def _row(name: str, steps: list[StepRow]) -> CostRow:
    calls = [s for s in steps if s.request_hash is not None]
    mix = usage_mix(s for s in calls if s.status != "cached")
    costs = [s.cost_usd for s in calls if s.usage_source == "measured" or s.status == "cached"]
    return CostRow(
        name=name,
        calls=len(calls),
        reasks=sum(1 for s in calls if s.status == "invalid"),
        retries=sum(1 for s in calls if s.status == "fault"),
        prompt_tokens=sum(s.prompt_tokens for s in calls),
        completion_tokens=sum(s.completion_tokens for s in calls),
        cost_usd=None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        seconds=sum(s.duration for s in steps),
        measured_calls=mix["measured"],
        recorded_calls=mix["recorded"],
        estimated_calls=mix["estimated"],
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


def _cost(cost: float | None, measured: int, recorded: int, estimated: int, long: bool) -> str:
    parts = []
    if measured:
        parts.append(("unknown (no price for this model)" if long else "unknown") if cost is None else f"${cost:.4f}")
    if estimated:
        parts.append("not priced (estimated usage)" if long else "unpriced")
    if recorded:
        parts.append("$0 spent now (replayed recording)" if long else "$0 (replayed)")
    return " + ".join(parts) or "-"


def format_short_cost(stats: RunStats) -> str:
    """:func:`format_total_cost` in a word or two ('$0.0123', 'unknown', 'unpriced'), for a status line."""
    if stats.llm_calls == 0:
        return "-"
    return _cost(stats.cost_usd, stats.measured_calls, stats.recorded_calls, stats.estimated_calls, long=False)


def format_cost(row: CostRow) -> str:
    """'$0.0123'; 'unknown' when the price is not known; 'unpriced' for estimated usage;
    '$0 (replayed)' for a replayed recording; '-' when no LLM call was made."""
    if row.calls == 0:
        return "-"
    if not (row.measured_calls or row.recorded_calls or row.estimated_calls):  # cached answers only
        return "-" if row.cost_usd is None else f"${row.cost_usd:.4f}"
    return _cost(row.cost_usd, row.measured_calls, row.recorded_calls, row.estimated_calls, long=False)


def format_total_cost(stats: RunStats) -> str:
    """A run's (or the whole project's) cost from :func:`softco.report.stats.run_stats`."""
    if stats.llm_calls == 0:
        return "-"
    return _cost(stats.cost_usd, stats.measured_calls, stats.recorded_calls, stats.estimated_calls, long=True)


def format_tokens(prompt: int, completion: int, estimated: bool = False) -> str:
    """'1,234 prompt + 56 completion'; estimates as '~1,234 prompt + ~56 completion'."""
    mark = "~" if estimated else ""
    return f"{mark}{prompt:,} prompt + {mark}{completion:,} completion"


def format_count(tokens: int, estimated: bool = False) -> str:
    """'1,234', or '~1,234' for an estimate."""
    return f"{'~' if estimated else ''}{tokens:,}"


def format_usage(stats: RunStats) -> str:
    """The tokens of :func:`softco.report.stats.run_stats`, saying which figures were measured."""
    text = format_tokens(stats.prompt_tokens, stats.completion_tokens, estimated=stats.estimated_calls > 0)
    kinds = [k for k, n in (("measured", stats.measured_calls), ("recorded", stats.recorded_calls)) if n]
    if stats.estimated_calls:
        return text + (" (partly estimated)" if kinds else " (estimated)")
    if stats.recorded_calls:
        return text + (" (partly recorded)" if stats.measured_calls else " (recorded)")
    return text
