"""`softco eval --jobs 8` against `--jobs 1`: a suite against a fake endpoint with 0.5 s latency per call.

    python benchmarks/eval_jobs.py [--suite builtin|DIR] [--tasks N] [--latency 0.5] [--jobs 8]

The suite is ``--suite`` (default: the built-in one if this softco has it), else N generated copies of a
small task. A ``FakeOpenAIServer`` (tests/fake_server.py) on 127.0.0.1 answers every task with
the same small calculator project (marked per task, so no task's steps hit another's step cache),
each reply after ``--latency`` seconds; scores are whatever that code earns on each task's hidden tests.
``python -m softco.cli eval`` runs as a subprocess, once with ``--jobs 1`` and once with ``--jobs N``,
each into a fresh output directory.

Figures:

- wall: the `softco eval` subprocess, start to exit.
- own/run: softco's own time per run, the mean over runs of the run's wall time (board) minus the union
  of the intervals its LLM calls and its sandboxed test runs cover (board step timestamps); what is left
  is rendering, validation, the board, git, the client's round trips, the scheduler.
- score/run: the mean time scoring a run took (installing it, the import check, the hidden tests).
- CPU/run: the user+sys CPU time of the `softco eval` process and of every process it started (the
  sandboxed ones too, which no rusage reaches: they are counted by a cpuacct cgroup, so this needs root;
  "-" otherwise), divided by the runs. On C CPUs, N jobs cannot take less than runs x CPU/run / C.

It exits non-zero when the wall ratio (jobs N / jobs 1) is above 1/5, or softco's own time per run grew
by more than 50 % (CPU contention on a small machine shows up there).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_server import FakeOpenAIServer, FakeReply, FakeRequest  # noqa: E402  (tests/: a test double)
from scripted_project import REQUIREMENT, answers  # noqa: E402

from softco.eval.suite import SUITES_DIR, load_suite  # noqa: E402

MARK = re.compile(r"eval-task-([a-z0-9_-]+)-mark")
ACCEPTANCE = """import importlib

calc = importlib.import_module("calc")


def test_add():
    assert calc.add(2, 3) == 5


def test_divide():
    assert calc.divide(6, 3) == 2
"""


def make_suite(root: Path, n: int) -> Path:
    for i in range(1, n + 1):
        d = root / f"calc-{i:02d}"
        (d / "acceptance").mkdir(parents=True)
        (d / "task.toml").write_text(
            f'id = "calc-{i:02d}"\nrequirement = "{REQUIREMENT} (variant {i})"\ntags = []\n'
            'time_limit_s = 60\npackage = "calc"\n'
        )
        (d / "acceptance" / "test_calc.py").write_text(ACCEPTANCE)
    return root


class Answers:
    """The calc project for every task; its PRD and design carry the task's id so prompts differ per task."""

    def __init__(self, requirements: dict[str, str], latency: float) -> None:
        self.requirements = requirements
        self.latency = latency

    def task_of(self, req: FakeRequest) -> str:
        body = json.dumps(req.body)
        m = MARK.search(body)
        if m:
            return m.group(1)
        for task, text in self.requirements.items():
            if json.dumps(text)[1:-1] in body:
                return task
        return "unknown"

    def __call__(self, req: FakeRequest) -> FakeReply:
        task = self.task_of(req)
        script = copy.deepcopy(answers())
        mark = f"eval-task-{task}-mark"
        script["product_manager/write_prd/project"]["summary"] += f" ({mark})"
        for f in script["architect/write_design/project"]["files"]:
            f["purpose"] += f" ({mark})"
        step = req.step or ""
        return FakeReply(content=script[step], delay=self.latency)


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def per_run(out: Path) -> tuple[list[float], list[float]]:
    """(own time, scoring time) of every run of an eval's output directory."""
    own: list[float] = []
    for board in sorted(out.glob("runs/*/*/*/.softco/board.sqlite")):
        db = sqlite3.connect(board)
        try:
            runs = db.execute("SELECT started_at, finished_at FROM runs").fetchall()
            steps = db.execute(
                "SELECT started_at, finished_at FROM steps WHERE finished_at IS NOT NULL "
                "AND (request_hash IS NOT NULL OR action = 'run_tests')"
            ).fetchall()
        finally:
            db.close()
        wall = sum((f or s) - s for s, f in runs)
        own.append(wall - union([(s, f) for s, f in steps]))
    data = json.loads((out / "eval.json").read_text())
    return own, [r["score_s"] for r in data["records"]]


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _cpu_group(name: str) -> Path | None:
    """A cpuacct cgroup (cgroup v1, root only): it counts the CPU of every process in it and of all they
    start, sandboxed ones included; None where none can be made."""
    group = CPUACCT / f"softco-bench-{os.getpid()}-{name}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def run_eval(suite: Path, url: str, jobs: int, out: Path, tasks: list[str] | None) -> tuple[float, float | None]:
    """(wall seconds, CPU seconds of the eval and every process it started, or None if not measurable)."""
    cmd = [sys.executable, "-m", "softco.cli", "eval", "--suite", str(suite), "--base-url", url, "--model", "bench"]
    cmd += ["--jobs", str(jobs), "--output", str(out)] + (["--tasks", ",".join(tasks)] if tasks else [])
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    group = _cpu_group(f"jobs{jobs}")

    def join() -> None:  # in the child, before exec: it and all it starts are counted
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    try:
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=join)  # noqa: PLW1509
        wall = time.monotonic() - started
        cpu = None
        if group is not None:
            deadline = time.monotonic() + 10  # the fork server and git's helpers end just after the eval
            while (group / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
                time.sleep(0.05)
            cpu = int((group / "cpuacct.usage").read_text()) / 1e9
    finally:
        if group is not None:
            try:
                group.rmdir()
            except OSError:
                pass
    if proc.returncode != 0 or "Traceback" in proc.stdout + proc.stderr:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"softco eval --jobs {jobs} failed (exit {proc.returncode})")
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default=None, help="builtin, a suite directory (default: builtin if present)")
    ap.add_argument("--tasks", type=int, default=20, help="tasks of a generated suite (or the first N of --suite)")
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--jobs", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="softco-eval-bench-"))
    try:
        if args.suite or (SUITES_DIR / "builtin").is_dir():
            suite_dir = (
                Path(args.suite) if args.suite and Path(args.suite).is_dir() else SUITES_DIR / (args.suite or "builtin")
            )
            loaded = load_suite(str(suite_dir))
            tasks = [t.id for t in loaded.tasks][: args.tasks]
            requirements = {t.id: t.requirement for t in loaded.tasks if t.id in tasks}
            what = f"suite {suite_dir.name}, {len(tasks)} tasks"
        else:
            suite_dir = make_suite(tmp / "suite", args.tasks)
            loaded = load_suite(str(suite_dir))
            tasks = None
            requirements = {t.id: t.requirement for t in loaded.tasks}
            what = f"{len(requirements)} generated calc tasks (no built-in suite in this softco)"
        figures = {}
        with FakeOpenAIServer(Answers(requirements, args.latency)) as srv:
            for jobs in (1, args.jobs):
                out = tmp / f"jobs-{jobs}"
                wall, cpu = run_eval(suite_dir, srv.base_url, jobs, out, tasks)
                own, score = per_run(out)
                figures[jobs] = (wall, statistics.fmean(own), statistics.fmean(score), len(own), cpu)
            calls = len(srv.requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"softco eval benchmark: {what}, fake endpoint latency {args.latency} s per call, {os.cpu_count()} CPUs")
    print(f"{calls} LLM calls in all")
    print("| jobs | wall | own/run | score/run | CPU/run | runs |")
    print("|---|---|---|---|---|---|")
    for jobs, (wall, own, score, runs, cpu) in figures.items():
        per = f"{cpu / runs:.2f} s" if cpu is not None else "-"
        print(f"| {jobs} | {wall:.1f} s | {own:.2f} s | {score:.2f} s | {per} | {runs} |")
    ratio = figures[args.jobs][0] / figures[1][0]
    growth = figures[args.jobs][1] / figures[1][1] if figures[1][1] else 1.0
    print(f"wall ratio jobs {args.jobs} / jobs 1: {ratio:.3f} (target <= 0.200)")
    print(f"own time per run, jobs {args.jobs} / jobs 1: {growth:.2f} (target <= 1.50)")
    ok = ratio <= 0.2 and growth <= 1.5
    cpu = figures[args.jobs][4]
    if cpu is not None:
        cpus = len(os.sched_getaffinity(0))
        print(
            f"CPU bound: {cpu:.1f} s of CPU on {cpus} CPUs takes at least {cpu / cpus:.1f} s, a wall ratio of at least "
            f"{cpu / cpus / figures[1][0]:.3f}"
        )
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
