"""Shared by the Ray tests: a suite of two small tasks, answers served over HTTP, the checks.

Ray talks on 127.0.0.1 only when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is in the environment before
``ray`` is imported (without it a local Ray listens on every address of the machine): importing this
module sets it, and the test modules import it before ray.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import pytest  # noqa: E402
import scripted_project  # noqa: E402
from eval_helpers import CALC_ACCEPTANCE, invoke, results, write_task  # noqa: E402
from fake_server import FakeOpenAIServer, FakeRequest  # noqa: E402

import softco.llm.openai  # noqa: E402
from softco.eval.spec import RunRecord  # noqa: E402

#: What a score is made of: the figures of a record that do not depend on timing. Which calls the step cache
#: answers does (the local backend shares a cache between the runs of a variant and seed, used by whichever
#: asks second; on Ray each run has its own): compared as the steps asked, cached or not.
SCORE_FIELDS = (
    "task_id",
    "variant",
    "seed",
    "rel_dir",
    "status",
    "exit_code",
    "model",
    "executability",
    "hidden_passed",
    "hidden_total",
    "hidden_failed",
    "own_passed",
    "own_total",
    "fix_rounds",
    "lines_of_code",
    "report",
)


#: A hidden test the scripted calculator fails (it divides exactly): the strict task scores 3 of 4.
STRICT_TEST = "\n\ndef test_divide_floors():\n    assert calc.divide(7, 2) == 3\n"


def write_suite(root: Path) -> Path:
    """Two tasks on the scripted calculator: ``calc`` (every hidden test passes) and ``calc-strict`` (one
    hidden test fails). Their requirements differ, so the step cache answers no call of one from the other."""
    suite = root / "suite"
    write_task(suite, "calc", requirement=f"{scripted_project.REQUIREMENT} (calc)")
    write_task(
        suite,
        "calc-strict",
        acceptance=CALC_ACCEPTANCE + STRICT_TEST,
        requirement=f"{scripted_project.REQUIREMENT} (strict)",
    )
    return suite


def eval_args(suite: Path, output: Path, base_url: str, *more: str) -> list[str]:
    return [
        "eval", "--suite", str(suite), "--model", "fake-model", "--base-url", base_url, "--max-fix-rounds", "1",
        "--output", str(output), *more,
    ]  # fmt: skip


def records(output: Path) -> dict[str, RunRecord]:
    return {r.key: r for r in results(output).records}


def spent_usd(output: Path) -> float:
    """What every run of an eval's output spent, from the boards."""
    total = 0.0
    for board in output.glob("runs/*/*/*/.softco/board.sqlite"):
        db = sqlite3.connect(board)
        try:
            total += float(db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM steps").fetchone()[0])
        finally:
            db.close()
    return total


def answers(on_request: Callable[[FakeRequest], None] | None = None) -> Callable[[FakeRequest], Any]:
    """The scripted calculator's answers by step, served to any number of runs (``on_request`` first)."""
    script = scripted_project.answers()

    def answer(req: FakeRequest) -> Any:
        if on_request is not None:
            on_request(req)
        return script[req.step or ""]

    return answer


def scores(records: dict[str, RunRecord], steps: bool = True) -> dict[str, dict[str, Any]]:
    """The score figures of each record; ``steps``: and how many steps were asked (not for a run that was
    stopped and resumed: the steps it had in flight when it stopped are asked again)."""
    return {
        key: {**r.model_dump(include=set(SCORE_FIELDS)), **({"steps": r.llm_calls + r.cached_calls} if steps else {})}
        for key, r in records.items()
    }


def _parent(pid: int) -> int:
    """The parent's pid of ``pid`` (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[1])


def _ours(pid: int) -> bool:
    """Whether ``pid`` descends from this process (the test's own Ray cluster): other sessions on this
    machine may run Ray workers of their own, which a test must not touch."""
    me = os.getpid()
    while pid > 1:
        pid = _parent(pid)
        if pid == me:
            return True
    return False


def kill_run_workers() -> list[int]:
    """SIGKILL the Ray worker processes of this test's cluster running a softco run (Ray titles them
    ``ray::run_on_worker``); never another process's."""
    killed = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::run_on_worker") and _ours(int(pid)):
            os.kill(int(pid), signal.SIGKILL)
            killed.append(int(pid))
    return killed


def _listening(path: str, family: int) -> dict[int, str]:
    """Listening TCP sockets of /proc/net/tcp or tcp6: inode -> local address (text)."""
    out: dict[int, str] = {}
    try:
        lines = Path(path).read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if fields[3] != "0A":  # LISTEN
            continue
        hex_addr = fields[1].split(":")[0]
        raw = bytes.fromhex(hex_addr)
        if family == socket.AF_INET:
            addr = socket.inet_ntop(family, raw[::-1])
        else:  # four little-endian 32-bit words
            addr = socket.inet_ntop(family, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        out[int(fields[9])] = addr
    return out


def ray_listen_addresses() -> list[str]:
    """The addresses Ray's processes (and this driver) listen on: the sockets of every process whose command
    line names ray, found through /proc."""
    sockets = {**_listening("/proc/net/tcp", socket.AF_INET), **_listening("/proc/net/tcp6", socket.AF_INET6)}
    found: list[str] = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"ray" not in cmdline and int(pid) != os.getpid():
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in sockets:
                    found.append(sockets[inode])
    return found


def is_loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr in ("::1", "::ffff:127.0.0.1") or addr.startswith("::ffff:127.")


def history(project: Path) -> list[str]:
    """The subject of every commit on HEAD, oldest first."""
    import git

    repo = git.Repo(project)
    try:
        return [str(c.summary) for c in reversed(list(repo.iter_commits()))]
    finally:
        repo.close()


class LocalEval:
    """`softco eval` of :func:`write_suite` with the local backend: the reference the Ray runs must match."""

    def __init__(self, suite: Path, output: Path) -> None:
        self.suite = suite
        self.output = output
        self.records = records(output)


_LOCAL: list[LocalEval] = []


def local_eval(tmp_path_factory: pytest.TempPathFactory) -> LocalEval:
    """The local reference, made once in a test session for every Ray test module."""
    if _LOCAL:
        return _LOCAL[0]
    root = tmp_path_factory.mktemp("local-eval")
    suite, output = write_suite(root), root / "ev"
    with pytest.MonkeyPatch.context() as mp, FakeOpenAIServer(answers()) as srv:
        mp.setattr(softco.llm.openai, "ALLOW_REMOTE_REQUESTS", False)
        mp.setenv("SOFTCO_LOCAL_ONLY", "1")
        mp.chdir(root)
        code, text = invoke(*eval_args(suite, output, srv.base_url))
    assert code == 0 and not srv.errors, text  # (a hidden test failing is a score, not an error)
    _LOCAL.append(LocalEval(suite, output))
    return _LOCAL[0]
