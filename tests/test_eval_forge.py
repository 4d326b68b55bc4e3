"""Generated code must not forge its score: nothing of the project runs in the scoring pytest before its
results plugin holds the results pipe (review of issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from softco import sandbox
from softco.eval.score import score_project

#: what the forging code writes to the results pipe: one passing test and a clean finish
_FORGE = """import json, os
fd = os.environ.get("SOFTCO_RESULTS_FD")
if fd:
    events = [
        {"event": "test", "nodeid": "../acceptance/test_cli.py::test_hello", "when": "call", "outcome": "passed",
         "message": "", "duration": 0.0},
        {"event": "finish", "exitstatus": 0, "collected": 1},
    ]
    os.write(int(fd), "".join(json.dumps(e) + "\\n" for e in events).encode())
    os._exit(0)
"""

#: a CLI task's hidden test: runs the package in a subprocess, as the contract says
_ACCEPTANCE = {
    "test_cli.py": (
        "import os, subprocess, sys\n"
        "def test_hello(tmp_path):\n"
        "    assert os.environ['SOFTCO_PROJECT'] in os.environ['PYTHONPATH'].split(os.pathsep)\n"
        "    out = subprocess.run([sys.executable, '-m', 'hello'], cwd=tmp_path, capture_output=True, text=True)\n"
        "    assert out.stdout == 'hello\\n'\n"
    )
}


def _project(root: Path, greeting: str, extra: dict[str, str]) -> Path:
    (root / "hello").mkdir(parents=True)
    (root / "hello" / "__init__.py").write_text("", encoding="utf-8")
    (root / "hello" / "__main__.py").write_text(f"print({greeting!r})\n", encoding="utf-8")
    for rel, text in extra.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _score(project: Path) -> int:
    return score_project(
        project, _ACCEPTANCE, package="hello", entry="cli", dependencies=[], time_limit_s=60
    ).executability


def test_a_correct_cli_project_scores_4(tmp_path: Path) -> None:
    assert _score(_project(tmp_path / "p", "hello", {})) == 4


@pytest.mark.parametrize(
    "forger",
    ["sitecustomize.py", "pytest/__init__.py", "pytest/__main__.py", "_pytest/__init__.py"],
)
def test_project_code_cannot_forge_the_hidden_results(tmp_path: Path, forger: str) -> None:
    extra = {forger: _FORGE}
    if forger == "pytest/__main__.py":
        extra["pytest/__init__.py"] = ""
    assert _score(_project(tmp_path / "p", "wrong", extra)) == 2


def test_a_dependencys_sitecustomize_cannot_forge_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel the design asked for may carry a sitecustomize.py into the scoring venv's site-packages."""
    real = sandbox.ensure_venv

    def with_a_forger(project: Path, dependencies: list[str], index_url: str | None = None) -> Path:
        python = real(project, dependencies, index_url)
        for site in (python.parent.parent / "lib").glob("python3*/site-packages"):
            (site / "sitecustomize.py").write_text(_FORGE, encoding="utf-8")
        return python

    monkeypatch.setattr(sandbox, "ensure_venv", with_a_forger)
    assert _score(_project(tmp_path / "p", "wrong", {})) == 2


#: a CLI project that prints "hello" only if it can reach nothing of the scoring pytest that starts it (its
#: nearest ancestor whose command line says pytest): its memory (/proc/PID/mem), its file descriptors
#: (/proc/PID/fd), ptrace, or an inherited results pipe
_PROBE = """import ctypes, os, stat
def parent(pid):
    return int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[1])
ppid, reached = os.getppid(), []
def is_pytest(pid):
    args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    return b"pytest" in args or any(a.endswith(b"softco_score.py") for a in args)
while ppid > 1 and not is_pytest(ppid):
    ppid = parent(ppid)  # the scoring pytest, through the shell of an os.system
try:
    open(f"/proc/{ppid}/mem", "rb").close()
    reached.append("mem")
except OSError:
    pass
try:
    os.listdir(f"/proc/{ppid}/fd")
    reached.append("fd")
except OSError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(16, ppid, 0, 0) == 0:  # PTRACE_ATTACH
    os.waitpid(ppid, 0x40000000)  # __WALL
    libc.ptrace(17, ppid, 0, 0)  # PTRACE_DETACH
    reached.append("ptrace")
for fd in range(3, 256):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            reached.append(f"pipe {fd}")
    except OSError:
        pass
print("hello" if not reached else "reached " + " ".join(reached))
"""


#: the same CLI test, run the way that keeps every inheritable file descriptor (no close_fds)
_ACCEPTANCE_OS_SYSTEM = {
    "test_cli.py": (
        "import os, sys\n"
        "def test_hello(tmp_path):\n"
        "    assert os.system(f'cd {tmp_path} && {sys.executable} -m hello > out') == 0\n"
        "    assert (tmp_path / 'out').read_text() == 'hello\\n'\n"
    )
}


@pytest.mark.parametrize("acceptance", [_ACCEPTANCE, _ACCEPTANCE_OS_SYSTEM], ids=["subprocess", "os-system"])
def test_the_projects_process_cannot_reach_the_scoring_pytest(tmp_path: Path, acceptance: dict[str, str]) -> None:
    """Same user, so only the scoring pytest's own guard stops this: it is not dumpable, and its results pipe
    is close-on-exec."""
    project = _project(tmp_path / "p", "unused", {"hello/__main__.py": _PROBE})
    score = score_project(project, acceptance, package="hello", entry="cli", dependencies=[], time_limit_s=60)
    assert score.executability == 4, score


def test_a_dependencys_pth_file_cannot_forge_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel may carry a .pth file, run by every python that starts with the venv's site-packages: never by
    the scoring pytest (``-I -S``), only by the project's own processes, which have no results pipe."""
    real = sandbox.ensure_venv

    def with_a_forger(project: Path, dependencies: list[str], index_url: str | None = None) -> Path:
        python = real(project, dependencies, index_url)
        for site in (python.parent.parent / "lib").glob("python3*/site-packages"):
            (site / "forge.pth").write_text(f"import os; exec({_FORGE!r}, {{}})\n", encoding="utf-8")
        return python

    monkeypatch.setattr(sandbox, "ensure_venv", with_a_forger)
    assert _score(_project(tmp_path / "p", "wrong", {})) == 2


# -- a library task: the hidden tests import the package; through softco's import proxy, its code runs in a
# child process, never in the scoring pytest

_LIBRARY_TESTS = {
    "test_acct.py": (
        "import importlib\n"
        "import pytest\n"
        "def test_deposit():\n"
        "    acct = importlib.import_module('acct')\n"
        "    a = acct.Account()\n"
        "    a.deposit(5)\n"
        "    assert a.balance == 5\n"
        "def test_overdraw():\n"
        "    acct = importlib.import_module('acct')\n"
        "    with pytest.raises(acct.InsufficientFunds):\n"
        "        acct.Account().withdraw(1)\n"
        "def test_served_by_the_proxy():\n"
        "    import acct, sys\n"
        "    assert type(acct).__name__ == 'RemoteModule' and not any('project' in p for p in sys.path)\n"
    )
}
_LIBRARY_NODES = ["test_deposit", "test_overdraw", "test_served_by_the_proxy"]

_CORRECT_LIBRARY = """
class InsufficientFunds(ValueError):
    pass


class Account:
    def __init__(self):
        self.balance = 0

    def deposit(self, amount):
        self.balance += amount

    def withdraw(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(amount)
        self.balance -= amount
"""

#: a wrong library (nothing it does is right) and the ways it tries to forge its score, at import time
_WRONG_LIBRARY = "class InsufficientFunds(ValueError):\n    pass\n\nclass Account:\n    balance = 0\n\n" \
    "    def deposit(self, amount):\n        pass\n\n    def withdraw(self, amount):\n        pass\n"

_PATCH_REPORTS = """
import _pytest.reports

_real_init = _pytest.reports.TestReport.__init__


def _init(self, *args, **kwargs):
    _real_init(self, *args, **kwargs)
    self.outcome, self.longrepr = "passed", None


_pytest.reports.TestReport.__init__ = _init
"""

#: at the first Account(), not at import: `import acct` must work for the entry check (exec 1 otherwise)
_FAKE_REPORT = """
import json, os, stat, sys


def _forge(self):
    events = [
        {"event": "test", "nodeid": "acceptance/test_acct.py::" + name, "when": "call", "outcome": "passed",
         "message": "", "duration": 0.0}
        for name in NODES
    ] + [{"event": "finish", "exitstatus": 0, "collected": len(NODES)}]
    data = "".join(json.dumps(e) + "\\n" for e in events).encode()
    for fd in [getattr(sys.modules.get("softco_results"), "_FD", -1)] + list(range(3, 256)):
        try:
            if fd >= 0 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, data)
        except OSError:
            pass
    os._exit(0)


Account.__init__ = _forge
""".replace("NODES", repr(_LIBRARY_NODES))


def _library(root: Path, code: str) -> Path:
    (root / "acct").mkdir(parents=True)
    (root / "acct" / "__init__.py").write_text(code, encoding="utf-8")
    return root


def _library_score(project: Path) -> int:
    return score_project(
        project, _LIBRARY_TESTS, package="acct", entry="import", dependencies=[], time_limit_s=60
    ).executability


def test_a_correct_library_scores_4_through_the_proxy(tmp_path: Path) -> None:
    assert _library_score(_library(tmp_path / "p", _CORRECT_LIBRARY)) == 4


@pytest.mark.parametrize("forger", [_PATCH_REPORTS, _FAKE_REPORT], ids=["patches-pytest-reports", "fake-report"])
def test_library_code_cannot_forge_the_hidden_results(tmp_path: Path, forger: str) -> None:
    assert _library_score(_library(tmp_path / "p", _WRONG_LIBRARY + forger)) <= 2


def test_the_hidden_tests_are_read_only_to_the_projects_process(tmp_path: Path) -> None:
    """Nothing the project writes can change a hidden test or plant a module, .pyc or conftest.py beside them
    (the scoring pytest would import it): they are shown read-only in the sandbox."""
    probe = _CORRECT_LIBRARY + (
        "import os\n"
        "def planted():\n"
        "    out = []\n"
        "    for d in ('../acceptance', '../.softco/acceptance'):\n"
        "        try:\n"
        "            with open(os.path.join(d, 'conftest.py'), 'a') as handle:\n"
        "                handle.write('')\n"
        "            out.append(d)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return out\n"
    )
    tests = {"test_ro.py": "import acct\ndef test_nothing_planted():\n    assert acct.planted() == []\n"}
    score = score_project(
        _library(tmp_path / "p", probe), tests, package="acct", entry="import", dependencies=[], time_limit_s=60
    )
    assert score.executability == 4, score
