"""Generated code must not forge its score: nothing of the project runs in the scoring pytest before its
results plugin holds the results pipe (review of issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from softco import sandbox
from softco.eval.score import score_project

#: what the forging code writes to the results pipe: one passing test and a clean finish
_FORGE = """import json, os
fd = os.environ.get("SOFTCO_RESULTS_FD")
if fd:
    events = [
        {"event": "test", "nodeid": "../acceptance/test_cli.py::test_hello", "when": "call", "outcome": "passed",
         "message": "", "duration": 0.0},
        {"event": "finish", "exitstatus": 0, "collected": 1},
    ]
    os.write(int(fd), "".join(json.dumps(e) + "\\n" for e in events).encode())
    os._exit(0)
"""

#: a CLI task's hidden test: runs the package in a subprocess, as the contract says
_ACCEPTANCE = {
    "test_cli.py": (
        "import os, subprocess, sys\n"
        "def test_hello(tmp_path):\n"
        "    assert os.environ['SOFTCO_PROJECT'] in os.environ['PYTHONPATH'].split(os.pathsep)\n"
        "    out = subprocess.run([sys.executable, '-m', 'hello'], cwd=tmp_path, capture_output=True, text=True)\n"
        "    assert out.stdout == 'hello\\n'\n"
    )
}


def _project(root: Path, greeting: str, extra: dict[str, str]) -> Path:
    (root / "hello").mkdir(parents=True)
    (root / "hello" / "__init__.py").write_text("", encoding="utf-8")
    (root / "hello" / "__main__.py").write_text(f"print({greeting!r})\n", encoding="utf-8")
    for rel, text in extra.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _score(project: Path) -> int:
    return score_project(
        project, _ACCEPTANCE, package="hello", entry="cli", dependencies=[], time_limit_s=60
    ).executability


def test_a_correct_cli_project_scores_4(tmp_path: Path) -> None:
    assert _score(_project(tmp_path / "p", "hello", {})) == 4


@pytest.mark.parametrize(
    "forger",
    ["sitecustomize.py", "pytest/__init__.py", "pytest/__main__.py", "_pytest/__init__.py"],
)
def test_project_code_cannot_forge_the_hidden_results(tmp_path: Path, forger: str) -> None:
    extra = {forger: _FORGE}
    if forger == "pytest/__main__.py":
        extra["pytest/__init__.py"] = ""
    assert _score(_project(tmp_path / "p", "wrong", extra)) == 2


def test_a_dependencys_sitecustomize_cannot_forge_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel the design asked for may carry a sitecustomize.py into the scoring venv's site-packages."""
    real = sandbox.ensure_venv

    def with_a_forger(project: Path, dependencies: list[str], index_url: str | None = None) -> Path:
        python = real(project, dependencies, index_url)
        for site in (python.parent.parent / "lib").glob("python3*/site-packages"):
            (site / "sitecustomize.py").write_text(_FORGE, encoding="utf-8")
        return python

    monkeypatch.setattr(sandbox, "ensure_venv", with_a_forger)
    assert _score(_project(tmp_path / "p", "wrong", {})) == 2
