"""One process per project, and runs that end are seen to end: the project lock refuses a second
process naming the holder; Ctrl-C cancels the calls in flight and marks the run interrupted; `softco
runs` tells a live run (its lock is held) from a killed or interrupted one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from helpers import run_cli
from scripted_project import REQUIREMENT, answers

from softco.company.lock import ProjectLock

ANSWERS: dict[str, Any] = answers()
MODEL = ["--model", "gpt-4o-mini"]


class HoldFirst:
    """Answers right, but holds the first request until :attr:`release` is set: a call in flight."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()
        self._first = True
        self._lock = threading.Lock()

    def __call__(self, req: FakeRequest) -> Any:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.arrived.set()
            self.release.wait(120)
        return ANSWERS[req.step or ""]


def start(args: list[str], cwd: Path, base_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    env.update(OPENAI_BASE_URL=base_url, COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "softco.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C reaches softco as it does from a terminal: a suite started in the background (`pytest &` from
        # a script) has SIGINT ignored, and a child keeps an ignored signal ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def board_rows(project: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def stopped_project(tmp_path: Path) -> Path:
    """A project whose run stopped (exit 1) after the PRD: the architect's call was refused."""

    def refuse_design(req: FakeRequest) -> Any:
        if req.step == "architect/write_design/project":
            return FakeReply(status=400, error="refused (test)")
        return ANSWERS[req.step or ""]

    with FakeOpenAIServer(refuse_design) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--name", "p", "--output", "out", *MODEL], tmp_path, {"OPENAI_BASE_URL": srv.base_url}
        )
    assert res.exit_code == 1, res.stdout + res.stderr
    return tmp_path / "out" / "p"


@pytest.mark.e2e
def test_a_second_resume_on_the_same_project_is_refused_naming_the_holder(tmp_path: Path) -> None:
    project = stopped_project(tmp_path)
    hold = HoldFirst()
    with FakeOpenAIServer(hold) as srv:
        first = start(["resume", str(project)], tmp_path, srv.base_url)
        try:
            assert hold.arrived.wait(120), "the first resume never called the model"
            second = run_cli(["resume", str(project)], tmp_path, {"OPENAI_BASE_URL": srv.base_url})
        finally:
            hold.release.set()
            out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert second.exit_code == 2, second.stdout + second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert f"in use by another softco process: pid {first.pid} on " in second.stderr
    assert "softco resume" in second.stderr  # the holder's command
    published = Counter(board_rows(project, "SELECT step_key, kind, subject FROM messages"))
    assert max(published.values()) == 1, [k for k, n in published.items() if n > 1]  # nothing published twice


def test_a_lock_held_in_this_process_refuses_new_runs_until_released(tmp_path: Path) -> None:
    project = stopped_project(tmp_path)
    runs_before = board_rows(project, "SELECT count(*) FROM runs")
    lock = ProjectLock(project)
    lock.acquire(command="softco resume (held by the test)")
    try:
        res = run_cli(["resume", str(project)], tmp_path)
        assert res.exit_code == 2 and f"pid {os.getpid()} " in res.stderr and "(held by the test)" in res.stderr
        assert board_rows(project, "SELECT count(*) FROM runs") == runs_before
    finally:
        lock.release()
    with FakeOpenAIServer(lambda req: ANSWERS[req.step or ""]) as srv:
        res = run_cli(["resume", str(project)], tmp_path, {"OPENAI_BASE_URL": srv.base_url})
    assert res.exit_code == 0, res.stdout + res.stderr


@pytest.mark.e2e
def test_ctrl_c_cancels_the_call_in_flight_marks_the_run_interrupted_and_says_how_to_resume(tmp_path: Path) -> None:
    hold = HoldFirst()
    with FakeOpenAIServer(hold) as srv:
        proc = start(["new", REQUIREMENT, "--name", "p", "--output", "out", *MODEL], tmp_path, srv.base_url)
        try:
            assert hold.arrived.wait(120), "the run never called the model"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)  # returns while the model's answer is still held back
            answered = hold.release.is_set()
        finally:
            hold.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    project = tmp_path / "out" / "p"
    assert not answered
    assert proc.returncode == 130, out + err
    assert err == f"softco: interrupted; continue with: softco resume {project}\n", err
    assert board_rows(project, "SELECT status, exit_code FROM runs") == [("interrupted", 130)]
    listing = run_cli(["runs", "--output", "out"], tmp_path)
    assert "interrupted" in listing.stdout.splitlines()[1], listing.stdout
    with FakeOpenAIServer(lambda req: ANSWERS[req.step or ""]) as srv:
        res = run_cli(["resume", str(project)], tmp_path, {"OPENAI_BASE_URL": srv.base_url})
    assert res.exit_code == 0, res.stdout + res.stderr


@pytest.mark.e2e
def test_runs_tells_a_live_run_from_a_killed_one_with_a_header_date_status_and_cost(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda req: ANSWERS[req.step or ""]) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--name", "done", "--output", "out", *MODEL],
            tmp_path,
            {"OPENAI_BASE_URL": srv.base_url},
        )
        assert res.exit_code == 0, res.stdout + res.stderr
    hold = HoldFirst()
    with FakeOpenAIServer(hold) as srv:
        proc = start(["new", REQUIREMENT, "--name", "killed", "--output", "out", *MODEL], tmp_path, srv.base_url)
        try:
            assert hold.arrived.wait(120)
            proc.kill()  # SIGKILL: the board still says running
            proc.communicate(timeout=60)
        finally:
            hold.release.set()
    killed = tmp_path / "out" / "killed"
    assert board_rows(killed, "SELECT status FROM runs") == [("running",)]

    def listing() -> dict[str, str]:
        res = run_cli(["runs", "--output", "out"], tmp_path)
        assert res.exit_code == 0, res.stdout + res.stderr
        lines = res.stdout.splitlines()
        assert lines[0].split() == ["PROJECT", "STARTED", "STATUS", "COST", "REQUIREMENT"]
        return {line.split()[0]: line for line in lines[1:]}

    rows = listing()
    today = time.strftime("%Y-%m-%d")
    assert today in rows["done"] and " done " in rows["done"] and "$0.00" in rows["done"]
    assert " killed " in rows["killed"] and "running" not in rows["killed"]
    lock = ProjectLock(killed)
    lock.acquire(command="softco resume")
    try:
        assert f"running (pid {os.getpid()})" in listing()["killed"]
    finally:
        lock.release()
    assert " killed " in listing()["killed"]
