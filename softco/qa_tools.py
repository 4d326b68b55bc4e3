"""QA's built-in tool actions: run the generated tests for real, and triage their failures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from softco import sandbox
from softco.artifacts import BugReport, Dispute, Failure, TestDispute, TestReport, TestResult, Tests

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


#: What differs between two runs of the same failing test: the sandbox's temporary HOME (pytest's
#: tmp_path lives under it) and object addresses in reprs.
_RUN_SPECIFIC = [
    (re.compile(r"softco-home-[A-Za-z0-9_]+"), "softco-home"),
    (re.compile(r"\b0x[0-9a-f]{6,}\b"), "0x..."),
]


def stable_message(text: str) -> str:
    """A failure message that is the same in every run of the same failure, so a fix prompt built from
    it is too: the step cache answers a re-run, and a recorded session replays without a warning."""
    for pattern, replacement in _RUN_SPECIFIC:
        text = pattern.sub(replacement, text)
    return text


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
                message = stable_message(el.text or el.get("message") or "")[-MESSAGE_LIMIT:]
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
            "--tb=short",  # the failing lines, not whole functions with their argument values: shorter fix prompts
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


@dataclass
class Disputes:
    """What the board says about disputed tests, for triage.

    ``by_owner``: design file -> (board id of its latest code, {test id: the engineer's reason});
    ``tests_at``: test file -> board id of its latest version. A dispute is open while the test file
    has not been published again since the code that disputes it: QA has not ruled yet.
    """

    by_owner: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    tests_at: dict[str, int] = field(default_factory=dict)
    #: False when no role of the SOP re-checks disputed tests: every failure then goes to the engineer
    rechecked: bool = True

    def reason(self, owner: str, result: TestResult) -> tuple[str, bool] | None:
        """(the engineer's reason, is it still open) if ``owner``'s latest code disputes ``result``."""
        code_id, reasons = self.by_owner.get(owner, (0, {}))
        if result.nodeid not in reasons:
            return None
        return reasons[result.nodeid], self.tests_at.get(result.file, 0) < code_id


KEPT = "You disputed this test; QA re-checked it against the spec and kept it, so the code must change."


def triage(
    report: TestReport, tests: dict[str, Tests], design_paths: set[str], disputes: Disputes | None = None
) -> tuple[list[BugReport], list[TestDispute]]:
    """Every failing or erroring test goes to the engineer of the file it points at (one bug report per
    file), unless that engineer's latest code disputes the test and QA has not re-checked it since:
    then it goes to QA (one test dispute per test file)."""
    disputes = disputes or Disputes(rechecked=False)
    grouped: dict[str, list[Failure]] = {}
    reqs: dict[str, set[str]] = {}
    disputed: dict[str, list[Dispute]] = {}
    for r in report.results:
        if r.outcome not in ("failed", "error"):
            continue
        source = tests[r.file].source if r.file in tests else sorted(design_paths)[0]
        owner = owning_file(r.message, design_paths, source)
        message = r.message or r.outcome
        found = disputes.reason(owner, r)
        if found and found[1] and disputes.rechecked and r.file in tests:
            disputed.setdefault(r.file, []).append(Dispute(test=r.nodeid, message=message, reason=found[0]))
            continue
        kept = found is not None and not found[1]  # the test file was published again since the dispute
        grouped.setdefault(owner, []).append(Failure(test=r.nodeid, message=message, note=KEPT if kept else ""))
        reqs.setdefault(owner, set()).update(r.req_ids)
    bugs = [
        BugReport(
            round=report.round,
            path=path,
            req_ids=sorted(reqs[path], key=lambda q: int(q.split("-")[1])),
            failures=grouped[path],
        )
        for path in sorted(grouped)
    ]
    to_qa = [
        TestDispute(round=report.round, path=test_file, source=tests[test_file].source, disputes=items)
        for test_file, items in sorted(disputed.items())
    ]
    return bugs, to_qa
