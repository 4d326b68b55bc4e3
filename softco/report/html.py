"""``softco report DIR``: one self-contained HTML file to review a generated project.

No request leaves the page: CSS, JavaScript (mermaid included) and highlighting styles are inline,
and a Content-Security-Policy allows nothing else. Artifact text comes from a model and is treated
as untrusted: the template autoescapes, markdown is rendered with raw HTML and images disabled,
code is highlighted server-side by pygments, and mermaid runs with ``securityLevel: 'strict'``.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_for_filename
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

import softco
from softco.artifacts import BugReport, TestDispute, TestReport
from softco.markdown import keep_dunders
from softco.report.costs import (
    cost_by_role,
    cost_by_step,
    format_cost,
    format_count,
    format_total_cost,
    format_usage,
    usage_note,
)
from softco.report.coverage import coverage
from softco.report.project import Project, utc
from softco.safe_text import on_page
from softco.views import generic_md

FORMATTER = HtmlFormatter(cssclass="hl", linenos="table", wrapcode=True)


@cache
def _markdown() -> MarkdownIt:
    # "commonmark" with html off: raw HTML in artifact text is escaped, not passed through;
    # images are off so that no markdown can make the page fetch anything; `__init__.py` stays itself.
    return keep_dunders(MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image"))


def md(text: str) -> Markup:
    """Markdown blocks -> safe HTML."""
    return Markup(_markdown().render(on_page(text)))  # safe: markdown-it escapes all text; raw HTML is off


def md_inline(text: str) -> Markup:
    """One line of markdown (bold, code, links) -> safe HTML, no paragraph."""
    return Markup(_markdown().renderInline(on_page(text)))  # safe: markdown-it escapes all text


def highlight(path: str, content: str) -> Markup:
    """Source -> pygments HTML (classes styled by :func:`pygments_css`)."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    return Markup(pygments_highlight(on_page(content), lexer, FORMATTER))  # safe: pygments escapes the source


def pygments_css() -> str:
    return str(FORMATTER.get_style_defs(".hl"))


def _asset(*parts: str) -> str:
    return resources.files("softco.report").joinpath(*parts).read_text(encoding="utf-8")


def _script(js: str) -> str:
    if "</script" in js.lower():
        raise ValueError("an inline script must not contain '</script'")
    return js


def _csp_hash(js: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")


def finalize(value: Any) -> Any:
    """What a template prints: text (not HTML made by softco) with its control characters shown (:func:`on_page`)."""
    return on_page(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _anchor(text: str) -> str:
    return "f-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


@cache
def environment(package: str) -> Environment:
    """The one Jinja environment of softco's HTML pages (this report, `softco serve`'s pages, the eval
    scoreboard), over ``package``'s ``templates``: every value autoescaped, an undefined name an error, the
    report's renderers (markdown, highlighting, costs) and softco's version at hand."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters.update(md=md, md_inline=md_inline, anchor=_anchor)
    env.globals.update(
        version=softco.__version__, highlight=highlight, format_cost=format_cost, format_count=format_count
    )
    return env


def _env() -> Environment:
    return environment("softco.report")


def context(p: Project) -> dict[str, Any]:
    """Everything the template shows, derived from the project's board and repo."""
    prd, report = p.prd, p.test_report
    kinds = {m.id: m.kind for m in p.messages}
    start = p.messages[0].created_at if p.messages else 0.0
    timeline = [
        {
            "m": m,
            "sender": p.role_name(m.sender_role),
            "title": p.title_of(m),
            "offset": m.created_at - start,
            "reply_kind": kinds.get(m.cause_id) if m.cause_id is not None else None,
        }
        for m in p.messages
    ]
    s = p.stats
    return {
        "p": p,
        "name": prd.project_name if prd else p.root.name,
        "generated": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": softco.__version__,
        "started": utc(p.last_run.started_at) if p.last_run else "",
        "stats": s,
        "tokens": format_usage(s),
        "usage_note": usage_note(s),
        "total_cost": format_total_cost(s),
        "by_role": cost_by_role(p.steps, p.role_name),
        "by_step": cost_by_step(p.steps),
        "coverage": coverage(prd, p.design, p.code.values(), p.tests.values(), report) if prd else [],
        "prd": prd,
        "design": p.design,
        "tasks": p.tasks,
        "code": p.code,
        "tests": p.tests,
        "report": report,
        "rounds": p.all_of(TestReport),
        "bugs": p.all_of(BugReport),
        "disputes": p.all_of(TestDispute),
        "timeline": timeline,
        "commits": p.commits,
        "others": [{"m": m, "html": md(generic_md(m.kind, m.subject, m.payload))} for m in p.other_artifacts()],
        "sha_in_log": {c.sha for c in p.commits},
    }


@cache
def _page_assets() -> dict[str, Any]:
    """The inline scripts (mermaid and ours), the CSS, and a CSP that allows those scripts and nothing else
    (read and hashed once a process: mermaid's build is 3.5 MB)."""
    scripts = [_script(_asset("vendor", "mermaid.min.js")), _script(_asset("templates", "report.js"))]
    hashes = " ".join(f"'{_csp_hash(js)}'" for js in scripts)
    csp = f"default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; script-src {hashes}"
    css = _asset("templates", "report.css") + "\n" + pygments_css()
    # safe: the CSS and scripts are our own files and the vendored mermaid build, not model output
    return {"csp": csp, "css": Markup(css), "scripts": [Markup(js) for js in scripts]}


def render_report(p: Project) -> str:
    """The whole report page as one HTML string."""
    return _env().get_template("report.html.j2").render(**context(p), **_page_assets())


def warm() -> None:
    """Fill this process's caches a report needs (its template compiled, the page's assets read and hashed):
    `softco eval`'s fork server does, so that no worker pays for them again (softco/eval/warm.py)."""
    _env().get_template("report.html.j2")
    _page_assets()


def render_graph(title: str, mermaid_src: str) -> str:
    """A self-contained page drawing one mermaid diagram (``softco sop graph --html``), offline.

    The source is escaped into the page; the report's script draws it with ``securityLevel: 'strict'`` and
    turns any tag in it into text, so mermaid's own ``<br/>`` line breaks become `` · ``."""
    src = mermaid_src.replace("<br/>", " · ")
    page = _env().get_template("graph.html.j2")
    return page.render(title=title, src=src, version=softco.__version__, **_page_assets())


def default_report_path(project: Path) -> Path:
    """``DIR/.softco/report.html``: inside the git-ignored folder, so the repo stays clean."""
    return project / ".softco" / "report.html"


def write_report(p: Project, out: Path | None = None) -> Path:
    path = out or default_report_path(p.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(p), encoding="utf-8")
    return path
