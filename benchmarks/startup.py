"""softco's start-up and its own share of a run against a fast model server (2,000 tokens/s by default).

    python benchmarks/startup.py [--sizes 8,16] [--runs 3] [--tokens-per-second 2000] [--latency 0.1]

For each size, the synthetic project (``synthetic.project``) is built ``--runs`` times through the real
CLI, ``python -m softco.cli new ... --base-url URL``, each time in a new output directory, against a
``FakeOpenAIServer`` (tests/fake_server.py) on 127.0.0.1 that answers a call in ``--latency``
seconds plus one completion token every 1/``--tokens-per-second`` seconds (a local GPU server, where
softco's own time weighs most). Each figure is the best of the runs (as ``timeit`` does: on a shared
machine the other runs measure the load), with the median beside it:

- start-up: from the process start to softco's first I/O for the run (the interpreter and the imports
  until then): the first file of its own it reads or writes (the SOP's role files, the project), the
  first directory it makes, the first subprocess it starts (git, the sandbox) or connection it opens.
  Python reading its modules and package metadata does not count, nor the ``git version`` GitPython
  runs when it is imported. It is timed in a separate run of the same command with an audit hook
  (``sys.addaudithook``) noting the first such event.
- first request: from the process start to the first model request reaching the server: the start-up
  plus loading and checking the SOP, creating the project (git, board), probing the sandbox and the
  imports that overlap them: everything a user waits on before the model starts working.
- own: softco's own time in the run, the wall time minus the union of the intervals covered by model
  calls (the server's timestamps) and sandboxed test runs (the board's), as in ``bench.py``.
- own %: own / wall, at this speed.

Targets: start-up <= 0.3 s, own < 5 % of wall (the first request is shown, with no target). The script
exits 1 when a target is missed or a run fails.
softco's per-user cache is one in the benchmark's temporary directory, as ``bench.py`` has it (the default
SOP noted as checked, as after a user's first run). The machine's load matters: run it on a quiet machine and
read the CPU count and load it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the HTTP fake: a test double

from bench import board_rows, cli, union_length, user_cache  # noqa: E402
from fake_server import FakeOpenAIServer, FakeRequest  # noqa: E402
from synthetic import project  # noqa: E402

STARTUP_TARGET = 0.3  # seconds
OWN_TARGET = 5.0  # percent of wall


#: Run in the softco process whose start-up is timed: notes when the first I/O of the run happens.
PROBE = """
import os, runpy, sys, time
OWN = (".yaml", ".yml", ".j2", ".toml", ".json", ".jsonl", ".md", ".sqlite", ".txt", ".lock")
seen = []

def first_io(event, args):
    if seen:
        return
    if event == "open":
        path = args[0] if isinstance(args[0], str) else ""
        if not path.endswith(OWN) or ".dist-info" in path or "site-packages" in path and "/softco/" not in path:
            return
    elif event == "subprocess.Popen":
        if [os.path.basename(str(a)) for a in args[1][:2]] == ["git", "version"]:  # GitPython's import
            return
    elif event not in ("os.mkdir", "sqlite3.connect", "socket.connect"):
        return
    seen.append(time.monotonic())
    what = os.path.basename(str(args[1][0] if event == "subprocess.Popen" else args[0]))
    with open(os.environ["SOFTCO_FIRST_IO"], "w") as f:
        f.write(repr(seen[0]) + " " + event + " " + what[:60])

sys.addaudithook(first_io)
sys.argv = ["softco", *sys.argv[1:]]
runpy.run_module("softco.cli", run_name="__main__", alter_sys=True)
"""


@dataclass
class Run:
    wall: float
    first_request: float
    own: float
    calls: int
    startup: float = 0.0
    first_io: str = ""

    @property
    def own_pct(self) -> float:
        return 100 * self.own / self.wall


def one_run(n: int, work: Path, latency: float, per_token: float) -> Run:
    proj = project(n)
    out = Path(tempfile.mkdtemp(prefix=f"out-{n}-", dir=work))
    args = ["new", proj.requirement, "--name", proj.package, "--output", str(out), "--model", "gpt-4o-mini"]
    clock_offset = time.time() - time.monotonic()

    def answer(req: FakeRequest) -> Any:
        return proj.answer(req.step or "")

    with FakeOpenAIServer(answer, latency=latency, per_token_latency=per_token) as srv:
        # the fake server stands in for a fast local server: --concurrency as for a remote one, so its
        # speed is not held back by softco's default of 2 calls at once for a server on this machine
        args += ["--base-url", srv.base_url, "--concurrency", "16"]
        start = time.monotonic()
        code, wall, output = cli(args, work)
        if code != 0:
            raise SystemExit(f"size {n}: softco exited {code}\n{output[-3000:]}")
        if srv.errors:
            raise SystemExit(f"size {n}: the fake server met problems: {srv.errors}")
        calls = srv.chat_requests()
        startup, what = first_io([*args[:2], "--name", proj.package + "-probe", *args[4:]], work)
    llm = [(r.received_at, r.sent_at or r.finished_at or r.received_at) for r in calls]
    tools = board_rows(out / proj.package, "SELECT started_at, finished_at FROM steps WHERE action='run_tests'")
    sandbox = [(a - clock_offset, (b or a) - clock_offset) for a, b in tools]
    end = start + wall
    return Run(
        wall=wall,
        first_request=min(a for a, _ in llm) - start,
        own=wall - union_length(llm + sandbox, start, end),
        calls=len(calls),
        startup=startup,
        first_io=what,
    )


def first_io(args: list[str], work: Path) -> tuple[float, str]:
    """Seconds from the start of ``softco ARGS`` to its first I/O for the run (see PROBE), and what it was."""
    note = work / "first-io.txt"
    note.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "SOFTCO_OUTPUT"}}
    env["SOFTCO_FIRST_IO"] = str(note)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=work, env=env, capture_output=True, timeout=900)
    if proc.returncode != 0 or not note.exists():
        raise SystemExit(f"the start-up probe failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    at, what = note.read_text().split(" ", 1)
    return float(at) - start, what


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="8,16", help="project sizes in source files (default 8,16)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the median is shown (default 3)")
    parser.add_argument("--tokens-per-second", type=float, default=2000.0, help="completion speed (default 2000)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per call before its tokens (default 0.1)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    per_token = 1 / args.tokens_per_second
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"softco start-up benchmark: {args.tokens_per_second:,.0f} tokens/s + {args.latency} s a call, "
        f"best of {args.runs} runs a size, {os.cpu_count()} CPUs, load {load:.2f} at the start, "
        f"Python {sys.version.split()[0]}"
    )
    print()
    print(
        "| files | calls | wall s | start-up s | first request s | own s | own % | median start-up s | median own % |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    medians: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="softco-startup-") as tmp:
        user_cache(Path(tmp))
        for n in sizes:
            runs = [one_run(n, Path(tmp), args.latency, per_token) for _ in range(args.runs)]
            wall = min(r.wall for r in runs)
            startup = min(r.startup for r in runs)
            first = min(r.first_request for r in runs)
            own = min(r.own for r in runs)
            pct = min(r.own_pct for r in runs)
            medians.append((n, startup, pct))
            mid_startup = statistics.median(r.startup for r in runs)
            mid_pct = statistics.median(r.own_pct for r in runs)
            print(
                f"| {n} | {runs[0].calls} | {wall:.2f} | {startup:.3f} | {first:.3f} | {own:.2f} | {pct:.1f} "
                f"| {mid_startup:.3f} "
                f"| {mid_pct:.1f} |",
                flush=True,
            )
    print()
    print(f"the first I/O of the last run: {runs[-1].first_io}")
    print()
    worst_startup = max(s for _, s, _ in medians)
    worst_pct = max(p for _, _, p in medians)
    checks = [
        (
            f"start-up of softco new <= {STARTUP_TARGET} s",
            f"worst {worst_startup:.3f} s",
            worst_startup <= STARTUP_TARGET,
        ),
        (
            f"softco's own time < {OWN_TARGET:.0f} % of wall at {args.tokens_per_second:,.0f} tokens/s",
            f"worst {worst_pct:.1f} %",
            worst_pct < OWN_TARGET,
        ),
    ]
    for name, value, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {value}")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
