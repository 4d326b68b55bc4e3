"""QA's built-in tool actions: run the generated tests for real, and triage their failures."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from softco import config, sandbox
from softco.artifacts import BugReport, Dispute, Failure, TestDispute, TestReport, TestResult, Tests
from softco.errors import SoftcoError

OUTPUT_TAIL = 6000


class SandboxUnavailable(SoftcoError):
    """The sandbox failed before the tests started: not a test failure, and no one's bug to fix."""


MESSAGE_LIMIT = 3000
MAX_SECONDS = 86_400.0  # a test's duration as reported; more is a lie


@dataclass
class TestRun:
    """What run_tests needs: the project, the test artifacts in force, the round."""

    __test__ = False
    project: Path
    tests: dict[str, Tests]
    round: int
    dependencies: list[str]
    limits: sandbox.Limits
    #: more test files to run (a change run: the repo's own tests) and pytest options before the files
    extra: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    #: a shell script run first, in the same sandbox (a change run: the repo's .softco/setup.sh)
    setup: str | None = None
    #: the project's own pytest configuration and conftest.py files are used, as its users run its tests (a
    #: change run: the user's repo, whose test-runner files no model may write); else softco's own, and none
    own_config: bool = False


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


class _Event(BaseModel):
    """One line the pytest plugin wrote to the results pipe (written by code the model wrote too:
    validated, bounded, and unknown lines are skipped)."""

    model_config = ConfigDict(extra="forbid")
    event: Literal["test", "collect", "finish"]
    nodeid: str = Field(default="", max_length=2000)
    when: str = ""
    outcome: Literal["passed", "failed", "error", "skipped"] = "error"
    message: str = ""
    duration: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    exitstatus: int = 0
    collected: int = 0


_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


_NODE_FILE = re.compile(r"(?:[A-Za-z0-9_.\-]+/)*[A-Za-z0-9_.\-]+\.py")
_NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Parsed:
    """What came through the results pipe."""

    #: (file, test name) -> (outcome, message, seconds); collection errors keyed by (file, '*')
    results: dict[tuple[str, str], tuple[str, str, float]]
    #: lines that were not valid events
    bad: int = 0
    #: how many tests pytest said it collected when the session finished; None: it never said so
    collected: int | None = None
    #: distinct tests an outcome came for
    seen: int = 0
    #: distinct tests (each parametrization on its own) whose every outcome was "passed"
    nodes_passed: int = 0


def parse_results(data: bytes) -> Parsed:
    """Every test pytest ran or failed to collect, and whether the session ended as pytest ends it.

    The pipe is written from inside the code under test's process: a file or test name that is not
    a plain path or identifier is kept, as an outcome, under a placeholder name."""
    results: dict[tuple[str, str], tuple[str, str, float]] = {}
    bad = 0
    collected: int | None = None
    nodes: set[str] = set()
    node_worst: dict[str, int] = {}
    for line in data.splitlines():
        try:
            ev = _Event.model_validate_json(line)
        except ValueError:
            bad += 1
            continue
        if ev.event == "finish":
            collected = ev.collected
            continue
        if ev.event == "test":
            nodes.add(ev.nodeid)
            node_worst[ev.nodeid] = max(node_worst.get(ev.nodeid, 0), _RANK[ev.outcome])
        path, _, rest = ev.nodeid.partition("::")
        name = re.sub(r"\[.*\]$", "", rest.rsplit("::", 1)[-1]) if rest else "*"
        path = path if _NODE_FILE.fullmatch(path) and ".." not in path.split("/") else "(unnamed file)"
        name = name if name == "*" or _NODE_NAME.fullmatch(name) else "unnamed_test"
        message = stable_message(ev.message)[-MESSAGE_LIMIT:]
        key = (path or "(collection)", name)
        prev = results.get(key)
        seconds = min(ev.duration, MAX_SECONDS) + (prev[2] if prev else 0.0)
        if prev is None or _RANK[ev.outcome] > _RANK[prev[0]]:  # a failing parametrization or teardown wins
            results[key] = (ev.outcome, message, seconds)
        else:
            results[key] = (prev[0], prev[1], seconds)
    passed_nodes = sum(1 for rank in node_worst.values() if rank == _RANK["passed"])
    return Parsed(results, bad, collected, len(nodes), passed_nodes)


def run_tests(run: TestRun) -> TestReport:
    """Run every test file QA wrote, in the sandbox, and report every test pytest collected.

    Outcomes come from softco's pytest plugin through a pipe, not from a file the code under test can
    write. Every declared case that did not run is an error; a test nobody declared still counts.
    """
    try:
        return _run_tests(run)
    except sandbox.SandboxError as exc:
        raise SandboxUnavailable(str(exc)) from None


def _configuration(run: TestRun) -> list[str]:
    if run.own_config:
        return []
    # the engineer's code does not configure the test run (no conftest.py), nor do its config files
    return ["--noconftest", "-c", str(sandbox.PLUGIN_DIR / "pytest.ini")]


def _run_tests(run: TestRun) -> TestReport:
    python = sandbox.ensure_venv(run.project, run.dependencies, config.current().pip_index_url)
    # the setup script, if any, runs in the sandbox first; pytest runs only if it succeeds
    first = ["/bin/sh", "-c", f'set -e\n{run.setup}\nexec "$@"', "setup.sh"] if run.setup is not None else []
    result = sandbox.run(
        run.project,
        [
            *first,
            str(python),
            "-P",  # not the work copy first on sys.path: softco's plugin (on PYTHONPATH first) cannot be shadowed
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "softco_results",
            *_configuration(run),
            "--rootdir=.",
            "--tb=short",  # the failing lines, not whole functions with their argument values: shorter fix prompts
            *run.options,
            *sorted(run.tests),
            *run.extra,
        ],
        run.limits,
        results=True,
    )
    got = parse_results(result.results)
    parsed, bad = got.results, got.bad
    if result.exit_code == sandbox.PREAMBLE_FAILED and not parsed:
        raise SandboxUnavailable(
            f"the sandbox could not be set up, so no generated test ran: {result.output.strip()[-500:]}; "
            "install bubblewrap (apt-get install bubblewrap), then `softco resume`"
        )
    why_missing = (
        f"timed out after {run.limits.wall_seconds:.0f} s"
        if result.timed_out
        else f"did not run (pytest exit code {result.exit_code})"
    )
    results: list[TestResult] = []
    declared: set[tuple[str, str]] = set()
    for path in sorted(run.tests):
        for case in run.tests[path].cases:
            declared.add((path, case.name))
            hit = parsed.get((path, case.name)) or parsed.get((path, "*"))
            outcome, message, seconds = hit if hit else ("error", why_missing, 0.0)
            results.append(_result(path, case.name, case.req_ids, outcome, message, seconds))
    for (path, name), (outcome, message, seconds) in sorted(parsed.items()):
        if (path, name) in declared or (name == "*" and path in run.tests):
            continue  # a declared case, or a collection error already given to the file's declared cases
        if name == "*":
            message = f"collection error: {message}"
            name = "collection"
        results.append(_result(path, name, [], outcome, message or "(not declared by QA)", seconds))
    if not result.timed_out and (got.collected is None or got.collected != got.seen):
        said = (
            "did not say the session ended"
            if got.collected is None
            else (f"said it collected {got.collected} test(s) but reported {got.seen}")
        )
        results.append(
            _result(
                "(pytest)",
                "session",
                [],
                "error",
                f"pytest {said}: the test run was cut short (code that ends the process early, or a crash) "
                f"or its report was tampered with; the end of its output:\n{result.output[-MESSAGE_LIMIT:]}",
                0.0,
            )
        )
    elif result.exit_code != 0 and not any(r.outcome in ("failed", "error") for r in results):
        results.append(
            _result(
                "(pytest)",
                "exit_status",
                [],
                "error",
                f"pytest exited with code {result.exit_code} although no test failed (code that ends the test run "
                f"early, or an error outside any test); the end of its output:\n{result.output[-MESSAGE_LIMIT:]}",
                0.0,
            )
        )
    count = {o: sum(r.outcome == o for r in results) for o in ("passed", "failed", "error", "skipped")}
    notes = [f"{bad} line(s) on the results pipe were not valid test events and were ignored"] if bad else []
    output = "\n".join(notes + [result.output[-OUTPUT_TAIL:]])
    return TestReport(
        round=run.round,
        passed=count["passed"],
        failed=count["failed"],
        errors=count["error"],
        skipped=count["skipped"],
        exit_code=result.exit_code,
        results=results,
        output=output,
        sandbox=f"{result.mechanism}, generated code run as {result.user}",
        sandbox_warnings=result.warnings,
    )


def _result(file: str, name: str, req_ids: list[str], outcome: str, message: str, seconds: float) -> TestResult:
    return TestResult.model_validate(
        {"file": file, "name": name, "req_ids": req_ids, "outcome": outcome, "message": message, "duration": seconds}
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
    report: TestReport,
    tests: dict[str, Tests],
    design_paths: set[str],
    disputes: Disputes | None = None,
    owners: dict[str, str] | None = None,
) -> tuple[list[BugReport], list[TestDispute]]:
    """Every failing or erroring test goes to the engineer of the file it points at (one bug report per
    file), unless that engineer's latest code disputes the test and QA has not re-checked it since:
    then it goes to QA (one test dispute per test file). ``owners`` names the file a test file QA did not
    write goes to when its traceback names none (a change run: the repo's own tests)."""
    disputes = disputes or Disputes(rechecked=False)
    grouped: dict[str, list[Failure]] = {}
    reqs: dict[str, set[str]] = {}
    disputed: dict[str, list[Dispute]] = {}
    for r in report.results:
        if r.outcome not in ("failed", "error"):
            continue
        source = tests[r.file].source if r.file in tests else (owners or {}).get(r.file, sorted(design_paths)[0])
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
