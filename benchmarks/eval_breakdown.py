"""Where one `softco eval` run's CPU goes: the eval process itself and each kind of subprocess.

    python benchmarks/eval_breakdown.py [--suite builtin|DIR] [--tasks N] [--latency 0.5]

Runs ``softco eval --jobs 1`` on the first N tasks of the suite against the fake endpoint of
``benchmarks/eval_jobs.py`` (same answers, same latency), in a child process that records, for every
subprocess softco starts, its user+sys CPU time (``os.wait4``'s rusage) under a kind named from its
command line (git, the sandbox's pytest of QA's tests, the scoring's import check and hidden tests, the
venv, the sandbox probe, ...), and the eval process's own CPU time per phase of a run (the softco run,
its figures and report, the scoring) with ``resource.getrusage(RUSAGE_SELF)``.

It prints CPU seconds per run by kind, the run's wall time and the time it waited on the model; the
CPU a run burns bounds what ``--jobs`` can gain on a machine with C CPUs: with W the wall time of one
run and U its CPU, N jobs take at least max(runs x W / N, runs x U / C).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_jobs import Answers  # noqa: E402
from fake_server import FakeOpenAIServer  # noqa: E402

from softco.eval.suite import SUITES_DIR, load_suite  # noqa: E402

CPUACCT = Path("/sys/fs/cgroup/cpuacct")

#: Runs in the child: counts every subprocess's CPU by kind, and the process's own CPU per phase.
CHILD = r"""
import errno, json, os, resource, subprocess, sys, time
CG = sys.argv[2]
if CG:  # every process this one starts stays in the cpuacct group, sandboxed ones too
    with open(os.path.join(CG, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
stats = {}
phases = {}
kinds = {}
in_sandbox = [0]

def group_cpu():
    if not CG:
        return 0.0
    with open(os.path.join(CG, "cpuacct.usage")) as f:
        return int(f.read()) / 1e9

def own():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def add(k, cpu):
    s = stats.setdefault(k, [0, 0.0])
    s[0] += 1
    s[1] += cpu

def kind(args):
    a = [str(x) for x in (args if isinstance(args, (list, tuple)) else [args])]
    text = " ".join(a)
    if a and os.path.basename(a[0]).startswith("git"):
        return "git " + next((x for x in a[1:] if not x.startswith("-")), "")
    if "-m venv" in text:
        return "venv (python -m venv)"
    if "pip" in text and "install" in text:
        return "pip install"
    if "PROBE-OK" in text:
        return "sandbox probe"
    if "SOFTCO-ENTRY" in text:
        return "score: import check"
    if "../acceptance" in text:
        return "score: hidden tests"
    if "pytest" in text:
        return "QA's tests (sandbox pytest)"
    return os.path.basename(a[0]) if a else "?"

_init = subprocess.Popen.__init__
def init(self, args, *a, **k):
    _init(self, args, *a, **k)
    kinds[self.pid] = None if in_sandbox[0] else kind(args)
subprocess.Popen.__init__ = init

def waitpid(pid, flags, _w=os.wait4):
    got, status, ru = _w(pid, flags)
    if got:
        k = kinds.pop(got, "?")
        if k is not None:  # a sandboxed process: counted by its cgroup (bwrap does not pass its rusage on)
            add(k, ru.ru_utime + ru.ru_stime)
    return got, status
subprocess.Popen._internal_poll.__defaults__ = (None, waitpid, os.WNOHANG, errno.ECHILD)
def _try_wait(self, wait_flags):
    try:
        return waitpid(self.pid, wait_flags)
    except ChildProcessError:
        return (self.pid, 0)
subprocess.Popen._try_wait = _try_wait

import softco.sandbox.runner as runner, softco.sandbox.venv as venv
_sandboxed = runner._sandboxed
def sandboxed(spec, argv, *a, **k):
    in_sandbox[0] += 1
    g0, c0 = group_cpu(), own()
    try:
        return _sandboxed(spec, argv, *a, **k)
    finally:
        in_sandbox[0] -= 1
        add("sandbox: " + kind(argv), (group_cpu() - g0) - (own() - c0))
runner._sandboxed = sandboxed
venv._sandboxed = sandboxed

import softco.eval.spec as spec
def timed(name, fn):
    def wrapper(*a, **k):
        c0, w0 = own(), time.monotonic()
        try:
            return fn(*a, **k)
        finally:
            p = phases.setdefault(name, [0, 0.0, 0.0, []])
            p[0] += 1; p[1] += own() - c0; p[2] += time.monotonic() - w0; p[3].append(round(own() - c0, 3))
    return wrapper
def thread_timed(name, obj, attr):
    fn = getattr(obj, attr)
    def wrapper(*a, **k):
        c0 = time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            p = phases.setdefault(name, [0, 0.0, 0.0, []])
            p[0] += 1; p[1] += time.thread_time() - c0; p[3].append(round(time.thread_time() - c0, 3))
    setattr(obj, attr, wrapper)

import softco.company.run as company_run, softco.company.workspace as workspace, softco.llm.openai as llm_openai
thread_timed("softco run: of which checking the SOP", company_run, "load_checked_sop")
thread_timed("softco run: of which git commits (GitPython)", workspace.Workspace, "commit")
thread_timed("softco run: of which making the openai client", llm_openai, "_build_client")
spec._generate = timed("softco run", spec._generate)
spec._figures = timed("figures and report", spec._figures)
spec._score = timed("scoring (in process)", spec._score)

from softco.cli import run
code = run(sys.argv[3:])
out = {"stats": stats, "phases": phases, "own_total": own(), "group_total": group_cpu(), "code": code}
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="builtin")
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.5)
    args = ap.parse_args()
    suite_dir = Path(args.suite) if Path(args.suite).is_dir() else SUITES_DIR / args.suite
    loaded = load_suite(str(suite_dir))
    tasks = [t.id for t in loaded.tasks][: args.tasks]
    requirements = {t.id: t.requirement for t in loaded.tasks if t.id in tasks}
    tmp = Path(tempfile.mkdtemp(prefix="softco-eval-breakdown-"))
    group = CPUACCT / f"softco-breakdown-{os.getpid()}"
    try:
        group.mkdir()
    except OSError:
        group = None
        print("no cpuacct cgroup could be made (run as root): sandboxed processes' CPU is not counted")
    try:
        with FakeOpenAIServer(Answers(requirements, args.latency)) as srv:
            cmd = [sys.executable, "-c", CHILD, str(tmp / "stats.json"), str(group or "")]
            cmd += ["eval", "--suite", str(suite_dir), "--base-url", srv.base_url, "--model", "bench", "--jobs", "1"]
            cmd += ["--output", str(tmp / "out")]
            cmd += ["--tasks", ",".join(tasks)]
            env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            calls = len(srv.requests)
        if proc.returncode != 0 or not (tmp / "stats.json").exists():
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise SystemExit(f"softco eval failed (exit {proc.returncode})")
        data = json.loads((tmp / "stats.json").read_text())
        results = json.loads((tmp / "out" / "eval.json").read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if group is not None:
            deadline = time.monotonic() + 10  # git's helpers may end just after the eval
            while (group / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                group.rmdir()
            except OSError:
                pass
    runs = len(results["records"])
    wall = sum(r["wall_s"] + r["score_s"] for r in results["records"]) / runs
    print(f"softco eval breakdown: {suite_dir.name}, {runs} run(s), {calls} LLM calls, latency {args.latency} s a call")
    print(f"wall per run (softco run + scoring): {wall:.2f} s; model wait per run: {calls * args.latency / runs:.2f} s")
    print("| where | count/run | CPU s/run |")
    print("|---|---|---|")
    total = 0.0
    for name, (count, cpu, _w, each) in sorted(data["phases"].items(), key=lambda kv: -kv[1][1]):
        each_text = f" (each: {', '.join(map(str, each))})" if 0 < len(each) <= 12 else ""
        print(f"| eval process: {name} | {count / runs:.1f} | {cpu / runs:.3f}{each_text} |")
    own = data["own_total"]
    print(f"| eval process: all (start-up and driver included) | - | {own / runs:.3f} |")
    total += own
    for name, (count, cpu) in sorted(data["stats"].items(), key=lambda kv: -kv[1][1]):
        print(f"| subprocess: {name} | {count / runs:.1f} | {cpu / runs:.3f} |")
        total += cpu
    print(f"| **total** | | **{total / runs:.3f}** |")
    if data["group_total"]:
        print(f"(the cgroup counted {data['group_total'] / runs:.3f} s/run for the eval process and all it started)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
