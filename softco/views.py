"""Human views of artifacts: the docs/*.md written next to each docs/*.json.

The built-in kinds have views of their own; any other kind (a kind a SOP declares in YAML) gets
``docs/<kind>.md`` (one per project) or ``docs/<kind>/<subject>.md`` (one per subject), a generic
rendering of its fields, next to the same name ``.json``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from softco.artifacts import Artifact, BugReport, Design, Prd, Requirement, Tasks, TestDispute, TestReport
from softco.custom_kinds import CustomArtifact


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {i}" for i in items) or "- (none)"


def prd_md(p: Prd) -> str:
    reqs = []
    for r in p.requirements:
        crit = "\n".join(f"  - {c}" for c in r.acceptance_criteria)
        reqs.append(f"- **{r.id}** [{r.priority}] **{r.title}**: {r.description}\n{crit}")
    return (
        f"# PRD: {p.project_name}\n\n{p.summary}\n\n## Goals\n{_bullets(p.goals)}\n\n"
        f"## User stories\n{_bullets(p.user_stories)}\n\n## Requirements\n"
        + "\n".join(reqs)
        + f"\n\n## Competitive analysis\n{_bullets(p.competitive_analysis)}\n\n"
        f"## Open questions\n{_bullets(p.open_questions)}\n"
    )


def design_md(d: Design) -> str:
    files = []
    for f in d.files:
        ifaces = "\n".join(f"  - `{i}`" for i in f.interfaces)
        files.append(f"- `{f.path}` ({', '.join(f.req_ids) or 'support'}): {f.purpose}\n{ifaces}")
    deps = ", ".join(d.dependencies) or "standard library only"
    return (
        f"# Design: `{d.package}`\n\n{d.approach}\n\nEntry point: `{d.entry_point or '(library)'}`"
        f"  \nDependencies: {deps}\n\n## Files\n"
        + "\n".join(files)
        + f"\n\n## Classes\n```mermaid\n{d.class_diagram.strip()}\n```\n\n"
        f"## Main sequence\n```mermaid\n{d.sequence_diagram.strip()}\n```\n"
    )


def tasks_md(t: Tasks) -> str:
    rows = [
        f"| `{x.path}` | {', '.join(x.req_ids)} | {', '.join(f'`{d}`' for d in x.depends_on)} | {x.description} |"
        for x in t.tasks
    ]
    return "# Tasks\n\n| file | requirements | depends on | what |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"


def test_report_md(r: TestReport) -> str:
    rows = [f"| `{c.nodeid}` | {', '.join(c.req_ids)} | {c.outcome} |" for c in r.results]
    failures = [
        f"### `{c.nodeid}`\n```\n{c.message.strip()}\n```" for c in r.results if c.outcome in ("failed", "error")
    ]
    verdict = "all tests pass" if r.ok else "tests fail"
    sandbox = f"\nSandbox: {r.sandbox}.\n" if r.sandbox else ""
    if r.regressions:  # `softco change`: the repo's own tests that passed before the change
        sandbox += f"\n**Regressions** (passed before the change, fail after it): {', '.join(r.regressions)}\n"
    sandbox += "".join(f"\n> **Warning:** {w}\n" for w in r.sandbox_warnings)
    return (
        f"# Test report, round {r.round}\n\n{r.passed} passed, {r.failed} failed, {r.errors} errors, "
        f"{r.skipped} skipped (pytest exit code {r.exit_code}): **{verdict}**. Every test pytest collected "
        "counts, whether QA declared it or not; all tests pass only when pytest exits 0, every declared test "
        f"ran, and none failed.\n{sandbox}\n| test | requirements | outcome |\n"
        "|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
        + ("\n## Failures\n" + "\n\n".join(failures) + "\n" if failures else "")
    )


def bug_report_md(b: BugReport) -> str:
    fails = "\n\n".join(f"### `{f.test}`\n```\n{f.message.strip()}\n```" for f in b.failures)
    return f"# Bug report: `{b.path}` (round {b.round})\n\nRequirements: {', '.join(b.req_ids)}\n\n{fails}\n"


def test_dispute_md(d: TestDispute) -> str:
    items = "\n\n".join(
        f"### `{x.test}`\nThe engineer: {x.reason.strip()}\n```\n{x.message.strip()}\n```" for x in d.disputes
    )
    return (
        f"# Disputed tests: `{d.path}` (round {d.round})\n\nThe engineer says these tests of `{d.source}` "
        f"are wrong; QA re-checks them against the spec.\n\n{items}\n"
    )


def doc_files(artifact: Artifact) -> dict[str, str]:
    """The docs/ files an artifact is shown as (markdown for people, JSON for machines)."""
    js = artifact.model_dump_json(indent=2) + "\n"
    if isinstance(artifact, Requirement):
        return {"docs/requirement.md": artifact.text + "\n"}
    if isinstance(artifact, Prd):
        return {"docs/prd.md": prd_md(artifact), "docs/prd.json": js}
    if isinstance(artifact, Design):
        return {"docs/design.md": design_md(artifact), "docs/design.json": js}
    if isinstance(artifact, Tasks):
        return {"docs/tasks.md": tasks_md(artifact), "docs/tasks.json": js}
    if isinstance(artifact, TestReport):
        return {"docs/test_report.md": test_report_md(artifact), "docs/test_report.json": js}
    if isinstance(artifact, BugReport):
        return {f"docs/bugs/round-{artifact.round}-{doc_name(artifact.path)}.md": bug_report_md(artifact)}
    if isinstance(artifact, TestDispute):
        return {f"docs/bugs/round-{artifact.round}-disputed-{doc_name(artifact.path)}.md": test_dispute_md(artifact)}
    if isinstance(artifact, CustomArtifact):
        return generic_doc_files(artifact)
    return {}  # code and tests are files of the repo already


# kinds without a view of their own (the kinds a SOP declares in YAML) -----------------------------

SHORT = 80


def doc_slug(subject: str) -> str:
    """A readable file name for a subject: 'calc/ops.py' -> 'calc_ops.py' (not one-to-one: see doc_name)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", subject).strip("._-")[:100]
    return slug or "item"


def doc_name(subject: str) -> str:
    """A file name for a subject that no other subject gets: the readable slug and a short hash of the
    subject ('calc/ops.py' and 'calc_ops.py' must not share a bug report, nor 'calc_OPS.py' and
    'calc/ops.py' names that differ only in case)."""
    return f"{doc_slug(subject)}-{hashlib.sha1(subject.encode()).hexdigest()[:10]}"


def generic_doc_base(artifact: Artifact) -> str:
    """docs/<kind> for a kind about the project, docs/<kind>/<subject> for one per subject."""
    subject = artifact.subject()
    if subject in ("project", artifact.kind):
        return f"docs/{artifact.kind}"
    return f"docs/{artifact.kind}/{doc_name(subject)}"


def generic_doc_files(artifact: Artifact) -> dict[str, str]:
    """Any artifact as markdown (its fields, in declaration order) plus its JSON."""
    base = generic_doc_base(artifact)
    js = artifact.model_dump_json(indent=2) + "\n"
    return {
        f"{base}.md": generic_md(
            artifact.kind, artifact.title(), artifact.model_dump(mode="json"), type(artifact).__doc__ or ""
        ),
        f"{base}.json": js,
    }


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _short(v: Any) -> bool:
    return not isinstance(v, dict | list) and "\n" not in str(v) and len(str(v)) <= SHORT


def _cell(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return "" if v is None else str(v).replace("|", "\\|")


def _fields_md(data: dict[str, Any], level: int) -> str:
    heading = "#" * min(level, 6)
    scalars = [f"- **{_label(k)}**: {'' if v is None else v}" for k, v in data.items() if _short(v)]
    parts = ["\n".join(scalars)] if scalars else []
    for k, v in data.items():
        if _short(v):
            continue
        if isinstance(v, dict):
            parts.append(f"{heading} {_label(k)}\n\n{_fields_md(v, level + 1)}")
        elif isinstance(v, list):
            parts.append(f"{heading} {_label(k)}\n\n{_list_md(v, level + 1)}")
        else:
            parts.append(f"{heading} {_label(k)}\n\n{str(v).strip()}")
    return "\n\n".join(p for p in parts if p)


def _list_md(items: list[Any], level: int) -> str:
    if not items:
        return "(none)"
    if not all(isinstance(i, dict) for i in items):
        return "\n".join(f"- {i}" for i in items)
    keys = list(dict.fromkeys(k for i in items for k in i))
    if all(_short(v) or (isinstance(v, list) and all(_short(x) for x in v)) for i in items for v in i.values()):
        rows = ["| " + " | ".join(_label(k) for k in keys) + " |", "|" + "---|" * len(keys)]
        rows += ["| " + " | ".join(_cell(i.get(k)) for k in keys) + " |" for i in items]
        return "\n".join(rows)
    heading = "#" * min(level, 6)
    out = []
    for n, i in enumerate(items, 1):
        first = next((str(v) for v in i.values() if isinstance(v, str) and _short(v)), "")
        out.append(f"{heading} {n}. {first}".rstrip() + "\n\n" + _fields_md(i, level + 1))
    return "\n\n".join(out)


def generic_md(kind: str, title: str, data: dict[str, Any], description: str = "") -> str:
    """Markdown for any artifact's fields: short values as a list, long text and lists as sections."""
    head = f"# {_label(kind)}: {title}\n\n"
    if description:
        head += f"_{description.strip()}_\n\n"
    return head + _fields_md(data, 2) + "\n"
