"""Start-up work overlaps (softco/company/startup.py): the sandbox is probed and the openai client imported in
background threads while the main thread imports the run machinery and checks the input. What is checked
here is who does the work, never how long it takes (benchmarks/startup.py times it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fake_server import FakeOpenAIServer
from helpers import write_script

REQUIREMENT = "a command-line todo app"

#: Runs softco in this process and prints, for the first sandbox subprocess and the openai import, the
#: thread that did it and whether the run machinery (softco.company.scheduler) was imported by then.
PROBE = """
import os, runpy, sys, threading
seen = {}

def watch(event, args):
    if event == "subprocess.Popen" and "sandbox" not in seen:
        if os.path.basename(str(args[0])) in ("bwrap", "unshare"):
            seen["sandbox"] = (threading.current_thread().name, "softco.company.scheduler" in sys.modules)
    elif event == "import" and args[0] == "openai" and "openai" not in seen:
        seen["openai"] = (threading.current_thread().name, "softco.company.scheduler" in sys.modules)

sys.addaudithook(watch)
sys.argv = ["softco", *sys.argv[1:]]
try:
    runpy.run_module("softco.cli", run_name="__main__", alter_sys=True)
finally:
    for what, (thread, run_imported) in sorted(seen.items()):
        print("SEEN", what, thread, run_imported, file=sys.stderr)
"""


def softco(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, dict[str, list[str]], str]:
    full = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=300
    )
    seen = {line.split()[1]: line.split()[2:] for line in proc.stderr.splitlines() if line.startswith("SEEN ")}
    return proc.returncode, seen, proc.stdout + proc.stderr


def test_the_sandbox_is_probed_beside_the_imports_and_openai_imported_beside_the_project_creation(
    tmp_path: Path,
) -> None:
    env = {"TMPDIR": str(tmp_path)}
    with FakeOpenAIServer(lambda req: "not json") as srv:  # every answer is refused: the run stops early
        code, seen, output = softco(
            ["new", REQUIREMENT, "--output", "out", "--base-url", srv.base_url, "--concurrency", "1"], tmp_path, env
        )
    assert code == 1 and "softco: error:" in output, output
    if "sandbox" in seen:  # a machine with bwrap or unshare (CI's has both)
        assert seen["sandbox"] == ["softco-sandbox-probe", "False"], seen
    assert seen["openai"] == ["softco-openai-import", "True"], seen  # after the run machinery, not beside it
    assert not list(tmp_path.glob("softco-probe-*"))  # the probe cleaned up after itself


def test_a_run_that_calls_no_model_does_not_import_openai(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", {})
    code, seen, output = softco(["new", REQUIREMENT, "--output", "out", "--llm", f"script:{script}"], tmp_path, {})
    assert code != 0 and "openai" not in seen, output  # the script is empty: the run stops at its first step
    code, seen, output = softco(["new", REQUIREMENT, "--output", "out", "--dry-run"], tmp_path, {})
    assert code == 0 and "openai" not in seen, output

