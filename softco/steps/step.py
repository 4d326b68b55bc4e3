"""A role at run time: the trigger it watched comes in, its action runs, artifacts come out.

A :class:`Step` is one action of one role on one subject; its key ``role/action/subject`` is stable
across runs. LLM actions render the role's templates with what is on the board and ask for the
artifact kind they publish; tool actions run softco's built-in tools.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from softco.artifacts import Artifact, Code, Design, Prd, Refs, Requirement, TestReport, Tests
from softco.board import Board, Message
from softco.llm.base import LLM, ChatMessage, LLMRequest, LLMResponse
from softco.llm.budget import cost_usd
from softco.llm.prices import priced_model
from softco.llm.structured import CANCELLED, FAULT, Attempt, InvalidAnswer, Retry, ask_structured
from softco.sandbox import Limits
from softco.schemas import answer_schema
from softco.sop.load import ActionSpec, RoleSpec, Sop
from softco.sop.prompts import render
from softco.steps import qa_tools
from softco.steps.interfaces import DEFAULT_BUDGET, DependencyInterfaces, dependency_interfaces
from softco.steps.rejected import AnswerFile, keep_rejected, refused_answer_file

if TYPE_CHECKING:
    from softco.steps.hooks import ChangeHooks

A = TypeVar("A", bound=Artifact)


class StepIdentity(TypedDict):
    key: str
    role: str
    action: str
    subject: str


@dataclass
class Step:
    role: RoleSpec
    action: ActionSpec
    subject: str
    trigger: Message
    item: dict[str, Any] | None = None
    watermark: int | None = None
    #: A person's requests for changes (an approval gate or `softco revise`), oldest first.
    feedback: list[str] = field(default_factory=list)
    #: The answer the feedback is about, shown back to the model.
    previous: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.role.id}/{self.action.name}/{self.subject}"

    def identity(self) -> StepIdentity:
        """The step's columns of a board ``steps`` row."""
        return StepIdentity(key=self.key, role=self.role.id, action=self.action.name, subject=self.subject)


@dataclass
class BoardView:
    """The artifacts in force: the latest of each kind, and the latest per file.

    softco's own code reads them typed (:meth:`prd`, :meth:`design`, :meth:`test_report`, :meth:`code_files`,
    :meth:`test_files`: each message parsed once); the JSON payloads (:meth:`payload`, ``code``, ``tests``)
    are what templates get, as published."""

    messages: list[Message] = field(default_factory=list)
    latest: dict[str, Message] = field(default_factory=dict)
    code: dict[str, dict[str, Any]] = field(default_factory=dict)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _code_messages: dict[str, Message] = field(default_factory=dict, repr=False)
    _test_messages: dict[str, Message] = field(default_factory=dict, repr=False)
    _parsed: dict[int, Artifact] = field(default_factory=dict, repr=False)

    def add(self, m: Message) -> None:
        self.messages.append(m)
        self.latest[m.kind] = m
        if m.kind == "code":
            self.code[m.payload["path"]] = m.payload
            self._code_messages[m.payload["path"]] = m
        elif m.kind == "tests":
            self.tests[m.payload["path"]] = m.payload
            self._test_messages[m.payload["path"]] = m

    def payload(self, kind: str) -> dict[str, Any] | None:
        """The latest ``kind``'s JSON as published: for templates."""
        m = self.latest.get(kind)
        return m.payload if m else None

    def _typed(self, m: Message, cls: type[A]) -> A:
        found = self._parsed.get(m.id)
        if not isinstance(found, cls):
            found = self._parsed[m.id] = cls.model_validate(m.payload)
        return found

    def _latest(self, kind: str, cls: type[A]) -> A | None:
        m = self.latest.get(kind)
        return self._typed(m, cls) if m else None

    def prd(self) -> Prd | None:
        return self._latest("prd", Prd)

    def design(self) -> Design | None:
        return self._latest("design", Design)

    def test_report(self) -> TestReport | None:
        return self._latest("test_report", TestReport)

    def code_files(self) -> dict[str, Code]:
        return {p: self._typed(m, Code) for p, m in self._code_messages.items()}

    def test_files(self) -> dict[str, Tests]:
        return {p: self._typed(m, Tests) for p, m in self._test_messages.items()}

    def refs(self) -> Refs:
        prd, design = self.prd(), self.design()
        return Refs(
            req_ids={r.id for r in prd.requirements} if prd else None,
            design_paths=design.paths() if design else None,
        )

    def requirement(self) -> str:
        req = self._latest("requirement", Requirement)
        return req.text if req else ""


def template_context(view: BoardView, step: Step, change: ChangeHooks | None = None) -> dict[str, Any]:
    """Everything a template may use (TEMPLATE_VARIABLES). Templates pick what goes into the prompt."""
    prd, design = view.payload("prd"), view.payload("design")

    def req(rid: str) -> dict[str, Any]:
        for r in (prd or {}).get("requirements", []):
            if r["id"] == rid:
                return dict(r)
        raise KeyError(f"no requirement {rid} in the PRD")

    def design_file(path: str) -> dict[str, Any]:
        for f in (design or {}).get("files", []):
            if f["path"] == path:
                return {"depends_on": [], **f}  # a design from before depends_on existed has none
        raise KeyError(f"no file {path} in the design")

    def dependency_interfaces_of(paths: list[str], budget: int = DEFAULT_BUDGET) -> DependencyInterfaces:
        return dependency_interfaces(paths, (design or {}).get("files", []), budget)

    def failing_test_files(bug: dict[str, Any]) -> list[str]:
        return sorted({f["test"].split("::")[0] for f in bug["failures"]} & set(view.tests))

    return {
        "role": step.role.model_dump(),
        "action": step.action.name,
        "subject": step.subject,
        "requirement": view.requirement(),
        "prd": prd,
        "design": design,
        "tasks": view.payload("tasks"),
        "trigger": step.trigger.payload,
        "item": step.item,
        "code": dict(view.code),
        "tests_by_path": dict(view.tests),
        "latest": {kind: m.payload for kind, m in view.latest.items()},
        "req": req,
        "design_file": design_file,
        "failing_test_files": failing_test_files,
        "dependency_interfaces": dependency_interfaces_of,
        "change": None,
        "repo_map": lambda budget=0: "",
        "existing_file": lambda path: None,
        **(change.variables(view, step) if change is not None else {}),
    }


def build_request(sop: Sop, view: BoardView, step: Step, change: ChangeHooks | None = None) -> LLMRequest:
    assert step.action.template is not None
    ctx = template_context(view, step, change)
    cls = sop.kind(step.action.publishes)
    template = change.template(step.action.template, sop.template_names()) if change else step.action.template
    messages = [
        ChatMessage(role="system", content=render(sop.env, "system.j2", ctx)),
        ChatMessage(role="user", content=render(sop.env, template, ctx)),
    ]
    if step.feedback:
        if step.previous is not None:
            messages.append(ChatMessage(role="assistant", content=json.dumps(step.previous)))
        context = {**ctx, "feedback": step.feedback, "previous": step.previous}
        messages.append(ChatMessage(role="user", content=render(sop.env, "feedback.j2", context)))
    return LLMRequest(
        step_key=step.key,
        messages=messages,
        schema_name=cls.kind,
        json_schema=answer_schema(cls, view.refs(), step.action.trigger),
        settings=step.role.model,
    )


@dataclass
class StepContext:
    """What running a step needs besides the step itself."""

    sop: Sop
    llm: LLM
    board: Board
    run_id: str
    view: BoardView
    project_dir: Any
    max_fix_rounds: int
    limits: Limits
    #: told of each transient fault before it is retried (the CLI prints a line)
    on_retry: Callable[[Retry], None] | None = None
    #: step key -> a file holding its answer (`softco resume --answer`): used instead of asking the model
    answers: dict[str, Path] = field(default_factory=dict)
    #: `softco change`: the run works on an existing repo (softco/change/mode.py)
    change: ChangeHooks | None = None


def attempt_status(a: Attempt) -> str:
    """ok / cached / invalid (re-asked with the error) / fault (transport error, retried) / cancelled (the
    run stopped while the call waited for its answer)."""
    if a.response.finish_reason in (FAULT, CANCELLED):
        return a.response.finish_reason
    if a.error:
        return "invalid"
    return "cached" if a.response.cached else "ok"


def call_cost(model: str, response: LLMResponse) -> float | None:
    """What a call cost now: measured usage at the model's price (None: no price known); $0 for an answer
    from the step cache or a replayed recording; None for estimated usage, which is never priced."""
    usage = response.usage
    if response.cached or usage.source == "recorded":
        return 0.0
    if usage.source == "estimated" and usage.total:
        return None
    return cost_usd(model, usage.prompt_tokens, usage.completion_tokens)


def _record_attempt(ctx: StepContext, step: Step, a: Attempt, number: int) -> None:
    """One attempt of a step's call, as a board row: written as soon as the attempt ends."""
    model = priced_model(a.request.settings.model or ctx.llm.model, a.response.model)
    usage = a.response.usage
    ctx.board.record_step(
        **step.identity(),
        run_id=ctx.run_id,
        status=attempt_status(a),
        started_at=a.started_at,
        finished_at=a.finished_at,
        attempt=number,
        request_hash=a.request.request_hash(),
        request_json=a.request.model_dump_json(),
        response_json=a.response.model_dump_json(),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=call_cost(model, a.response),
        error=a.error,
        usage_source=usage.source,
    )


def _recorder(ctx: StepContext, step: Step) -> Callable[[Attempt], None]:
    """What writes each attempt of a step's call to the board as it ends, numbered from 1."""
    numbers = itertools.count(1)

    def record(attempt: Attempt) -> None:
        _record_attempt(ctx, step, attempt, next(numbers))

    return record


async def run_llm_step(ctx: StepContext, step: Step) -> list[Artifact]:
    request = build_request(ctx.sop, ctx.view, step, ctx.change)
    refs = ctx.view.refs()
    kind = step.action.publishes

    def parse(text: str) -> Artifact:
        artifact = ctx.sop.kind(kind).model_validate_json(text, context=refs)
        return ctx.change.adapt(artifact, ctx.view) if ctx.change is not None else artifact

    answer_file = ctx.answers.get(step.key)
    if answer_file is not None:  # a person's answer, validated like a model's but never re-asked
        try:
            result = await ask_structured(
                AnswerFile(answer_file), request, parse, max_reasks=0, on_attempt=_recorder(ctx, step)
            )
        except InvalidAnswer as exc:
            raise refused_answer_file(Path(ctx.project_dir), step.key, answer_file, exc) from None
        return [result.value]
    record = _recorder(ctx, step)
    try:
        result = await ask_structured(ctx.llm, request, parse, on_retry=ctx.on_retry, on_attempt=record)
    except InvalidAnswer as exc:  # keep the last answer on disk and say the ways out
        raise keep_rejected(Path(ctx.project_dir), step.key, step.role.id, exc) from None
    return [result.value]


def tool_artifacts(ctx: StepContext, step: Step) -> list[Artifact]:
    """Run a built-in tool. Runs in a worker thread: it must not touch the board."""
    runner = TOOL_RUNNERS.get(step.action.tool or "")
    if runner is None:  # pragma: no cover - the SOP model admits only registered tools
        raise ValueError(f"unknown tool {step.action.tool}")
    return runner(ctx, step)


def _plan_tasks(ctx: StepContext, step: Step) -> list[Artifact]:
    return [Design.model_validate(step.trigger.payload).tasks()]


def _run_tests(ctx: StepContext, step: Step) -> list[Artifact]:
    tests = ctx.view.test_files()
    design = ctx.view.design()
    round_no = int(step.subject.removeprefix("round-"))
    deps = list(design.dependencies) if design else []
    run = qa_tools.TestRun(ctx.project_dir, tests, round_no, deps, ctx.limits)
    return [ctx.change.run_tests(run) if ctx.change is not None else qa_tools.run_tests(run)]


def _triage(ctx: StepContext, step: Step) -> list[Artifact]:
    """triage and collect_disputes: one pass over the failures; each keeps its half."""
    view = ctx.view
    report = TestReport.model_validate(step.trigger.payload)
    if report.round > ctx.max_fix_rounds:
        return []
    tests = view.test_files()
    design = view.design()
    paths = design.paths() if design else set()
    owners = ctx.change.owners(paths) if ctx.change is not None else None
    bugs, disputes = qa_tools.triage(report, tests, paths, board_disputes(ctx.sop, view), owners)
    return list(bugs if step.action.tool == "triage" else disputes)


#: What runs each tool of the registry (softco.sop.tools.TOOLS), by name.
TOOL_RUNNERS: dict[str, Callable[[StepContext, Step], list[Artifact]]] = {
    "plan_tasks": _plan_tasks,
    "run_tests": _run_tests,
    "triage": _triage,
    "collect_disputes": _triage,
}


def board_disputes(sop: Sop, view: BoardView) -> qa_tools.Disputes:
    """The engineers' disputed tests and when each test file was last published (qa_tools.Disputes).

    An engineer can dispute only a failure a bug report showed them: a test named in a first
    version of a file, before anything failed, is ignored."""
    found = qa_tools.Disputes(rechecked=any("test_dispute" in a.trigger for r in sop.roles for a in r.actions))
    shown: dict[str, set[str]] = {}
    for m in view.messages:
        if m.kind == "bug_report":
            shown.setdefault(m.payload["path"], set()).update(f["test"] for f in m.payload["failures"])
        elif m.kind == "code":
            path = m.payload["path"]
            disputed = m.payload.get("disputed_tests", [])
            found.by_owner[path] = (
                m.id,
                {d["test"]: d["reason"] for d in disputed if d["test"] in shown.get(path, ())},
            )
        elif m.kind == "tests":
            found.tests_at[m.payload["path"]] = m.id
    return found


async def run_step(ctx: StepContext, step: Step) -> list[Artifact]:
    if not step.action.tool:
        return await run_llm_step(ctx, step)
    started = time.time()
    artifacts = await asyncio.to_thread(tool_artifacts, ctx, step)
    ctx.board.record_step(
        **step.identity(),
        run_id=ctx.run_id,
        status="done",
        started_at=started,
        finished_at=time.time(),
        response_json=json.dumps([a.title() for a in artifacts]),
    )
    return artifacts
