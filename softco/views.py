"""Human views of artifacts: the docs/*.md written next to each docs/*.json."""

from __future__ import annotations

from softco.artifacts import Artifact, BugReport, Design, Prd, Requirement, Tasks, TestReport


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
    return (
        f"# Test report, round {r.round}\n\n{r.passed} passed, {r.failed} failed, {r.errors} errors, "
        f"{r.skipped} skipped (pytest exit code {r.exit_code})\n\n| test | requirements | outcome |\n"
        "|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
        + ("\n## Failures\n" + "\n\n".join(failures) + "\n" if failures else "")
    )


def bug_report_md(b: BugReport) -> str:
    fails = "\n\n".join(f"### `{f.test}`\n```\n{f.message.strip()}\n```" for f in b.failures)
    return f"# Bug report: `{b.path}` (round {b.round})\n\nRequirements: {', '.join(b.req_ids)}\n\n{fails}\n"


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
        name = artifact.path.replace("/", "_")
        return {f"docs/bugs/round-{artifact.round}-{name}.md": bug_report_md(artifact)}
    return {}
