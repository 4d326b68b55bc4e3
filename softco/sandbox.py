"""Runs generated code: its own venv, resource limits, a scrubbed environment, isolation.

Generated code is untrusted. It runs in a subprocess whose environment holds no API keys or other
secrets (it is built from nothing, not filtered), with a temporary HOME (also its TMPDIR), CPU /
memory / file-size / process limits and a wall-time limit. On top of that it is isolated by the best
mechanism this machine offers, probed once per process:

``bwrap``
    bubblewrap. The whole filesystem is read-only; ``/home``, ``/root``, ``/run``, ``/tmp``,
    ``/var/tmp``, ``/mnt``, ``/media``, ``/srv`` and the user's home are replaced by empty read-only
    directories (so ``~/.ssh`` or a Docker socket are not even visible), with only the Python runtime
    put back, read-only. Writable: the project directory and the temporary HOME. Own network (empty),
    PID, IPC and UTS namespaces, no capabilities, killed with its parent.
``unshare``
    util-linux ``unshare`` with user, mount, PID and network namespaces, and a small Python preamble
    that remounts every mount read-only except the project and the temporary HOME, then drops all
    capabilities. Nothing outside is writable, but it all stays readable.
``netns``
    ``unshare`` with a network namespace only: no network, no filesystem isolation.
``none``
    limits and the scrubbed environment only.

Inside the project, ``.git`` and ``.softco`` are read-only under ``bwrap`` and ``unshare`` (a hook
written into ``.git/hooks`` would otherwise run on the host at softco's next commit); the one
writable place under ``.softco`` is ``.softco/reports`` (pytest's junit XML).

Processes: the sandbox lives in its own PID namespace (``bwrap``, ``unshare``), so when its first
process ends or the wall-time limit kills it, the kernel kills every process in it, including
daemonised ones. ``RLIMIT_NPROC`` does not apply to root, so when softco runs as root the process
count is capped with a pids cgroup where one is writable (which also kills every straggler at the
end). Memory: ``RLIMIT_AS`` limits each process; as root, a memory cgroup (where one is writable)
also caps all of them together, swap included (:attr:`SandboxResult.memory_limit` says which).
Whatever is missing on this machine is said in :attr:`SandboxResult.warnings`.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

MECHANISMS = ("bwrap", "unshare", "netns", "none")
"""Isolation mechanisms, strongest first."""

HIDDEN = ("/home", "/root", "/run", "/tmp", "/var/tmp", "/mnt", "/media", "/srv")
"""Directories bwrap replaces with empty read-only ones (the user's home is added at run time)."""

REPORTS = Path(".softco") / "reports"
"""The one writable directory under a project's ``.softco`` inside the sandbox."""

PREAMBLE_FAILED = 125
"""Exit code of the ``unshare`` preamble when it cannot set up the read-only filesystem."""


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wall_seconds: float = 300
    cpu_seconds: int = 300
    memory_bytes: int = 2 * 1024**3
    file_bytes: int = 64 * 1024**2
    processes: int = 512


@dataclass(frozen=True)
class Isolation:
    """What one mechanism isolates."""

    mechanism: str
    network: bool
    filesystem: bool
    pids: bool


PROVIDES = {
    "bwrap": Isolation("bwrap", network=True, filesystem=True, pids=True),
    "unshare": Isolation("unshare", network=True, filesystem=True, pids=True),
    "netns": Isolation("netns", network=True, filesystem=False, pids=False),
    "none": Isolation("none", network=False, filesystem=False, pids=False),
}


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


# ---------------------------------------------------------------------------------------------
# The venv and the environment


def _host_site_dirs() -> list[str]:
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    dirs += site.getsitepackages()
    seen: list[str] = []
    for d in dirs:
        if d not in seen and Path(d).is_dir():
            seen.append(d)
    return seen


def ensure_venv(project: Path, dependencies: list[str]) -> Path:
    """The project's venv under .softco/venv (made once); returns its python.

    It has no pip of its own; softco's own site-packages are visible through a .pth file so pytest
    is there offline. Declared dependencies are installed with the host's pip, outside the sandbox
    (it needs the network), so wheels only: building an sdist would run its code on the host.
    """
    venv = project.absolute() / ".softco" / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        Path(purelib, "_softco_host.pth").write_text("\n".join(_host_site_dirs()) + "\n")
    marker = venv / "softco-deps.txt"
    wanted = "\n".join(sorted(dependencies))
    if dependencies and (not marker.exists() or marker.read_text() != wanted):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "-q",
                "--only-binary=:all:",
                *dependencies,
            ],
            capture_output=True,
            text=True,
            env=clean_env(project, Path(tempfile.gettempdir())),
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"installing the generated project's dependencies {dependencies} failed (only wheels are "
                "installed, since building an sdist would run its code outside the sandbox; pick dependencies "
                f"that ship wheels, or install them into {venv} yourself):\n{proc.stderr[-2000:]}"
            )
        marker.write_text(wanted)
    return python


def clean_env(project: Path, home: Path) -> dict[str, str]:
    """An environment built from nothing: no keys, no tokens, no user config."""
    venv_bin = project / ".softco" / "venv" / "bin"
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(project),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "NO_COLOR": "1",
    }


# ---------------------------------------------------------------------------------------------
# What is writable, what is read-only, what must stay visible


@dataclass(frozen=True)
class _Layout:
    project: Path
    home: Path
    writable: tuple[Path, ...]  # project, .softco/reports (if present), home
    read_only: tuple[Path, ...]  # .git and .softco inside the project (if present)
    runtime: tuple[Path, ...]  # the Python runtime and host site-packages
    aliases: tuple[tuple[Path, Path], ...] = ()  # (real, as the caller spelled it) where they differ


def _real(p: Path | str) -> Path:
    return Path(os.path.realpath(p))


def _under(p: Path, parent: Path) -> bool:
    return p == parent or parent in p.parents


def _runtime_dirs(project: Path) -> tuple[Path, ...]:
    """Everything the venv's python needs to start and import pytest: prefixes and site dirs."""
    base_exe = getattr(sys, "_base_executable", sys.executable)
    dirs = [
        *(Path(d) for d in _host_site_dirs()),
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(sys.base_exec_prefix),
        _real(base_exe).parent,
        Path(base_exe).parent,
    ]
    cfg = project / ".softco" / "venv" / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                dirs.append(Path(value.strip()))
    real = sorted({_real(d) for d in dirs if d.is_dir()}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for d in real:
        if d != Path("/") and not any(_under(d, k) for k in kept):
            kept.append(d)
    return tuple(kept)


def _layout(project: Path, home: Path) -> _Layout:
    aliases = tuple((_real(p), p.absolute()) for p in (project, home) if _real(p) != p.absolute())
    project, home = _real(project), _real(home)
    read_only = tuple(p for p in (project / ".git", project / ".softco") if p.exists() and not p.is_symlink())
    reports = project / REPORTS
    writable = [project]
    if reports.is_dir() and not reports.is_symlink() and _real(reports) == reports:
        writable.append(reports)
    writable.append(home)
    return _Layout(project, home, tuple(writable), read_only, _runtime_dirs(project), aliases)


def _hidden_dirs() -> list[Path]:
    candidates = [Path(h) for h in HIDDEN] + [Path.home()]
    out: list[Path] = []
    for c in sorted(candidates, key=lambda p: len(p.parts)):
        if c == Path("/") or not c.is_dir() or c.is_symlink() or _real(c) != c:
            continue
        if not any(_under(c, o) for o in out):
            out.append(c)
    return out


# ---------------------------------------------------------------------------------------------
# Command prefixes per mechanism


def _bwrap_prefix(bwrap: str, lay: _Layout) -> list[str]:
    hidden = _hidden_dirs()
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for h in hidden:
        cmd += ["--tmpfs", str(h)]
    for r in lay.runtime:
        if any(_under(r, h) for h in hidden):
            cmd += ["--ro-bind", str(r), str(r)]
    cmd += ["--bind", str(lay.project), str(lay.project)]
    for p in lay.read_only:
        cmd += ["--ro-bind", str(p), str(p)]
    for w in lay.writable[1:]:
        cmd += ["--bind", str(w), str(w)]
    for real, alias in lay.aliases:  # argv may name the project through a symlink
        cmd += ["--bind", str(real), str(alias)]
    for h in hidden:
        cmd += ["--remount-ro", str(h)]
    cmd += [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "softco-sandbox",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--chdir",
        str(lay.project),
        "--",
    ]
    return cmd


# Runs inside the new user + mount + PID + network namespaces, as root of the user namespace with
# every capability: bind the writable places onto themselves, remount every other mount read-only
# (keeping the flags the kernel locks), give /dev/shm a private tmpfs, drop every capability for
# good, then exec the command. Any failure exits PREAMBLE_FAILED: it never runs the command half
# isolated.
_PREAMBLE = r"""
import ctypes, errno, json, os, re, sys
spec = json.loads(sys.argv[1]); argv = sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
def fail(what):
    sys.stderr.write("softco sandbox: " + what + "; filesystem isolation could not be set up, nothing was run\n")
    sys.stderr.flush(); os._exit(@FAILED@)
def mount(src, dst, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) == 0:
        return 0
    return ctypes.get_errno()
last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
for p in spec["project"] + spec["read_only"] + spec["writable"]:
    err = mount(p, p, None, BIND | REC)
    if err:
        fail("bind %s: %s" % (p, os.strerror(err)))
keep = spec["project"] + spec["writable"]
unescape = lambda s: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)
points = []
for line in open("/proc/self/mountinfo"):
    f = line.split()
    points.append((unescape(f[4]), set(f[5].split(","))))
for point, opts in points:
    if point in keep:
        continue
    flags = REMOUNT | BIND | RDONLY
    flags |= (NOSUID if "nosuid" in opts else 0) | (NODEV if "nodev" in opts else 0)
    flags |= NOEXEC if "noexec" in opts else 0
    err = mount(None, point, None, flags)
    if err and err not in (errno.EINVAL, errno.ENOENT):  # EINVAL, ENOENT: covered by a later mount
        fail("read-only remount of %s: %s" % (point, os.strerror(err)))
under = lambda p, q: p == q or p.startswith(q.rstrip("/") + "/")
for point, _ in points:  # verify: every path that is not writable on purpose is read-only now
    if any(under(point, k) for k in keep):
        continue
    try:
        if not os.statvfs(point).f_flag & os.ST_RDONLY:
            fail("%s is still writable" % point)
    except OSError:
        pass
err = mount("tmpfs", "/dev/shm", "tmpfs", NOSUID | NODEV, "mode=1777") if os.path.isdir("/dev/shm") else 0
if err:
    fail("private /dev/shm: " + os.strerror(err))
for cap in range(last_cap + 1):
    if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        fail("dropping capability %d: %s" % (cap, os.strerror(ctypes.get_errno())))
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    fail("no_new_privs: " + os.strerror(ctypes.get_errno()))
os.chdir(spec["project"][0])
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("softco sandbox: cannot start %s: %s\n" % (argv[0], exc)); sys.stderr.flush()
    os._exit(127)
""".replace("@FAILED@", str(PREAMBLE_FAILED))


def _unshare_prefix(unshare: str, lay: _Layout) -> list[str]:
    spec = {
        "project": [str(lay.project)],
        "read_only": [str(p) for p in lay.read_only],
        "writable": [str(w) for w in lay.writable[1:]],
    }
    return [
        unshare,
        "--user",
        "--map-root-user",
        "--net",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--",
        sys.executable,
        "-I",
        "-S",
        "-c",
        _PREAMBLE,
        json.dumps(spec),
    ]


def _prefix(mechanism: str, lay: _Layout) -> list[str]:
    if mechanism == "bwrap":
        return _bwrap_prefix(shutil.which("bwrap") or "bwrap", lay)
    if mechanism == "unshare":
        return _unshare_prefix(shutil.which("unshare") or "unshare", lay)
    if mechanism == "netns":
        return [shutil.which("unshare") or "unshare", "--user", "--map-root-user", "--net", "--"]
    return []


# ---------------------------------------------------------------------------------------------
# Probing: does a mechanism work here, and does it really isolate?

_PROBE = """
set -u
echo x > "$1/inside" || exit 3
(echo x > "$2/escaped") 2>/dev/null
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
        project, home, outside = Path(tmp, "proj"), Path(tmp, "home"), Path(tmp, "outside")
        for d in (project, home, outside):
            d.mkdir()
        check = ["/bin/sh", "-c", _PROBE, "probe", str(project), str(outside)]
        cmd = [*_prefix(mechanism, _layout(project, home)), *check]
        try:
            ok = subprocess.run(cmd, cwd=project, capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False
        if PROVIDES[mechanism].filesystem:
            ok = ok and (project / "inside").exists() and not (outside / "escaped").exists()
        return ok


def available() -> list[str]:
    """The mechanisms that work here, strongest first (``none`` is always last)."""
    return [m for m in MECHANISMS if works(m)]


def best() -> str:
    return available()[0]


# ---------------------------------------------------------------------------------------------
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
# Running


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


def _warnings(iso: Isolation, process_limit: str) -> list[str]:
    how = f"(sandbox mechanism: {iso.mechanism})"
    out: list[str] = []
    if not iso.network:
        out.append(
            f"no network isolation {how}: this OS does not allow unprivileged network namespaces, so "
            "generated code could reach the network"
        )
    if not iso.filesystem:
        out.append(
            f"no filesystem isolation {how}: generated code can write anywhere softco's user can; "
            "install bubblewrap (e.g. `apt-get install bubblewrap`) or allow unprivileged user namespaces"
        )
    elif iso.mechanism != "bwrap":
        out.append(
            f"partial filesystem isolation {how}: everything outside the project is read-only, but your "
            "home directory and /tmp stay readable to generated code; install bubblewrap to hide them"
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


def process_limit() -> str:
    """How the process count is capped here: "rlimit" (non-root), "cgroup" (root) or "none"."""
    if os.geteuid() != 0:
        return "rlimit"
    return "cgroup" if "pids" in _cgroup_parents() else "none"


def memory_limit() -> str:
    """How memory is capped here: "total" (root with a memory cgroup: all the processes together)
    or "per process" (RLIMIT_AS only, so N processes may use N times the limit)."""
    return "total" if "memory" in _cgroup_parents() else "per process"


def run(project: Path, argv: list[str], limits: Limits, *, mechanism: str | None = None) -> SandboxResult:
    """Run ``argv`` (argv[0] resolved in the project's venv) with cwd = project, sandboxed.

    ``mechanism`` picks one of :data:`MECHANISMS` (default: the strongest that works here); asking
    for one that does not work here is a ValueError.
    """
    project = project.absolute()
    chosen = mechanism or best()
    if not works(chosen):
        raise ValueError(
            f"sandbox mechanism {chosen!r} does not work on this machine; available: {', '.join(available())}"
        )
    iso = PROVIDES[chosen]
    with tempfile.TemporaryDirectory(prefix="softco-home-") as home, _group_caps(limits) as group:
        caps = group.capped if group is not None else set()
        capped = "cgroup" if "pids" in caps else ("rlimit" if os.geteuid() != 0 else "none")
        memory = "total" if "memory" in caps else "per process"
        warnings = _warnings(iso, capped)

        def result(code: int, text: str, timed_out: bool) -> SandboxResult:
            return SandboxResult(
                code, text, timed_out, iso.network, warnings, iso.filesystem, iso.pids, chosen, capped, memory
            )

        cmd = [*_prefix(chosen, _layout(project, Path(home))), *argv]
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=project,
                env=clean_env(project, Path(home)),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=functools.partial(_limit, limits, group),  # noqa: PLW1509
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return result(127, f"cannot start {argv[0]} in the sandbox ({chosen}): {exc}", False)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            if group is not None:
                group.kill_all()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                out, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # an escaped process holds the pipe open: give up on it
                if proc.stdout is not None:
                    proc.stdout.close()
                proc.wait()
                out = b"(output lost: a process that left the sandbox's process group kept it open)\n"
    text = out.decode("utf-8", errors="replace")
    code = proc.returncode if not timed_out else -9
    return result(code, text, timed_out)
