"""The generated project's venv and its dependencies: made without starting its python on the host,
dependencies installed by softco's own isolated pip, wheels only, inside the sandbox."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from venv import EnvBuilder

from softco.dependencies import check_dependencies
from softco.sandbox.layout import SandboxError, _host_site_dirs, _Spec, host_python
from softco.sandbox.limits import Limits
from softco.sandbox.runner import SandboxResult, _sandboxed


def _venv_site_packages(venv: Path) -> Path:
    """The venv's site-packages, known without starting its python (which would read its .pth files
    on the host)."""
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def ensure_venv(project: Path, dependencies: list[str], index_url: str | None = None) -> Path:
    """The project's venv under .softco/venv (made once); returns its python.

    It has no pip of its own; softco's own site-packages are visible through a .pth file so pytest
    is there offline. The venv's python is never started on the host. Declared dependencies are
    checked (:mod:`softco.dependencies`) and installed by softco's own pip, isolated and wheels only,
    inside the sandbox (:func:`install`), from ``index_url`` (softco.config's ``pip_index_url``) if given.
    A SandboxError says what failed and what to do.
    """
    venv = project.absolute() / ".softco" / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        # made in this process by the standard library's venv (what `python -m venv --without-pip` runs, at
        # about 2 ms instead of a 40 ms interpreter start): symlinks to this interpreter, no pip, no script run
        try:
            EnvBuilder(symlinks=True, with_pip=False).create(str(venv))
        except OSError as exc:
            raise SandboxError(f"cannot create the project's venv {venv}: {exc}") from None
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
        res = install(venv, wanted_list, index_url=index_url)
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


def install(
    venv: Path, requirements: list[str], *, mechanism: str | None = None, index_url: str | None = None
) -> SandboxResult:
    """``pip install`` checked requirements into ``venv``: softco's own pip, isolated, wheels only, in
    the sandbox with the network on and only the venv writable. No dependency's code runs."""
    reqs = check_dependencies(requirements)
    index = (index_url or "").strip()
    if index and not index.startswith(("https://", "http://", "file:///")):
        raise SandboxError(f"pip index {index!r} is not an http(s):// or file:/// URL; fix SOFTCO_PIP_INDEX_URL")
    argv = [
        host_python(),
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
