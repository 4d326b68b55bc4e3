"""Bad numbers and bad bytes at the edge: one line on stderr, exit 2, no traceback, nothing created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CliResult, run_cli, write_script
from scripted_project import REQUIREMENT, answers

LOCAL = ["--base-url", "http://127.0.0.1:9/v1"]  # never reached: the input is refused first


def refused(res: CliResult, *needles: str) -> None:
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stderr.startswith("softco: error: ") and res.stderr.count("\n") == 1, res.stderr
    for n in needles:
        assert n in res.stderr, res.stderr


@pytest.mark.parametrize(
    "flag",
    [
        ["--budget", "-1"],
        ["--budget", "0"],
        ["--budget", "nan"],
        ["--budget", "inf"],
        ["--token-budget", "-5"],
        ["--token-budget", "0"],
    ],
)
def test_a_budget_that_is_not_a_positive_number_is_refused_before_anything_is_created(
    tmp_path: Path, flag: list[str]
) -> None:
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--output", "out", "--llm", f"script:{script}", *flag], tmp_path)
    refused(res, flag[0], "positive")
    assert not (tmp_path / "out").exists()


def test_resume_refuses_a_bad_budget_before_touching_the_project(tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.json", answers())
    assert (
        run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}"], tmp_path).exit_code
        == 0
    )
    board = tmp_path / "out" / "p" / ".softco" / "board.sqlite"
    before = board.read_bytes()
    refused(run_cli(["resume", "out/p", "--budget", "nan"], tmp_path), "--budget nan")
    refused(run_cli(["resume", "out/p", "--token-budget", "-5"], tmp_path), "--token-budget -5")
    assert board.read_bytes() == before


@pytest.mark.parametrize("value", ["ten", "nan", "-1", "0"])
def test_softco_timeout_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    res = run_cli(["new", REQUIREMENT, "--output", "out", *LOCAL], tmp_path, env={"SOFTCO_TIMEOUT": value})
    refused(res, "SOFTCO_TIMEOUT", "positive number")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "prices",
    ['{"scripted": [NaN, 0.6]}', '{"scripted": [-5, 0.6]}', '{"scripted": [0.15, Infinity]}', '{"m": "x"}'],
)
def test_softco_prices_must_be_finite_and_not_negative(tmp_path: Path, prices: str) -> None:
    """A NaN price used to disable --budget silently; a negative one printed costs like $-5.97."""
    (tmp_path / "prices.json").write_text(prices)
    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(
        ["new", REQUIREMENT, "--output", "out", "--llm", f"script:{script}", "--budget", "1"],
        tmp_path,
        env={"SOFTCO_PRICES": str(tmp_path / "prices.json")},
    )
    refused(res, "SOFTCO_PRICES")
    assert not (tmp_path / "out").exists()


@pytest.mark.e2e
def test_a_non_utf8_argument_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "softco.cli", "new", b"une application caf\xe9", "--output", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    refused(CliResult(proc.returncode, proc.stdout, proc.stderr), "argument 2", "not UTF-8")
    assert not (tmp_path / "out").exists()


def test_a_damaged_board_is_one_line_with_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "p" / ".softco").mkdir(parents=True)
    (tmp_path / "out" / "p" / ".softco" / "board.sqlite").write_text("not a database, not empty either")
    res = run_cli(["resume", "out/p"], tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    assert res.stderr.startswith("softco: error: the board "), res.stderr
    assert "is damaged" in res.stderr and "softco new" in res.stderr, res.stderr


@pytest.mark.parametrize(
    "content",
    ['{"m": [' + "9" * 400 + ", 1]}", "[" * 100_000 + "]" * 100_000],
    ids=["a 400-digit price", "nested 100,000 deep"],
)
def test_a_price_file_that_overflows_is_one_line(tmp_path: Path, content: str) -> None:
    (tmp_path / "prices.json").write_text(content)
    env = {"SOFTCO_PRICES": "prices.json"}
    res = run_cli(["new", "x", "--llm", "script:none.json", "--output", "out"], tmp_path, env)
    assert res.exit_code == 2 and res.stderr.startswith("softco: error: SOFTCO_PRICES=prices.json"), res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "out").exists()


def test_a_damaged_lock_file_still_names_its_holder() -> None:
    from softco.company.lock import Holder

    for when in (1e300, float("nan")):
        assert "since ?" in Holder(pid=1, host="h", started_at=when, command="softco").describe()
