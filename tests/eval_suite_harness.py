"""Run the built-in suite's hidden acceptance tests against the reference solutions (and their mutations).

The scoring contract (issue 16): the project is a directory P, the task's ``acceptance/`` is copied
OUTSIDE P, and pytest runs on that copy with ``PYTHONPATH=P``. To keep the suite fast, many tasks run in
ONE pytest process: every project is on PYTHONPATH (each task has its own package name, checked by
tests/test_eval_suite.py) and every acceptance file has a name unique in the suite, so nothing collides.
The references are our own code, so they run on the host, not in the sandbox; but like `softco eval`, the
pytest process never imports them: it starts through softco_score.py and the import proxy serves their
packages from a child process, so what passes here passes through the proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import softco
from softco.sandbox import PLUGIN_DIR, host_site_dirs

SUITE = Path(softco.__file__).resolve().parent / "eval" / "suites" / "builtin"
REFERENCES = Path(__file__).resolve().parent / "eval_reference"
TASK_KEYS = {"id": str, "requirement": str, "tags": list, "time_limit_s": int}
# optional in the format; the built-in tasks all say them (they decide the executability check)
TASK_OPTIONAL_KEYS = {"package": str, "entry": str}
MAX_REQUIREMENT = 500


def task_ids() -> list[str]:
    return sorted(p.name for p in SUITE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def load_task(task_id: str) -> dict[str, object]:
    with (SUITE / task_id / "task.toml").open("rb") as handle:
        return tomllib.load(handle)


def package_of(project: Path) -> str:
    """The one package directory at the project's root (a flat layout, as softco generates)."""
    found = [p.name for p in project.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    assert len(found) == 1, f"{project}: expected one package directory, found {found}"
    return found[0]


@dataclass(frozen=True)
class Mutation:
    file: str
    old: str
    new: str
    why: str


def mutations(task_id: str) -> list[Mutation]:
    with (REFERENCES / task_id / "mutations.toml").open("rb") as handle:
        data = tomllib.load(handle)
    assert set(data) == {"mutation"}, f"{task_id}: mutations.toml holds only [[mutation]] tables"
    return [Mutation(**entry) for entry in data["mutation"]]


def copy_project(task_id: str, dest: Path, mutation: Mutation | None = None) -> Path:
    """A copy of the reference's package, with ``mutation`` applied; returns the project directory."""
    ref = REFERENCES / task_id
    pkg = package_of(ref)
    dest.mkdir(parents=True)
    shutil.copytree(ref / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    if mutation is not None:
        target = dest / mutation.file
        text = target.read_text(encoding="utf-8")
        assert text.count(mutation.old) == 1, f"{task_id}: `old` must occur exactly once in {mutation.file}"
        target.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    return dest


@dataclass
class Outcomes:
    """Per task: test name -> "passed" | "failed" | "skipped"; anything pytest reported outside a task."""

    by_task: dict[str, dict[str, str]] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)
    output: str = ""

    def failed(self, task_id: str) -> list[str]:
        return sorted(name for name, outcome in self.by_task.get(task_id, {}).items() if outcome != "passed")


# For mutation runs: once a test of a task failed, the task's other tests are skipped (one failure is all
# a mutation run needs to know, and it saves most of the subprocesses a CLI task's tests start).
_STOP_AT_FIRST_FAILURE = """
import pytest

_failed = set()


def _task(item):
    return item.nodeid.split("/")[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed:
        _failed.add(_task(item))


def pytest_runtest_setup(item):
    if _task(item) in _failed:
        pytest.skip("this task already failed a test")
"""


def run_acceptance(projects: dict[str, Path], work: Path, *, stop_task_at_first_failure: bool = False) -> Outcomes:
    """Run the hidden tests of each task id in ``projects`` (task id -> project dir) in one pytest process."""
    acc = work / "acceptance"
    acc.mkdir(parents=True)
    (acc / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # no config from anywhere else
    if stop_task_at_first_failure:
        (acc / "conftest.py").write_text(_STOP_AT_FIRST_FAILURE, encoding="utf-8")
    for task_id in projects:
        shutil.copytree(SUITE / task_id / "acceptance", acc / task_id, ignore=shutil.ignore_patterns("__pycache__"))
    report = work / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SOFTCO_", "PYTHON"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if len(projects) == 1:
        env["SOFTCO_PROJECT"] = str(next(iter(projects.values())))
    scratch = work / "cwd"
    scratch.mkdir()
    cwd = next(iter(projects.values())) if len(projects) == 1 else scratch
    # as `softco eval` scores: pytest through softco_score.py (-I -S, the projects NOT on its path), their
    # packages served by the import proxy from one child process (softco/pytest_plugin/softco_remote.py)
    remote = {
        "packages": [package_of(p) for p in projects.values()],
        "path": [str(p) for p in projects.values()],
        "site": host_site_dirs(),
        "acceptance": [str(acc)],
        "call_seconds": 600,
    }
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(PLUGIN_DIR / "softco_score.py"), json.dumps(remote),
         "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--junitxml={report}", f"--basetemp={work / 'tmp'}", str(acc)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = Outcomes(output=proc.stdout[-20000:] + proc.stderr[-5000:])
    assert report.is_file(), f"pytest wrote no report:\n{out.output}"
    for case in ET.parse(report).getroot().iter("testcase"):
        parts = (case.get("classname") or "").split(".")
        task_id, name = parts[0], case.get("name", "?")
        if task_id not in projects or len(parts) < 2:
            out.stray.append(f"{case.get('classname')}::{name}")
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        key = f"{parts[-1]}::{name}"
        # a test can fail in its call and error in its teardown: the worst outcome counts
        if out.by_task.setdefault(task_id, {}).get(key) != "failed":
            out.by_task[task_id][key] = outcome
    return out


def check_one(task_id: str, work: Path) -> None:  # pragma: no cover - a developer's tool
    """Reference and each mutation of one task, printed (``python tests/eval_suite_harness.py ID``)."""
    out = run_acceptance({task_id: copy_project(task_id, work / "ref" / task_id)}, work / "run-ref")
    print(f"{task_id}: reference: {len(out.by_task.get(task_id, {}))} tests, failed {out.failed(task_id)}")
    if out.failed(task_id) or out.stray:
        print(out.output)
    for i, mutation in enumerate(mutations(task_id)):
        project = copy_project(task_id, work / f"mut{i}" / task_id, mutation)
        res = run_acceptance({task_id: project}, work / f"run-mut{i}")
        print(f"  mutation {i} ({mutation.why}): caught by {res.failed(task_id)}")


if __name__ == "__main__":  # pragma: no cover
    import tempfile

    for arg in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            check_one(arg, Path(tmp))
