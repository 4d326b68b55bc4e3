"""Shared by the Ray tests: specs of two small scored runs, answers served over HTTP, the checks.

Ray talks on 127.0.0.1 only when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is in the environment before
``ray`` is imported (without it a local Ray listens on every address of the machine): importing this
module sets it, and the test modules import it before ray.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import scripted_project  # noqa: E402

from softco.eval.spec import RunRecord, RunSpec, execute_run  # noqa: E402
from softco.llm.fake_server import FakeRequest  # noqa: E402

#: The hidden acceptance tests of the calculator: the buggy first version fails the last one.
ACCEPTANCE = {
    "test_calc.py": (
        "import importlib\n\nimport pytest\n\ncalc = importlib.import_module('calc')\n\n\n"
        "def test_add():\n    assert calc.add(2, 3) == 5\n\n\n"
        "def test_add_negative():\n    assert calc.add(-1, 1) == 0\n\n\n"
        "def test_divide():\n    assert calc.divide(6, 3) == 2\n\n\n"
        "def test_divide_by_zero():\n    with pytest.raises(ValueError):\n        calc.divide(1, 0)\n"
    )
}

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


def specs(base_url: str) -> list[RunSpec]:
    """Two runs: one whose fix round repairs the planted bug (all hidden tests pass), one with no fix
    round (the hidden division-by-zero test fails)."""
    common: dict[str, Any] = {
        "variant": "fake-model",
        "seed": 1,
        "requirement": scripted_project.REQUIREMENT,
        "model": "fake-model",
        "base_url": base_url,
        "acceptance": ACCEPTANCE,
        "package": "calc",
        "time_limit_s": 120,
    }
    return [
        RunSpec(task_id="calc-fixed", max_fix_rounds=1, rel_dir="runs/fake-model/seed-1/calc-fixed", **common),
        RunSpec(
            task_id="calc-buggy",
            max_fix_rounds=0,
            rel_dir="runs/fake-model/seed-1/calc-buggy",
            **{**common, "requirement": scripted_project.REQUIREMENT + ", quickly"},
        ),
    ]


def answers(on_request: Callable[[FakeRequest], None] | None = None) -> Callable[[FakeRequest], Any]:
    """The scripted calculator's answers by step, served to any number of runs (``on_request`` first)."""
    script = scripted_project.answers()

    def answer(req: FakeRequest) -> Any:
        if on_request is not None:
            on_request(req)
        return script[req.step or ""]

    return answer


def run_locally(run_specs: list[RunSpec], output: Path) -> dict[str, RunRecord]:
    """What the local backend does for each spec (in turn): :func:`execute_run` into ``output``."""
    return {s.key: execute_run(s, output / s.rel_dir, None) for s in run_specs}


def scores(records: dict[str, RunRecord], steps: bool = True) -> dict[str, dict[str, Any]]:
    """The score figures of each record; ``steps``: and how many steps were asked (not for a run that was
    stopped and resumed: the steps it had in flight when it stopped are asked again)."""
    return {
        key: {**r.model_dump(include=set(SCORE_FIELDS)), **({"steps": r.llm_calls + r.cached_calls} if steps else {})}
        for key, r in records.items()
    }


def kill_run_workers() -> list[int]:
    """SIGKILL the Ray worker processes running a softco run (Ray titles them ``ray::run_on_worker``)."""
    killed = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::run_on_worker"):
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
