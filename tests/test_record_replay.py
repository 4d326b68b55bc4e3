"""Recording a run and replaying it: same artifacts, same files, same commits; clear failures."""

from __future__ import annotations

from pathlib import Path

from fake_server import FakeOpenAIServer
from helpers import board_artifacts, commits, repo_files, run_cli, write_script
from scripted_project import REQUIREMENT, answers

from softco.defaults import TEMPLATES_DIR
from softco.llm.replay import load_recording


def test_record_then_replay_gives_the_same_project(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    rec = tmp_path / "session.jsonl"
    first = run_cli(
        ["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}", "--record", str(rec)],
        tmp_path,
    )
    assert first.exit_code == 0, first.stdout + first.stderr
    header, exchanges = load_recording(rec)
    assert header.sop_hash and header.softco_version and header.requirement == REQUIREMENT
    assert "script" in header.produced_by
    assert len(exchanges) == 6  # prd, design, 2 code, 1 tests, 1 fix (the tasks follow from the design)

    second = run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"replay:{rec}"], tmp_path)
    assert second.exit_code == 0, second.stdout + second.stderr
    assert "warning" not in second.stdout
    a, b = tmp_path / "out" / "p", tmp_path / "out" / "p-2"
    assert board_artifacts(a) == board_artifacts(b)
    assert repo_files(a) == repo_files(b)
    ca, cb = commits(a), commits(b)
    assert [(c.author, c.email, c.subject, c.files) for c in ca] == [
        (c.author, c.email, c.subject, c.files) for c in cb
    ]


def record(tmp_path: Path) -> Path:
    """A scripted run recorded to session.jsonl."""
    script = write_script(tmp_path / "a.json", answers())
    rec = tmp_path / "session.jsonl"
    res = run_cli(["new", REQUIREMENT, "--output", "out", "--llm", f"script:{script}", "--record", str(rec)], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    return rec


def test_replay_with_a_missing_step_names_it(tmp_path: Path) -> None:
    rec = record(tmp_path)
    lines = rec.read_text().splitlines()
    kept = [line for line in lines if '"step_key":"architect/write_design/project"' not in line]
    assert len(kept) == len(lines) - 1
    rec.write_text("\n".join(kept) + "\n")
    res = run_cli(["new", REQUIREMENT, "--output", "out", "--llm", f"replay:{rec}"], tmp_path)
    assert res.exit_code == 2
    assert "architect/write_design/project" in res.stderr and "Traceback" not in res.stderr


def test_replay_after_a_template_change_warns_and_completes(tmp_path: Path) -> None:
    rec = record(tmp_path)
    sop = tmp_path / "sop" / "sop_templates"
    sop.mkdir(parents=True)
    original = (TEMPLATES_DIR / "write_design.j2").read_text()
    (sop / "write_design.j2").write_text(original + "\nKeep each purpose under 50 words.\n")
    res = run_cli(
        ["new", REQUIREMENT, "--output", "out", "--sop", str(tmp_path / "sop"), "--llm", f"replay:{rec}"], tmp_path
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    warnings = [line for line in res.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "architect/write_design/project" in warnings[0]


def test_recording_holds_no_api_key_or_auth_header(tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdef-secret"
    rec = tmp_path / "session.jsonl"
    with FakeOpenAIServer(answers()) as srv:
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--record", str(rec)],
            tmp_path,
            env={"OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": secret},
        )
        sent_keys = {r.headers.get("authorization") for r in srv.requests}
    assert res.exit_code == 0, res.stdout + res.stderr
    assert sent_keys == {f"Bearer {secret}"}  # the key was really in use during the run
    text = rec.read_text()
    assert secret not in text
    assert "authorization" not in text.lower() and "bearer" not in text.lower()
