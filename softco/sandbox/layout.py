"""What a sandboxed run sees: which mechanism isolates what, the directories it hides, the work
copy, the environment, and the command line that sets it all up (bwrap, unshare, netns or none)."""

from __future__ import annotations

import marshal
import os
import shutil
import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from softco.errors import SoftcoError
from softco.sandbox.limits import Limits
from softco.sandbox.scripts import _LAUNCHER, _MOUNTS

MECHANISMS = ("bwrap", "unshare", "netns", "none")
HIDDEN = ("/home", "/root", "/run", "/tmp", "/var/tmp", "/mnt", "/media", "/srv")
NOBODY = 65534
PLUGIN_DIR = Path(__file__).resolve().parent.parent / "pytest_plugin"
SANDBOX_HOME = "/tmp/softco-home"


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


class SandboxError(SoftcoError):
    """The sandbox could not do what was asked (a dependency that cannot be installed, no mechanism);
    nothing generated ran. The message says what to do."""


def _host_site_dirs() -> list[str]:
    """softco's own site-packages, as real paths: the sandbox shows them at their real path only (a venv
    reached through a symlink in a hidden directory such as /tmp would not be found there otherwise)."""
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    dirs += site.getsitepackages()
    seen: list[str] = []
    for d in dirs:
        real = os.path.realpath(d)
        if real not in seen and Path(real).is_dir():
            seen.append(real)
    return seen


def host_python() -> str:
    """softco's own interpreter by a path the sandbox shows: its directory's real path (a venv reached
    through a symlink in a hidden directory such as /tmp is shown at its real path only) and its own name,
    which keeps it in its venv."""
    return os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))


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
    #: directories under ``dest/.softco`` (which the copy leaves out) shown read-only at their own path
    read_only: tuple[Path, ...] = ()


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


#: Top-level directories of the system's own layout, shown read-only; every other one (``/work``, ``/data``, a
#: container's ``/app``, a CI's ``/builds``) holds the user's data (other runs, repos, ``.env`` files) and is hidden.
_SYSTEM_TOPS = {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "sbin", "sys", "usr"}
_SYSTEM_TOPS |= {"var", "nix", "gnu", "snap"}


def _data_tops() -> list[Path]:
    """The top-level directories that are not the system's own (links, such as ``/bin -> usr/bin``, left out)."""
    try:
        with os.scandir("/") as it:
            return [Path("/", e.name) for e in it if e.name not in _SYSTEM_TOPS and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


#: Directories under the system's own whose files the system and its programs need: never hidden as a project's
#: outermost directory (:func:`_outermost`)
_NEEDED = {
    Path(p)
    for p in (
        *(f"{pre}/{d}" for pre in ("/usr", "/usr/local") for d in ("lib", "lib32", "lib64", "libx32", "libexec")),
        *(f"{pre}/{d}" for pre in ("/usr", "/usr/local") for d in ("bin", "sbin", "share", "include")),
        *(f"/var/{d}" for d in ("lib", "cache", "run", "spool", "log", "tmp")),
    )
}


def _outermost(place: Path) -> Path | None:
    """The outermost directory on the way to ``place`` below the system's own (``/opt/evals`` for
    ``/opt/evals/out/runs/a/seed-1/calc``, ``/usr/src`` for ``/usr/src/app/out/p``): where a user keeps outputs,
    an eval's other runs, repos. None when every directory on the way is the system's (``/usr/local/bin``)."""
    for d in reversed(_real(place).parents):  # from / down
        if d not in _SYSTEM and d not in _NEEDED:
            return d
    return None


def _hidden_dirs(dest: Path) -> list[Path]:
    """Directories replaced by empty ones in the sandbox: HIDDEN, the user's home, the directory that holds
    the project (so its sibling projects, their boards and repos are not readable), every top-level directory
    that is not the system's own (:data:`_SYSTEM_TOPS`), and the outermost directories on the way to the
    project and to the working directory below the system's own (:func:`_outermost`): an output directory, a
    working directory or an eval's other runs (``runs/VARIANT/seed-N/``) are hidden wherever they are."""
    try:
        cwd: Path | None = Path.cwd()
    except OSError:  # a working directory that was removed holds nothing
        cwd = None
    outer = [_outermost(dest), _outermost(cwd / "-") if cwd else None]
    candidates = [Path(h) for h in HIDDEN] + [Path.home(), dest.parent, *_data_tops(), *(o for o in outer if o)]
    out: list[Path] = []
    for c in sorted({_real(c) for c in candidates}, key=lambda p: len(p.parts)):
        if c in _SYSTEM or c == _real(dest) or not c.is_dir():
            continue
        if not any(_under(c, o) for o in out):
            out.append(c)
    return out


#: Directories hidden from every sandboxed run of this process on top of HIDDEN (see :func:`hide`).
_ALSO_HIDDEN: set[Path] = set()


def hide(paths: list[Path]) -> None:
    """Hide these directories (replaced by empty read-only ones) from every later sandboxed run of this
    process, even where they sit inside what the sandbox shows (softco's own install): `softco eval` hides
    its suites' acceptance tests from the code it generates. Only mechanisms with filesystem isolation can."""
    for p in paths:
        if p.is_dir():
            _ALSO_HIDDEN.add(_real(p))


def _late_hidden(hidden: list[Path], rebound: list[Path], keep: list[Path]) -> list[Path]:
    """The :func:`hide` directories still visible after ``hidden`` and ``rebound`` are in place (one inside
    the runtime, softco's own install, is), except one that holds a place the run needs (``keep``: the
    work copy, HOME, the runtime): hiding it would hide that too."""
    out: list[Path] = []
    for h in sorted(_ALSO_HIDDEN, key=lambda p: len(p.parts)):
        covered = any(_under(h, x) for x in hidden) and not any(_under(h, r) for r in rebound)
        needed = any(_under(k, h) for k in keep)
        if covered or needed or any(_under(h, o) for o in out) or not h.is_dir():
            continue
        out.append(h)
    return out


def _as_root() -> bool:
    return os.geteuid() == 0


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


#: System files that may hold credentials though any user can read them: a pip index's token, a netrc. Shown
#: empty to generated code (softco's own pip, which installs a project's wheels, still reads them).
SECRET_FILES = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "/etc/netrc", "/etc/.netrc")


#: An empty file shown in their place.
EMPTY_FILE = Path(__file__).resolve().parent / "empty"


def _masked_files() -> list[Path]:
    """:data:`SECRET_FILES` that exist here, by their real paths (what a bind mount covers)."""
    return sorted({_real(f) for f in SECRET_FILES if os.path.isfile(f)})


def _plan(mechanism: str, spec: _Spec, home: Path, src_fd: int | None, limits: Limits, drop: bool) -> _Plan:
    isolated_fs = PROVIDES[mechanism].filesystem
    hidden = _hidden_dirs(spec.dest) if isolated_fs else []
    masked = _masked_files() if isolated_fs and not spec.writable_dest else []
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
    venv_bind += [] if spec.writable_dest else [(p, p) for p in spec.read_only]
    rebound = [r for r in runtime if any(_under(r, h) for h in hidden)]
    late = _late_hidden(hidden, rebound, [workdir, home, *runtime]) if isolated_fs else []
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
        for h in late:
            prefix += ["--perms", "0755", "--tmpfs", str(h)]
        for m in masked:  # an empty file of softco's (bwrap's binds are nodev: /dev/null could not be opened)
            prefix += ["--ro-bind", str(EMPTY_FILE), str(m)]
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
        for h in [*hidden, *late]:
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
            host_python(),
            "-I",
            "-S",
            "-c",
            _LAUNCHER,
        ]
    elif mechanism == "unshare":
        mounts = {
            "hidden": [str(h) for h in hidden],
            "rebound": [str(r) for r in rebound],
            "late": [str(h) for h in late],
            "masked": [str(m) for m in masked],
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
        prefix += ["--", host_python(), "-I", "-S", "-c", _MOUNTS + _LAUNCHER]
        return _Plan(prefix + [_encode(mounts)], launcher, home, workdir, _fds(src_fd), _user(uid))
    else:
        if mechanism == "netns" and not spec.network:
            prefix = [shutil.which("unshare") or "unshare", *([] if _as_root() else ["--user", "--map-root-user"])]
            prefix += ["--net", "--"]
        prefix += [host_python(), "-I", "-S", "-c", _LAUNCHER]
    return _Plan(prefix + [_encode(launcher)], launcher, home, workdir, _fds(src_fd), _user(uid))


def _encode(spec: dict[str, object]) -> str:
    """The set-up code's spec as its one argument: marshal's format in hex, which the sandbox's first python
    reads without an import (``json`` and the ``re`` it loads cost it about 8 ms of CPU a run)."""
    return marshal.dumps(spec).hex()


def _fds(src_fd: int | None) -> tuple[int, ...]:
    return () if src_fd is None else (src_fd,)


def _user(uid: int | None) -> str:
    if uid is not None:
        return "nobody"
    return "root" if _as_root() else "you"
