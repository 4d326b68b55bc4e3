"""The requirement coverage matrix: each REQ id -> design files -> code files -> tests -> outcome.

A pure function over artifacts, shared by ``softco show DIR trace`` and the HTML report. A
requirement with no test, or with a failing test, is flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from softco.artifacts import Code, Design, Prd, TestReport, Tests

Status = Literal["passed", "failing", "no_test", "not_run"]
TestOutcome = Literal["passed", "failed", "error", "skipped", "not run"]

STATUS_LABELS: dict[str, str] = {
    "passed": "passed",
    "failing": "FAILING",
    "no_test": "NO TEST",
    "not_run": "NOT RUN",
}


class TestLink(BaseModel):
    """One test tagged with the requirement, and its outcome in the latest test report."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")
    nodeid: str
    outcome: TestOutcome


class CoverageRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    req_id: str
    title: str
    priority: str
    design_files: list[str]
    code_files: list[str]
    tests: list[TestLink]
    status: Status

    @property
    def flagged(self) -> bool:
        """No test, or a failing one: what a reviewer must look at first."""
        return self.status in ("no_test", "failing")

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def _status(tests: list[TestLink]) -> Status:
    if not tests:
        return "no_test"
    outcomes = {t.outcome for t in tests}
    if outcomes & {"failed", "error"}:
        return "failing"
    if outcomes == {"passed"}:
        return "passed"
    return "not_run"


def coverage(
    prd: Prd,
    design: Design | None,
    code: Iterable[Code],
    tests: Iterable[Tests],
    report: TestReport | None,
) -> list[CoverageRow]:
    """One row per PRD requirement, in PRD order."""
    code = list(code)
    outcomes = {r.nodeid: r.outcome for r in report.results} if report else {}
    tagged: dict[str, dict[str, None]] = {}  # REQ id -> test node ids, ordered, no duplicates
    for t in tests:
        for case in t.cases:
            for rid in case.req_ids:
                tagged.setdefault(rid, {})[f"{t.path}::{case.name}"] = None
    for r in report.results if report else []:
        for rid in r.req_ids:
            tagged.setdefault(rid, {})[r.nodeid] = None
    rows = []
    for req in prd.requirements:
        links = [TestLink(nodeid=n, outcome=outcomes.get(n, "not run")) for n in tagged.get(req.id, {})]
        rows.append(
            CoverageRow(
                req_id=req.id,
                title=req.title,
                priority=req.priority,
                design_files=[f.path for f in design.files if req.id in f.req_ids] if design else [],
                code_files=[c.path for c in code if req.id in c.req_ids],
                tests=links,
                status=_status(links),
            )
        )
    return rows
