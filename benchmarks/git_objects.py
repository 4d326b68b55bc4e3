"""Does softco's in-process object store (company/workspace.py ``_ObjectDB``) pay for overriding gitpython?

Commits N artifacts (a module and a docs page each) through :class:`~softco.company.workspace.Workspace`,
once with ``_ObjectDB`` and once with gitpython's own ``GitCmdObjectDB`` (a ``git hash-object`` process per
object), alternating, R times; prints the median wall time of each and exits non-zero if the override
saves less than ``--min-saving`` ms a commit (then it is not worth keeping)::

    python benchmarks/git_objects.py [--commits 40] [--repeat 9] [--min-saving 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import git
from git.db import GitCmdObjectDB

from softco.company import workspace


def one_run(odbt: type[GitCmdObjectDB], commits: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        ws = workspace.Workspace.create(Path(d) / "p")
        ws.repo.close()
        ws.repo = git.Repo(ws.root, odbt=odbt)
        author = workspace.Author("Bench", "bench@softco.local")
        started = time.perf_counter()
        for i in range(commits):
            files = {f"pkg/mod{i}.py": f"# module {i}\n" + "x = 1\n" * 60, f"docs/mod{i}.md": "text\n" * 40}
            ws.commit(ws.write(files), f"code: pkg/mod{i}.py", author)
        elapsed = time.perf_counter() - started
        ws.repo.close()
        return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--min-saving", type=float, default=5.0, help="ms a commit the override must save")
    args = ap.parse_args()
    times: dict[str, list[float]] = {"_ObjectDB": [], "GitCmdObjectDB": []}
    for _ in range(args.repeat):
        times["_ObjectDB"].append(one_run(workspace._ObjectDB, args.commits))
        times["GitCmdObjectDB"].append(one_run(GitCmdObjectDB, args.commits))
    per_commit = {k: statistics.median(v) / args.commits * 1000 for k, v in times.items()}
    for name, ms in per_commit.items():
        print(f"{name:15s} {ms:6.1f} ms a commit (median of {args.repeat} runs of {args.commits} commits)")
    saving = per_commit["GitCmdObjectDB"] - per_commit["_ObjectDB"]
    print(f"saving          {saving:6.1f} ms a commit (target: >= {args.min_saving:g})")
    return 0 if saving >= args.min_saving else 1


if __name__ == "__main__":
    raise SystemExit(main())
