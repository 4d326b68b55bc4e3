"""Shared test helpers: run the CLI for real, read a generated repo."""

from __future__ import annotations

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


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run `softco ARGS` in a real subprocess (the way a user does)."""
    full_env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    full_env.update(env or {})
    full_env["COLUMNS"] = (env or {}).get("COLUMNS", "200")  # wide unless a test asks for a narrow terminal
    proc = subprocess.run(
        [sys.executable, "-m", "softco.cli", *args],
        cwd=cwd,
        env=full_env,
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
    repo = git.Repo(repo_dir)
    out = []
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
