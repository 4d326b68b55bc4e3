"""Concurrency: same answers, same artifacts and commits at any --concurrency; independent files overlap
in time and are committed in dependency order; a file's prompt carries interfaces, never another file's code.

The project is the benchmark's synthetic 8-file one (benchmarks/synthetic.py: model <- store <- service
<- cli for two kinds of record), served by the fake endpoint with a simulated latency. That a re-run
with identical inputs sends zero requests is tested in test_reliability.py
(test_rerun_with_identical_inputs_makes_no_request).
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from helpers import board_artifacts, commits, repo_files, run_cli

from softco.defaults import ROLES_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from synthetic import SyntheticProject, project  # noqa: E402

PROJECT: SyntheticProject = project(8)
MODEL = ["--model", "gpt-4o-mini"]


def answer(req: FakeRequest) -> Any:
    return PROJECT.answer(req.step or "")


def build(
    tmp_path: Path, out: str, concurrency: int, latency: float, per_token: float
) -> tuple[Path, list[FakeRequest]]:
    """One run through the CLI against the fake endpoint; (project dir, the requests it made)."""
    with FakeOpenAIServer(answer, latency=latency, per_token_latency=per_token) as srv:
        res = run_cli(
            ["new", PROJECT.requirement, "--name", "shop", "--output", out, "--concurrency", str(concurrency), *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        assert res.exit_code == 0, res.stdout + res.stderr
        assert not srv.errors, srv.errors
        return tmp_path / out / "shop", srv.chat_requests()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, list[FakeRequest]]]:
    """The project built at concurrency 1, 8 and 16 (the default). Answers take time in proportion to
    their length, so at 8 and 16 short answers queued late come back before long ones queued early."""
    tmp = tmp_path_factory.mktemp("concurrency")
    return {
        1: build(tmp, "c1", 1, latency=0.01, per_token=0.0001),
        8: build(tmp, "c8", 8, latency=0.3, per_token=0.0002),
        # slower answers: room for all 15 file steps to reach the endpoint on a loaded machine
        16: build(tmp, "c16", 16, latency=0.6, per_token=0.0002),
    }


def code_requests_of(requests: list[FakeRequest], proj: SyntheticProject) -> dict[str, FakeRequest]:
    """File path -> the request that wrote it."""
    prefix = "engineer/write_code/"
    found = {r.step.removeprefix(prefix): r for r in requests if r.step and r.step.startswith(prefix)}
    assert set(found) == set(proj.code)  # one request per file: no fault, no re-ask
    return found


def code_requests(requests: list[FakeRequest]) -> dict[str, FakeRequest]:
    return code_requests_of(requests, PROJECT)


def test_concurrency_1_and_8_give_identical_artifacts_and_commits(runs: dict[int, tuple[Path, Any]]) -> None:
    (one, _), (eight, _), (sixteen, _) = runs[1], runs[8], runs[16]
    assert board_artifacts(one) == board_artifacts(eight) == board_artifacts(sixteen)
    assert repo_files(one) == repo_files(eight) == repo_files(sixteen)
    for path, content in {**PROJECT.code, **PROJECT.tests}.items():
        assert (eight / path).read_text() == content
    log1 = [(c.author, c.subject, c.files) for c in commits(one)]
    log8 = [(c.author, c.subject, c.files) for c in commits(eight)]
    assert log1 == log8 == [(c.author, c.subject, c.files) for c in commits(sixteen)]
    assert len(log8) == 1 + 3 + len(PROJECT.code) + len(PROJECT.tests) + 1  # requirement ... test report


def test_every_step_asks_the_same_thing_at_any_concurrency(runs: dict[int, tuple[Path, list[FakeRequest]]]) -> None:
    """A step's prompt does not depend on what else happened to be published when it started, so a real
    model (not just a script keyed by step) gets the same questions at concurrency 1 and 8."""
    asked = {n: {r.step: r.messages for r in requests} for n, (_, requests) in runs.items()}
    assert asked[1] == asked[8] == asked[16]
    assert len(asked[8]) == 2 + len(PROJECT.code) + len(PROJECT.tests)  # PRD, design; the tasks take no call


def test_concurrency_1_never_overlaps(runs: dict[int, tuple[Path, list[FakeRequest]]]) -> None:
    requests = runs[1][1]
    for a, b in zip(requests, requests[1:], strict=False):
        assert a.finished_at is not None and b.received_at > a.finished_at


def spans(requests: list[FakeRequest]) -> dict[str, tuple[float, float]]:
    out = {}
    for path, r in code_requests(requests).items():
        assert r.finished_at is not None
        out[path] = (r.received_at, r.finished_at)
    return out


def test_files_are_written_at_once_and_committed_in_dependency_order(
    runs: dict[int, tuple[Path, list[FakeRequest]]],
) -> None:
    """The engineer's prompt carries its dependencies' interfaces from the design, not their code, so
    every file can be written as soon as the tasks are out; the commits still respect depends_on."""
    project_dir, requests = runs[8]
    span = spans(requests)
    overlapping = [
        (a, b) for a, b in combinations(sorted(span), 2) if span[a][0] < span[b][1] and span[b][0] < span[a][1]
    ]
    assert ("shop8/item_model.py", "shop8/order_model.py") in overlapping
    dependent = [(p, d) for p, deps in PROJECT.depends_on.items() for d in deps]
    assert dependent and any((min(p, d), max(p, d)) in overlapping for p, d in dependent)  # no waiting
    order = [c.files for c in commits(project_dir) if c.subject.startswith("code:")]
    position = {files[0]: i for i, files in enumerate(order)}
    for path, dep in dependent:
        assert position[dep] < position[path], f"{path} was committed before {dep}, which it imports"


def test_after_dependencies_makes_a_file_wait_for_what_it_imports(tmp_path: Path) -> None:
    """An SOP whose engineer template reads its dependencies' code sets `after_dependencies: true`."""
    roles = tmp_path / "sop" / "roles"
    roles.mkdir(parents=True)
    engineer = (ROLES_DIR / "engineer.yaml").read_text()
    assert "    for_each: tasks\n" in engineer
    (roles / "engineer.yaml").write_text(
        engineer.replace("    for_each: tasks\n", "    for_each: tasks\n    after_dependencies: true\n")
    )
    with FakeOpenAIServer(answer, latency=0.05) as srv:
        res = run_cli(
            ["new", PROJECT.requirement, "--name", "shop", "--output", "out", "--sop", str(tmp_path / "sop"), *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        requests = srv.chat_requests()
    assert res.exit_code == 0, res.stdout + res.stderr
    span = spans(requests)
    for path, deps in PROJECT.depends_on.items():
        for dep in deps:
            assert span[path][0] > span[dep][1], f"{path} was requested before {dep} was answered"


def test_a_files_prompt_has_interfaces_not_other_files_code(runs: dict[int, tuple[Path, list[FakeRequest]]]) -> None:
    requests = runs[8][1]
    generated = {**PROJECT.code, **PROJECT.tests}

    def prompt(r: FakeRequest) -> str:
        return "\n".join(str(m.get("content", "")) for m in r.messages)

    for path, r in code_requests(requests).items():
        text = prompt(r)
        for other, content in generated.items():
            if other != path:
                assert content.strip() not in text, f"the prompt for {path} carries the code of {other}"
        for dep in PROJECT.depends_on[path]:  # ... but the interfaces of what it imports
            interfaces = PROJECT.answer("architect/write_design/project")["files"]
            for i in next(f["interfaces"] for f in interfaces if f["path"] == dep):
                assert i in text
    # QA writes tests from the spec: its prompts carry the file's requirements and interface, no code
    qa = [r for r in requests if (r.step or "").startswith("qa_engineer/write_tests/")]
    assert len(qa) == len(PROJECT.tests)
    for r in qa:
        source = (r.step or "").removeprefix("qa_engineer/write_tests/")
        interfaces = next(f for f in PROJECT.answer("architect/write_design/project")["files"] if f["path"] == source)
        assert all(i in prompt(r) for i in interfaces["interfaces"])
        assert not any(content.strip() in prompt(r) for content in generated.values())


def test_qa_writes_tests_while_the_engineers_write_the_code(
    runs: dict[int, tuple[Path, list[FakeRequest]]],
) -> None:
    """Test-first: every test file is asked for before any source file is answered, and the code and
    tests of one file are written at the same time (at the default concurrency, 16, all 15 steps of
    this 8-file project fit); the test run still waits for all of them."""
    project_dir, requests = runs[16]
    code = spans(requests)
    qa = {
        (r.step or "").removeprefix("qa_engineer/write_tests/"): (r.received_at, r.finished_at or r.received_at)
        for r in requests
        if (r.step or "").startswith("qa_engineer/write_tests/")
    }
    assert len(qa) == len(PROJECT.tests)
    first_code_answer = min(end for _, end in code.values())
    assert all(start < first_code_answer for start, _ in qa.values())
    for path, (start, end) in qa.items():
        assert start < code[path][1] and code[path][0] < end, f"the tests of {path} were not written alongside it"
    subjects = [c.subject for c in commits(project_dir)]
    last_source = max(i for i, s in enumerate(subjects) if s.startswith(("code:", "tests:")))
    assert subjects[last_source + 1].startswith("test_report:")


def test_a_slow_step_at_the_head_of_the_queue_does_not_idle_the_others(tmp_path: Path) -> None:
    """At concurrency 2, while the first model takes long, the other models are written one after the
    other: a step that is done and waits for its turn to publish holds no slot."""
    big = project(16)
    slow = f"engineer/write_code/{big.package}/item_model.py"
    models = [p for p in big.code if p.endswith("_model.py")]
    assert len(models) >= 4

    def answer(req: FakeRequest) -> Any:
        step = req.step or ""
        return FakeReply(content=big.answer(step), delay=2.0) if step == slow else big.answer(step)

    with FakeOpenAIServer(answer) as srv:
        res = run_cli(
            ["new", big.requirement, "--output", "out", "--concurrency", "2", *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        assert res.exit_code == 0, res.stdout + res.stderr
        code = code_requests_of(srv.chat_requests(), big)
    slow_done = code[f"{big.package}/item_model.py"].finished_at
    assert slow_done is not None
    started_meanwhile = [p for p in models if code[p].received_at < slow_done]
    assert len(started_meanwhile) == len(models), started_meanwhile


def test_fixes_for_different_files_run_at_once(tmp_path: Path) -> None:
    """Two models come back with the same bug; QA's run fails in their tests and their services',
    triage files a bug report per file, and the fixes are asked of the model at the same time."""
    buggy = [f"{PROJECT.package}/item_model.py", f"{PROJECT.package}/order_model.py"]
    fix = "engineer/fix_code/round-1/"

    def answer(req: FakeRequest) -> Any:
        step = req.step or ""
        if step.startswith(fix):  # a fix gives the file as it should have been
            return PROJECT.answer(step.replace(fix, "engineer/write_code/"))
        reply = PROJECT.answer(step)
        if step.removeprefix("engineer/write_code/") in buggy:
            reply = {**reply, "content": reply["content"].replace(" * self.", " + self.", 1)}
            assert reply["content"] != PROJECT.answer(step)["content"]
        return reply

    with FakeOpenAIServer(answer, latency=0.4) as srv:  # as a remote API: not a local server's concurrency of 2
        res = run_cli(
            ["new", PROJECT.requirement, "--name", "shop", "--output", "out", "--concurrency", "16", *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        fixes = {(r.step or "").removeprefix(fix): r for r in srv.chat_requests() if (r.step or "").startswith(fix)}
        errors = srv.errors
    assert res.exit_code == 0, res.stdout + res.stderr
    assert not errors, errors
    assert set(buggy) <= set(fixes), sorted(fixes)
    for (p, a), (q, b) in combinations(fixes.items(), 2):
        assert a.finished_at is not None and b.finished_at is not None
        assert a.received_at < b.finished_at and b.received_at < a.finished_at, (
            f"the fixes of {p} and {q} did not overlap"
        )
    project_dir = tmp_path / "out" / "shop"
    for path in buggy:
        assert (project_dir / path).read_text() == PROJECT.code[path]


def loop_events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happens on a run's event loop, in order: each step's prompt made ("prompt KEY"), each request's
    body sent ("sent"), each commit ("commit KIND")."""
    import softco.company.workspace
    import softco.llm.openai
    import softco.steps.step

    events: list[str] = []
    real_build, real_event = softco.steps.step.build_request, softco.llm.openai._on_http_event
    real_commit = softco.company.workspace.Workspace.commit

    def build_request(sop: Any, view: Any, step: Any, *args: Any) -> Any:
        events.append(f"prompt {step.key}")
        return real_build(sop, view, step, *args)

    async def on_http_event(event: str, info: Any) -> None:
        if event == "http11.send_request_body.complete":
            events.append("sent")
        await real_event(event, info)

    def commit(self: Any, paths: list[str], message: str, *args: Any, **kwargs: Any) -> Any:
        events.append(f"commit {message.split(':', 1)[0]}")
        return real_commit(self, paths, message, *args, **kwargs)

    monkeypatch.setattr(softco.steps.step, "build_request", build_request)
    monkeypatch.setattr(softco.llm.openai, "_on_http_event", on_http_event)
    monkeypatch.setattr(softco.company.workspace.Workspace, "commit", commit)
    return events


def test_a_fan_outs_first_request_leaves_before_every_prompt_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While no model works, the first of 15 file steps is sent after a few prompts are rendered, not after
    all 15: the steps start one loop turn apart (Company._start_ready). Counted in the order things happen on
    the run's event loop (each step's prompt, each request's body sent), never timed."""
    events = loop_events(monkeypatch)
    build(tmp_path, "out", 16, latency=0.3, per_token=0.0)
    fan_out = [
        i for i, e in enumerate(events) if e.startswith(("prompt engineer/write_code", "prompt qa_engineer/write_"))
    ]
    assert len(fan_out) == 15, events
    first_sent = events.index("sent", fan_out[0])
    prompts_before = sum(1 for e in events[fan_out[0] : first_sent] if e.startswith("prompt"))
    assert prompts_before < len(fan_out), events  # all 15 came first before a start gave the loop turns


def test_an_artifacts_commit_waits_until_the_steps_it_made_ready_have_sent_their_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit (~20 ms) made before the next step's request is sent is a time no model works: the PRD is
    committed after the design's request is out, the design after the first file's, and every artifact is
    committed by the end, in publishing order. Counted in the order things happen on the run's event loop."""
    import softco.company.scheduler

    events = loop_events(monkeypatch)
    # time enough to send a request on a loaded machine, and to commit before the answer
    monkeypatch.setattr(softco.company.scheduler, "FLUSH_AFTER", 0.25)
    project_dir, _ = build(tmp_path, "out", 4, latency=0.5, per_token=0.0)

    def sent_after(prompt: str) -> int:
        return events.index("sent", events.index(f"prompt {prompt}"))

    assert sent_after("architect/write_design/project") < events.index("commit prd"), events
    first_file = next(e for e in events if e.startswith("prompt engineer/write_code/")).removeprefix("prompt ")
    assert sent_after(first_file) < events.index("commit design"), events
    kinds = [c.subject.split(":", 1)[0] for c in commits(project_dir)]
    published = [kind for kind, _, _ in board_artifacts(project_dir)]
    assert kinds == published, (kinds, published)  # one commit an artifact, in publishing order
