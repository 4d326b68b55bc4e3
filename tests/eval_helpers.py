"""Small eval suites written in a test's tmp dir, and the CLI run in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripted_project import REQUIREMENT, answers
from typer.testing import CliRunner

from softco.cli import app
from softco.errors import SoftcoError
from softco.eval.results import EvalResults

CALC_ACCEPTANCE = """import importlib

import pytest

calc = importlib.import_module("calc")


def test_add():
    assert calc.add(2, 3) == 5


def test_divide():
    assert calc.divide(6, 3) == 2


def test_divide_by_zero():
    with pytest.raises(ValueError):
        calc.divide(1, 0)


def test_env_contract():
    import os

    assert os.environ["SOFTCO_PROJECT"] == os.getcwd()
"""


def write_task(
    suite: Path,
    task_id: str,
    acceptance: str = CALC_ACCEPTANCE,
    requirement: str = REQUIREMENT,
    extra: str = 'package = "calc"\n',
) -> Path:
    d = suite / task_id
    (d / "acceptance").mkdir(parents=True)
    (d / "task.toml").write_text(
        f'id = {json.dumps(task_id)}\nrequirement = {json.dumps(requirement)}\ntags = ["library"]\n'
        f"time_limit_s = 60\n{extra}",
        encoding="utf-8",
    )
    (d / "acceptance" / f"test_{task_id.replace('-', '_')}.py").write_text(acceptance, encoding="utf-8")
    return d


def calc_script(path: Path, script: dict[str, Any] | None = None) -> str:
    path.write_text(json.dumps(script if script is not None else answers()))
    return f"script:{path}"


def invoke(*args: str) -> tuple[int, str]:
    """`softco ARGS` in-process; (exit code as softco.cli.main maps it, output)."""
    res = CliRunner().invoke(app, list(args), prog_name="softco", env={"COLUMNS": "200"})
    if isinstance(res.exception, SoftcoError):
        return res.exception.exit_code, res.output + str(res.exception)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


def results(output: Path) -> EvalResults:
    return EvalResults.model_validate_json((output / "eval.json").read_text())
