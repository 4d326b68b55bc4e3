"""QA's built-in tool actions: run the generated tests for real, and triage their failures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from softco import sandbox
from softco.artifacts import BugReport, Failure, TestReport, TestResult, Tests

OUTPUT_TAIL = 6000


class SandboxUnavailable(Exception):
    """The sandbox failed before the tests started: not a test failure, and no one's bug to fix."""


MESSAGE_LIMIT = 3000


@dataclass
class TestRun:
    """What run_tests needs: the project, the test artifacts in force, the round."""

    __test__ = False
    project: Path
    tests: dict[str, Tests]
    round: int
    dependencies: list[str]
    limits: sandbox.Limits


def _module_to_path(classname: str, known: set[str]) -> str | None:
    parts = classname.split(".")
    for n in range(len(parts), 0, -1):
        candidate = "/".join(parts[:n]) + ".py"
        if candidate in known:
            return candidate
    return None


def _parse_junit(xml_path: Path, known: set[str]) -> dict[tuple[str, str], tuple[str, str, float]]:
    """(file, test name) -> (outcome, message, seconds); collection errors keyed by (file, '*')."""
    results: dict[tuple[str, str], tuple[str, str, float]] = {}
    root = ET.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        seconds = float(case.get("time", "0") or 0)
        file = _module_to_path(classname, known)
        if file is None:  # a collection error: pytest names the module as the test name
            file = _module_to_path(name, known) or name
            name = "*"
        outcome, message = "passed", ""
        for tag, label in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            el = case.find(tag)
            if el is not None:
                outcome = label
                message = (el.text or el.get("message") or "")[-MESSAGE_LIMIT:]
                break
        base = re.sub(r"\[.*\]$", "", name)
        prev = results.get((file, base))
        if prev is None or prev[0] == "passed":  # a failing parametrization wins
            results[(file, base)] = (outcome, message, seconds + (prev[2] if prev else 0.0))
    return results


def run_tests(run: TestRun) -> TestReport:
    """Run every test file QA wrote, in the sandbox, and report each declared test's outcome."""
    reports = run.project / ".softco" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    junit = reports / f"round-{run.round}.xml"
    junit.unlink(missing_ok=True)
    python = sandbox.ensure_venv(run.project, run.dependencies)
    result = sandbox.run(
        run.project,
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit2",
            *sorted(run.tests),
        ],
        run.limits,
    )
    if result.exit_code == sandbox.PREAMBLE_FAILED and not junit.exists():
        raise SandboxUnavailable(
            f"the sandbox could not be set up, so no generated test ran: {result.output.strip()[-500:]}; "
            "install bubblewrap (apt-get install bubblewrap), then `softco resume`"
        )
    parsed = _parse_junit(junit, set(run.tests)) if junit.exists() else {}
    why_missing = (
        f"timed out after {run.limits.wall_seconds:.0f} s"
        if result.timed_out
        else f"did not run (pytest exit code {result.exit_code})"
    )
    results: list[TestResult] = []
    for path in sorted(run.tests):
        for case in run.tests[path].cases:
            hit = parsed.get((path, case.name)) or parsed.get((path, "*"))
            outcome, message, seconds = hit if hit else ("error", why_missing, 0.0)
            results.append(
                TestResult.model_validate(
                    {
                        "file": path,
                        "name": case.name,
                        "req_ids": case.req_ids,
                        "outcome": outcome,
                        "message": message,
                        "duration": seconds,
                    }
                )
            )
    count = {o: sum(r.outcome == o for r in results) for o in ("passed", "failed", "error", "skipped")}
    output = "\n".join(result.warnings + [result.output[-OUTPUT_TAIL:]])
    return TestReport(
        round=run.round,
        passed=count["passed"],
        failed=count["failed"],
        errors=count["error"],
        skipped=count["skipped"],
        exit_code=result.exit_code,
        results=results,
        output=output,
    )


FRAME = re.compile(r'^(?:\s*File "([^"]+)", line \d+|([\w./\-]+\.py):\d+: )', re.MULTILINE)


def owning_file(message: str, design_paths: set[str], fallback: str) -> str:
    """The design file a failure points at: the deepest project frame in its traceback."""
    owner = fallback
    for m in FRAME.finditer(message):
        raw = (m.group(1) or m.group(2) or "").replace("\\", "/")
        for p in design_paths:
            if raw == p or raw.endswith("/" + p):
                owner = p
    return owner


def triage(report: TestReport, tests: dict[str, Tests], design_paths: set[str]) -> list[BugReport]:
    """One bug report per owning file, from every failing or erroring test."""
    grouped: dict[str, list[TestResult]] = {}
    for r in report.results:
        if r.outcome in ("failed", "error"):
            source = tests[r.file].source if r.file in tests else sorted(design_paths)[0]
            grouped.setdefault(owning_file(r.message, design_paths, source), []).append(r)
    bugs = []
    for path in sorted(grouped):
        failing = grouped[path]
        reqs = sorted({q for r in failing for q in r.req_ids}, key=lambda q: int(q.split("-")[1]))
        bugs.append(
            BugReport(
                round=report.round,
                path=path,
                req_ids=reqs,
                failures=[Failure(test=r.nodeid, message=r.message or r.outcome) for r in failing],
            )
        )
    return bugs
