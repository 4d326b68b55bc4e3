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
    print("SEEN trio", type(sys.modules.get("trio")).__name__, "-", file=sys.stderr)
"""


def run_probe(probe: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``probe`` (a script that ends by running softco's CLI) with softco's arguments, no endpoint of the caller's."""
    full = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=300
    )


def refused_new(probe: str, tmp_path: Path, latency: float = 0.0) -> subprocess.CompletedProcess[str]:
    """`softco new` under ``probe`` against an endpoint that refuses every answer (after ``latency``): the run
    stops early, with an error."""
    with FakeOpenAIServer(lambda req: "not json", latency=latency) as srv:
        args = ["new", REQUIREMENT, "--output", "out", "--base-url", srv.base_url, "--concurrency", "1"]
        return run_probe(probe, args, tmp_path, {"TMPDIR": str(tmp_path)})


def softco(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, dict[str, list[str]], str]:
    proc = run_probe(PROBE, args, cwd, env)
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


#: Notes, in order: the openai import (with whether the cyclic collector was on), the first connection to
#: the model server, and the start of the prices' warm-up (softco.llm.prices.warm_up); at the end, whether
#: the collector is on.
ORDER_PROBE = """
import gc, os, runpy, sys
events = []

def watch(event, args):
    if event == "import" and args[0] == "openai" and not any(e[0] == "openai" for e in events):
        events.append(("openai", gc.isenabled()))
    elif event == "socket.connect" and not any(e[0] == "connect" for e in events):
        events.append(("connect", None))
        # what the first model call does not need is not imported before it
        events.append(("imported", ",".join(m for m in NOT_YET if m in sys.modules) or "-"))

NOT_YET = ("softco.change.mode", "softco.change.summary", "packaging.requirements")
sys.addaudithook(watch)
import softco.llm.prices as prices
real = prices.warm_up

def warm_up():
    if not any(e[0] == "prices" for e in events):
        events.append(("prices", None))
    return real()

prices.warm_up = warm_up
sys.argv = ["softco", *sys.argv[1:]]
try:
    runpy.run_module("softco.cli", run_name="__main__", alter_sys=True)
finally:
    events.append(("end", gc.isenabled()))
    for what, on in events:
        print("EVENT", what, on, file=sys.stderr)
"""


def test_the_collector_rests_through_the_openai_import_and_prices_load_once_the_request_is_out(
    tmp_path: Path,
) -> None:
    """The openai import builds objects that live until exit: the cyclic collector stays paused through it
    (and is on again after); genai-prices' data loads once the first request is on its way, not before."""
    proc = refused_new(ORDER_PROBE, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "softco: error:" in output, output
    events = [line.split()[1:] for line in proc.stderr.splitlines() if line.startswith("EVENT ")]
    names = [what for what, _ in events]
    assert ["openai", "False"] in events, events  # the collector was paused while openai was imported
    assert events[-1] == ["end", "True"], events  # ... and is on again
    assert names.index("openai") < names.index("connect") < names.index("prices"), events
    assert ["imported", "-"] in events, events  # no change machinery, no requirement parser before the call


def test_softcos_own_process_leaves_trio_out_even_where_it_is_installed(tmp_path: Path) -> None:
    """httpcore2 (the openai client's transport) imports trio whenever it is installed (~70 ms); softco's runs
    are asyncio's, so its own process says trio is not there. A process that only calls softco (in-process)
    keeps its trio."""
    import importlib.util

    from helpers import run_cli

    assert importlib.util.find_spec("trio") is not None  # installed here (selenium's), as in CI
    with FakeOpenAIServer(lambda req: "not json") as srv:
        code, seen, output = softco(
            ["new", REQUIREMENT, "--output", "out", "--base-url", srv.base_url, "--concurrency", "1"],
            tmp_path,
            {"TMPDIR": str(tmp_path)},
        )
        assert code == 1 and "softco: error:" in output, output
        assert seen["trio"][0] == "NoneType", seen  # not imported: Python's "no such module" marker
        res = run_cli(["new", REQUIREMENT, "--output", "out2", "--base-url", srv.base_url], tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    import trio  # noqa: F401  # still importable in a process that called softco in-process


#: Notes the thread that compiles each SOP template and the one that imports the dependency parser, and when
#: the first request left (its body sent).
WARM_PROBE = """
import runpy, sys, threading
seen = []

def watch(event, args):
    if event == "compile" and str(args[1]).endswith(".j2"):
        seen.append(("compile", str(args[1]).rsplit("/", 1)[-1], threading.current_thread().name))
    elif event == "import" and args[0] == "packaging.requirements":
        seen.append(("import", args[0], threading.current_thread().name))

sys.addaudithook(watch)
import softco.llm.openai as client
real = client._on_http_event

async def on_http_event(event, info):
    if event == "http11.send_request_body.complete" and not any(s[0] == "sent" for s in seen):
        seen.append(("sent", "-", threading.current_thread().name))
    await real(event, info)

client._on_http_event = on_http_event
sys.argv = ["softco", *sys.argv[1:]]
try:
    runpy.run_module("softco.cli", run_name="__main__", alter_sys=True)
finally:
    for what, name, thread in seen:
        print("SEEN", what, name, thread, file=sys.stderr)
"""


def test_what_the_later_steps_need_first_is_made_ready_while_the_first_answer_is_awaited(tmp_path: Path) -> None:
    """The templates of the steps after the first are compiled, and the parser of a design's dependencies
    imported, in the background once the first request is out (softco.warmup), not between two steps."""
    proc = refused_new(WARM_PROBE, tmp_path, latency=1.0)  # each answer refused after a second
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "softco: error:" in output, output
    seen = [line.split()[1:] for line in proc.stderr.splitlines() if line.startswith("SEEN ")]
    sent = seen.index(["sent", "-", "MainThread"])
    later = {name: thread for what, name, thread in seen[sent:]}
    assert later.get("write_design.j2") == "softco-warm-up", seen
    assert later.get("write_code.j2") == "softco-warm-up", seen
    assert later.get("packaging.requirements") == "softco-warm-up", seen


LAZY_PROBE = """
import sys
from softco.llm.providers import make_llm
from softco.llm.openai import EndpointNotConfigured
llm = make_llm(None, "gpt-4o-mini", "http://127.0.0.1:9/v1")
print("made", "openai" in sys.modules, llm.caches())
try:
    make_llm(None, "gpt-4o-mini", "https://api.example.com/v1")
except EndpointNotConfigured as exc:
    print("refused", "openai" in sys.modules, str(exc)[:40])
print("id", llm.cache_id_for("pm/write_prd/project"), "openai" in sys.modules)
"""


def test_the_client_is_made_when_first_needed_and_the_endpoint_checked_at_once(tmp_path: Path) -> None:
    """A run makes its project while the openai import finishes in the background (softco.company.startup): the
    provider checks the endpoint when it is made, and makes the client (which needs openai) only when a call or
    the step cache's key asks for it."""
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "SOFTCO_BASE_URL"}}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no softco.toml of the user's
    proc = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    lines = proc.stdout.splitlines()
    assert lines[0] == "made False True", proc.stdout + proc.stderr
    assert lines[1].startswith("refused False no LLM endpoint configured"), proc.stdout + proc.stderr
    assert lines[2] == "id openai|http://127.0.0.1:9/v1/|gpt-4o-mini True", proc.stdout + proc.stderr
