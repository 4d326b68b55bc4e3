"""``softco show DIR [VIEW]``: terminal views of a generated project.

Artifact text comes from a model: it is always printed as :class:`rich.text.Text` (or markdown /
syntax renderables), never as console markup, with its control characters made visible
(:mod:`softco.safe_text`); markdown links are shown as text, not as terminal hyperlinks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.padding import Padding
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from softco.markdown import terminal_markdown
from softco.report.costs import (
    CostRow,
    cost_by_role,
    cost_by_step,
    format_cost,
    format_count,
    format_total_cost,
    format_usage,
    usage_note,
)
from softco.report.coverage import CoverageRow, coverage
from softco.report.project import Project, ReportError, utc
from softco.safe_text import safe_line, safe_text, visible
from softco.views import design_md, generic_md, prd_md

OUTCOME_STYLES = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow", "not run": "yellow"}
OUTCOME_GLYPHS = {"passed": "✓", "failed": "✗", "error": "✗", "skipped": "-", "not run": "·"}
STATUS_STYLES = {"passed": "green", "failing": "bold red", "no_test": "bold red", "not_run": "yellow"}


#: Below this many columns, wide tables give way to layouts that read at 80 columns.
NARROW = 120


class _ByWidth:
    """Render ``wide`` on a console at least ``NARROW`` columns wide, else ``narrow``."""

    def __init__(self, wide: RenderableType, narrow: RenderableType) -> None:
        self.wide, self.narrow = wide, narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.wide if options.max_width >= NARROW else self.narrow


def _none(what: str) -> Text:
    return Text(f"no {what} yet: the run has not produced it", style="dim")


def overview(p: Project) -> RenderableType:
    s = p.stats
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("project", safe_text(str(p.root)))
    table.add_row("requirement", safe_text(p.requirement))
    table.add_row("last run", safe_text(p.run_summary()))
    if p.last_run is not None:
        table.add_row("started", safe_text(f"{utc(p.last_run.started_at)}, model {p.last_run.model}"))
    table.add_row("tests", Text(p.tests_summary(), style="green" if p.tests_ok else "red"))
    table.add_row("files", str(s.files))
    table.add_row("LLM calls", str(s.llm_calls))
    table.add_row("tokens", format_usage(s))
    table.add_row("cost", format_total_cost(s))
    table.add_row("time", f"{s.seconds:.1f} s")
    hint = safe_text(f"views: {' '.join(VIEWS)}   ·   softco report {p.root}", style="dim")
    return Group(table, Text(), hint)


def prd(p: Project) -> RenderableType:
    doc = p.prd
    return _markdown(prd_md(doc)) if doc else _none("PRD")


def design(p: Project) -> RenderableType:
    doc = p.design
    return _markdown(design_md(doc)) if doc else _none("design")


def tasks(p: Project) -> RenderableType:
    doc = p.tasks
    if doc is None:
        return _none("tasks")
    table = Table(title="Tasks", title_justify="left")
    for col in ("file", "requirements", "depends on", "what"):
        table.add_column(col, overflow="fold")
    blocks: list[RenderableType] = [Text("Tasks", style="italic")]
    for t in doc.tasks:
        table.add_row(
            safe_text(t.path, style="cyan"),
            Text(", ".join(t.req_ids)),
            safe_text(", ".join(t.depends_on)),
            safe_text(t.description),
        )
        head = safe_text(t.path, style="bold cyan").append(f"  {', '.join(t.req_ids) or 'support'}")
        if t.depends_on:
            head.append_text(safe_text(f"  after {', '.join(t.depends_on)}", style="dim"))
        blocks += [head, _indented(safe_text(t.description))]
    return _ByWidth(table, Group(*blocks))


def _indented(text: Text, by: int = 4) -> Padding:
    """``text`` wrapped with every line indented (a block under a heading)."""
    return Padding(text, (0, 0, 0, by))


def _heading(text: Text) -> Group:
    """A heading that wraps (a rich Rule would cut a long title): the text, then a rule under it."""
    return Group(text, Rule(style="dim"))


def _source(path: str, content: str) -> Syntax:
    content = visible(content)
    return Syntax(content, Syntax.guess_lexer(path, content), line_numbers=True, word_wrap=True)


def _markdown(md: str) -> Markdown:
    """A model's markdown: control characters visible, links as text (no OSC 8 hyperlinks), dunders kept."""
    return terminal_markdown(visible(md), hyperlinks=False)


def code(p: Project) -> RenderableType:
    files = p.code
    if not files:
        return _none("code")
    parts: list[RenderableType] = []
    for path, c in files.items():
        head = f"{path}  ({', '.join(c.req_ids) or 'support'})" + (f"  {c.notes}" if c.notes else "")
        parts += [_heading(safe_line(head, style="bold cyan", limit=1000)), _source(path, c.content)]
    return Group(*parts)


def tests(p: Project) -> RenderableType:
    files = p.tests
    if not files:
        return _none("tests")
    parts: list[RenderableType] = []
    for path, t in files.items():
        head = f"{path}  (tests {t.source})"
        parts += [_heading(safe_line(head, style="bold cyan", limit=1000)), _source(path, t.content)]
    report = p.test_report
    if report is None:
        return Group(*parts, Text("the tests have not been run yet", style="yellow"))
    table = Table(title=f"Test report: {p.tests_summary()}", title_justify="left")
    for col in ("test", "requirements", "outcome"):
        table.add_column(col, overflow="fold")
    for r in report.results:
        table.add_row(safe_text(r.nodeid), Text(", ".join(r.req_ids)), Text(r.outcome, style=OUTCOME_STYLES[r.outcome]))
    parts.append(table)
    for r in report.results:
        if r.outcome in ("failed", "error"):
            failed = _heading(safe_line(f"FAILED {r.nodeid}", style="bold red", limit=1000))
            parts += [failed, safe_text(r.message.strip())]
    return Group(*parts)


def board(p: Project) -> RenderableType:
    if not p.messages:
        return _none("message")
    start = p.messages[0].created_at
    kinds = {m.id: m.kind for m in p.messages}
    title = f"Board: {len(p.messages)} messages"
    table = Table(title=title, title_justify="left")
    for col in ("#", "time", "kind", "sender", "subject", "in reply to", "commit"):
        table.add_column(col, overflow="fold")
    blocks: list[RenderableType] = [Text(title, style="italic")]
    kind_w = max(len(m.kind) for m in p.messages)
    sender_w = max(len(p.role_name(m.sender_role)) for m in p.messages)
    for m in p.messages:
        reply = f"#{m.cause_id} {kinds.get(m.cause_id, '')}" if m.cause_id is not None else ""
        offset, sha = f"+{m.created_at - start:.1f}s", m.commit_sha[:7] if m.commit_sha else ""
        table.add_row(
            str(m.id),
            offset,
            Text(m.kind, style="bold"),
            safe_text(p.role_name(m.sender_role)),
            safe_text(p.title_of(m)),
            Text(reply),
            Text(sha, style="yellow"),
        )
        # 80 columns: one line of who and when, the subject wrapped under it
        head = Text(f"{f'#{m.id}':<4} {offset:>7}  ").append(m.kind.ljust(kind_w), style="bold").append("  ")
        head.append_text(safe_text(p.role_name(m.sender_role).ljust(sender_w)))
        head.append(f"  {sha or '-':7}", style="yellow").append(f"  re {reply}" if reply else "", style="dim")
        blocks += [head, _indented(safe_text(p.title_of(m)), 14)]
    return _ByWidth(table, Group(*blocks))


def _cost_table(title: str, rows: list[CostRow]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("name", overflow="fold")
    for col in ("calls", "re-asks", "retries", "prompt tok", "completion tok", "cost", "time"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            safe_text(r.name),
            str(r.calls),
            str(r.reasks),
            str(r.retries),
            format_count(r.prompt_tokens, r.estimated_calls > 0),
            format_count(r.completion_tokens, r.estimated_calls > 0),
            format_cost(r),
            f"{r.seconds:.2f} s",
        )
    return table


def cost(p: Project) -> RenderableType:
    s = p.stats
    total = Text(
        f"total: {s.llm_calls} LLM calls, {format_usage(s)} tokens, "
        f"cost {format_total_cost(s)}, {s.seconds:.1f} s wall time"
    )
    note = usage_note(s)
    if note:
        total.append(f"\n{note}", style="dim")
    tables = []
    for title, rows in (
        ("Cost per role", cost_by_role(p.steps, p.role_name)),
        ("Cost per step", cost_by_step(p.steps)),
    ):
        tables.append(_ByWidth(_cost_table(title, rows), _NarrowCost(title, rows)))
    return Group(*tables, total)


class _NarrowCost:
    """A cost table in the terminal's width: no box, prompt + completion tokens in one column, and a step
    name too long to share its line with the figures on a line of its own, cut only between path parts."""

    def __init__(self, title: str, rows: list[CostRow]) -> None:
        self.title, self.rows = title, rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        reasks, retries = any(r.reasks for r in self.rows), any(r.retries for r in self.rows)
        head = ["calls", *(["re-asks"] if reasks else []), *(["retries"] if retries else []), "tokens in+out"]
        head += ["cost", "time"]
        figures = []
        for r in self.rows:
            tokens = (
                f"{format_count(r.prompt_tokens, r.estimated_calls > 0)}+{r.completion_tokens:,}" if r.calls else "-"
            )
            counts = [*([str(r.reasks)] if reasks else []), *([str(r.retries)] if retries else [])]
            figures.append([str(r.calls), *counts, tokens, format_cost(r), f"{r.seconds:.2f} s"])
        widths = [max(len(c) for c in col) for col in zip(head, *figures, strict=True)]
        numbers = sum(widths) + 2 * len(widths)
        names = [visible(r.name, multiline=False) for r in self.rows]
        name_w = max(4, min(max(len(n) for n in [*names, "step"]), options.max_width - numbers))

        def line(name: str, cells: list[str]) -> str:
            return name.ljust(name_w) + "".join("  " + c.rjust(w) for c, w in zip(cells, widths, strict=True))

        yield Text(self.title, style="italic")
        yield Text(line("step", head), style="bold")
        for name, cells in zip(names, figures, strict=True):
            if len(name) > name_w:
                for part in _path_lines(name, options.max_width):
                    yield Text(part)
                name = ""
            yield Text(line(name, cells))


def _path_lines(name: str, width: int) -> list[str]:
    """``name`` in lines of at most ``width``, broken after a ``/`` where it can be (a step key's parts)."""
    lines: list[str] = []
    while len(name) > width:
        cut = name.rfind("/", 0, width) + 1 or width
        lines.append(name[:cut])
        name = name[cut:]
    return [*lines, name]


def trace(p: Project) -> RenderableType:
    doc = p.prd
    if doc is None:
        return _none("PRD")
    rows = coverage(doc, p.design, p.code.values(), p.tests.values(), p.test_report)
    table = Table(
        title="Requirement coverage",
        title_justify="left",
        show_lines=True,
        expand=True,
        caption="tests: ✓ passed  ✗ failed  · not run",
        caption_justify="left",
    )
    for col, ratio in (("requirement", 2), ("design", 2), ("code", 2), ("tests", 5)):
        table.add_column(col, overflow="fold", ratio=ratio)
    table.add_column("status", no_wrap=True, min_width=8)
    for r in rows:
        tests_cell = Text()
        for i, link in enumerate(r.tests):
            short = _short_test(link.nodeid)
            tests_cell.append(
                ("\n" if i else "") + OUTCOME_GLYPHS.get(link.outcome, "?") + "\u00a0",
                style=OUTCOME_STYLES[link.outcome],
            )
            tests_cell.append(visible(short))
        table.add_row(
            safe_text(f"{r.req_id} [{r.priority}] {r.title}"),
            safe_text("\n".join(r.design_files) or "-"),
            safe_text("\n".join(r.code_files) or "-"),
            tests_cell if r.tests else Text("-"),
            Text(r.label, style=STATUS_STYLES[r.status]),
        )
    flagged = [r.req_id for r in rows if r.flagged]
    narrow = _narrow_trace(rows)
    note = (
        Text(f"{len(flagged)} of {len(rows)} requirements need attention: {', '.join(flagged)}", style="bold red")
        if flagged
        else Text(f"all {len(rows)} requirements have passing tests", style="green")
    )
    return Group(_ByWidth(table, narrow), note)


def _narrow_trace(rows: list[CoverageRow]) -> Group:
    """The coverage as one block per requirement, which reads at 80 columns."""
    blocks: list[RenderableType] = []
    for r in rows:
        head = safe_text(f"{r.req_id} [{r.priority}] {r.title}  ", style="bold")
        head.append(r.label, style=STATUS_STYLES[r.status])
        lines = [head]
        for name, files in (("design", r.design_files), ("code", r.code_files)):
            lines.append(safe_text(f"  {name:7} {', '.join(files) or '-'}"))
        if not r.tests:
            lines.append(Text("  tests   -"))
        for i, link in enumerate(r.tests):
            line = Text("  tests   " if i == 0 else " " * 10)
            line.append(OUTCOME_GLYPHS.get(link.outcome, "?") + " ", style=OUTCOME_STYLES[link.outcome])
            line.append(visible(_short_test(link.nodeid)))
            lines.append(line)
        blocks.append(Group(*lines, Text("")))
    blocks.append(Text("tests: ✓ passed  ✗ failed  · not run", style="dim"))
    return Group(*blocks)


def _short_test(nodeid: str) -> str:
    """``tests/test_cli.py::test_add`` -> ``cli::test_add``."""
    file, _, name = nodeid.partition("::")
    return f"{PurePosixPath(file).stem.removeprefix('test_')}::{name}"


VIEW_FUNCS: dict[str, Callable[[Project], RenderableType]] = {
    "overview": overview,
    "prd": prd,
    "design": design,
    "tasks": tasks,
    "code": code,
    "tests": tests,
    "board": board,
    "cost": cost,
    "trace": trace,
}
VIEWS = tuple(VIEW_FUNCS)


def render(p: Project, view: str | None = None) -> RenderableType:
    """The renderable for ``view`` (the overview when None); :class:`ReportError` for an unknown view."""
    name = view or "overview"
    if name in VIEW_FUNCS:
        return VIEW_FUNCS[name](p)
    custom = [m for m in p.other_artifacts() if m.kind == name]
    if custom:  # a kind the SOP declared itself, e.g. `review`
        return Group(*(_markdown(generic_md(m.kind, m.subject, m.payload)) for m in custom))
    kinds = sorted({m.kind for m in p.other_artifacts()})
    raise ReportError(f"unknown view {name!r}; choose one of: {', '.join([*VIEWS, *kinds])}")


def show(console: Console, p: Project, view: str | None = None) -> None:
    # wrapped at the terminal's width, never cut: the CLI's console soft-wraps (progress lines) and
    # would let rich crop what a view lays out
    console.print(render(p, view), soft_wrap=False)
