"""Generated code runs without secrets, without network (where the OS allows), within limits."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from softco import sandbox


def project(tmp_path: Path) -> Path:
    p = tmp_path / "proj"
    (p / ".softco").mkdir(parents=True)
    return p


def run_py(p: Path, code: str, limits: sandbox.Limits | None = None) -> sandbox.SandboxResult:
    python = sandbox.ensure_venv(p, [])
    (p / "probe.py").write_text(code)
    return sandbox.run(p, [str(python), "probe.py"], limits or sandbox.Limits(wall_seconds=30))


def test_secrets_are_not_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-456")
    res = run_py(project(tmp_path), "import os; print(sorted(os.environ.items()))")
    assert res.exit_code == 0, res.output
    assert "sk-test-secret-value-123" not in res.output and "aws-secret-456" not in res.output
    assert "HOME" in res.output


def test_pytest_is_available_offline_in_the_venv(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "import pytest, sys; print(sys.prefix)")
    assert res.exit_code == 0, res.output
    assert ".softco/venv" in res.output


@pytest.mark.skipif(not sandbox.netns_prefix(), reason="no unprivileged network namespaces on this OS")
def test_no_network_to_a_listening_local_socket(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        res = run_py(
            project(tmp_path),
            f"""
import socket
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", {port})); print("CONNECTED")
except OSError as e:
    print("BLOCKED", e)
""",
        )
    finally:
        server.close()
    assert "BLOCKED" in res.output and "CONNECTED" not in res.output
    assert res.network_isolated


def test_wall_time_limit_stops_a_hang(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "import time; time.sleep(60)", sandbox.Limits(wall_seconds=1))
    assert res.timed_out and res.exit_code != 0


def test_memory_limit_stops_a_hog(tmp_path: Path) -> None:
    res = run_py(
        project(tmp_path),
        "x = bytearray(3 * 1024**3); print('DONE' + 'ALLOC')",
        sandbox.Limits(wall_seconds=30, memory_bytes=512 * 1024**2),
    )
    assert res.exit_code != 0 and "DONEALLOC" not in res.output
    assert "MemoryError" in res.output


def test_sandbox_python_is_not_softcos_interpreter(tmp_path: Path) -> None:
    res = run_py(project(tmp_path), "import sys; print(sys.executable)")
    assert res.output.strip() != sys.executable
