"""Shared test helpers: run the CLI (in-process, or as a real subprocess for the end-to-end tests), read a
generated repo."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

import softco.cli


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def _cli_env(env: dict[str, str] | None) -> dict[str, str]:
    full_env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    full_env.update(env or {})
    full_env["COLUMNS"] = (env or {}).get("COLUMNS", "200")  # wide unless a test asks for a narrow terminal
    return full_env


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> CliResult:
    """Run `softco ARGS` in this process, as a user would see it: `softco.cli.run` (what the `softco` command
    runs, less the process's exit) with its own environment, working directory, stdin (``stdin``, not a
    terminal) and stdout/stderr (UTF-8 bytes, decoded as a subprocess's would be); all restored after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", newline="\n", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", newline="\n", write_through=True)
    stdin_stream = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
    cli_env = _cli_env(env)  # made before the environment is cleared: it is the caller's, less the key
    os.environ.clear()
    os.environ.update(cli_env)
    os.chdir(cwd)
    sys.stdin, sys.stdout, sys.stderr = stdin_stream, stdout, stderr
    try:
        try:
            code = softco.cli.run([str(a) for a in args], prog_name="softco")
        except SystemExit as exc:  # nothing in softco should exit, but a user would see the code
            code = exc.code if isinstance(exc.code, int) else 1
        stdout.flush()
        stderr.flush()
        return CliResult(code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8"))
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for stream in (stdin_stream, stdout, stderr):
            stream.close()
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run_cli_process(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run `softco ARGS` in a real subprocess (the way a user does): for the end-to-end tests (marker e2e)."""
    proc = subprocess.run(
        [sys.executable, "-m", "softco.cli", *args],
        cwd=cwd,
        env=_cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write_script(path: Path, answers: dict[str, object]) -> Path:
    path.write_text(json.dumps(answers))
    return path


@dataclass
class CommitInfo:
    author: str
    email: str
    subject: str
    trailers: dict[str, str]
    files: list[str]


def commits(repo_dir: Path) -> list[CommitInfo]:
    out = []
    with git.Repo(repo_dir) as repo:
        for c in reversed(list(repo.iter_commits())):
            lines = str(c.message).strip().splitlines()
            trailers = dict(line.split(": ", 1) for line in lines if line.startswith("Softco-"))
            out.append(CommitInfo(str(c.author.name), str(c.author.email), lines[0], trailers, sorted(c.stats.files)))
    return out


def only_project(output: Path) -> Path:
    dirs = [p for p in output.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(dirs) == 1, dirs
    return dirs[0]


def board_artifacts(project: Path) -> list[tuple[str, str, dict[str, Any]]]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    rows = db.execute("SELECT kind, sender_role, payload_json FROM messages ORDER BY id").fetchall()
    db.close()
    out = []
    for kind, sender, payload in rows:
        data = json.loads(payload)
        if kind == "test_report":  # timings and pytest's own output differ between real runs
            data.pop("output")
            for r in data["results"]:
                r.pop("duration")
        out.append((kind, sender, data))
    return out


def repo_files(project: Path) -> dict[str, str]:
    skip = {"docs/test_report.json"}
    return {
        str(p.relative_to(project)): p.read_text()
        for p in project.rglob("*")
        if p.is_file()
        and ".git" not in p.parts
        and ".softco" not in p.parts
        and str(p.relative_to(project)) not in skip
    }


def can_mount_tmpfs() -> bool:
    """Whether an unprivileged mount namespace can mount a small tmpfs here (the full-disk tests need one)."""
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    script = "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script], capture_output=True)
    return probe.returncode == 0
