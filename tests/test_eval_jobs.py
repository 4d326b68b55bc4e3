"""`softco eval --jobs N` on a small machine: what every run paid once a process is paid once in the fork
server, the sandbox's venv costs no interpreter start, and the first runs start one after another's
start-up instead of all at once (benchmarks/eval_jobs.py and eval_breakdown.py measure what it gains)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from eval_helpers import invoke, results, write_task
from fake_server import FakeOpenAIServer, FakeReply, FakeRequest
from scripted_project import REQUIREMENT, answers

from softco import sandbox
from softco.eval import forkserver, local
from softco.report import html


def test_the_venv_is_made_without_starting_an_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run makes two venvs (its tests', its scoring's); each used to start `python -m venv` (about 40 ms of
    CPU). Made in-process, it is the same venv: this interpreter's symlinks, no pip, softco's .pth."""

    def no_process(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a process was started: {args[1] if len(args) > 1 else kwargs.get('args')}")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    python = sandbox.ensure_venv(tmp_path / "proj", [])
    monkeypatch.undo()
    venv = tmp_path / "proj" / ".softco" / "venv"
    assert python == venv / "bin" / "python" and python.is_symlink()
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    assert not list(venv.glob("lib/python3*/site-packages/pip"))
    (pth,) = venv.glob("lib/python3*/site-packages/_softco_host.pth")
    assert pth.read_text().split()
    # the venv works: its python (in the sandbox) imports pytest through softco's .pth
    res = sandbox.run(tmp_path / "proj", [str(python), "-c", "import pytest; print('OK')"], sandbox.Limits())
    assert res.exit_code == 0 and "OK" in res.output, res.output


def test_the_report_reads_its_scripts_once_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """mermaid's build (3.5 MB) was read and hashed for every run's report."""
    getattr(html._page_assets, "cache_clear", lambda: None)()
    reads: list[tuple[str, ...]] = []
    real = html._asset

    def counted(*parts: str) -> str:
        reads.append(parts)
        return real(*parts)

    monkeypatch.setattr(html, "_asset", counted)
    first = html.render_graph("one", "graph TD\n  A --> B")
    once = len(reads)
    second = html.render_graph("two", "graph TD\n  A --> B")
    assert once > 0 and len(reads) == once
    assert "mermaid" in first and "one" in first and "two" in second


def test_the_fork_server_fills_the_caches_a_run_fills(tmp_path: Path) -> None:
    """Workers are forked from the fork server: what it did, none of them does again (the sandbox's probe, the
    report's template and scripts, the highlighter, the price data, the client's answer model)."""
    ctx = forkserver.context()
    assert ctx is not None
    from multiprocessing import forkserver as mp_forkserver

    assert "softco.eval.warmed" in mp_forkserver._forkserver._preload_modules  # type: ignore[attr-defined]
    check = """
import gc, sys
import softco.eval.warmed
from softco.sandbox import runner
from softco.report import html
import pygments.lexers.python as lexers
assert runner.works.cache_info().currsize >= 1, "the sandbox was not probed"
assert html._page_assets.cache_info().currsize == 1, "the report's scripts were not read"
assert "report.html.j2" in {k[1] for k in html._env().cache.keys()}, "the report's template was not compiled"
assert "_tokens" in vars(lexers.PythonLexer), "Python's highlighting rules were not compiled"
assert gc.get_freeze_count() > 0, "nothing was frozen out of the collector's reach"
assert gc.isenabled(), "the collector was left paused for the workers"
print("WARM")
"""
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "WARM" in proc.stdout, proc.stdout + proc.stderr


def _paced_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, cpus: int, jobs: int, tasks: int
) -> tuple[list[float], list[float]]:
    """``tasks`` runs with ``--jobs`` on a machine of ``cpus`` CPUs, each run's first answer 0.4 s late: when
    each run started, and when the run started before it could have had its first answer, in starting order."""
    monkeypatch.setattr(local, "PACE_MAX_S", 120.0)  # ordering, not timing: never cut short
    monkeypatch.setattr(local, "cpus", lambda: cpus)
    suite = tmp_path / "suite"
    names = [f"calc-{i}" for i in range(1, tasks + 1)]
    for i, task in enumerate(names, 1):
        write_task(suite, task, requirement=f"{REQUIREMENT} (variant {i})")
    script = answers()
    first_answer: dict[str, float] = {}

    def answer(req: FakeRequest) -> Any:
        body = json.dumps(req.body)
        reply = script[req.step or ""]
        for i, task in enumerate(names, 1):
            if f"(variant {i})" in body and task not in first_answer:
                first_answer[task] = time.time() + 0.4  # not sent before then
                return FakeReply(content=reply, delay=0.4)
        return reply

    out = tmp_path / "ev"
    with FakeOpenAIServer(answer) as srv:
        code, text = invoke(
            "eval",
            "--suite",
            str(suite),
            "--base-url",
            srv.base_url,
            "--model",
            "fake",
            "--jobs",
            str(jobs),
            "--output",
            str(out),
        )
        assert not srv.errors, srv.errors
    assert code == 0, text
    assert [r.status for r in results(out).records] == ["done"] * tasks
    started: dict[str, float] = {}
    for task in names:
        with sqlite3.connect(out / "runs" / "fake" / "seed-1" / task / ".softco" / "board.sqlite") as db:
            (started[task],) = db.execute("SELECT MIN(started_at) FROM runs").fetchone()
    assert set(first_answer) == set(names)
    order = sorted(names, key=started.__getitem__)
    return [started[t] for t in order[1:]], [first_answer[t] for t in order[:-1]]


def test_where_runs_outnumber_the_cpus_runs_start_one_answer_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight runs started together on two CPUs wait on the model together, then run their tests together, and
    finish together, so the next eight start together too. Where --jobs is more than the CPUs, each of the
    first --jobs runs starts once the run started before it has had its first answer."""
    started, answered_before = _paced_eval(tmp_path, monkeypatch, cpus=1, jobs=3, tasks=3)
    for start, answered in zip(started, answered_before, strict=True):
        assert start > answered, (started, answered_before)


def test_with_a_cpu_for_every_job_the_runs_start_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no more jobs than CPUs there is nothing to interleave: no run waits for another's answer."""
    started, answered_before = _paced_eval(tmp_path, monkeypatch, cpus=3, jobs=3, tasks=3)
    assert started[-1] < answered_before[0], (started, answered_before)


def test_the_fork_server_starts_before_the_driver_is_imported(tmp_path: Path) -> None:
    """The fork server's start-up (about 1.5 s of imports and warm-up) is the first run's wait: `softco eval
    --jobs N` starts it from the command's options, before it imports the driver and what the driver needs."""
    write_task(tmp_path / "suite", "calc")
    probe = """
import sys
from multiprocessing import forkserver
seen = []
started = forkserver.ensure_running
def ensure_running():
    seen.append("softco.eval.driver" in sys.modules)
    started()
forkserver.ensure_running = ensure_running
from softco.cli import run
run(sys.argv[1:])
print("SEEN", seen)
"""
    argv = ["eval", "--suite", str(tmp_path / "suite"), "--llm", "script:x.json", "--jobs", "2", "--tasks", "nosuch"]
    proc = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "SEEN [False" in proc.stdout, proc.stdout + proc.stderr


def test_the_fork_server_starts_before_the_suite_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork server imports and warms what a run needs (about a second of CPU): with --jobs N it starts as
    soon as the options are checked, while the driver reads the suite and the results so far."""
    from multiprocessing import forkserver

    from softco.errors import UsageError
    from softco.eval import driver

    forkserver._forkserver._stop()  # type: ignore[attr-defined]  # one an earlier test started
    seen: list[int | None] = []

    def stop_here(*args: Any, **kwargs: Any) -> None:
        seen.append(forkserver._forkserver._forkserver_pid)  # type: ignore[attr-defined]
        raise UsageError("stopped by the test")

    monkeypatch.setattr(driver, "load_suite", stop_here)
    write_task(tmp_path / "suite", "calc")
    code, text = invoke("eval", "--suite", str(tmp_path / "suite"), "--llm", "script:x.json", "--jobs", "2")
    assert code == 2 and "stopped by the test" in text, text
    assert seen and seen[0] is not None, "no fork server was running when the suite was read"


def test_a_run_that_ends_at_once_does_not_end_the_pacing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ends before its first answer (resumed when it had finished, or failed at its start) frees a
    worker: that says nothing about whether the others are apart, and the next run still waits for the run
    started before it to have its answer."""
    import jobs_fakes

    from softco.eval.spec import RunSpec
    from softco.llm.budget import Budget, SharedLedger

    monkeypatch.setattr(local, "_run_in_worker", jobs_fakes.fake_run)
    monkeypatch.setattr(local, "cpus", lambda: 1)
    ids = ["quick", "call-1", "call-2"]
    specs = [RunSpec(task_id=t, variant="v", seed=1, requirement="x", rel_dir=f"r/{t}") for t in ids]
    starts: dict[str, float] = {}
    done: list[str] = []
    backend = local.LocalBackend(tmp_path, SharedLedger(Budget()), jobs=4)
    backend.run(specs, lambda s, r: done.append(r.status), lambda s: starts.setdefault(s.task_id, time.monotonic()))
    assert done == ["done"] * 3
    # quick ended at once; call-2 still waited for call-1's answer (1 s after its call)
    assert starts["call-2"] - starts["call-1"] > 0.9, starts


def test_a_worker_that_dies_leaves_a_record_for_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies (killed, out of memory) breaks the pool: the runs in flight end with that said, and the
    runs not started yet get a record saying so too (the next invocation runs them); the eval does not crash with
    the pool's exception, leaving them without one."""
    import jobs_fakes

    from softco.eval.spec import RunSpec
    from softco.llm.budget import Budget, SharedLedger

    monkeypatch.setattr(local, "_run_in_worker", jobs_fakes.fake_run)
    ids = ["die-1", "call-2", "quick-3", "quick-4"]
    specs = [RunSpec(task_id=t, variant="v", seed=1, requirement="x", rel_dir=f"r/{t}") for t in ids]
    records: dict[str, Any] = {}
    backend = local.LocalBackend(tmp_path, SharedLedger(Budget()), jobs=2)
    backend.run(specs, lambda s, r: records.setdefault(s.task_id, r))
    assert set(records) == set(ids)
    assert {r.status for r in records.values()} == {"error"}, records
    assert "died" in records["die-1"].error and "died" in records["quick-4"].error, records


@pytest.mark.parametrize("jobs", [2, 3], ids=["the-first-jobs-started", "a-run-with-an-answer-ended"])
def test_once_pacing_ends_a_run_starts_as_another_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """Pacing ends once --jobs runs are started, or once a run that had an answer has ended: pacing every start
    would cap the eval at one start an answer's time. Then a run starts when another ends, whatever the run
    started last is doing."""
    import jobs_fakes

    from softco.eval.spec import RunSpec
    from softco.llm.budget import Budget, SharedLedger

    monkeypatch.setattr(local, "_run_in_worker", jobs_fakes.fake_run)
    monkeypatch.setattr(local, "cpus", lambda: 1)
    ids = ["call-1", "call-2", "call-3"]
    specs = [RunSpec(task_id=t, variant="v", seed=1, requirement="x", rel_dir=f"r/{t}") for t in ids]
    starts: dict[str, float] = {}
    backend = local.LocalBackend(tmp_path, SharedLedger(Budget()), jobs=jobs)
    backend.run(specs, lambda s, r: None, lambda s: starts.setdefault(s.task_id, time.monotonic()))
    # call-2 waited for call-1's answer (1.1 s in); call-3 started when call-1 ended (1.3 s in), not a second
    # after, when call-2 had its answer
    assert starts["call-2"] - starts["call-1"] > 0.9, starts
    assert starts["call-3"] - starts["call-2"] < 0.9, starts


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage"}, None),
        ({}, None),
    ],
    ids=["v2-quota", "v2-none", "v1-quota", "v1-none", "unreadable", "no-cgroup"],
)
def test_a_containers_cpu_quota_counts_as_its_cpus(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    """A container started with --cpus 2 on a 32-CPU machine sees 32 CPUs in its affinity: its cgroup's quota
    says it has 2, and pacing must know that."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert local.cpu_quota(tmp_path) == quota


def test_the_cpus_are_the_fewer_of_the_affinity_and_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quota of half a CPU still leaves one; a quota above the affinity changes nothing."""
    import os

    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(local, "cpu_quota", lambda root: 0.5)
    assert local.cpus() == 1
    monkeypatch.setattr(local, "cpu_quota", lambda root: affinity + 10.0)
    assert local.cpus() == affinity
    monkeypatch.setattr(local, "cpu_quota", lambda root: None)
    assert local.cpus() == affinity
