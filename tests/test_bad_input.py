"""Bad input of every kind: one clear line, the right exit code, no traceback, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CliResult, can_mount_tmpfs, run_cli, write_script
from scripted_project import REQUIREMENT, answers, code

from softco.company.workspace import Workspace, WorkspaceError


def one_line_error(res: CliResult, code_: int, *needles: str) -> None:
    assert res.exit_code == code_, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stderr.startswith("softco: error: ") and res.stderr.count("\n") <= 2, res.stderr
    for n in needles:
        assert n in res.stderr, res.stderr


def test_requirement_over_the_limit(tmp_path: Path) -> None:
    one_line_error(run_cli(["new", "x" * 20_001, "--output", "out"], tmp_path), 2, "limit is 20000")
    assert not (tmp_path / "out").exists()


def test_requirement_from_a_file_and_stdin(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    (tmp_path / "req.txt").write_text(REQUIREMENT + "\n")
    res = run_cli(["new", "--from-file", "req.txt", "--llm", f"script:{script}", "--output", "out"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    res = run_cli(
        ["new", "--from-file", "-", "--llm", f"script:{script}", "--output", "out2"], tmp_path, stdin=REQUIREMENT
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert len(list((tmp_path / "out2").glob("*/docs/requirement.md"))) == 1


def test_a_one_megabyte_requirement_file(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("a" * 1_000_001)
    one_line_error(run_cli(["new", "--from-file", "big.txt", "--output", "out"], tmp_path), 2, "over 1000000 bytes")


def test_a_non_utf8_requirement_file(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("une application caf\xe9".encode("latin-1"))
    one_line_error(run_cli(["new", "--from-file", "latin1.txt", "--output", "out"], tmp_path), 2, "not UTF-8")


def test_both_argument_and_file_or_neither(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("x")
    one_line_error(run_cli(["new", "x", "--from-file", "req.txt"], tmp_path), 2, "not both or neither")
    one_line_error(run_cli(["new"], tmp_path), 2, "not both or neither")


def test_a_missing_requirement_file(tmp_path: Path) -> None:
    one_line_error(run_cli(["new", "--from-file", "nope.txt"], tmp_path), 2, "nope.txt: cannot read it")


def run_with_ops_answer(tmp_path: Path, answer: dict[str, object]) -> CliResult:
    """A run whose engineer answers ``answer`` for calc/ops.py every time it is asked (3 times)."""
    script = answers()
    script["engineer/write_code/calc/ops.py"] = [answer, answer, answer]
    path = write_script(tmp_path / "a.json", script)
    return run_cli(["new", REQUIREMENT, "--name", "p", "--llm", f"script:{path}", "--output", "out"], tmp_path)


@pytest.mark.parametrize(
    "path", ["/tmp/evil.py", "../evil.py", "calc/../../evil.py", ".git/hooks/pre-commit", ".softco/board.sqlite"]
)
def test_a_path_traversal_answer_writes_nothing(tmp_path: Path, path: str) -> None:
    outside = Path("/tmp/evil.py")
    existed = outside.exists()
    before = set(tmp_path.rglob("*"))
    res = run_with_ops_answer(tmp_path, code(path, "import os\nos.system('echo pwned')\n", ["REQ-1"]))
    one_line_error(res, 1, "engineer/write_code/calc/ops.py", "not a safe relative file path")
    assert outside.exists() == existed
    new_files = set(tmp_path.rglob("*")) - before
    assert not [p for p in new_files if p.name in ("evil.py", "pre-commit")]
    assert not (tmp_path / "out" / "p" / "calc" / "ops.py").exists()


def test_an_oversized_generated_file_is_re_asked_then_refused(tmp_path: Path) -> None:
    res = run_with_ops_answer(tmp_path, code("calc/ops.py", "x = 1\n" * 50_000, ["REQ-1"]))
    one_line_error(res, 1, "at most 200000 characters")
    assert not (tmp_path / "out" / "p" / "calc" / "ops.py").exists()


def test_writing_through_a_symlink_is_refused(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "proj")
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws.root / "calc").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WorkspaceError, match="symlink"):
        ws.write({"calc/ops.py": "x = 1\n"})
    assert list(outside.iterdir()) == []


def test_an_unwritable_output_dir(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory")
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--llm", f"script:{script}", "--output", "afile/sub"], tmp_path)
    one_line_error(res, 2, "cannot create the project under")
    assert (tmp_path / "afile").read_text() == "not a directory"


@pytest.mark.e2e
@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs an unprivileged mount namespace to make a small tmpfs")
def test_a_full_disk_stops_cleanly(tmp_path: Path) -> None:
    """A real full disk: the output dir is a 200 KiB tmpfs in a private mount namespace."""
    script = write_script(tmp_path / "a.json", answers())
    (tmp_path / "out").mkdir()
    inner = (
        f"mount -t tmpfs -o size=200k tmpfs {tmp_path / 'out'} && "
        f"dd if=/dev/zero of={tmp_path / 'out' / 'filler'} bs=1k count=170 2>/dev/null; "
        f"exec {sys.executable} -m softco.cli new '{REQUIREMENT}' --llm script:{script} --output {tmp_path / 'out'}"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", inner],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    res = CliResult(proc.returncode, proc.stdout, proc.stderr)
    assert res.exit_code in (1, 2), res.stdout + res.stderr
    assert "Traceback" not in res.stderr and res.stderr.startswith("softco: error: ")
    assert "No space left on device" in res.stderr or "disk is full" in res.stderr or "full" in res.stderr
