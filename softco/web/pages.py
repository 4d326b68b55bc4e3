"""The HTML of `softco serve`: the project list, a project's page, and the parts live updates replace.

Every template autoescapes; artifact text goes through the report's renderers (markdown with raw HTML and
images off, pygments), so model-written text is text. The page's scripts are files served by the app
(same origin): the Content-Security-Policy allows no inline script and no other origin.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from pygments import highlight as pygments_highlight
from pygments.lexers import DiffLexer

from softco.artifacts import KINDS
from softco.board import StepRow
from softco.report.costs import (
    cost_by_role,
    format_count,
    format_short_cost,
    format_total_cost,
    format_usage,
)
from softco.report.html import FORMATTER, environment, md
from softco.report.html import context as report_context
from softco.safe_text import on_page, one_line
from softco.views import doc_files, generic_md
from softco.web.data import Listed, Snapshot

#: Statuses of a step attempt (board rows) and how the page shows them.
DONE = {"ok", "done", "published", "cached"}
FAILED = {"invalid", "fault", "cancelled"}


def env() -> Environment:
    return environment("softco.web")


def status_class(status: str) -> str:
    if status in DONE:
        return "done"
    if status in FAILED:
        return "failed"
    if status.startswith("review:"):
        return "review"
    return "other"


def step_rows(steps: list[StepRow], start: float) -> list[dict[str, Any]]:
    return [
        {
            "s": s,
            "offset": s.started_at - start,
            "cls": status_class(s.status),
            "estimated": s.usage_source == "estimated" and s.prompt_tokens + s.completion_tokens > 0,
            "cost": "-"
            if s.request_hash is None or s.status == "cached" and s.cost_usd is None
            else (
                "unpriced"
                if s.usage_source == "estimated"
                else "unknown"
                if s.cost_usd is None
                else f"${s.cost_usd:.4f}"
            ),
            "error": one_line(s.error or "", 200),
        }
        for s in steps
    ]


def lanes(snap: Snapshot) -> list[dict[str, Any]]:
    """Per role: steps running now, done, failed attempts, retried steps, tokens, cost and time."""
    p = snap.project
    running: dict[str, list[str]] = {}
    for key, role, _ in snap.running:
        running.setdefault(role, []).append(key)
    costs = {r.name: r for r in cost_by_role(p.steps, lambda rid: rid)}
    order = [*dict.fromkeys([*(s.role for s in p.steps), *running])]
    out = []
    for rid in order:
        rows = [s for s in p.steps if s.role == rid]
        attempts: dict[str, int] = {}
        for s in rows:
            if s.request_hash is not None:
                attempts[s.key] = attempts.get(s.key, 0) + 1
        out.append(
            {
                "id": rid,
                "name": p.role_name(rid),
                "running": running.get(rid, []),
                "done": len({s.key for s in rows if s.status in ("published", "done")}),
                "failed": sum(1 for s in rows if s.status in FAILED),
                "retried": sum(1 for n in attempts.values() if n > 1),
                "cost": costs.get(rid),
            }
        )
    return out


def spend(snap: Snapshot) -> str:
    """What the project spent, against its budget when it has one."""
    p = snap.project
    stats = p.stats
    tokens = format_count(stats.prompt_tokens + stats.completion_tokens, stats.estimated_calls > 0)
    parts = [f"{tokens} tokens", format_short_cost(stats)]
    settings = p.last_run.settings if p.last_run else {}
    budget, token_budget = settings.get("budget"), settings.get("token_budget")
    if not isinstance(budget, int | float) and not isinstance(token_budget, int):
        return " · ".join(parts)
    # the spend the run's budget counts and its status line shows: for calls an endpoint answered without usage
    # figures, their bound at the model's price; "~" when estimated usage is in it, as on the status line
    from softco.company.run import unreported
    from softco.llm.budget import format_usd

    extra_usd, extra_tokens = unreported(p.runs, p.steps)
    mark = "~" if stats.estimated_calls > 0 else ""
    if isinstance(budget, int | float):
        cost = sum(s.cost_usd or 0.0 for s in p.steps) + extra_usd
        parts.append(f"budget {mark}{format_usd(cost)} of {format_usd(float(budget))}")
    if isinstance(token_budget, int):
        used = sum(s.prompt_tokens + s.completion_tokens for s in p.steps if s.status != "cached") + extra_tokens
        parts.append(f"token budget {mark}{used:,} of {token_budget:,}")
    return " · ".join(parts)


def gate_view(snap: Snapshot) -> dict[str, Any] | None:
    gate = snap.gate
    if gate is None:
        return None
    html: Markup
    cls = KINDS.get(gate.kind)
    try:
        if cls is None:
            raise ValueError(gate.kind)
        art = cls.model_validate(gate.artifact)
        text = next((v for k, v in doc_files(art).items() if k.endswith(".md")), None)
        html = md(text) if text is not None else md(generic_md(gate.kind, gate.step_key, gate.artifact))
    except ValueError:
        html = md(generic_md(gate.kind, gate.step_key, gate.artifact))
    import json

    return {"g": gate, "html": html, "json": json.dumps(gate.artifact, indent=2)}


def artifacts_html(snap: Snapshot) -> Markup:
    """The report's sections (overview, coverage, PRD, design, tasks, code, tests, board, git log) for the page."""
    page = (
        environment("softco.report")
        .get_template("report.html.j2")
        .render(**report_context(snap.project), csp="", css="", scripts=[])
    )
    start, end = page.find("<main>"), page.rfind("</main>")
    # safe: the report's template autoescapes every model-written value; <main> is the template's own tag
    return Markup(page[start + len("<main>") : end])


def diff_html(diff: str) -> Markup:
    return Markup(pygments_highlight(on_page(diff), DiffLexer(stripnl=False), FORMATTER))  # safe: pygments escapes


def common(snap: Snapshot, name: str, token: str) -> dict[str, Any]:
    p = snap.project
    run = p.last_run
    from softco.company.run import run_status

    status = run_status(run, snap.holder)
    start = p.runs[0].started_at if p.runs else time.time()
    return {
        "name": name,
        "token": token,
        "p": p,
        "run": run,
        "status": status,
        "live": snap.live,
        "resumable": not snap.live and run is not None and not (run.status == "done" and run.exit_code in (0, 3)),
        "spend": spend(snap),
        "total_cost": format_total_cost(p.stats),
        "usage": format_usage(p.stats),
        "lanes": lanes(snap),
        "running": [{"key": k, "role": r, "secs": time.time() - t} for k, r, t in snap.running],
        "gate": gate_view(snap),
        # a part with a form is replaced only when this changes, so an update never wipes what is being typed
        "gate_key": f"{snap.gate.id}|{snap.gate.error}|{snap.gate.pending}" if snap.gate else "",
        "controls_key": f"{snap.live}|{run.id if run else ''}|{run.status if run else ''}",
        "start": start,
        "commits": p.commits,
    }


def render_index(out: Path, rows: list[Listed], token: str, seconds: float) -> str:
    return env().get_template("index.html.j2").render(out=out, rows=rows, token=token, seconds=seconds)


def render_project(snap: Snapshot, name: str, token: str, graph: str | None) -> str:
    c = common(snap, name, token)
    rows = step_rows(snap.project.steps, c["start"])
    return (
        env()
        .get_template("project.html.j2")
        .render(
            **c,
            graph=graph,
            rows=rows,
            last_step=snap.project.steps[-1].id if snap.project.steps else 0,
            messages=len(snap.project.messages),
            artifacts=artifacts_html(snap),
        )
    )


def render_update(snap: Snapshot, name: str, token: str, after_step: int, with_artifacts: bool) -> dict[str, Any]:
    """What one live update carries: the parts that change, the step rows after ``after_step``, and the
    artifacts when the board has new messages."""
    c = common(snap, name, token)
    t = env().get_template("parts.html.j2")
    mod = t.make_module(c)
    new = [s for s in snap.project.steps if s.id > after_step]
    update: dict[str, Any] = {
        "status": str(mod.status_line()),  # type: ignore[attr-defined]
        "controls": str(mod.controls()),  # type: ignore[attr-defined]
        "controls_key": c["controls_key"],
        "gate": str(mod.gate_panel()),  # type: ignore[attr-defined]
        "gate_key": c["gate_key"],
        "lanes": str(mod.lanes_table()),  # type: ignore[attr-defined]
        "steps": str(env().get_template("rows.html.j2").render(rows=step_rows(new, c["start"]))),
        "last_step": snap.project.steps[-1].id if snap.project.steps else after_step,
        "running_roles": sorted({r for _, r, _ in snap.running}),
        "live": snap.live,
        "messages": len(snap.project.messages),
    }
    if with_artifacts:
        update["artifacts"] = str(artifacts_html(snap))
        update["commits"] = str(mod.commit_list())  # type: ignore[attr-defined]
    return update
