"""The company: hires the SOP's roles and runs them on the board until nothing is left to do.

Scheduling is event driven and deterministic. After every publish the company finds the steps
that became ready (a watched kind arrived, a fan-out item's dependencies are done, a batch action's
producers are idle) and appends them to one queue. Up to ``concurrency`` queued steps run at once,
but results are published strictly in queue order, so the same answers give the same board and the
same commits at any concurrency.
"""

from __future__ import annotations

import asyncio
import functools
import graphlib
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from softco.artifacts import Artifact, Refs, Requirement, TestReport
from softco.board import Board, Message
from softco.company.publisher import Publisher
from softco.company.workspace import Workspace
from softco.errors import EXIT_OK, EXIT_TESTS_FAIL
from softco.llm.structured import Retry
from softco.sandbox import Limits
from softco.sop.load import ActionSpec, RoleSpec, Sop
from softco.steps.gates import Gate
from softco.steps.step import BoardView, Step, StepContext, run_step

if TYPE_CHECKING:
    from softco.steps.hooks import ChangeHooks


#: Event-loop turns after a step is started before the next one is (see Company._start_ready): a step's
#: request needs a few (connect, send headers, send body) to leave.
YIELDS_AFTER_START = 3
#: Seconds the scheduler lets the steps it started run before it makes the commits waiting (Publisher.flush): time
#: to render their prompts and send their requests, so that no model waits on a commit (~20 ms each).
FLUSH_AFTER = 0.02


@dataclass
class Settings:
    max_fix_rounds: int = 3
    concurrency: int = 16
    limits: Limits = field(default_factory=Limits)
    gate: Gate | None = None
    #: Which messages this run builds on: (git branch, first message id NOT included, or None for all).
    lineage: list[tuple[str, int | None]] = field(default_factory=lambda: [("main", None)])
    #: `softco revise`: feedback per artifact kind, for the steps that publish that kind again.
    revise: dict[str, str] = field(default_factory=dict)
    #: `softco resume --answer`: step key -> the file holding its answer, instead of a model's.
    answers: dict[str, Path] = field(default_factory=dict)
    #: `softco change`: the run works on an existing repo, in a worktree (softco/change/mode.py)
    change: ChangeHooks | None = None
    #: commits wait until the steps an artifact made ready have sent their requests (Publisher.flush); off where
    #: the project's state is taken before every call and must have them (a Ray worker's checkpoints)
    defer_commits: bool = True


@dataclass
class Event:
    """A progress event for the CLI: 'start' / 'publish' / 'skip' of a step, or a 'retry' of its call
    (``title`` says why and when)."""

    kind: str
    step_key: str
    role: RoleSpec | None
    message: Message | None = None
    title: str = ""


@dataclass
class Outcome:
    exit_code: int
    reason: str
    report: TestReport | None


class Company:
    def __init__(
        self,
        sop: Sop,
        llm: Any,
        board: Board,
        workspace: Workspace,
        run_id: str,
        settings: Settings,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.sop = sop
        self.llm = llm
        self.board = board
        self.ws = workspace
        self.run_id = run_id
        self.settings = settings
        self.on_event = on_event or (lambda e: None)
        self.view = BoardView()
        self.finished: set[str] = set()
        self.queue: list[Step] = []
        self.tasks: dict[str, asyncio.Task[list[Artifact]]] = {}
        branch_of = {r.id: r.branch for r in board.runs()}
        current = settings.lineage[-1][0]

        def in_lineage(m: Message) -> bool:
            b = branch_of.get(m.run_id, "main")
            return any(b == br and (below is None or m.id < below) for br, below in settings.lineage)

        #: Artifacts a revision replaces, by (kind, subject): shown to the role with the feedback.
        self.superseded: dict[tuple[str, str], dict[str, Any]] = {}
        for m in board.messages():
            if in_lineage(m):
                self.view.add(m)
            else:
                self.superseded[(m.kind, m.subject)] = m.payload
        current_runs = {r for r, b in branch_of.items() if b == current}
        self.finished |= {s.key for s in board.steps() if s.status == "published" and s.run_id in current_runs}
        self.finished |= {m.step_key for m in self.view.messages if branch_of.get(m.run_id, "main") != current}
        self.publisher = Publisher(
            sop, board, workspace, run_id, self.view, self.superseded, settings.change, defer=settings.defer_commits
        )

    # publishing -------------------------------------------------------------------------
    def publish_requirement(self, text: str) -> Message:
        return self._publish(Requirement(text=text), None, "requirement/publish/project", "customer", "publish")

    def _publish(self, artifact: Artifact, cause_id: int | None, step_key: str, role_id: str, action: str) -> Message:
        msg = self.publisher.publish(artifact, cause_id, step_key, role_id, action)
        self.on_event(Event("publish", step_key, self._role(role_id), msg, artifact.title()))
        return msg

    def _publish_step(self, step: Step, artifacts: list[Artifact]) -> None:
        """Publish a step's artifacts once: a step redone after a crash skips what is already out."""
        out = {(m.kind, m.subject) for m in self.view.messages if m.step_key == step.key}
        cause = step.watermark if step.watermark is not None else step.trigger.id
        for art in artifacts:
            if (art.kind, art.subject()) not in out:
                self._publish(art, cause, step.key, step.role.id, step.action.name)
        now = time.time()
        self.board.record_step(
            **step.identity(), run_id=self.run_id, status="published", started_at=now, finished_at=now, attempt=0
        )
        self.finished.add(step.key)

    def _on_retry(self, retry: Retry) -> None:
        role_id = retry.step_key.partition("/")[0]
        self.on_event(Event("retry", retry.step_key, self._role(role_id), title=retry.describe()))

    def _role(self, role_id: str) -> RoleSpec | None:
        return next((r for r in self.sop.roles if r.id == role_id), None)

    # scheduling -------------------------------------------------------------------------
    def _when(self, step: Step) -> bool:
        if not step.action.when:
            return True
        expr = self.sop.env.compile_expression(step.action.when)
        return bool(expr(trigger=step.trigger.payload, item=step.item, subject=step.subject))

    def _queued_keys(self) -> set[str]:
        return {s.key for s in self.queue}

    def _enqueue(self, step: Step) -> None:
        if step.key in self.finished or step.key in self._queued_keys():
            return
        if not self._when(step):
            self.finished.add(step.key)
            self.on_event(Event("skip", step.key, step.role))
            return
        if self._over_max_rounds(step):
            return
        feedback = self.settings.revise.get(step.action.publishes)
        if feedback is not None:
            step.feedback = [feedback]
            step.previous = self.superseded.get((step.action.publishes, step.subject))
        self.queue.append(step)

    def _over_max_rounds(self, step: Step) -> bool:
        """ActionSpec.max_rounds: at most N steps of one action per project (a bound for loops)."""
        limit = step.action.max_rounds
        if limit is None:
            return False
        prefix = f"{step.role.id}/{step.action.name}/"
        return len({k for k in self.finished | self._queued_keys() if k.startswith(prefix)}) >= limit

    def discover(self) -> None:
        """Queue every step that became ready, non-batch actions first, then batch ones."""
        for role in self.sop.roles:
            for action in role.actions:
                if action.batch:
                    continue
                for msg in list(self.view.messages):
                    if msg.kind not in action.trigger:
                        continue
                    if action.for_each is None:
                        self._enqueue(Step(role, action, msg.subject, msg))
                        continue
                    for key, deps, item in dependency_order(msg.payload.get(action.for_each, [])):
                        ready = all(f"{role.id}/{action.name}/{d}" in self.finished for d in deps)
                        if ready or not action.after_dependencies:
                            self._enqueue(Step(role, action, key, msg, item=item))
        for role in self.sop.roles:
            for action in role.actions:
                if not action.batch:
                    continue
                prefix = f"{role.id}/{action.name}/"
                done = {m.step_key: m.cause_id or 0 for m in self.view.messages if m.step_key.startswith(prefix)}
                pending = [s for s in self.queue if s.action is action]
                watermark = max([*done.values(), *(s.watermark or 0 for s in pending)], default=0)
                new = [m for m in self.view.messages if m.kind in action.trigger and m.id > watermark]
                feeding = self._upstream(action)
                if not new or any(s.action.publishes in feeding for s in self.queue if s.action is not action):
                    continue
                n = len(done) + len(pending) + 1
                self._enqueue(Step(role, action, f"round-{n}", new[-1], watermark=new[-1].id))

    def _upstream(self, batch: ActionSpec) -> set[str]:
        """Kinds whose steps can still lead to a new message ``batch`` watches (its triggers included).

        A batch action waits while any queued step publishes one of these: a reviewer's finding that
        an engineer will turn into code holds the test run back just as the engineer's own code does.
        """
        kinds = set(batch.trigger)
        grew = True
        while grew:
            grew = False
            for role in self.sop.roles:
                for a in role.actions:
                    if a is not batch and a.publishes in kinds and not set(a.trigger) <= kinds:
                        kinds |= set(a.trigger)
                        grew = True
        return kinds

    async def _start_ready(self, ctx: StepContext) -> None:
        """Start queued steps, in queue order, while fewer than ``concurrency`` are running. A step that
        finished but waits for its turn to publish holds no slot, so a slow step at the head of the
        queue does not idle the others.

        After each start the event loop runs a few times (:data:`YIELDS_AFTER_START`), so the step just started
        renders its prompt, connects and sends while the next ones render theirs: the first request of a fan-out
        leaves after about four prompts are made rather than after all of them (16 file prompts take ~0.1 s, a
        time in which no model works). The steps still start, and publish, in queue order."""
        running = sum(not t.done() for t in self.tasks.values())
        for step in list(self.queue):
            if running >= max(1, self.settings.concurrency):
                break
            if step.key not in self.tasks:
                self.on_event(Event("start", step.key, step.role))
                self.tasks[step.key] = asyncio.create_task(run_step(ctx, step))
                running += 1
                for _ in range(YIELDS_AFTER_START):
                    await asyncio.sleep(0)

    async def run(self, requirement: str | None = None) -> Outcome:
        self.publisher.heal()  # what an earlier run left uncommitted, before anything new is published
        if requirement is not None and "requirement" not in self.view.latest:
            self.publish_requirement(requirement)
        ctx = StepContext(
            sop=self.sop,
            llm=self.llm,
            board=self.board,
            run_id=self.run_id,
            view=self.view,
            project_dir=self.ws.root,
            max_fix_rounds=self.settings.max_fix_rounds,
            limits=self.settings.limits,
            on_retry=self._on_retry,
            answers=self.settings.answers,
            change=self.settings.change,
        )
        try:
            self.discover()
            while self.queue:
                await self._start_ready(ctx)
                head = self.queue[0]
                while not self.tasks[head.key].done():
                    running = [t for t in self.tasks.values() if not t.done()]
                    if self.publisher.waiting():
                        done, _ = await asyncio.wait(running, timeout=FLUSH_AFTER, return_when=asyncio.FIRST_COMPLETED)
                        if not done:  # the steps running have sent their requests by now: commit meanwhile
                            self.publisher.flush()
                            continue
                    else:
                        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    await self._start_ready(ctx)
                artifacts = await self.tasks[head.key]
                self.queue.pop(0)
                del self.tasks[head.key]
                artifacts = await self._review(ctx, head, artifacts)
                self._publish_step(head, artifacts)
                self.discover()
        finally:
            for t in self.tasks.values():
                t.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            self.tasks.clear()
            self._flush_at_the_end()
        return self.outcome()

    def _flush_at_the_end(self) -> None:
        """Make the commits still waiting. When the run is stopping on an error, one that fails is left to the
        next run's :meth:`Publisher.heal` (the board has its artifact) rather than hide the error."""
        if sys.exc_info()[0] is None:
            self.publisher.flush()
            return
        with suppress(Exception):
            self.publisher.flush()

    async def _review(self, ctx: StepContext, step: Step, artifacts: list[Artifact]) -> list[Artifact]:
        """Show gated kinds to a person before they are published; redo the step on feedback."""
        gate = self.settings.gate
        if gate is not None:
            self.publisher.flush()  # a person reviewing sees the repo as it stands
        while gate is not None and len(artifacts) == 1 and artifacts[0].kind in gate.kinds:
            art = artifacts[0]
            check = functools.partial(_validate, type(art), self.view.refs())
            areview = getattr(gate, "areview", None)  # a gate the page can decide too waits without blocking
            decision = await areview(step.key, art, check) if areview else gate.review(step.key, art, check)
            now = time.time()
            self.board.record_step(
                **step.identity(),
                run_id=self.run_id,
                status=f"review:{decision.action}",
                started_at=now,
                finished_at=now,
                attempt=0,
                error=decision.feedback,
            )
            if decision.action == "approve":
                break
            if decision.action == "edit" and decision.artifact is not None:
                return [decision.artifact]
            step.feedback.append(decision.feedback or "")
            step.previous = art.model_dump(mode="json")
            artifacts = await run_step(ctx, step)
        return artifacts

    def outcome(self) -> Outcome:
        report = self.view.test_report()
        if report is None:
            return Outcome(EXIT_TESTS_FAIL, "no tests were run", None)
        if report.ok:
            return Outcome(EXIT_OK, f"all {report.passed} tests pass", report)
        failing = [r.nodeid for r in report.results if r.outcome in ("failed", "error")]
        if failing:
            why = f"{len(failing)} test(s) still fail after {report.round - 1} fix round(s)"
        elif report.exit_code != 0:
            why = f"pytest exited with code {report.exit_code}"
        else:
            why = "no test passed"
        return Outcome(EXIT_TESTS_FAIL, why, report)


def dependency_order(items: list[dict[str, Any]]) -> list[tuple[str, list[str], dict[str, Any]]]:
    """Fan-out items as (key, dependencies, item), every item after the items it depends on.

    The queue publishes in order, so this order is the commit order: a file never lands before a
    file it imports, even when all of them are written at once.
    """
    entries: dict[str, list[tuple[str, list[str], dict[str, Any]]]] = {}  # by key, in the given order
    for item in items:
        key = str(item.get("path") or item.get("id"))
        entries.setdefault(key, []).append((key, [str(d) for d in item.get("depends_on", []) if str(d) != key], item))
    order = list(entries)
    graph = graphlib.TopologicalSorter({k: [d for e in es for d in e[1] if d in entries] for k, es in entries.items()})
    try:
        graph.prepare()
    except graphlib.CycleError:  # a cycle the artifact's validation should have refused: keep the given order
        return [e for es in entries.values() for e in es]
    ordered: list[tuple[str, list[str], dict[str, Any]]] = []
    while graph.is_active():  # in rounds: what became ready, in the given order
        ready = sorted(graph.get_ready(), key=order.index)
        ordered += [e for k in ready for e in entries[k]]
        graph.done(*ready)
    return ordered


def _validate(cls: type[Artifact], refs: Refs, text: str) -> Artifact:
    return cls.model_validate_json(text, context=refs)


def project_board_path(project: Path) -> Path:
    return project / ".softco" / "board.sqlite"
