"""Score every built-in task's reference solution, and each of its planted mutations, with `softco eval`'s
own scorer (softco/eval/score.py: the sandbox, the results pipe, the 1-4 executability scale).

tests/test_eval_suite.py checks the same in a few batched pytest processes on the host (fast); this is
the slow, faithful check: one sandboxed scoring per project, as `softco eval` does it.

    python scripts/score_eval_references.py [TASK_ID ...]

Prints one line per project and exits 1 if a reference scores below 4 or a mutation scores 4.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from softco.eval.score import score_project
from softco.eval.suite import load_suite

REFERENCES = Path(__file__).resolve().parent.parent / "tests" / "eval_reference"


def main(only: list[str]) -> int:
    suite = load_suite("builtin", only or None)
    print(f"suite {suite.name} version {suite.version}: {len(suite.tasks)} tasks")
    bad = []
    started = time.perf_counter()
    for task in suite.tasks:
        package = task.package or task.id
        planted = tomllib.loads((REFERENCES / task.id / "mutations.toml").read_text(encoding="utf-8"))["mutation"]
        for label, mutation in [("reference", None)] + [(f"mutation {i}", m) for i, m in enumerate(planted)]:
            with tempfile.TemporaryDirectory() as tmp:
                project = Path(tmp) / "project"
                shutil.copytree(REFERENCES / task.id / package, project / package)
                if mutation is not None:
                    target = project / mutation["file"]
                    target.write_text(target.read_text(encoding="utf-8").replace(mutation["old"], mutation["new"]))
                t0 = time.perf_counter()
                score = score_project(
                    project, task.acceptance, package=package, entry=task.entry or "import", dependencies=[],
                    time_limit_s=task.time_limit_s,
                )  # fmt: skip
            failed = ", ".join(name.split("::")[-1] for name in score.hidden_failed[:3])
            print(
                f"{task.id:12} {label:11} exec {score.executability} {score.hidden_passed:>2}/{score.hidden_total:<2} "
                f"{time.perf_counter() - t0:5.1f} s  {failed or score.detail}"
            )
            if (mutation is None) != (score.executability == 4):
                bad.append(f"{task.id} {label}")
    print(f"{time.perf_counter() - started:.0f} s in all")
    if bad:
        print("NOT AS PLANTED: " + "; ".join(bad))
        return 1
    print("every reference scores 4; every mutation scores below 4")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
