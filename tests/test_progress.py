"""Progress on a long run: every line after the time since the start; a status line (steps done of
those known, what is waited on and for how long, the spend against the budget, retries and re-asks)
when nothing was printed for a while, so a silent endpoint is never a silent terminal; re-asks shown
as they happen, as text."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer, FakeReply
from helpers import write_script
from rich.console import Console
from scripted_project import DESIGN, REQUIREMENT, answers
from typer.testing import CliRunner

import softco.cli
import softco.report.terminal
from softco.cli import app
from softco.llm.structured import Retry

PRD_STEP = "product_manager/write_prd/project"
LINE = re.compile(r"^\d+:\d\d ")


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal 80 columns wide: the CLI makes its console from COLUMNS on every call."""
    monkeypatch.setenv("COLUMNS", "80")


def run(args: list[str]) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout.splitlines()


def test_a_silent_endpoint_gets_status_lines_before_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, console: None
) -> None:
    """The PM's first call gets no answer for SOFTCO_TIMEOUT (2 s); the heartbeat (0.1 s here) says what
    is waited on, for how long and what was spent, before the call is cut and retried."""
    monkeypatch.setattr(softco.report.terminal, "HEARTBEAT", 0.1, raising=False)
    monkeypatch.setenv("SOFTCO_TIMEOUT", "2")
    script = answers()
    script[PRD_STEP] = [FakeReply(silent=True), script[PRD_STEP]]
    with FakeOpenAIServer(script) as srv:
        code, lines = run(
            ["new", REQUIREMENT, "--output", "out", "--model", "fake-model", "--base-url", srv.base_url]
            + ["--token-budget", "200000"]
        )
    assert code == 0, "\n".join(lines)
    retry = next(i for i, line in enumerate(lines) if "endpoint slow or unreachable" in line)
    status = [line for line in lines[:retry] if f"waiting on {PRD_STEP}" in line]
    assert status, "\n".join(lines)
    assert all(LINE.match(line) for line in status)
    assert "· 0/1 steps done · waiting on" in status[0]
    assert "spent 0 tokens" in status[0] and "token budget 0 of 200,000" in status[0]
    # the lines of the run: every one after the time since the start
    progress = lines[lines.index(next(line for line in lines if "published requirement" in line)) :]
    progress = progress[: next(i for i, line in enumerate(progress) if not line.strip())]
    assert all(LINE.match(line) for line in progress), progress


def test_a_status_line_counts_steps_and_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A status line as the heartbeat prints it, after a few steps of a run (the heartbeat itself
    needs a silence; this asks for one line at the end of the run's third step)."""
    from softco.company.scheduler import Event
    from softco.report.terminal import Progress

    printed: list[str] = []
    original = Progress.on_event

    def on_event(self: Progress, e: Event) -> None:
        original(self, e)
        if e.kind == "publish" and e.message is not None and e.message.kind == "tasks":
            printed.append(self.status().plain)

    monkeypatch.setattr(Progress, "on_event", on_event)
    script = write_script(tmp_path / "answers.json", answers())
    code, _ = run(["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "out", "--token-budget", "99999"])
    assert code == 0
    (line,) = printed
    assert line.startswith("· 2/3 steps done · ")  # PRD and design done; tasks publishing; no code step known yet
    assert "spent ~" in line and "unpriced" in line and "token budget " in line and " of 99,999" in line


def test_reasks_are_shown_as_they_happen_as_text(tmp_path: Path, console: None) -> None:
    script = answers()
    hostile = copy.deepcopy(DESIGN)
    hostile["files"][0]["path"] = "calc/\x1b[2J[bold red]x[/].py"  # the validation error quotes the path
    script["architect/write_design/project"] = [hostile, DESIGN]
    path = write_script(tmp_path / "answers.json", script)
    code, lines = run(["new", REQUIREMENT, "--llm", f"script:{path}", "--output", "out"])
    assert code == 0
    (reask,) = [line for line in lines if "answer rejected" in line]
    assert LINE.match(reask) and reask.endswith("re-ask 1/2: architect/write_design/project")
    assert "\x1b" not in "\n".join(lines) and "\\x1b[2J[bold red]x[/]" in reask


def test_describe_a_reask_and_elapsed() -> None:
    from softco.report.terminal import elapsed

    reask = Retry("qa_engineer/write_tests/calc/ops.py", 2, 2, 0.0, "tests.0: field required", reask=True)
    assert (
        reask.describe() == "answer rejected (tests.0: field required), re-ask 2/2: qa_engineer/write_tests/calc/ops.py"
    )
    assert [elapsed(s) for s in (0, 7.9, 65, 3723)] == ["0:00", "0:07", "1:05", "1:02:03"]


def test_the_heartbeat_speaks_only_in_silence_and_only_while_something_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fake clock and a fake event loop: the timer is due a heartbeat after the last line; when it
    fires with nothing running it looks again a heartbeat later (it never spins); with a step running it
    prints a status line naming the step and how long it has run."""
    import asyncio
    import io
    from types import SimpleNamespace

    from softco.company.scheduler import Event
    from softco.report.terminal import Progress

    now = [0.0]
    timers: list[tuple[float, object]] = []
    loop = SimpleNamespace(call_later=lambda delay, fn: timers.append((delay, fn)) or SimpleNamespace())
    monkeypatch.setattr(asyncio, "get_running_loop", lambda: loop)
    buf = io.StringIO()
    progress = Progress(Console(file=buf, width=80), heartbeat=8, clock=lambda: now[0])
    running: dict[str, SimpleNamespace] = {}
    progress.company = SimpleNamespace(tasks=running, finished=set(), queue=[])  # type: ignore[assignment]

    def fire() -> None:
        _, beat = timers.pop()
        beat()  # type: ignore[operator]

    now[0] = 1.0
    progress.on_event(Event("start", "architect/write_design/project", None))
    assert [d for d, _ in timers] == [8.0]
    now[0] = 9.0
    fire()  # nothing is running (the step's task is not there): no line, next look a heartbeat later
    assert [d for d, _ in timers] == [8.0] and buf.getvalue().count("\n") == 1
    running["architect/write_design/project"] = SimpleNamespace(done=lambda: False)
    now[0] = 17.0
    fire()
    lines = buf.getvalue().splitlines()
    assert lines[-1] == "0:17 · 0/1 steps done · waiting on architect/write_design/project (16 s)"
    assert [d for d, _ in timers] == [8.0]
