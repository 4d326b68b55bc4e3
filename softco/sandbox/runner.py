"""Running a command in the sandbox: set it up, stream its output (keeping the tail) and the results
pipe, enforce the wall-time limit, kill every straggler; and probing which mechanisms work here."""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from softco.sandbox.layout import MECHANISMS, PROVIDES, Isolation, _as_root, _plan, _real, _Spec, clean_env
from softco.sandbox.limits import Limits, _group_caps, _limit, process_limit

OUTPUT_LIMIT = 256 * 1024
"""Bytes of the generated code's output kept (the end of it); the rest is counted, not kept."""

RESULTS_LIMIT = 8 * 1024 * 1024
"""Bytes read from the results pipe at most; what comes after is dropped."""


@dataclass
class SandboxResult:
    exit_code: int
    output: str
    timed_out: bool
    network_isolated: bool
    warnings: list[str] = field(default_factory=list)
    fs_isolated: bool = False
    pid_isolated: bool = False
    mechanism: str = "none"
    process_limit: str = "none"  # "rlimit" (non-root), "cgroup" (root with a pids cgroup) or "none"
    memory_limit: str = "per process"  # or "total" (root with a memory cgroup)
    #: what the run wrote to the results pipe (at most RESULTS_LIMIT bytes); empty unless asked for
    results: bytes = b""
    #: bytes of output that were dropped (only the last OUTPUT_LIMIT are kept)
    output_dropped: int = 0
    #: the uid the generated code ran as on the host ("nobody" when softco is root)
    user: str = ""


_PROBE = """
set -u
echo x > inside || exit 3
test -f marker || exit 4
(echo x > "$1/escaped") 2>/dev/null
echo PROBE-OK
exit 0
"""


@functools.cache
def works(mechanism: str) -> bool:
    """Whether ``mechanism`` runs on this machine and isolates what it claims to (probed once)."""
    if mechanism == "none":
        return True
    if mechanism not in PROVIDES:
        raise ValueError(f"unknown sandbox mechanism {mechanism!r}; use one of {', '.join(MECHANISMS)}")
    if not shutil.which("bwrap" if mechanism == "bwrap" else "unshare"):
        return False
    with tempfile.TemporaryDirectory(prefix="softco-probe-") as tmp:
        project, outside = Path(tmp, "proj"), Path(tmp, "outside")
        for d in (project, outside):
            d.mkdir()
        (project / "marker").write_text("x")
        try:
            res = _sandboxed(
                _Spec(project, project, None),
                ["/bin/sh", "-c", _PROBE, "probe", str(outside)],
                Limits(wall_seconds=20),
                mechanism,
                probing=True,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        ok = res.exit_code == 0 and "PROBE-OK" in res.output
        if PROVIDES[mechanism].filesystem:
            ok = ok and not (outside / "escaped").exists() and not (project / "inside").exists()
        return ok


def available() -> list[str]:
    """The mechanisms that work here, strongest first (``none`` is always last)."""
    return [m for m in MECHANISMS if works(m)]


def best() -> str:
    """The strongest mechanism that works here (probing stops at the first that does)."""
    return next(m for m in MECHANISMS if works(m))


def _warnings(iso: Isolation, process_limit: str, user: str) -> list[str]:
    how = f"(sandbox mechanism: {iso.mechanism})"
    out: list[str] = []
    if not iso.network:
        out.append(
            f"no network isolation {how}: this OS does not allow unprivileged network namespaces, so "
            "generated code could reach the network"
        )
    if not iso.filesystem:
        out.append(
            f"no filesystem isolation {how}: generated code can read and write anywhere softco's user can; "
            "install bubblewrap (e.g. `apt-get install bubblewrap`) or allow unprivileged user namespaces"
        )
    if not iso.disk_quota:
        out.append(f"no disk quota {how}: generated code can fill the disk; install bubblewrap for one")
    if user == "root":
        out.append(
            f"generated code runs as root {how}: it can read files only root may read; install bubblewrap, "
            "or keep the output directory where every user can reach it (not under /root), or run softco "
            "as a normal user"
        )
    if not iso.pids:
        out.append(
            f"no PID namespace {how}: generated code can see host processes"
            + (
                ""
                if process_limit == "cgroup"
                else ", and a background process it starts in a new session may outlive the run"
            )
        )
    if process_limit == "none":
        out.append(
            "no process-count limit: softco runs as root, which RLIMIT_NPROC does not bind, and no "
            "pids cgroup is writable; only the wall-time limit stops a fork bomb. Run softco as a "
            "normal user to get the limit"
        )
    return out


def describe(mechanism: str | None = None) -> tuple[str, list[str]]:
    """One line saying how generated code will be isolated here, and the warnings for what is missing:
    printed at the start of a run, before any generated code exists."""
    chosen = mechanism or best()
    iso = PROVIDES[chosen]
    user = "nobody" if _as_root() and chosen in ("bwrap", "unshare") else ("root" if _as_root() else "you")
    parts = [
        "no network" if iso.network else "network open",
        "filesystem read-only, homes hidden" if iso.filesystem else "filesystem open",
        "disk quota" if iso.disk_quota else "no disk quota",
        f"runs as {user}" if user != "you" else "runs as you",
    ]
    return f"sandbox: {chosen} ({', '.join(parts)})", _warnings(iso, process_limit(), user)


class _Tail:
    """The last ``limit`` bytes written, and how many came before them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        extra = len(self.buf) - self.limit
        if extra > 0:
            del self.buf[:extra]
            self.dropped += extra


def _pump(proc: subprocess.Popen[bytes], results_fd: int | None, deadline: float) -> tuple[_Tail, bytes, bool]:
    """Read the output (keeping its tail) and the results pipe (up to RESULTS_LIMIT) until both close
    or the deadline passes; True when it passed."""
    out = _Tail(OUTPUT_LIMIT)
    results = bytearray()
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
    if results_fd is not None:
        sel.register(results_fd, selectors.EVENT_READ, "results")
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return out, bytes(results), True
            for key, _ in sel.select(timeout=min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                elif key.data == "out":
                    out.add(chunk)
                elif len(results) < RESULTS_LIMIT:
                    results += chunk[: RESULTS_LIMIT - len(results)]
    finally:
        sel.close()
    return out, bytes(results), False


def _sandboxed(
    spec: _Spec,
    argv: list[str],
    limits: Limits,
    mechanism: str | None,
    *,
    results: bool = False,
    drop_to_nobody: bool = True,
    probing: bool = False,
) -> SandboxResult:
    chosen = mechanism or best()
    if not probing and not works(chosen):
        raise ValueError(
            f"sandbox mechanism {chosen!r} does not work on this machine; available: {', '.join(available())}"
        )
    iso = PROVIDES[chosen]
    src_fd = None
    if spec.source is not None and not spec.writable_dest:
        src_fd = os.open(spec.source, os.O_RDONLY | os.O_DIRECTORY)
    read_fd = write_fd = None
    if results:
        read_fd, write_fd = os.pipe()
    try:
        with tempfile.TemporaryDirectory(prefix="softco-home-") as home, _group_caps(limits) as group:
            caps = group.capped if group is not None else set()
            capped = "cgroup" if "pids" in caps else ("rlimit" if os.geteuid() != 0 else "none")
            memory = "total" if "memory" in caps else "per process"
            plan = _plan(chosen, spec, _real(home), src_fd, limits, drop_to_nobody)
            warnings = _warnings(iso, capped, plan.user)
            env = clean_env(plan.workdir, plan.home, spec.venv or plan.home)
            pass_fds = plan.pass_fds
            if write_fd is not None:
                env["SOFTCO_RESULTS_FD"] = str(write_fd)
                pass_fds = (*pass_fds, write_fd)

            def result(code: int, text: str, timed_out: bool, got: bytes = b"", dropped: int = 0) -> SandboxResult:
                return SandboxResult(
                    code,
                    text,
                    timed_out,
                    iso.network,
                    warnings,
                    iso.filesystem,
                    iso.pids,
                    chosen,
                    capped,
                    memory,
                    got,
                    dropped,
                    plan.user,
                )

            try:
                proc = subprocess.Popen(
                    [*plan.prefix, *argv],
                    cwd="/",
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    pass_fds=pass_fds,
                    preexec_fn=functools.partial(_limit, limits, group),  # noqa: PLW1509
                )
            except (OSError, subprocess.SubprocessError) as exc:
                return result(127, f"cannot start {argv[0]} in the sandbox ({chosen}): {exc}", False)
            finally:
                if write_fd is not None:
                    os.close(write_fd)
                    write_fd = None
                if src_fd is not None:
                    os.close(src_fd)
                    src_fd = None
            deadline = time.monotonic() + limits.wall_seconds
            tail, got, timed_out = _pump(proc, read_fd, deadline)
            if not timed_out:  # the pipes closed; the process may still be running without them
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
            if timed_out:
                if group is not None:
                    group.kill_all()
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                more, got2, late = _pump(proc, read_fd, time.monotonic() + 5)
                tail.add(bytes(more.buf))
                got += got2
                if late:  # an escaped process holds the pipe open: give up on it
                    tail.add(b"\n(output cut: a process that left the sandbox's process group kept it open)\n")
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    finally:
        for fd in (read_fd, write_fd, src_fd):
            if fd is not None:
                os.close(fd)
    text = tail.buf.decode("utf-8", errors="replace")
    if tail.dropped:
        text = f"(the first {tail.dropped} bytes of output were dropped; the last {OUTPUT_LIMIT} are kept)\n" + text
    code = proc.returncode if not timed_out else -9
    return result(code, text, timed_out, got[:RESULTS_LIMIT], tail.dropped)


def run(
    project: Path,
    argv: list[str],
    limits: Limits,
    *,
    mechanism: str | None = None,
    results: bool = False,
    read_only: tuple[Path, ...] = (),
) -> SandboxResult:
    """Run ``argv`` (argv[0] resolved in the project's venv) in a work copy of ``project``, sandboxed.

    ``mechanism`` picks one of :data:`MECHANISMS` (default: the strongest that works here); asking
    for one that does not work here is a ValueError. With ``results``, the run gets a pipe whose
    write end's number is in ``$SOFTCO_RESULTS_FD`` and :attr:`SandboxResult.results` holds what came
    through it. ``read_only`` directories (each under ``project/.softco``, which the work copy leaves out)
    are shown at their own path, read-only, where the mechanism isolates the filesystem.
    """
    project = project.absolute()
    venv = project / ".softco" / "venv"
    shown = tuple(p.absolute() for p in read_only)
    if any(project / ".softco" not in p.parents for p in shown):
        raise ValueError(f"read-only directories must be under {project / '.softco'}: {shown}")
    spec = _Spec(project, project, venv if venv.is_dir() else None, read_only=shown)
    return _sandboxed(spec, argv, limits, mechanism, results=results)
