"""The built-in evaluation suite (issue 16 item 2): every task is well formed, its hidden tests are
satisfiable (the reference solution passes all of them) and sensitive (every planted mutation of the
reference fails at least one of them), and they rely on nothing but the stdlib, pytest and the task's
package. The references and their mutations run in a few batched pytest processes (see
tests/eval_suite_harness.py)."""

from __future__ import annotations

import ast
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib.machinery import PathFinder
from pathlib import Path

import pytest
from eval_suite_harness import (
    MAX_REQUIREMENT,
    REFERENCES,
    SUITE,
    TASK_KEYS,
    TASK_OPTIONAL_KEYS,
    Outcomes,
    copy_project,
    load_task,
    mutations,
    package_of,
    run_acceptance,
    task_ids,
)

from softco.eval.score import score_project
from softco.eval.suite import load_suite

TASKS = task_ids()
MIN_TESTS, MAX_TESTS = 6, 15
NETWORK_MODULES = {"socket", "ssl", "http", "urllib", "ftplib", "smtplib", "imaplib", "poplib", "telnetlib", "xmlrpc",
                   "asyncio", "socketserver", "webbrowser"}  # fmt: skip


def acceptance_files(task_id: str) -> list[Path]:
    return sorted((SUITE / task_id / "acceptance").glob("test_*.py"))


def test_the_suite_has_twenty_tasks_each_with_a_reference() -> None:
    assert len(TASKS) >= 20
    for task_id in TASKS:
        assert acceptance_files(task_id), f"{task_id}: no acceptance/test_*.py"
        assert (REFERENCES / task_id / "mutations.toml").is_file(), f"{task_id}: no reference solution"
    assert sorted(p.name for p in REFERENCES.iterdir() if (p / "mutations.toml").is_file()) == TASKS


@pytest.mark.parametrize("task_id", TASKS)
def test_task_toml_is_valid(task_id: str) -> None:
    task = load_task(task_id)
    assert set(task) == set(TASK_KEYS) | set(TASK_OPTIONAL_KEYS), f"{task_id}: keys {sorted(task)}"
    for key, kind in (TASK_KEYS | TASK_OPTIONAL_KEYS).items():
        assert isinstance(task[key], kind) and not isinstance(task[key], bool), f"{task_id}: {key} is not a {kind}"
    assert task["id"] == task_id
    assert re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", task_id)
    requirement = task["requirement"]
    assert isinstance(requirement, str)
    assert requirement.strip() == requirement and 0 < len(requirement) <= MAX_REQUIREMENT
    assert requirement.isprintable(), f"{task_id}: the requirement is one printable line"
    tags = task["tags"]
    assert isinstance(tags, list) and tags
    assert all(isinstance(t, str) and re.fullmatch(r"[a-z][a-z-]*", t) for t in tags), tags
    assert isinstance(task["time_limit_s"], int) and 10 <= task["time_limit_s"] <= 3600


@pytest.mark.parametrize("task_id", TASKS)
def test_requirement_states_the_contract_the_tests_use(task_id: str) -> None:
    """The package the tests import or run is the reference's and is named in the requirement, and a CLI
    task's requirement says how it is run."""
    pkg = package_of(REFERENCES / task_id)
    task = load_task(task_id)
    requirement = str(task["requirement"])
    assert task["package"] == pkg and f"`{pkg}`" in requirement
    text = "\n".join(p.read_text(encoding="utf-8") for p in acceptance_files(task_id))
    is_cli = '"-m"' in text
    assert task["entry"] == ("cli" if is_cli else "import"), f"{task_id}: entry"
    if is_cli:
        assert f"python -m {pkg}" in requirement, f"{task_id}: a CLI task says `python -m {pkg}`"


@pytest.mark.parametrize("task_id", TASKS)
def test_acceptance_tests_use_only_stdlib_pytest_and_the_package(task_id: str) -> None:
    pkg = package_of(REFERENCES / task_id)
    for path in acceptance_files(task_id):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module, f"{path.name}: relative import"
                tops = [node.module.split(".")[0]]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"
            ):  # fmt: skip
                assert [ast.literal_eval(a) for a in node.args[:1]] == [pkg], f"{path.name}: imports only {pkg}"
                continue
            else:
                continue
            for top in tops:
                assert top == "pytest" or top in sys.stdlib_module_names, f"{path.name}: imports {top}"
                assert top not in NETWORK_MODULES, f"{path.name}: imports {top} (no network)"
        # the package itself is reached only through import_module or `python -m PKG`
        assert pkg in path.read_text(encoding="utf-8")
        # one collected test per function: the results pipe the score reads keys outcomes by test
        # function, so parametrized cases would be counted as one test (and a task could never score 4)
        assert "parametrize" not in path.read_text(encoding="utf-8"), f"{path.name}: use a loop, not parametrize"


def test_acceptance_file_names_and_packages_are_unique() -> None:
    """What lets the references run in one pytest process: no two tasks share a test file name or a package,
    and no package is shadowed by (or shadows) anything importable here."""
    names = [p.name for task_id in TASKS for p in acceptance_files(task_id)]
    assert len(names) == len(set(names))
    packages = [package_of(REFERENCES / task_id) for task_id in TASKS]
    assert len(packages) == len(set(packages))
    elsewhere = [p for p in sys.path if p and Path(p).resolve() != REFERENCES]
    for pkg in packages:
        assert pkg not in sys.stdlib_module_names and PathFinder.find_spec(pkg, elsewhere) is None, pkg
        assert pkg not in sys.modules, pkg


def stub_project(task_id: str, dest: Path) -> Path:
    """A project that does nothing: the task's package imports (and runs as `python -m PKG` for a CLI task)."""
    task = load_task(task_id)
    pkg = dest / str(task["package"])
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    if task["entry"] == "cli":
        (pkg / "__main__.py").write_text("", encoding="utf-8")
    return dest


class Runs:
    """The batched pytest runs the tests below look at, made once and side by side: the references, a
    do-nothing project per task, and round k = each task's k-th mutation."""

    def __init__(self, work: Path) -> None:
        self.planted = {task_id: mutations(task_id) for task_id in TASKS}
        self.rounds = [
            {task_id: m[k] for task_id, m in self.planted.items() if len(m) > k}
            for k in range(max(map(len, self.planted.values()), default=0))
        ]

        def references() -> Outcomes:
            projects = {task_id: copy_project(task_id, work / "ref" / task_id) for task_id in TASKS}
            return run_acceptance(projects, work / "run-ref")

        def stubs() -> Outcomes:
            projects = {task_id: stub_project(task_id, work / "stub" / task_id) for task_id in TASKS}
            return run_acceptance(projects, work / "run-stub")

        def mutated(k: int) -> Outcomes:
            projects = {
                task_id: copy_project(task_id, work / f"mut{k}" / task_id, mutation)
                for task_id, mutation in self.rounds[k].items()
            }
            return run_acceptance(projects, work / f"run-mut{k}", stop_task_at_first_failure=True)

        with ThreadPoolExecutor(max_workers=3) as pool:
            ref, stub = pool.submit(references), pool.submit(stubs)
            rounds = [pool.submit(mutated, k) for k in range(len(self.rounds))]
            self.references, self.stubs = ref.result(), stub.result()
            self.mutated = [r.result() for r in rounds]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("suite"))


def test_every_reference_passes_all_its_hidden_tests(runs: Runs) -> None:
    ref = runs.references
    assert not ref.stray, f"tests outside any task: {ref.stray}\n{ref.output}"
    failing = {task_id: ref.failed(task_id) for task_id in TASKS if ref.failed(task_id)}
    missing = [task_id for task_id in TASKS if not ref.by_task.get(task_id)]
    assert not failing and not missing, f"failing: {failing}; no tests ran: {missing}\n{ref.output}"


def test_every_task_has_6_to_15_hidden_tests(runs: Runs) -> None:
    counts = {task_id: len(runs.references.by_task.get(task_id, {})) for task_id in TASKS}
    assert all(MIN_TESTS <= n <= MAX_TESTS for n in counts.values()), counts


def test_a_project_that_does_nothing_passes_under_a_quarter(runs: Runs) -> None:
    """No hidden test passes vacuously in bulk: a package that imports (and runs) but does nothing scores 2."""
    stub = runs.stubs
    assert not stub.stray, stub.stray
    passing = {}
    for task_id in TASKS:
        tests = stub.by_task.get(task_id, {})
        passed = [name for name, outcome in tests.items() if outcome == "passed"]
        assert tests, f"{task_id}: no hidden test ran\n{stub.output}"
        if len(passed) * 4 >= len(tests):
            passing[task_id] = passed
    assert not passing, f"a do-nothing project passes too many hidden tests: {passing}"


def test_every_mutation_is_caught(runs: Runs) -> None:
    assert all(runs.planted.values()), [t for t, m in runs.planted.items() if not m]
    escaped = []
    for round_, result in zip(runs.rounds, runs.mutated, strict=True):
        assert not result.stray, f"tests outside any task: {result.stray}\n{result.output}"
        for task_id, mutation in round_.items():
            assert result.by_task.get(task_id), f"{task_id}: no hidden test ran\n{result.output}"
            if not result.failed(task_id):
                escaped.append(f"{task_id}: {mutation.why}")
    assert not escaped, f"mutations no hidden test catches: {escaped}"


def test_softco_eval_loads_the_builtin_suite() -> None:
    suite = load_suite("builtin")
    assert [t.id for t in suite.tasks] == TASKS
    for task in suite.tasks:
        assert task.package == package_of(REFERENCES / task.id)
        assert sorted(task.acceptance) == [p.name for p in acceptance_files(task.id)]


def test_softco_eval_scores_a_reference_4_and_its_mutation_lower(tmp_path: Path) -> None:
    """The batched runs above and `softco eval`'s own scorer (the sandbox, the results pipe) agree, on one
    CLI task (scripts/score_eval_references.py does every task and mutation)."""
    task = next(t for t in load_suite("builtin", ["caesar"]).tasks)
    scores = []
    for i, mutation in enumerate([None, mutations("caesar")[0]]):
        project = copy_project("caesar", tmp_path / str(i), mutation)
        scores.append(
            score_project(project, task.acceptance, package="caesar", entry="cli", dependencies=[], time_limit_s=120)
        )
    reference, mutated = scores
    assert (reference.executability, reference.hidden_passed, reference.hidden_failed) == (4, 8, []), reference
    assert reference.hidden_total == 8
    assert mutated.executability in (2, 3) and mutated.hidden_total == 8, mutated
    assert "acceptance/test_caesar.py::test_wraps_keeping_case" in mutated.hidden_failed
