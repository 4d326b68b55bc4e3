"""What the CLI prints while a run goes and when it ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from softco.board import Board
from softco.company.scheduler import Company, Event, Outcome
from softco.llm.budget import Budget, format_usd
from softco.report.costs import format_count, format_short_cost, format_total_cost, format_usage
from softco.report.stats import RunStats, run_stats
from softco.safe_text import one_line, safe_line, safe_text

#: Seconds of silence after which a status line says what the run is waiting on.
HEARTBEAT = 8.0
#: A status line comes at least this often while lines flow, so spend and progress stay in view.
STATUS_EVERY = 60.0


#: How a re-ask's line starts (:meth:`softco.llm.structured.Retry.describe`).
REASK = "answer rejected"


def elapsed(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    s = int(max(seconds, 0))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class Progress:
    """What the CLI prints while a run goes: a line per step started, published, retried or re-asked, each
    after the time since the run started; and a status line (steps done of those known, what is waited
    on and for how long, what was spent against the budget, the retries) when nothing was printed for
    :data:`HEARTBEAT` seconds, or :data:`STATUS_EVERY` seconds after the last one.

    The heartbeat is a timer on the run's event loop, so it stays quiet while the loop is blocked on a
    person (an --approve prompt, $EDITOR under --human). Role names come from the SOP and step
    subjects and titles from a model: they are printed as text (:mod:`softco.safe_text`), never markup.
    """

    def __init__(
        self,
        console: Console,
        budget: Budget | None = None,
        heartbeat: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.budget = budget
        self.heartbeat = HEARTBEAT if heartbeat is None else heartbeat
        self.clock = clock
        self.started = clock()
        self.company: Company | None = None
        self.board: Board | None = None
        self.run_id: str | None = None
        self._done_before: set[str] = set()
        self._step_started: dict[str, float] = {}
        self.retries = 0
        self.reasks = 0
        self._last_line = self.started
        self._last_status = self.started
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, company: Company) -> None:
        """Count the steps of ``company`` (those it finished before this run are not this run's)."""
        self.company = company
        self.board, self.run_id = company.board, company.run_id
        self._done_before = set(company.finished)

    # lines ---------------------------------------------------------------------------------------
    def _print(self, line: Text) -> None:
        now = self.clock()
        self.console.print(Text(elapsed(now - self.started) + " ", style="dim") + line)
        self._last_line = now
        if now - self._last_status >= STATUS_EVERY:
            self.print_status()
        self._arm()

    def on_event(self, e: Event) -> None:
        who = f"{e.role.name} ({e.role.title})" if e.role else "Customer"
        _, _, rest = e.step_key.partition("/")
        if e.kind == "start":
            self._step_started.setdefault(e.step_key, self.clock())
            self._print(Text.assemble(("…", "dim"), " ", safe_line(who), " ", safe_line(rest, "bold")))
        elif e.kind == "publish" and e.message is not None:
            line = Text.assemble(("✓", "green"), " ", safe_line(who), " published ", safe_line(e.message.kind, "bold"))
            self._print(line.append(": ").append_text(safe_line(e.title)))
        elif e.kind == "retry":  # printed as it happens: a slow or silent endpoint is never a silent wait
            if e.title.startswith(REASK):
                self.reasks += 1
            else:
                self.retries += 1
            self._print(Text("! ", style="yellow") + safe_line(e.title))

    # status --------------------------------------------------------------------------------------
    def waiting(self) -> list[tuple[str, float]]:
        """The steps running now, longest first, with their seconds so far."""
        if self.company is None:
            return []
        now = self.clock()
        running = [k for k, t in self.company.tasks.items() if not t.done()]
        return sorted(((k, now - self._step_started.get(k, now)) for k in running), key=lambda kv: -kv[1])

    def status(self) -> Text:
        parts = []
        if self.company is not None:
            done = self.company.finished - self._done_before
            known = done | set(self._step_started) | {s.key for s in self.company.queue}
            parts.append(f"{len(done)}/{len(known)} steps done")
        waiting = self.waiting()
        if waiting:
            key, secs = waiting[0]
            more = f" and {len(waiting) - 1} more" if len(waiting) > 1 else ""
            parts.append(f"waiting on {one_line(key)} ({secs:.0f} s){more}")
        estimated = False
        if self.board is not None and self.run_id is not None:
            stats = run_stats(self.board, self.run_id)
            estimated = stats.estimated_calls > 0
            tokens = format_count(stats.prompt_tokens + stats.completion_tokens, estimated)
            parts.append(f"spent {tokens} tokens, {format_short_cost(stats)}")
        b = self.budget
        if b is not None and b.max_usd is not None:  # the budget prices estimated usage to hold: marked "~"
            parts.append(f"budget {'~' if estimated else ''}{format_usd(b.spent_usd)} of {format_usd(b.max_usd)}")
        if b is not None and b.max_tokens is not None:
            parts.append(f"token budget {'~' if estimated else ''}{b.spent_tokens:,} of {b.max_tokens:,}")
        faults = [(self.retries, "retry", "retries"), (self.reasks, "re-ask", "re-asks")]
        parts += [f"{n} {one if n == 1 else many}" for n, one, many in faults if n]
        return Text("· " + " · ".join(parts or ["running"]), style="dim")

    def print_status(self) -> None:
        self._last_status = self.clock()
        self._print(self.status())

    def _arm(self, at_least: float = 0.0) -> None:
        """Make sure a heartbeat is due, in ``at_least`` seconds or more (only inside the run's event loop)."""
        if self._timer is not None or self.heartbeat <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        due = max(self._last_line + self.heartbeat - self.clock(), at_least)
        self._timer = loop.call_later(due, self._beat)

    def _beat(self) -> None:
        self._timer = None
        silent = self.clock() - self._last_line >= self.heartbeat
        if silent and self.waiting():
            self.print_status()  # re-arms
        else:  # a line came meanwhile, or nothing runs (look again a heartbeat later, not at once)
            self._arm(at_least=self.heartbeat if silent else 0.0)


def progress_printer(console: Console) -> Callable[[Event], None]:
    """The per-event lines alone (no status, no heartbeat): :meth:`Progress.on_event`."""
    return Progress(console, heartbeat=0).on_event


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
    from softco.company.startup import sandbox_description

    line, warnings = sandbox_description()  # probed in the background since the command started
    console.print(f"  {line}", highlight=False, markup=False, style="dim")
    for w in warnings:
        console.print(Text("warning:", style="yellow").append(f" {w}"))
