"""Faults, budgets, kills and resumes: the run keeps working, loses nothing, pays nothing twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from helpers import board_artifacts, commits, only_project, repo_files, run_cli
from scripted_project import REQUIREMENT, answers

from softco.defaults import TEMPLATES_DIR

ANSWERS: dict[str, Any] = answers()
MODEL = ["--model", "gpt-4o-mini"]


def good(req: FakeRequest) -> Any:
    return ANSWERS[req.step or ""]


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with no faults, to compare against (read only: every test here compares with the same one)."""
    tmp_path = tmp_path_factory.mktemp("reference")
    with FakeOpenAIServer(good) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--name", "ref", "--output", "ref-out", *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url, "SOFTCO_LOCAL_ONLY": "1"},
        )
    assert res.exit_code == 0, res.stdout + res.stderr
    return tmp_path / "ref-out" / "ref"


CONTENT_FAULTS = ("malformed", "truncated", "invalid", "empty")
TRANSPORT_FAULTS = ("429", "500", "502", "503", "timeout", "reset")


class Faulty:
    """Answers right, except for a seeded share of faults of the given kinds."""

    def __init__(self, rate: float, kinds: tuple[str, ...], seed: int = 7) -> None:
        self.rate, self.kinds, self.rng = rate, kinds, random.Random(seed)
        self.injected: list[tuple[str, str]] = []
        self.streak: dict[str, int] = defaultdict(int)

    def __call__(self, req: FakeRequest) -> Any:
        step = req.step or ""
        if self.rng.random() < self.rate:
            kind = self.rng.choice(self.kinds)
            # softco re-asks a bad answer twice; a third bad one in a row is a real failure, not this test
            if kind not in CONTENT_FAULTS or self.streak[step] < 2:
                self.streak[step] += kind in CONTENT_FAULTS
                self.injected.append((step, kind))
                return self.fault(kind, ANSWERS[step])
        self.streak[step] = 0
        return ANSWERS[step]

    @staticmethod
    def fault(kind: str, answer: dict[str, Any]) -> Any:
        text = json.dumps(answer)
        if kind == "malformed":
            return text[: len(text) // 2]
        if kind == "truncated":
            return FakeReply(content=text[:40], finish_reason="length")
        if kind == "invalid":
            return {k: v for k, v in list(answer.items())[1:]}
        if kind == "empty":
            return ""
        if kind == "429":
            return FakeReply.rate_limited(0)
        if kind == "timeout":
            return FakeReply(content=text, delay=3.0)
        if kind == "reset":
            return FakeReply(reset=True)
        return FakeReply.server_error(int(kind), retry_after=0)


def test_thirty_percent_faults_same_artifacts_every_fault_on_the_board(tmp_path: Path, ref: Path) -> None:
    faulty = Faulty(0.3, CONTENT_FAULTS + TRANSPORT_FAULTS)
    with FakeOpenAIServer(faulty) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--name", "ref", "--output", "out", *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url, "SOFTCO_TIMEOUT": "2"},
        )
    assert res.exit_code == 0, res.stdout + res.stderr
    kinds = Counter(k for _, k in faulty.injected)
    assert sum(kinds.values()) >= 4 and len(kinds) >= 3, kinds  # the seed really injects a mix
    project = tmp_path / "out" / "ref"
    assert board_artifacts(project) == board_artifacts(ref)
    assert repo_files(project) == repo_files(ref)
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    rows = db.execute(
        "SELECT key, status, error FROM steps WHERE status IN ('fault', 'invalid') ORDER BY id"
    ).fetchall()
    db.close()
    assert len(rows) == len(faulty.injected)
    assert sorted(k for k, _, _ in rows) == sorted(step for step, _ in faulty.injected)
    assert all(err for _, _, err in rows)
    # each transport fault was shown on the terminal as it was retried, one line each
    retried = [line for line in res.stdout.splitlines() if "endpoint slow or unreachable" in line]
    transport = [step for step, kind in faulty.injected if kind in TRANSPORT_FAULTS]
    assert len(retried) == len(transport)
    assert sorted(line.rsplit(": ", 1)[1] for line in retried) == sorted(transport)


def test_budget_stops_before_the_call_and_resume_with_more_finishes(tmp_path: Path) -> None:
    with FakeOpenAIServer(good) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--budget", "0.001", *MODEL],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        assert res.exit_code == 4, res.stdout + res.stderr
        assert "product_manager" in res.stderr and "write_prd" in res.stderr and "resume" in res.stderr
        assert len(srv.requests) == 0  # stopped before the call, not after
        project = only_project(tmp_path / "out")
        res = run_cli(["resume", str(project), "--budget", "1"], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
    assert res.exit_code == 0, res.stdout + res.stderr
    assert [c.subject.split(":")[0] for c in commits(project)][-1] == "test_report"


def test_token_budget_stops_mid_run_with_exit_4(tmp_path: Path) -> None:
    with FakeOpenAIServer(good) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--token-budget", "9500", "--model", "local-model"],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url},
        )
        made = len(srv.requests)
    assert res.exit_code == 4, res.stdout + res.stderr
    assert 0 < made < 7 and "token budget" in res.stderr


def test_usd_budget_with_an_unknown_price_is_refused(tmp_path: Path) -> None:
    res = run_cli(
        [
            "new",
            REQUIREMENT,
            "--output",
            "out",
            "--budget",
            "1",
            "--model",
            "mystery",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ],
        tmp_path,
    )
    assert res.exit_code == 2 and "no price" not in res.stdout
    assert "none is known for model 'mystery'" in res.stderr and "--token-budget" in res.stderr


def test_rerun_with_identical_inputs_makes_no_request(tmp_path: Path) -> None:
    with FakeOpenAIServer(good) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url}
        assert run_cli(["new", REQUIREMENT, "--output", "out", *MODEL], tmp_path, env=env).exit_code == 0
        first = len(srv.requests)
        res = run_cli(["new", REQUIREMENT, "--output", "out", *MODEL], tmp_path, env=env)
        assert res.exit_code == 0, res.stdout + res.stderr
        assert len(srv.requests) == first  # zero requests the second time
    assert "LLM calls  0" in res.stdout


def test_changing_only_the_qa_template_reruns_only_qa(tmp_path: Path) -> None:
    with FakeOpenAIServer(good) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url}
        assert run_cli(["new", REQUIREMENT, "--output", "out", *MODEL], tmp_path, env=env).exit_code == 0
        first = len(srv.requests)
        sop = tmp_path / "sop" / "sop_templates"
        sop.mkdir(parents=True)
        original = (TEMPLATES_DIR / "write_tests.j2").read_text()
        (sop / "write_tests.j2").write_text(original + "\nPrefer one assertion per test.\n")
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--sop", str(tmp_path / "sop"), *MODEL], tmp_path, env=env
        )
        assert res.exit_code == 0, res.stdout + res.stderr
        again = [r.step for r in srv.requests[first:]]
    assert again == ["qa_engineer/write_tests/calc/ops.py"]


def _kill_after(srv: FakeOpenAIServer, n: int, args: list[str], cwd: Path) -> int:
    env = {**{k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY"}}, "OPENAI_BASE_URL": srv.base_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "softco.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(srv.requests) < n and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.mark.e2e
@pytest.mark.parametrize("kill_at", [1, 2, 4, 6])
def test_sigkill_then_resume_equals_a_run_never_killed(tmp_path: Path, ref: Path, kill_at: int) -> None:
    with FakeOpenAIServer(good, latency=0.15) as srv:
        code = _kill_after(srv, kill_at, ["new", REQUIREMENT, "--name", "ref", "--output", "out", *MODEL], tmp_path)
        assert code == -signal.SIGKILL
        project = tmp_path / "out" / "ref"
        res = run_cli(["resume", str(project)], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
        steps = Counter(r.step for r in srv.requests)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert board_artifacts(project) == board_artifacts(ref)
    assert repo_files(project) == repo_files(ref)
    log, ref_log = commits(project), commits(ref)
    assert [(c.author, c.subject, c.files) for c in log] == [(c.author, c.subject, c.files) for c in ref_log]
    trailers = [c.trailers["Softco-Message"] for c in log]
    assert len(trailers) == len(set(trailers))  # no duplicate commit
    assert max(steps.values()) <= 2  # at most the call in flight at the kill is asked twice
    assert sum(steps.values()) <= 6 + 4  # ... and at most --concurrency (4) calls are in flight


def test_a_crash_between_board_and_commit_heals_on_resume(tmp_path: Path) -> None:
    with FakeOpenAIServer(good) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url}
        assert run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", *MODEL], tmp_path, env=env).exit_code == 0
    project = tmp_path / "out" / "p"
    # simulate the crash: the last message is on the board, its commit never happened
    import git

    repo = git.Repo(project)
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    last_id = db.execute("SELECT max(id) FROM messages").fetchone()[0]
    db.execute("UPDATE messages SET commit_sha=NULL WHERE id=?", (last_id,))
    db.commit()
    db.close()
    repo.git.reset("--hard", "HEAD~1")
    assert f"Softco-Message: {last_id}" not in repo.head.commit.message
    with FakeOpenAIServer(good) as srv:
        res = run_cli(["resume", str(project)], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
        assert len(srv.requests) == 0
    assert res.exit_code == 0, res.stdout + res.stderr
    repo.close()
    with git.Repo(project) as repo:
        assert f"Softco-Message: {last_id}" in repo.head.commit.message
        assert not repo.is_dirty(untracked_files=True)
