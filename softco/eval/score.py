"""Scoring a generated project against a task's hidden acceptance tests, in softco's sandbox.

The harness (the contract acceptance tests may assume): the project's files (not ``.git`` nor
``.softco``) are copied to a fresh directory ``P``; its declared dependencies are installed into the
sandbox venv; pytest runs on a copy of the acceptance files placed OUTSIDE ``P`` (``.softco/acceptance``
beside it, shown read-only in the sandbox, node ids ``acceptance/FILE::TEST``), with cwd ``P``,
``PYTHONPATH=P`` in its environment (for the tests' subprocesses) and ``SOFTCO_PROJECT=P``, in the
sandbox (no network, read-only filesystem), within the task's ``time_limit_s``. Outcomes come through
softco's results pipe, and the run passes only if pytest says so for every test it collected (issue 9's
rule); conftest.py files count only inside the acceptance directory.

The scoring pytest never runs project code (so the project cannot forge its outcomes): it is started by
``pytest_plugin/softco_score.py`` with ``python -I -S`` (no ``PYTHONPATH``, no site-packages, so no
``.pth`` or ``sitecustomize`` of a dependency runs in it, and ``P`` is not on its path); its results plugin
makes it non-dumpable (a same-user process can neither ptrace it nor open ``/proc/PID/mem`` or
``/proc/PID/fd``) and the results pipe close-on-exec. A CLI task runs ``python -m PKG`` as a subprocess.
For a library task, ``import PKG`` (and any top-level name of ``P``) goes through the import proxy
(``pytest_plugin/softco_remote.py``): one child process per pytest run imports the project, plain data
comes back by value (a call's list / dict / set arguments copied back after it), other objects as
proxies, exceptions as themselves (builtin) or as local mirror classes with the same exception bases;
``isinstance`` with a project class is answered by the child. What the proxy cannot carry is in the
README (suite format).

Executability, MetaGPT's 1-4 scale, computed:

1. the dependencies do not install, ``import PKG`` fails (or takes over 60 s), or, for a CLI task
   (``entry = "cli"``), ``PKG.__main__`` does not exist (``python -m PKG`` cannot run). ``PKG`` is the
   task's ``package``, else the package the design named.
2. it imports, and fewer than half of the hidden tests pass;
3. at least half pass;
4. all pass (and pytest collected at least one and exited 0).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from softco import config, sandbox
from softco.steps.qa_tools import parse_results

#: What the sandbox runs around a command: cwd P (``project/`` of the work copy), PYTHONPATH and
#: SOFTCO_PROJECT set to it. Trusted text; the command is "$@".
_IN_PROJECT = 'P="$PWD/project"; cd "$P" || exit 125; export SOFTCO_PROJECT="$P" PYTHONPATH="$1:$P"; shift; exec "$@"'
#: The same for the hidden tests' pytest, which runs ``softco_score.py`` (``python -I -S``: no PYTHONPATH, no
#: site-packages, no ``.pth``): P is not on its path, its names are served from a child process (the
#: import proxy); no entry-point plugin a dependency installed is loaded.
_PYTEST_IN_PROJECT = (
    'P="$PWD/project"; cd "$P" || exit 125; export SOFTCO_PROJECT="$P" PYTEST_DISABLE_PLUGIN_AUTOLOAD=1; '
    'shift; exec "$@"'
)
_ENTRY_CHECK = (
    "import importlib, importlib.util, sys\n"
    "pkg, entry = sys.argv[1], sys.argv[2]\n"
    "importlib.import_module(pkg)\n"
    "if entry == 'cli' and importlib.util.find_spec(pkg + '.__main__') is None:\n"
    "    print('SOFTCO-ENTRY: %s has no __main__ module: python -m %s cannot run' % (pkg, pkg)); sys.exit(3)\n"
    "print('SOFTCO-ENTRY-OK')\n"
)
ENTRY_SECONDS = 60.0
MAX_FAILED_NAMES = 50
DETAIL_LIMIT = 600


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid")
    executability: int = Field(ge=1, le=4)
    hidden_passed: int = 0
    hidden_total: int = 0
    #: the hidden tests that failed or errored (``file::name``), at most MAX_FAILED_NAMES
    hidden_failed: list[str] = Field(default_factory=list)
    #: why executability is 1, or pytest's trouble: one line, bounded
    detail: str = ""
    package: str = ""
    entry: Literal["cli", "import"] = "import"


def _one_line(text: str) -> str:
    return " ".join(text.split())[-DETAIL_LIMIT:]


def _copy_project(project: Path, dest: Path) -> None:
    """The project's files as git has them in the working tree, without .git / .softco; symlinks kept
    as links (the sandbox's copy does the same), nothing else but regular files and directories."""

    def ignore(dirname: str, names: list[str]) -> list[str]:
        return [n for n in names if Path(dirname) == project and n in (".git", ".softco")]

    shutil.copytree(project, dest, symlinks=True, ignore=ignore)


def _safe_rel(rel: str) -> bool:
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and bool(p.parts)


def score_project(
    project: Path,
    acceptance: dict[str, str],
    *,
    package: str,
    entry: Literal["cli", "import"],
    dependencies: list[str],
    time_limit_s: float,
) -> Score:
    """Install ``project`` in a fresh scoring directory and run the hidden tests on it (module doc)."""
    root = Path(tempfile.mkdtemp(prefix="softco-score-"))
    try:
        _copy_project(project, root / "project")
        # under .softco, which the sandbox's work copy leaves out: shown read-only, so the project's process
        # cannot change a test, plant a module or a .pyc beside them, or a conftest.py
        acc = root / ".softco" / "acceptance"
        acc.mkdir(parents=True, mode=0o755)
        for rel, text in acceptance.items():
            if not _safe_rel(rel):
                continue
            (acc / rel).parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            (acc / rel).write_text(text, encoding="utf-8")
        for path in [acc, *acc.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by `nobody` whatever the umask
        (root / ".softco").chmod(0o755)
        return _score(root, package, entry, dependencies, time_limit_s)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def remote_config(packages: list[str], acceptance: list[Path], *, call_seconds: float) -> str:
    """``softco_score.py``'s configuration: the packages the import proxy serves, the directories pytest
    needs (softco's own site-packages), the hidden tests' directories and one call's limit."""
    return json.dumps(
        {
            "packages": packages,
            "site": sandbox.host_site_dirs(),
            "acceptance": [str(a) for a in acceptance],
            "call_seconds": call_seconds,
        }
    )


def hidden_pytest_args(acc: Path) -> list[str]:
    """pytest's arguments for the hidden tests in ``acc``: softco's results plugin and configuration,
    conftest.py files from ``acc`` only, node ids relative to its parent (``acceptance/test_x.py::...``)."""
    return [
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "softco_results",
        "-c",
        str(sandbox.PLUGIN_DIR / "pytest.ini"),
        f"--rootdir={acc.parent}",
        f"--confcutdir={acc}",
        "--tb=short",
        str(acc),
    ]


def _in_project(python: Path, *args: str, script: str = _IN_PROJECT) -> list[str]:
    return ["/bin/sh", "-c", script, "softco-score", str(sandbox.PLUGIN_DIR), str(python), *args]


def _score(
    root: Path, package: str, entry: Literal["cli", "import"], dependencies: list[str], time_limit_s: float
) -> Score:
    base = Score(executability=1, package=package, entry=entry)
    try:
        python = sandbox.ensure_venv(root, dependencies, config.current().pip_index_url)
    except sandbox.SandboxError as exc:
        return base.model_copy(update={"detail": _one_line(f"the dependencies do not install: {exc}")})
    limits = sandbox.Limits(wall_seconds=min(ENTRY_SECONDS, time_limit_s + 30))
    check = sandbox.run(root, _in_project(python, "-P", "-c", _ENTRY_CHECK, package, entry), limits)
    if check.exit_code != 0 or "SOFTCO-ENTRY-OK" not in check.output:
        if check.exit_code == sandbox.PREAMBLE_FAILED:
            raise sandbox.SandboxError(f"the sandbox could not be set up to score: {_one_line(check.output)}")
        lines = check.output.strip().splitlines()
        what = "timed out" if check.timed_out else _one_line(lines[-1] if lines else f"exit {check.exit_code}")
        return base.model_copy(update={"detail": f"import {package} failed: {what}"})
    limits = sandbox.Limits(wall_seconds=time_limit_s)
    acc = root / ".softco" / "acceptance"
    argv = [
        "-I",
        "-S",
        "-B",
        str(sandbox.PLUGIN_DIR / "softco_score.py"),
        remote_config([package], [acc], call_seconds=time_limit_s),
        *hidden_pytest_args(acc),
    ]
    result = sandbox.run(
        root, _in_project(python, *argv, script=_PYTEST_IN_PROJECT), limits, results=True, read_only=(acc,)
    )
    got = parse_results(result.results)
    outcomes = got.results
    # counted per test pytest collected (each parametrization on its own), as ``total`` is
    passed = got.nodes_passed
    failed = sorted(
        f"{f}::{n}" if n != "*" else f"{f} (collection)"
        for (f, n), (o, _, _) in outcomes.items()
        if o in ("failed", "error")
    )
    total = max(got.collected or 0, got.seen, len(outcomes))
    complete = not result.timed_out and got.collected is not None and got.collected == got.seen
    detail = ""
    if result.timed_out:
        detail = f"the hidden tests timed out after {time_limit_s:g} s"
    elif not complete:
        detail = "pytest did not finish its report (a crash, or code that ended the run early)"
    elif result.exit_code != 0 and not failed:
        detail = f"pytest exited with code {result.exit_code} although no test failed"
    all_pass = complete and result.exit_code == 0 and total > 0 and passed == total and not failed
    if all_pass:
        level = 4
    elif total > 0 and passed * 2 >= total:
        level = 3
    else:
        level = 2
    return Score(
        executability=level,
        hidden_passed=passed,
        hidden_total=total,
        hidden_failed=failed[:MAX_FAILED_NAMES],
        detail=detail,
        package=package,
        entry=entry,
    )
