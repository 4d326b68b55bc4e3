"""What the CLI prints while a run goes and when it ends."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from softco.company import Event, Outcome
from softco.report.stats import RunStats


def progress_printer(console: Console):  # type: ignore[no-untyped-def]
    """A callback that prints one line per step started, published or skipped."""

    def on_event(e: Event) -> None:
        who = f"{e.role.name} ({e.role.title})" if e.role else "Customer"
        role_id, _, rest = e.step_key.partition("/")
        if e.kind == "start":
            console.print(f"[dim]…[/] {who} [bold]{rest}[/]", highlight=False)
        elif e.kind == "publish" and e.message is not None:
            console.print(f"[green]✓[/] {who} published [bold]{e.message.kind}[/]: {e.title}", highlight=False)

    return on_event


def print_summary(console: Console, project: Path, outcome: Outcome, stats: RunStats) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    r = outcome.report
    table.add_row("repo", str(project))
    table.add_row("files", str(stats.files))
    if r is not None:
        table.add_row("tests", f"{r.passed} passed, {r.failed + r.errors} failed (round {r.round})")
    cached = f" ({stats.cached} answered from the step cache)" if stats.cached else ""
    table.add_row("LLM calls", f"{stats.llm_calls}{cached}")
    table.add_row("tokens", f"{stats.prompt_tokens:,} prompt + {stats.completion_tokens:,} completion")
    table.add_row("cost", "unknown (no price for this model)" if stats.cost_usd is None else f"${stats.cost_usd:.4f}")
    table.add_row("time", f"{stats.seconds:.1f} s")
    console.print()
    console.print(table)
    if r is not None and not r.ok:
        for res in r.results:
            if res.outcome in ("failed", "error"):
                console.print(f"  [red]✗[/] {res.nodeid} ({', '.join(res.req_ids)})", highlight=False)
    style = "green" if outcome.exit_code == 0 else "red"
    console.print(f"[{style}]{outcome.reason}[/] (exit {outcome.exit_code})", highlight=False)
    console.print("next:", highlight=False)
    console.print(f"  softco show {project} trace      requirements -> files -> tests -> outcomes", highlight=False)
    console.print(f"  softco report {project}          one HTML page to review it all", highlight=False)
    console.print(f"  git -C {project} log --stat      who did what, one commit per artifact", highlight=False)


def print_sandbox(console: Console) -> None:
    """How generated code will be isolated on this machine, and what is missing, before any of it exists."""
    from softco import sandbox

    line, warnings = sandbox.describe()
    console.print(f"  {line}", highlight=False, markup=False, style="dim")
    for w in warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
