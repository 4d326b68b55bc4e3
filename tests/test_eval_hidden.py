"""Hidden acceptance tests stay hidden: never in a request to the model (the real openai client against a
local endpoint), never in the generated repo or its board, and not readable by generated code while the
project is made (the sandbox hides the suite's acceptance directories)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_helpers import CALC_ACCEPTANCE, invoke, results, write_task
from fake_server import FakeOpenAIServer
from scripted_project import answers

from softco import sandbox

CANARY = "CANARY-a9c4e0d1-hidden-acceptance"


def peeking_answers(acceptance: Path) -> dict[str, Any]:
    """The calc project, with one more QA test: generated code trying to read the acceptance files."""
    script = copy.deepcopy(answers())
    tests = script["qa_engineer/write_tests/calc/ops.py"]
    tests["content"] += (
        "\n\ndef test_acceptance_is_out_of_reach():\n"
        "    import os\n"
        f"    target = {str(acceptance)!r}\n"
        "    assert not os.path.exists(target) or not os.listdir(target)\n"
    )
    tests["cases"].append({"name": "test_acceptance_is_out_of_reach", "req_ids": ["REQ-1"]})
    return script


@pytest.fixture
def tmp_visible(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary directory the sandbox shows (as a suite outside the hidden homes would be: /tmp stays
    visible, and every user may enter it, for code run as nobody when the tests run as root); no directory
    is hidden yet by an earlier eval in this process."""
    monkeypatch.setattr(sandbox.layout, "HIDDEN", ("/home", "/root", "/run"))
    monkeypatch.setattr(sandbox.layout, "_ALSO_HIDDEN", set())
    root = Path(tempfile.mkdtemp(prefix="softco-eval-test-"))
    root.chmod(0o755)
    # nor hidden as the project's top-level or outermost directory (as /work or /opt/evals would be): /tmp and
    # this directory are shown as /usr and /opt are, so a suite beside the output directory is visible
    monkeypatch.setattr(sandbox.layout, "_SYSTEM_TOPS", {*sandbox.layout._SYSTEM_TOPS, "tmp"})
    monkeypatch.setattr(sandbox.layout, "_SYSTEM", {*sandbox.layout._SYSTEM, Path("/tmp"), root})
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_acceptance_text_never_reaches_the_model_nor_the_repo(tmp_visible: Path) -> None:
    tmp_path = tmp_visible
    suite = tmp_path / "suite"
    task = write_task(suite, "calc", acceptance=f"# {CANARY}\n" + CALC_ACCEPTANCE)
    (task / "acceptance" / "expected.txt").write_text(f"{CANARY}\n")
    out = tmp_path / "ev"
    with FakeOpenAIServer(peeking_answers(task / "acceptance")) as srv:
        code, text = invoke(
            "eval", "--suite", str(suite), "--base-url", srv.base_url, "--model", "m", "--output", str(out)
        )
        requests = list(srv.requests)
        assert not srv.errors, srv.errors
    assert code == 0, text
    (rec,) = results(out).records
    # the project was made, QA's tests (the peeking one included) pass, and the hidden tests ran on it
    assert (rec.status, rec.own_passed, rec.own_total) == ("done", 4, 4), rec
    assert (rec.executability, rec.hidden_passed, rec.hidden_total) == (4, 4, 4), rec
    assert len(requests) == rec.llm_calls >= 5
    bodies = [r.model_dump_json() for r in requests]
    assert all(
        "safe division" in b or r.step.startswith("engineer") or True for b, r in zip(bodies, requests, strict=True)
    )
    assert not [b for b in bodies if CANARY in b]
    assert any("a tiny calculator library with safe division" in b for b in bodies)
    # nothing of it in the project: its files, its board, its git history
    project = out / rec.rel_dir
    leaked = [
        p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts and CANARY.encode() in p.read_bytes()
    ]
    assert not leaked
    history = subprocess.run(
        ["git", "-C", str(project), "log", "-p", "--all"], capture_output=True, text=True, check=True
    ).stdout
    assert "divide" in history and CANARY not in history


def test_generated_code_cannot_read_the_acceptance_files(tmp_visible: Path) -> None:
    """The same peeking test, run by the sandbox directly: it sees the directory, until it is hidden."""
    tmp_path = tmp_visible
    acceptance = tmp_path / "suite" / "calc" / "acceptance"
    acceptance.mkdir(parents=True)
    (acceptance / "test_calc.py").write_text(f"# {CANARY}\n")
    project = tmp_path / "out" / "proj"
    project.mkdir(parents=True)
    peek = ["/bin/sh", "-c", 'cat "$0"/test_calc.py', str(acceptance)]
    mechanism = next(m for m in sandbox.available() if sandbox.PROVIDES[m].filesystem)
    seen = sandbox.run(project, peek, sandbox.Limits(wall_seconds=30), mechanism=mechanism)
    assert CANARY in seen.output  # visible: the test would be void otherwise
    sandbox.hide([acceptance])
    for m in (m for m in sandbox.available() if sandbox.PROVIDES[m].filesystem):
        hidden = sandbox.run(project, peek, sandbox.Limits(wall_seconds=30), mechanism=m)
        assert CANARY not in hidden.output and "No such file" in hidden.output, (m, hidden.output)


def test_acceptance_inside_the_runtime_is_hidden_too(tmp_visible: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A suite shipped inside softco's install (site-packages, which the sandbox shows so python runs) is
    hidden all the same, and the rest of the install stays visible."""
    runtime = tmp_visible / "site-packages"
    acceptance = runtime / "softco" / "eval" / "suites" / "builtin" / "calc" / "acceptance"
    acceptance.mkdir(parents=True)
    (acceptance / "test_calc.py").write_text(f"# {CANARY}\n")
    (runtime / "softco" / "kept.py").write_text("KEPT\n")
    real_runtime = sandbox.layout._runtime_dirs
    monkeypatch.setattr(sandbox.layout, "_runtime_dirs", lambda: (*real_runtime(), runtime))
    project = tmp_visible / "out" / "proj"
    project.mkdir(parents=True)
    peek = ["/bin/sh", "-c", 'cat "$0"/test_calc.py "$1"', str(acceptance), str(runtime / "softco" / "kept.py")]
    sandbox.hide([acceptance])
    for m in (m for m in sandbox.available() if sandbox.PROVIDES[m].filesystem):
        res = sandbox.run(project, peek, sandbox.Limits(wall_seconds=30), mechanism=m)
        assert CANARY not in res.output and "KEPT" in res.output, (m, res.output)
