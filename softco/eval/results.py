"""An eval's results: ``eval.json`` (versioned, pydantic), ``eval.md`` and ``scoreboard.html``.

Per run: the :class:`~softco.eval.spec.RunRecord`. Per variant: totals, and the mean and spread
(population standard deviation) over seeds of each seed's mean executability and hidden-test pass rate.
With two or more variants: per task, each variant's mean executability and pass rate, the delta to the
first variant, and the tasks where they disagree (one variant passes every hidden test, another not).
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

import softco
from softco.eval.spec import SCHEMA_VERSION, RunRecord
from softco.llm.budget import format_usd
from softco.safe_text import on_page

RESULTS_FILE = "eval.json"
MARKDOWN_FILE = "eval.md"
HTML_FILE = "scoreboard.html"


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: str
    sop_dir: str | None = None
    llm: str | None = None
    base_url: str | None = None


class VariantSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variant: str
    runs: int
    scored: int
    #: runs that are not done (budget, error, not started, interrupted)
    unfinished: int
    all_pass: int
    exec_mean: float | None
    exec_spread: float | None
    pass_rate_mean: float | None
    pass_rate_spread: float | None
    seeds: int
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    #: None: unknown (a run with an unknown cost)
    cost_usd: float | None
    wall_s: float
    lines_of_code: int


class TaskRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: str
    #: per variant: mean executability over its scored seeds (None: none scored)
    exec_mean: dict[str, float | None]
    pass_rate: dict[str, float | None]
    #: per variant other than the first: its pass rate minus the first's
    delta: dict[str, float | None]
    disagree: bool


class EvalResults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    kind: str = Field(default="eval", pattern="^(eval|batch)$")
    softco_version: str = softco.__version__
    suite: str
    suite_path: str
    suite_version: str
    created_at: str
    updated_at: str
    seeds: int
    budget_usd: float | None = None
    variants: list[Variant]
    tasks: list[str]
    #: task id -> a hash of the task (softco.eval.suite.task_version) its records were scored against
    task_versions: dict[str, str] = Field(default_factory=dict)
    records: list[RunRecord]
    summary: list[VariantSummary] = Field(default_factory=list)
    comparison: list[TaskRow] = Field(default_factory=list)


def now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _spread(values: list[float]) -> float | None:
    return round(statistics.pstdev(values), 4) if len(values) > 1 else (0.0 if values else None)


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _rate(r: RunRecord) -> float:
    return r.hidden_passed / r.hidden_total if r.hidden_total else 0.0


def summarize(results: EvalResults) -> EvalResults:
    """``results`` with its summary and comparison computed from its records."""
    summaries: list[VariantSummary] = []
    for v in results.variants:
        mine = [r for r in results.records if r.variant == v.name]
        scored = [r for r in mine if r.status == "done" and r.executability is not None]
        per_seed_exec: list[float] = []
        per_seed_rate: list[float] = []
        for seed in sorted({r.seed for r in scored}):
            runs = [r for r in scored if r.seed == seed]
            per_seed_exec.append(statistics.fmean(float(r.executability or 0) for r in runs))
            per_seed_rate.append(statistics.fmean(_rate(r) for r in runs))
        costs = [r.cost_usd for r in mine if r.llm_calls]
        summaries.append(
            VariantSummary(
                variant=v.name,
                runs=len(mine),
                scored=len(scored),
                unfinished=sum(r.status != "done" for r in mine),
                all_pass=sum(r.executability == 4 for r in scored),
                exec_mean=_mean(per_seed_exec),
                exec_spread=_spread(per_seed_exec),
                pass_rate_mean=_mean(per_seed_rate),
                pass_rate_spread=_spread(per_seed_rate),
                seeds=len(per_seed_exec),
                llm_calls=sum(r.llm_calls for r in mine),
                prompt_tokens=sum(r.prompt_tokens for r in mine),
                completion_tokens=sum(r.completion_tokens for r in mine),
                estimated=any(r.estimated_calls for r in mine),
                cost_usd=None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 6),
                wall_s=round(sum(r.wall_s for r in mine), 3),
                lines_of_code=sum(r.lines_of_code for r in mine),
            )
        )
    rows: list[TaskRow] = []
    if len(results.variants) > 1:
        names = [v.name for v in results.variants]
        for task in results.tasks:
            exec_mean: dict[str, float | None] = {}
            rate: dict[str, float | None] = {}
            verdicts: set[bool] = set()
            for name in names:
                runs = [
                    r
                    for r in results.records
                    if r.task_id == task and r.variant == name and r.status == "done" and r.executability is not None
                ]
                exec_mean[name] = _mean([float(r.executability or 0) for r in runs])
                rate[name] = _mean([_rate(r) for r in runs])
                verdicts.update(r.executability == 4 for r in runs)
            first = rate[names[0]]
            delta = {
                n: (round(rate[n] - first, 4) if rate[n] is not None and first is not None else None)  # type: ignore[operator]
                for n in names[1:]
            }
            rows.append(
                TaskRow(task_id=task, exec_mean=exec_mean, pass_rate=rate, delta=delta, disagree=len(verdicts) > 1)
            )
    return results.model_copy(update={"summary": summaries, "comparison": rows})


# Text shown to people: figures and our own names, plus text a model's code produced (a failing test's
# id, why it did not import). Markdown cells escape what markdown would interpret.


def md_cell(text: object) -> str:
    s = on_page(" ".join(str(text).split()))  # C1 and bidirectional controls shown, not obeyed
    out = []
    for ch in s:
        if ch in "\\`*_{}[]()<>#+!|~&":
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)[:300]


def fmt_cost(cost: float | None, calls: int = 1) -> str:
    if not calls:
        return "-"
    return "unknown" if cost is None else format_usd(cost)


def fmt_num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def fmt_delta(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.0f} pp"


def fmt_tokens(prompt: int, completion: int, estimated: bool) -> str:
    mark = "~" if estimated else ""
    return f"{mark}{prompt:,} + {mark}{completion:,}"


def run_cells(r: RunRecord) -> dict[str, str]:
    """One run's row, as text (escaped by whoever writes it)."""
    scored = r.executability is not None
    return {
        "task": r.task_id,
        "variant": r.variant,
        "seed": str(r.seed),
        "status": r.status if r.status != "done" else ("scored" if scored else "done"),
        "exec": str(r.executability) if scored else "-",
        "hidden": f"{r.hidden_passed}/{r.hidden_total}" if scored else "-",
        "own": f"{r.own_passed}/{r.own_total}" if r.own_total else "-",
        "fix": str(r.fix_rounds),
        "calls": str(r.llm_calls),
        "tokens": fmt_tokens(r.prompt_tokens, r.completion_tokens, r.estimated_calls > 0),
        "usage": r.usage,
        "cost": fmt_cost(r.cost_usd, r.llm_calls),
        "wall": f"{r.wall_s:.1f} s",
        "loc": str(r.lines_of_code),
        "tpl": fmt_num(r.tokens_per_line, 1),
        "failed": ", ".join(r.hidden_failed),
        "note": r.error or r.score_detail,
    }


RUN_COLUMNS = [
    ("task", "task"),
    ("variant", "variant"),
    ("seed", "seed"),
    ("status", "status"),
    ("exec", "exec (1-4)"),
    ("hidden", "hidden tests"),
    ("own", "own tests"),
    ("fix", "fix rounds"),
    ("calls", "LLM calls"),
    ("tokens", "prompt + completion tokens"),
    ("usage", "tokens"),
    ("cost", "cost"),
    ("wall", "wall"),
    ("loc", "lines"),
    ("tpl", "tokens/line"),
    ("failed", "failing hidden tests"),
    ("note", "note"),
]


def summary_cells(s: VariantSummary) -> dict[str, str]:
    return {
        "variant": s.variant,
        "runs": f"{s.scored}/{s.runs} scored" + (f", {s.unfinished} unfinished" if s.unfinished else ""),
        "exec": f"{fmt_num(s.exec_mean)} ± {fmt_num(s.exec_spread)}",
        "pass": f"{fmt_pct(s.pass_rate_mean)} ± {fmt_pct(s.pass_rate_spread)}",
        "all_pass": f"{s.all_pass}/{s.scored}",
        "calls": str(s.llm_calls),
        "tokens": fmt_tokens(s.prompt_tokens, s.completion_tokens, s.estimated),
        "cost": fmt_cost(s.cost_usd, s.llm_calls),
        "wall": f"{s.wall_s:.1f} s",
        "loc": str(s.lines_of_code),
    }


SUMMARY_COLUMNS = [
    ("variant", "variant"),
    ("runs", "runs"),
    ("exec", "executability (mean ± spread over seeds)"),
    ("pass", "hidden tests passed"),
    ("all_pass", "all hidden pass"),
    ("calls", "LLM calls"),
    ("tokens", "prompt + completion tokens"),
    ("cost", "cost"),
    ("wall", "wall"),
    ("loc", "lines"),
]


def _md_table(columns: list[tuple[str, str]], rows: list[dict[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for _, h in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md_cell(r[k]) for k, _ in columns) + " |" for r in rows]
    return lines


def comparison_cells(results: EvalResults, row: TaskRow) -> dict[str, str]:
    names = [v.name for v in results.variants]
    cells = {"task": row.task_id, "disagree": "yes" if row.disagree else ""}
    for n in names:
        cells[f"e:{n}"] = fmt_num(row.exec_mean[n])
        cells[f"p:{n}"] = fmt_pct(row.pass_rate[n])
    for n in names[1:]:
        cells[f"d:{n}"] = fmt_delta(row.delta[n])
    return cells


def comparison_columns(results: EvalResults) -> list[tuple[str, str]]:
    names = [v.name for v in results.variants]
    cols = [("task", "task")]
    cols += [(f"e:{n}", f"exec {n}") for n in names]
    cols += [(f"p:{n}", f"passed {n}") for n in names]
    cols += [(f"d:{n}", f"Δ {n} vs {names[0]}") for n in names[1:]]
    return [*cols, ("disagree", "disagree")]


def headline(results: EvalResults) -> str:
    what = "eval" if results.kind == "eval" else "batch"
    return (
        f"softco {what} of suite {results.suite} (version {results.suite_version}), {len(results.tasks)} task(s) x "
        f"{len(results.variants)} variant(s) x {results.seeds} seed(s); softco {results.softco_version}; "
        f"updated {results.updated_at}"
    )


def render_markdown(results: EvalResults) -> str:
    lines = [f"# softco {results.kind}: {md_cell(results.suite)}", "", md_cell(headline(results)), ""]
    lines += ["Variants:", ""]
    for v in results.variants:
        sop = f", SOP {v.sop_dir}" if v.sop_dir else ""
        lines.append(f"- {md_cell(v.name)}: model {md_cell(v.model)}{md_cell(sop)}")
    lines += ["", "## Per variant", ""]
    lines += _md_table(SUMMARY_COLUMNS, [summary_cells(s) for s in results.summary])
    if results.comparison:
        lines += ["", "## Side by side", ""]
        lines += _md_table(comparison_columns(results), [comparison_cells(results, r) for r in results.comparison])
        disagree = [r.task_id for r in results.comparison if r.disagree]
        lines += ["", "Tasks where the variants disagree: " + (md_cell(", ".join(disagree)) if disagree else "none")]
    lines += ["", "## Runs", ""]
    lines += _md_table(RUN_COLUMNS, [run_cells(r) for r in results.records])
    lines += [
        "",
        "Executability: 1 does not install or import (or has no `python -m` entry for a CLI task), 2 fewer "
        "than half of the hidden tests pass, 3 at least half, 4 all. Tokens marked ~ are estimates (the "
        "endpoint reported no usage); an estimate is never priced, so its cost is unknown.",
        "",
    ]
    return "\n".join(lines)


def _asset(*parts: str) -> str:
    return resources.files("softco.report").joinpath(*parts).read_text(encoding="utf-8")


def render_html(results: EvalResults) -> str:
    """The scoreboard: one self-contained page (no script, a CSP that allows nothing to load), every
    text autoescaped; each run links to its own report."""
    context: dict[str, Any] = {
        "r": results,
        "headline": headline(results),
        # safe: our own stylesheet, not model output
        "css": Markup(_asset("templates", "report.css")),
        "csp": "default-src 'none'; style-src 'unsafe-inline'",
        "summary_columns": SUMMARY_COLUMNS,
        "summary_rows": [summary_cells(s) for s in results.summary],
        "comparison_columns": comparison_columns(results) if results.comparison else [],
        "comparison_rows": [comparison_cells(results, c) for c in results.comparison],
        "run_columns": RUN_COLUMNS,
        "runs": [(r, run_cells(r)) for r in results.records],
    }
    from softco.report.html import environment  # the report's renderers: only when a page is written

    return environment("softco.eval").get_template("scoreboard.html.j2").render(**context)


def write_results(results: EvalResults, output: Path) -> EvalResults:
    """Write eval.json, eval.md and the scoreboard (each atomically: a temporary file renamed)."""
    results = summarize(results.model_copy(update={"updated_at": now()}))
    name = RESULTS_FILE if results.kind == "eval" else "batch.json"
    files = {
        name: results.model_dump_json(indent=1),
        MARKDOWN_FILE if results.kind == "eval" else "batch.md": render_markdown(results),
        HTML_FILE: render_html(results),
    }
    output.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        tmp = output / f".{fname}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output / fname)
    return results


def load_results(path: Path) -> EvalResults | None:
    """The results an earlier invocation left (None if none); a file of another schema is an error."""
    from softco.errors import UsageError

    if not path.exists():
        return None
    try:
        return EvalResults.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: not results this softco can continue ({str(exc).splitlines()[0][:200]}); "
            "give another --output or move the file away"
        ) from None
