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
from fake_server import FakeOpenAIServer, FakeRequest
from scripted_project import REQUIREMENT, answers

from softco import sandbox
from softco.eval import local
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
    ctx = local._context()
    assert ctx is not None
    from multiprocessing import forkserver

    assert "softco.eval.warmed" in forkserver._forkserver._preload_modules  # type: ignore[attr-defined]
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
print("WARM")
"""
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "WARM" in proc.stdout, proc.stdout + proc.stderr


def test_the_first_runs_start_after_the_one_before_made_its_first_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight runs started together burn their start-ups at once, then wait on the model at once, then run their
    tests at once, and stay in step. Each of the first --jobs runs starts once the run started before it has
    made its first model call; then the workers go on as runs finish."""
    monkeypatch.setattr(local, "RAMP_MAX_S", 120.0, raising=False)  # ordering, not timing: never cut short
    suite = tmp_path / "suite"
    tasks = [f"calc-{i}" for i in range(1, 4)]
    for i, task in enumerate(tasks, 1):
        write_task(suite, task, requirement=f"{REQUIREMENT} (variant {i})")
    script = answers()
    first_call: dict[str, float] = {}

    def answer(req: FakeRequest) -> Any:
        body = json.dumps(req.body)
        for i, task in enumerate(tasks, 1):
            if f"(variant {i})" in body:
                first_call.setdefault(task, time.time())
        return script[req.step or ""]

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
            "3",
            "--output",
            str(out),
        )
        assert not srv.errors, srv.errors
    assert code == 0, text
    assert [r.status for r in results(out).records] == ["done"] * 3
    started: dict[str, float] = {}
    for task in tasks:
        with sqlite3.connect(out / "runs" / "fake" / "seed-1" / task / ".softco" / "board.sqlite") as db:
            (started[task],) = db.execute("SELECT MIN(started_at) FROM runs").fetchone()
    order = sorted(tasks, key=started.__getitem__)
    assert set(first_call) == set(tasks)
    for before, after in zip(order, order[1:], strict=False):
        assert started[after] > first_call[before], (before, after, started, first_call)


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
