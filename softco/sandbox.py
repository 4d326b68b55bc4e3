"""Runs generated code: its own venv, resource limits, a scrubbed environment, isolation.

Generated code is untrusted. It runs in a subprocess whose environment holds no API keys or other
secrets (it is built from nothing, not filtered), with a temporary HOME (also its TMPDIR), CPU /
memory / file-size / process limits and a wall-time limit. It never runs in the project itself: it
runs in a **work copy** of the project's files (``.git`` and ``.softco`` left out), so nothing it
writes reaches the project, and every file it leaves behind is gone when the run ends. When softco
runs as root, the generated code runs as the unprivileged user ``nobody`` (uid 65534), so files only
root may read (``/etc/shadow``, root's keys) stay closed to it. What it reports about its tests comes
back through a pipe held open by softco, never through a file it could replace.

On top of that it is isolated by the best mechanism this machine offers, probed once per process:

``bwrap``
    bubblewrap. The whole filesystem is read-only; ``/home``, ``/root``, ``/run``, ``/tmp``,
    ``/var/tmp``, ``/mnt``, ``/media``, ``/srv`` and the user's home are replaced by empty read-only
    directories (so ``~/.ssh`` or a Docker socket are not even visible), with only the Python runtime
    put back, read-only; so is the directory that holds the project (its sibling projects are not
    visible). The work copy (at the project's own path) and the temporary HOME are
    size-limited tmpfs mounts (:attr:`Limits.disk_bytes` each): a disk quota. Own network (empty),
    PID, IPC and UTS namespaces, no capabilities, killed with its parent.
``unshare``
    util-linux ``unshare`` with mount, PID, network, IPC and UTS namespaces (and a user namespace
    unless softco is root), and a small Python preamble that hides the same directories as bwrap,
    puts the same two size-limited tmpfs mounts in place, remounts every other mount read-only, then
    drops all capabilities.
``netns``
    ``unshare`` with a network namespace only: no network, no filesystem isolation, no disk quota.
``none``
    limits, the scrubbed environment and the work copy only.

Processes: the sandbox lives in its own PID namespace (``bwrap``, ``unshare``), so when its first
process ends or the wall-time limit kills it, the kernel kills every process in it, including
daemonised ones. ``RLIMIT_NPROC`` does not apply to root, so when softco runs as root the process
count is capped with a pids cgroup where one is writable (which also kills every straggler at the
end). Memory: ``RLIMIT_AS`` limits each process; as root, a memory cgroup (where one is writable)
also caps all of them together, swap included (:attr:`SandboxResult.memory_limit` says which).
Output: only the last :data:`OUTPUT_LIMIT` bytes of what the code prints are kept.
Whatever is missing on this machine is said in :attr:`SandboxResult.warnings`.

Dependencies are installed by :func:`ensure_venv` with softco's own pip, isolated (``-I``), wheels
only, from a list of plain PEP 508 requirements (:mod:`softco.dependencies`), inside the sandbox with
the network on and only the venv writable: no code of a dependency runs while it is installed.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import selectors
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

from softco.dependencies import check_dependencies

MECHANISMS = ("bwrap", "unshare", "netns", "none")
"""Isolation mechanisms, strongest first."""

HIDDEN = ("/home", "/root", "/run", "/tmp", "/var/tmp", "/mnt", "/media", "/srv")
"""Directories bwrap replaces with empty read-only ones (the user's home is added at run time)."""

PREAMBLE_FAILED = 125
"""Exit code of the sandbox's own set-up code when it cannot isolate the run (nothing was run)."""

OUTPUT_LIMIT = 256 * 1024
"""Bytes of the generated code's output kept (the end of it); the rest is counted, not kept."""

RESULTS_LIMIT = 8 * 1024 * 1024
"""Bytes read from the results pipe at most; what comes after is dropped."""

NOBODY = 65534
"""The uid and gid generated code runs as when softco runs as root."""

PLUGIN_DIR = Path(__file__).resolve().parent / "pytest_plugin"
"""The pytest plugin that reports each test's outcome through the results pipe."""

SANDBOX_HOME = "/tmp/softco-home"
"""HOME (and TMPDIR) inside the sandbox, for the mechanisms that mount it (bwrap, unshare)."""


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wall_seconds: float = 300
    cpu_seconds: int = 300
    memory_bytes: int = 2 * 1024**3
    file_bytes: int = 64 * 1024**2
    processes: int = 512
    #: size of each writable place (the work copy, HOME) where a tmpfs can be mounted (bwrap, unshare)
    disk_bytes: int = 512 * 1024**2


@dataclass(frozen=True)
class Isolation:
    """What one mechanism isolates."""

    mechanism: str
    network: bool
    filesystem: bool
    pids: bool
    disk_quota: bool


PROVIDES = {
    "bwrap": Isolation("bwrap", network=True, filesystem=True, pids=True, disk_quota=True),
    "unshare": Isolation("unshare", network=True, filesystem=True, pids=True, disk_quota=True),
    "netns": Isolation("netns", network=True, filesystem=False, pids=False, disk_quota=False),
    "none": Isolation("none", network=False, filesystem=False, pids=False, disk_quota=False),
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
    #: what the run wrote to the results pipe (at most RESULTS_LIMIT bytes); empty unless asked for
    results: bytes = b""
    #: bytes of output that were dropped (only the last OUTPUT_LIMIT are kept)
    output_dropped: int = 0
    #: the uid the generated code ran as on the host ("nobody" when softco is root)
    user: str = ""


class SandboxError(Exception):
    """The sandbox could not do what was asked (a dependency that cannot be installed, no mechanism);
    nothing generated ran. The message says what to do."""


# ---------------------------------------------------------------------------------------------
# Dependencies and the venv


def _host_site_dirs() -> list[str]:
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    dirs += site.getsitepackages()
    seen: list[str] = []
    for d in dirs:
        if d not in seen and Path(d).is_dir():
            seen.append(d)
    return seen


def _venv_site_packages(venv: Path) -> Path:
    """The venv's site-packages, known without starting its python (which would read its .pth files
    on the host)."""
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def ensure_venv(project: Path, dependencies: list[str]) -> Path:
    """The project's venv under .softco/venv (made once); returns its python.

    It has no pip of its own; softco's own site-packages are visible through a .pth file so pytest
    is there offline. The venv's python is never started on the host. Declared dependencies are
    checked (:mod:`softco.dependencies`) and installed by softco's own pip, isolated and wheels only,
    inside the sandbox (:func:`install`). A SandboxError says what failed and what to do.
    """
    venv = project.absolute() / ".softco" / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        safe_cwd = Path(tempfile.gettempdir())
        proc = subprocess.run(
            [sys.executable, "-I", "-m", "venv", "--without-pip", str(venv)],
            capture_output=True,
            text=True,
            cwd=safe_cwd,
            env=clean_env(safe_cwd, safe_cwd, safe_cwd),
        )
        if proc.returncode != 0:
            raise SandboxError(f"cannot create the project's venv {venv}: {proc.stderr.strip()[-500:]}")
        purelib = _venv_site_packages(venv)
        purelib.mkdir(parents=True, exist_ok=True)
        (purelib / "_softco_host.pth").write_text("\n".join(_host_site_dirs()) + "\n")
    try:
        wanted_list = sorted(check_dependencies(dependencies))
    except ValueError as exc:
        raise SandboxError(f"{exc}; edit the design (softco revise --stage design)") from None
    marker = venv / "softco-deps.txt"
    wanted = "\n".join(wanted_list)
    if wanted_list and (not marker.exists() or marker.read_text() != wanted):
        own = _venv_own_files(venv)
        res = install(venv, wanted_list)
        if _venv_own_files(venv) != own:
            shutil.rmtree(venv, ignore_errors=True)  # made again, clean, next time
            raise SandboxError(
                f"installing {wanted_list} replaced the venv's own files (its python, pyvenv.cfg or softco's .pth); "
                f"the venv was removed. Drop the dependency that did it (`softco revise {project} --stage design "
                "--feedback ...`)"
            )
        if res.exit_code != 0:
            lines = res.output.strip().splitlines()
            why = " ".join([ln for ln in lines if ln.startswith("ERROR:")][-2:] or lines[-2:])[-400:]
            raise SandboxError(
                f"installing the generated project's dependencies {wanted_list} failed ({why}). Only wheels are "
                "installed, since building an sdist would run its code; choose dependencies that ship wheels with "
                f"`softco revise {project} --stage design --feedback ...`, or set SOFTCO_PIP_INDEX_URL to an index "
                "that has them"
            )
        marker.write_text(wanted)
    return python


def _venv_own_files(venv: Path) -> dict[str, str]:
    """What makes the venv softco's: its config, its interpreters (symlinks) and softco's .pth."""
    out: dict[str, str] = {}
    for p in [venv / "pyvenv.cfg", _venv_site_packages(venv) / "_softco_host.pth", *sorted(venv.glob("bin/python*"))]:
        try:
            out[str(p)] = os.readlink(p) if p.is_symlink() else p.read_text(errors="replace")
        except OSError:
            out[str(p)] = "(missing)"
    return out


def install(venv: Path, requirements: list[str], *, mechanism: str | None = None) -> SandboxResult:
    """``pip install`` checked requirements into ``venv``: softco's own pip, isolated, wheels only, in
    the sandbox with the network on and only the venv writable. No dependency's code runs."""
    reqs = check_dependencies(requirements)
    index = os.environ.get("SOFTCO_PIP_INDEX_URL", "").strip()
    if index and not index.startswith(("https://", "http://", "file:///")):
        raise SandboxError(f"SOFTCO_PIP_INDEX_URL={index!r} is not an http(s):// or file:/// URL; fix or unset it")
    argv = [
        sys.executable,
        "-I",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--only-binary=:all:",
        "--prefix",
        str(venv),
        *(["--index-url", index] if index else []),
        "--",
        *reqs,
    ]
    return _sandboxed(
        _Spec(venv, venv, None, network=True, writable_dest=True),
        argv,
        Limits(wall_seconds=900, cpu_seconds=900),
        mechanism,
        drop_to_nobody=False,  # writes the venv softco owns; no code of a dependency runs here
    )


def clean_env(workdir: Path, home: Path, venv: Path) -> dict[str, str]:
    """An environment built from nothing: no keys, no tokens, no user config."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        # softco's pytest plugin first, so a generated module of the same name cannot stand in for it
        "PYTHONPATH": f"{PLUGIN_DIR}:{workdir}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PIP_NO_CACHE_DIR": "1",
        "NO_COLOR": "1",
    }


# ---------------------------------------------------------------------------------------------
# What the run sees


@dataclass(frozen=True)
class _Spec:
    """One sandboxed run: ``source`` is copied (without .git and .softco) into ``dest``, where the code
    runs; ``venv`` is visible read-only (unless ``writable_dest``: then ``dest`` itself is the
    writable place and nothing is copied)."""

    source: Path | None
    dest: Path
    venv: Path | None
    network: bool = False
    writable_dest: bool = False


def _real(p: Path | str) -> Path:
    return Path(os.path.realpath(p))


def _under(p: Path, parent: Path) -> bool:
    return p == parent or parent in p.parents


def _runtime_dirs() -> tuple[Path, ...]:
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
        _real(sys.executable).parent,
        PLUGIN_DIR,
    ]
    # never the venv's own pyvenv.cfg: a dependency's wheel can overwrite it; the venv was made by this
    # interpreter, so its `home` is this interpreter's base executable's directory, listed above
    real = sorted({_real(d) for d in dirs if d.is_dir()}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for d in real:
        if d != Path("/") and not any(_under(d, k) for k in kept):
            kept.append(d)
    return tuple(kept)


#: never hidden as "the project's parent": the system itself lives there
_SYSTEM = {Path(p) for p in ("/", "/usr", "/usr/local", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/opt", "/var")}


def _hidden_dirs(dest: Path) -> list[Path]:
    """Directories replaced by empty ones in the sandbox: HIDDEN, the user's home, and the directory that
    holds the project (so its sibling projects, their boards and repos are not readable)."""
    candidates = [Path(h) for h in HIDDEN] + [Path.home(), dest.parent]
    out: list[Path] = []
    for c in sorted({_real(c) for c in candidates}, key=lambda p: len(p.parts)):
        if c in _SYSTEM or not c.is_dir():
            continue
        if not any(_under(c, o) for o in out):
            out.append(c)
    return out


def _as_root() -> bool:
    return os.geteuid() == 0


# ---------------------------------------------------------------------------------------------
# The launcher: the sandbox's first process. Trusted code, run by softco's own python (-I -S) once
# the mechanism's mounts are in place: copy the project into the work copy (from a directory file
# descriptor softco opened, so the project itself need not be visible), hand the copy and HOME to
# `nobody` when softco is root and drop to that user, forbid new privileges, then exec the command.
# Any failure exits PREAMBLE_FAILED: nothing generated has run.

_LAUNCHER = r"""
import ctypes, json, os, stat, sys
spec = json.loads(sys.argv[1]); argv = sys.argv[2:]
def fail(what):
    sys.stderr.write("softco sandbox: " + what + "; the sandbox could not be set up, nothing was run\n")
    sys.stderr.flush(); os._exit(@FAILED@)
def copy(src_top, dst_top):
    todo = [(src_top, dst_top, True)]  # a walk, not a recursion: any depth
    while todo:
        src, dst, top = todo.pop()
        for name in os.listdir(src):
            if top and name in (".git", ".softco"):
                continue
            copy_one(os.path.join(src, name), os.path.join(dst, name), todo)
def copy_one(s, d, todo):
    st = os.lstat(s)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(s), d)
    elif stat.S_ISDIR(st.st_mode):
        os.mkdir(d, 0o755); todo.append((s, d, False))
    elif stat.S_ISREG(st.st_mode):  # FIFOs, sockets and devices are left out
        fi = os.open(s, os.O_RDONLY | os.O_NOFOLLOW)
        fo = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o755 | 0o644)
        try:
            while True:
                chunk = os.read(fi, 1 << 20)
                if not chunk:
                    break
                os.write(fo, chunk)
        finally:
            os.close(fi); os.close(fo)
def chown_tree(top, uid):
    os.lchown(top, uid, uid)
    for root, dirs, files in os.walk(top):
        if root == top and ".softco" in dirs:
            dirs.remove(".softco")  # the read-only venv is mounted there
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, uid)
try:
    for d in spec["make"]:
        os.makedirs(d, exist_ok=True)
    if spec["src_fd"] is not None:
        copy("/proc/self/fd/%d" % spec["src_fd"], spec["dest"])
        os.close(spec["src_fd"])
    uid = spec["uid"]
    if uid is not None:
        for top in spec["chown"]:
            chown_tree(top, uid)
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1):
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: none can come back, even by exec
                fail("dropping capability %d: %s" % (cap, os.strerror(ctypes.get_errno())))
        os.setgroups([]); os.setgid(uid); os.setuid(uid)  # clears the effective and permitted sets
except Exception as exc:  # noqa: BLE001 - whatever it is, nothing generated may run
    fail("preparing the work copy: %s" % exc)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    fail("no_new_privs: " + os.strerror(ctypes.get_errno()))
os.chdir(spec["cwd"])
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("softco sandbox: cannot start %s: %s\n" % (argv[0], exc)); sys.stderr.flush()
    os._exit(127)
""".replace("@FAILED@", str(PREAMBLE_FAILED))


# Runs first under ``unshare`` (inside new mount + PID + network namespaces, with every capability):
# mount the size-limited tmpfs for the work copy and HOME, bind the venv read-only, remount every
# other mount read-only (keeping the flags the kernel locks), give /dev/shm a private tmpfs, drop every
# capability but the three the launcher needs to hand the copy to `nobody` (none when not root), then
# go on with the launcher.
_MOUNTS = r"""
import ctypes, errno, json, os, re, sys
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
def mfail(what):
    sys.stderr.write("softco sandbox: " + what + "; filesystem isolation could not be set up, nothing was run\n")
    sys.stderr.flush(); os._exit(@FAILED@)
def mount(src, dst, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) == 0:
        return 0
    return ctypes.get_errno()
last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
if mount(None, "/", None, REC | (1 << 18)) not in (0,):  # MS_PRIVATE: nothing propagates to the host
    mfail("making mounts private")
os.umask(0o022)
opath = lambda p: os.open(p, os.O_PATH | os.O_DIRECTORY)
# every bind source is opened before anything covers it
rebound = [(opath(p), p) for p in spec["rebound"]]
srcs = [(opath(src), dst) for src, dst in spec["ro_binds"]]
rws = [(opath(p), p) for p in spec["rw_binds"]]
for path in spec["hidden"]:
    err = mount("tmpfs", path, "tmpfs", NOSUID | NODEV, "size=1m,mode=0755")
    if err:
        mfail("hiding %s: %s" % (path, os.strerror(err)))
for fd, path in rebound:
    os.makedirs(path, exist_ok=True)
    err = mount("/proc/self/fd/%d" % fd, path, None, BIND | REC)
    if err:
        mfail("bind %s: %s" % (path, os.strerror(err)))
    os.close(fd)
for path in spec["tmpfs"]:
    os.makedirs(path, exist_ok=True)
    err = mount("tmpfs", path, "tmpfs", NOSUID | NODEV, "size=%d,mode=0755" % spec["size"])
    if err:
        mfail("tmpfs on %s: %s" % (path, os.strerror(err)))
for fd, dst in srcs:
    os.makedirs(dst, exist_ok=True)
    err = mount("/proc/self/fd/%d" % fd, dst, None, BIND | REC)
    if err:
        mfail("bind %s: %s" % (dst, os.strerror(err)))
    os.close(fd)
keep = spec["tmpfs"] + spec["rw_binds"]
for fd, p in rws:
    os.makedirs(p, exist_ok=True)
    err = mount("/proc/self/fd/%d" % fd, p, None, BIND | REC)
    if err:
        mfail("bind %s: %s" % (p, os.strerror(err)))
    os.close(fd)
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
        mfail("read-only remount of %s: %s" % (point, os.strerror(err)))
under = lambda p, q: p == q or p.startswith(q.rstrip("/") + "/")
for point, _ in points:  # verify: every path that is not writable on purpose is read-only now
    if any(under(point, k) for k in keep):
        continue
    try:
        if not os.statvfs(point).f_flag & os.ST_RDONLY:
            mfail("%s is still writable" % point)
    except OSError:
        pass
shm = "size=%d,mode=1777" % spec["size"]
err = mount("tmpfs", "/dev/shm", "tmpfs", NOSUID | NODEV, shm) if os.path.isdir("/dev/shm") else 0
if err:
    mfail("private /dev/shm: " + os.strerror(err))
KEEP_CAPS = (0, 6, 7, 8) if spec["launcher"]["uid"] is not None else ()  # CHOWN, SETGID, SETUID, SETPCAP
for cap in range(last_cap + 1):
    if cap not in KEEP_CAPS and libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        mfail("dropping capability %d: %s" % (cap, os.strerror(ctypes.get_errno())))
sys.argv[1] = json.dumps(spec["launcher"])
""".replace("@FAILED@", str(PREAMBLE_FAILED))


def _unreachable_for_nobody(paths: list[Path], mounts: list[Path], hidden: list[Path]) -> Path | None:
    """The first directory uid ``nobody`` could not get through on the way to one of ``paths`` inside
    the sandbox, or None. Passable: a tmpfs softco mounts (``mounts``: handed to nobody; ``hidden``:
    mode 0755) and the directories softco creates inside a hidden one on the way to a path it binds
    (mode 0755); every other directory, the bound path itself included, must be searchable by others."""
    for p in paths:
        for d in [*reversed(p.parents), p]:
            if d in mounts or (d != p and any(_under(d, h) for h in hidden)):
                continue
            try:
                if not os.stat(d).st_mode & 0o001:
                    return d
            except OSError:
                return d
    return None


@dataclass(frozen=True)
class _Plan:
    """How one run is laid out for one mechanism."""

    prefix: list[str]
    launcher: dict[str, object]
    home: Path
    workdir: Path
    pass_fds: tuple[int, ...]
    user: str


def _plan(mechanism: str, spec: _Spec, home: Path, src_fd: int | None, limits: Limits, drop: bool) -> _Plan:
    isolated_fs = PROVIDES[mechanism].filesystem
    hidden = _hidden_dirs(spec.dest) if isolated_fs else []
    runtime = _runtime_dirs()
    workdir = spec.dest if isolated_fs or spec.writable_dest else home / "work"
    cwd = home if spec.writable_dest else workdir  # pip runs from an empty directory: no local archive there
    uid: int | None = None
    if drop and _as_root() and isolated_fs:
        venv_seen = [spec.dest / ".softco" / "venv"] if spec.venv else []
        blocked = _unreachable_for_nobody([workdir, home, *runtime, *venv_seen], [workdir, home], [*hidden, workdir])
        if blocked is not None:
            raise SandboxError(
                f"generated code runs as the user nobody when softco runs as root, and nobody cannot enter "
                f"{blocked}; let every user enter it (chmod o+x on each directory on the way), choose another "
                "--output, or run softco as a normal user"
            )
        uid = NOBODY
    launcher: dict[str, object] = {
        "src_fd": None if spec.writable_dest else src_fd,
        "dest": str(workdir),
        "cwd": str(cwd),
        "make": [] if isolated_fs or spec.writable_dest else [str(workdir)],
        "uid": uid,
        "chown": [str(workdir), str(home)],
    }
    venv_bind = [] if spec.venv is None or spec.writable_dest else [(spec.venv, spec.dest / ".softco" / "venv")]
    rebound = [r for r in runtime if any(_under(r, h) for h in hidden)]
    prefix: list[str] = []
    if mechanism == "bwrap":
        prefix = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        made: set[Path] = set()

        def parents(dest: Path, tops: list[Path]) -> list[str]:
            """Create the directories on the way to ``dest`` inside the tmpfs ``tops`` with mode 0755 (bwrap
            would make them 0700, closed to `nobody`)."""
            out: list[str] = []
            for top in tops:
                if _under(dest, top) and dest != top:
                    for d in reversed(dest.parents):
                        if _under(d, top) and d != top and d not in made:
                            made.add(d)
                            out += ["--perms", "0755", "--dir", str(d)]
            return out

        for h in hidden:
            prefix += ["--perms", "0755", "--tmpfs", str(h)]
        for r in rebound:
            prefix += [*parents(r, hidden), "--ro-bind", str(r), str(r)]
        if spec.writable_dest:
            prefix += [*parents(spec.dest, hidden), "--bind", str(spec.dest), str(spec.dest)]
        else:
            prefix += parents(workdir, hidden)
            prefix += ["--size", str(limits.disk_bytes), "--perms", "0755", "--tmpfs", str(workdir)]
        for src, dst in venv_bind:
            prefix += [*parents(dst, [workdir]), "--ro-bind", str(src), str(dst)]
        prefix += parents(home, hidden)
        prefix += ["--size", str(limits.disk_bytes), "--perms", "0700", "--tmpfs", str(home)]
        prefix += ["--size", str(limits.disk_bytes), "--perms", "1777", "--tmpfs", "/dev/shm"]
        for h in hidden:
            prefix += ["--remount-ro", str(h)]
        if _as_root():  # no user namespace: root's own capabilities, all dropped but what the launcher needs
            prefix += ["--cap-drop", "ALL"]
            if uid is not None:
                for cap in ("CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
                    prefix += ["--cap-add", cap]
        else:
            prefix += ["--unshare-user", "--cap-drop", "ALL"]
        if not spec.network:
            prefix += ["--unshare-net"]
        prefix += [
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "softco-sandbox",
            "--die-with-parent",
            "--new-session",
            "--chdir",
            "/",
            "--",
            sys.executable,
            "-I",
            "-S",
            "-c",
            _LAUNCHER,
        ]
    elif mechanism == "unshare":
        mounts = {
            "hidden": [str(h) for h in hidden],
            "rebound": [str(r) for r in rebound],
            "tmpfs": ([] if spec.writable_dest else [str(workdir)]) + [str(home)],
            "size": limits.disk_bytes,
            "ro_binds": [(str(s), str(d)) for s, d in venv_bind],
            "rw_binds": [str(spec.dest)] if spec.writable_dest else [],
            "launcher": launcher,
        }
        unshare = shutil.which("unshare") or "unshare"
        user = [] if _as_root() else ["--user", "--map-root-user"]
        net = [] if spec.network else ["--net"]
        prefix = [unshare, *user, *net, "--ipc", "--uts", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
        prefix += ["--", sys.executable, "-I", "-S", "-c", _MOUNTS + _LAUNCHER]
        return _Plan(prefix + [json.dumps(mounts)], launcher, home, workdir, _fds(src_fd), _user(uid))
    else:
        if mechanism == "netns" and not spec.network:
            prefix = [shutil.which("unshare") or "unshare", *([] if _as_root() else ["--user", "--map-root-user"])]
            prefix += ["--net", "--"]
        prefix += [sys.executable, "-I", "-S", "-c", _LAUNCHER]
    return _Plan(prefix + [json.dumps(launcher)], launcher, home, workdir, _fds(src_fd), _user(uid))


def _fds(src_fd: int | None) -> tuple[int, ...]:
    return () if src_fd is None else (src_fd,)


def _user(uid: int | None) -> str:
    if uid is not None:
        return "nobody"
    return "root" if _as_root() else "you"


# ---------------------------------------------------------------------------------------------
# Probing: does a mechanism work here, and does it really isolate?

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


def process_limit() -> str:
    """How the process count is capped here: "rlimit" (non-root), "cgroup" (root) or "none"."""
    if os.geteuid() != 0:
        return "rlimit"
    return "cgroup" if "pids" in _cgroup_parents() else "none"


def memory_limit() -> str:
    """How memory is capped here: "total" (root with a memory cgroup: all the processes together)
    or "per process" (RLIMIT_AS only, so N processes may use N times the limit)."""
    return "total" if "memory" in _cgroup_parents() else "per process"


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
    project: Path, argv: list[str], limits: Limits, *, mechanism: str | None = None, results: bool = False
) -> SandboxResult:
    """Run ``argv`` (argv[0] resolved in the project's venv) in a work copy of ``project``, sandboxed.

    ``mechanism`` picks one of :data:`MECHANISMS` (default: the strongest that works here); asking
    for one that does not work here is a ValueError. With ``results``, the run gets a pipe whose
    write end's number is in ``$SOFTCO_RESULTS_FD`` and :attr:`SandboxResult.results` holds what came
    through it.
    """
    project = project.absolute()
    venv = project / ".softco" / "venv"
    return _sandboxed(
        _Spec(project, project, venv if venv.is_dir() else None), argv, limits, mechanism, results=results
    )
