"""What the CLI prints while a run goes and when it ends."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from softco.company import Event, Outcome
from softco.report.costs import format_total_cost, format_usage
from softco.report.stats import RunStats
from softco.safe_text import safe_line, safe_text


def progress_printer(console: Console):  # type: ignore[no-untyped-def]
    """A callback that prints one line per step started, published or skipped.

    Role names come from the SOP and step subjects and titles from a model: they are printed as
    text (:mod:`softco.safe_text`), never as console markup.
    """

    def on_event(e: Event) -> None:
        who = f"{e.role.name} ({e.role.title})" if e.role else "Customer"
        role_id, _, rest = e.step_key.partition("/")
        if e.kind == "start":
            console.print(Text.assemble(("…", "dim"), " ", safe_line(who), " ", safe_line(rest, "bold")))
        elif e.kind == "publish" and e.message is not None:
            line = Text.assemble(("✓", "green"), " ", safe_line(who), " published ", safe_line(e.message.kind, "bold"))
            console.print(line.append(": ").append_text(safe_line(e.title)))
        elif e.kind == "retry":  # printed as it happens: a slow or silent endpoint is never a silent wait
            console.print(Text("! ", style="yellow") + safe_line(e.title))

    return on_event


def print_summary(
    console: Console, project: Path, outcome: Outcome, stats: RunStats, project_stats: RunStats | None = None
) -> None:
    """The end of a run: ``stats`` are this run's figures, ``project_stats`` (shown when there were
    earlier runs) the whole project's."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    r = outcome.report
    table.add_row("repo", safe_text(project))
    table.add_row("files", str(stats.files))
    if r is not None:
        table.add_row("tests", f"{r.passed} passed, {r.failed + r.errors} failed (round {r.round})")
    cached = f" ({stats.cached} answered from the step cache)" if stats.cached else ""
    table.add_row("LLM calls", f"{stats.llm_calls} this run{cached}")
    table.add_row("tokens", format_usage(stats))
    table.add_row("cost", format_total_cost(stats))
    table.add_row("time", f"{stats.seconds:.1f} s")
    if project_stats is not None and project_stats.runs > 1:
        p = project_stats
        table.add_row(
            f"all {p.runs} runs",
            f"{p.llm_calls} LLM calls, {format_usage(p)} tokens, cost {format_total_cost(p)}, {p.seconds:.1f} s",
        )
    console.print()
    console.print(table)
    if r is not None and not r.ok:
        for res in r.results:
            if res.outcome in ("failed", "error"):
                line = Text.assemble("  ", ("✗", "red"), " ", safe_line(f"{res.nodeid} ({', '.join(res.req_ids)})"))
                console.print(line)
    style = "green" if outcome.exit_code == 0 else "red"
    console.print(Text.assemble(safe_text(outcome.reason, style), f" (exit {outcome.exit_code})"))
    console.print("next:", highlight=False)
    where = safe_text(project)
    trace = " trace      requirements -> files -> tests -> outcomes"
    console.print(Text("  softco show ").append_text(where).append(trace))
    console.print(Text("  softco report ").append_text(where).append("          one HTML page to review it all"))
    console.print(Text("  git -C ").append_text(where).append(" log --stat      who did what, one commit per artifact"))


def print_sandbox(console: Console) -> None:
    """How generated code will be isolated on this machine, and what is missing, before any of it exists."""
    from softco import sandbox

    line, warnings = sandbox.describe()
    console.print(f"  {line}", highlight=False, markup=False, style="dim")
    for w in warnings:
        console.print(Text("warning:", style="yellow").append(f" {w}"))
