"""A run on a disk that fills up while the Architect's design is being written, then its resumes.

Run by tests/test_heal.py inside a private mount namespace (``unshare --user --map-root-user --mount``),
where it mounts a small tmpfs as the output directory, so the disk that fills is real and private:

    python full_disk_run.py WORKDIR LEAVE_BYTES RESULT_JSON

When the design is asked for, the tmpfs is filled up to LEAVE_BYTES of free space, so the disk is full
somewhere between the design's step row, its message, its files, its git objects and its commit. Then:
`softco new` (stops), `softco resume` while still full, and `softco resume` after the filler is deleted.
What each printed and the state of the repo and the board are written to RESULT_JSON.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from fake_server import FakeOpenAIServer, FakeRequest
from scripted_project import REQUIREMENT, answers


def main() -> None:
    work, leave, result = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    out = work / "out"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(out)], check=True)
    filler = out / "filler"
    replies = answers()
    filled: list[bool] = []

    def answer(req: FakeRequest) -> Any:
        step = req.step or ""
        if step.startswith("architect/write_design") and not filled:  # the first time only
            filled.append(True)
            st = os.statvfs(out)
            with filler.open("wb") as f:
                try:
                    f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
                except OSError:
                    pass
        return replies[step]

    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    project = out / "p"
    runs: list[dict[str, Any]] = []
    with FakeOpenAIServer(answer) as srv:
        env["OPENAI_BASE_URL"] = srv.base_url

        def softco(*args: str) -> None:
            proc = subprocess.run(
                [sys.executable, "-m", "softco.cli", *args], env=env, capture_output=True, text=True, timeout=120
            )
            runs.append({"args": list(args), "code": proc.returncode, "stderr": proc.stderr})

        softco("new", REQUIREMENT, "--name", "p", "--output", str(out), "--model", "gpt-4o-mini")
        softco("resume", str(project))
        filler.unlink()
        softco("resume", str(project))
    status = subprocess.run(["git", "-C", str(project), "status", "--porcelain"], capture_output=True, text=True)
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    uncommitted = db.execute("SELECT id, kind FROM messages WHERE commit_sha IS NULL").fetchall()
    kinds = [r[0] for r in db.execute("SELECT kind FROM messages ORDER BY id")]
    db.close()
    git_log = ["git", "-C", str(project), "log", "--format=%x00%s", "--name-only"]
    log = [c.strip().splitlines() for c in subprocess.run(git_log, capture_output=True, text=True).stdout.split("\0")]
    result.write_text(
        json.dumps(
            {
                "runs": runs,
                "status": status.stdout + status.stderr,
                "uncommitted": uncommitted,
                "kinds": kinds,
                "commits": [{"subject": c[0], "files": [f for f in c[1:] if f]} for c in log if c],
            }
        )
    )


if __name__ == "__main__":
    main()
