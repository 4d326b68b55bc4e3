"""Runs generated code: its own venv, resource limits, a scrubbed environment, no network.

Generated code is untrusted. It runs in a subprocess whose environment holds no API keys or other
secrets (it is built from nothing, not filtered), with a temporary HOME, CPU / memory / file-size /
process limits, a wall-time limit, and, where the OS allows an unprivileged network namespace, no
network at all. Where it cannot isolate the network it says so in the result.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wall_seconds: float = 300
    cpu_seconds: int = 300
    memory_bytes: int = 2 * 1024**3
    file_bytes: int = 64 * 1024**2
    processes: int = 512


@dataclass
class SandboxResult:
    exit_code: int
    output: str
    timed_out: bool
    network_isolated: bool
    warnings: list[str] = field(default_factory=list)


@functools.cache
def netns_prefix() -> tuple[str, ...]:
    """The command prefix that puts a child in an empty network namespace, or () if none works."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    cmd = (unshare, "--user", "--map-root-user", "--net", "--")
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return cmd if ok else ()


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
    is there offline. Declared dependencies are installed with the host's pip.
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
            [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *dependencies],
            capture_output=True,
            text=True,
            env=clean_env(project, Path(tempfile.gettempdir())),
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"installing the generated project's dependencies {dependencies} failed:\n{proc.stderr[-2000:]}"
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


def _limit(limits: Limits) -> None:  # runs in the child, before exec
    os.setsid()
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def run(project: Path, argv: list[str], limits: Limits) -> SandboxResult:
    """Run ``argv`` (argv[0] resolved in the project's venv) with cwd = project, sandboxed."""
    project = project.absolute()
    prefix = netns_prefix()
    warnings = []
    if not prefix:
        warnings.append(
            "no network isolation: this OS does not allow unprivileged network namespaces, so "
            "generated code could reach the network"
        )
    with tempfile.TemporaryDirectory(prefix="softco-home-") as home:
        try:
            proc = subprocess.Popen(
                [*prefix, *argv],
                cwd=project,
                env=clean_env(project, Path(home)),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=functools.partial(_limit, limits),  # noqa: PLW1509
            )
        except OSError as exc:
            return SandboxResult(127, f"cannot start {argv[0]}: {exc}", False, bool(prefix), warnings)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, 9)
            out, _ = proc.communicate()
    text = out.decode("utf-8", errors="replace")
    code = proc.returncode if not timed_out else -9
    return SandboxResult(code, text, timed_out, bool(prefix), warnings)
