"""How much generated code may use: CPU, memory, file size, processes, disk and time.

Per process with rlimits (set in the child before exec); when softco runs as root, with a pids and a
memory cgroup where one is writable, so the caps hold for all the processes together.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wall_seconds: float = 300
    cpu_seconds: int = 300
    memory_bytes: int = 2 * 1024**3
    file_bytes: int = 64 * 1024**2
    processes: int = 512
    #: size of each writable place (the work copy, HOME) where a tmpfs can be mounted (bwrap, unshare)
    disk_bytes: int = 512 * 1024**2


# Process-count and total-memory caps for root: pids and memory cgroups

#: controller -> where its cgroup may live (v1 hierarchy first, then v2) and the file that sets its limit
_CONTROLLERS: dict[str, list[tuple[Path, str]]] = {
    "pids": [(Path("/sys/fs/cgroup/pids"), "pids.max"), (Path("/sys/fs/cgroup"), "pids.max")],
    "memory": [(Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"), (Path("/sys/fs/cgroup"), "memory.max")],
}
#: written after the memory limit where they exist, so the limit cannot be dodged by swapping
_NO_SWAP = {"memory.limit_in_bytes": "memory.memsw.limit_in_bytes", "memory.max": "memory.swap.max"}


@functools.cache
def _cgroup_parents() -> dict[str, tuple[Path, str]]:
    """Controller -> (a cgroup directory where root can make a child that has it, its limit file)."""
    if os.geteuid() != 0:
        return {}
    found: dict[str, tuple[Path, str]] = {}
    for controller, places in _CONTROLLERS.items():
        for parent, limit_file in places:
            if not (parent / "cgroup.procs").exists():
                continue
            probe = parent / f"softco-probe-{os.getpid()}-{controller}"
            try:
                probe.mkdir()
            except OSError:
                continue
            try:
                if (probe / limit_file).exists():
                    found[controller] = (parent, limit_file)
                    break
            finally:
                try:
                    probe.rmdir()
                except OSError:
                    pass
    return found


class _Cgroup:
    """One child cgroup per hierarchy (one with cgroup v2): at most ``processes`` processes and
    ``memory_bytes`` of memory for the sandboxed command and everything it starts, together."""

    def __init__(self, parents: dict[str, tuple[Path, str]], processes: int, memory_bytes: int) -> None:
        name = f"softco-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.dirs: list[Path] = []
        self.capped: set[str] = set()
        values = {"pids": processes, "memory": memory_bytes}
        for controller, (parent, limit_file) in parents.items():
            path = parent / name
            try:
                if path not in self.dirs:
                    path.mkdir()
                    self.dirs.append(path)
                (path / limit_file).write_text(str(values[controller]))
            except OSError:
                continue
            swap = path / _NO_SWAP.get(limit_file, "-")
            if swap.exists():
                try:
                    swap.write_text(str(values[controller]) if limit_file == "memory.limit_in_bytes" else "0")
                except OSError:
                    pass
            self.capped.add(controller)
        if not self.dirs:
            raise OSError("no cgroup could be made")

    def join(self) -> None:  # in the child, before exec
        for path in self.dirs:
            with open(path / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def pids(self) -> list[int]:
        out: set[int] = set()
        for path in self.dirs:
            try:
                out.update(int(x) for x in (path / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(out)

    def kill_all(self) -> None:
        for path in self.dirs:
            kill_file = path / "cgroup.kill"
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        for path in self.dirs:
            deadline = time.monotonic() + 5
            while True:
                try:
                    path.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


@contextmanager
def _group_caps(limits: Limits) -> Iterator[_Cgroup | None]:
    parents = _cgroup_parents()
    if not parents:
        yield None
        return
    try:
        group = _Cgroup(parents, limits.processes, limits.memory_bytes)
    except OSError:
        yield None
        return
    try:
        yield group
    finally:
        group.kill_all()
        group.remove()


# ---------------------------------------------------------------------------------------------
# In the child, before exec


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()
PR_SET_PDEATHSIG = 1


def _limit(limits: Limits, group: _Cgroup | None) -> None:  # runs in the child, before exec
    os.setsid()
    if group is not None:
        group.join()
    if _LIBC is not None:  # die with softco, whatever the mechanism
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def process_limit() -> str:
    """How the process count is capped here: "rlimit" (non-root), "cgroup" (root) or "none"."""
    if os.geteuid() != 0:
        return "rlimit"
    return "cgroup" if "pids" in _cgroup_parents() else "none"


def memory_limit() -> str:
    """How memory is capped here: "total" (root with a memory cgroup: all the processes together)
    or "per process" (RLIMIT_AS only, so N processes may use N times the limit)."""
    return "total" if "memory" in _cgroup_parents() else "per process"
