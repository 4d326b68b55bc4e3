"""softco called in-process (`softco.cli.run`, which tests/helpers.run_cli uses): every call reads its own
environment and streams, and leaves nothing behind in the calling process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import only_project, run_cli
from rich.cells import cell_len
from scripted_project import REQUIREMENT


def widths(out: str) -> list[int]:
    return [cell_len(line) for line in out.splitlines()]


WIDTH_PROBE = """
import os, sys
import softco.cli
for columns in sys.argv[2:]:
    os.environ["COLUMNS"] = columns
    print(f"COLUMNS={columns}", flush=True)
    code = softco.cli.run(["show", sys.argv[1], "board"])
    print(f"EXIT {code}", flush=True)
"""


def test_each_call_reads_the_terminal_width_of_its_own_environment(tmp_path: Path) -> None:
    """The console is made per call from COLUMNS as it is then, not as it was when softco was imported (here
    120): a board table fits 80 columns at COLUMNS=80 and takes more room at COLUMNS=200, in either order."""
    made = run_cli(["new", REQUIREMENT, "--dry-run", "--output", "out"], tmp_path)
    assert made.exit_code == 0, made.stdout + made.stderr
    project = str(only_project(tmp_path / "out"))
    env = {**os.environ, "COLUMNS": "120"}
    args = [sys.executable, "-c", WIDTH_PROBE, project, "80", "200", "80"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = proc.stdout.split("COLUMNS=")[1:]
    assert [c.split("\n", 1)[0] for c in calls] == ["80", "200", "80"], proc.stdout
    for call in calls:
        columns, out = call.split("\n", 1)
        assert "Board: " in out and out.rstrip().endswith("EXIT 0"), out
        if columns == "80":
            assert max(widths(out)) == 80, out  # the table is drawn to the width, not beyond
        else:
            assert 120 < max(widths(out)) <= 200, out


PROBE = """
import gc, os, sys
import softco.cli
os.chdir(sys.argv[1])
args = ["new", "a tiny calculator", "--dry-run", "--output", "out"]
print("RUN", softco.cli.run(args), gc.get_freeze_count(), file=sys.stderr)
sys.argv = ["softco", *args[:-1], "out2"]
try:
    softco.cli.main()
finally:
    print("MAIN", gc.get_freeze_count() > 0, file=sys.stderr)
"""


def test_called_in_process_softco_freezes_none_of_the_callers_objects(tmp_path: Path) -> None:
    """As its own process softco freezes the garbage collector (it is about to exit: a faster exit); called
    in-process it must not, or whatever the caller holds then (open repos, temporary objects) is never
    collected. A fresh interpreter, so that the run machinery is imported by this very call."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith(("RUN ", "MAIN "))]
    assert lines == ["RUN 0 0", "MAIN True"], proc.stderr
    assert proc.returncode == 0, proc.stderr
