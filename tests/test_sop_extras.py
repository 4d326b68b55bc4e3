"""`softco sop graph --html` writes one offline page; `softco sop init --example NAME` copies an example
SOP, from the source tree and from an installed wheel (the examples are package data)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from html import unescape
from pathlib import Path

import pytest
from helpers import run_cli
from typer.testing import CliRunner

from softco.cli import app
from softco.defaults import EXAMPLES_DIR

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_sop_graph_html_is_one_offline_page(tmp_path: Path) -> None:
    out = tmp_path / "graph.html"
    code, text = cli("sop", "graph", "--html", str(out))
    assert code == 0, text
    html = out.read_text(encoding="utf-8")
    head = unescape(html.split("<script>")[0])
    assert "default-src 'none'" in head and "script-src 'sha256-" in head
    assert "https://" not in head and "http://" not in head  # no stylesheet, font or script from elsewhere
    assert html.count("<script>") == 2  # mermaid (bundled) and the drawing script
    assert "flowchart LR" in html and "Alice · Product Manager" in html
    assert "<br/>" not in html.split('<pre class="mermaid-src">')[1].split("</pre>")[0]


def test_sop_graph_html_escapes_the_sop(tmp_path: Path) -> None:
    sop = tmp_path / "sop"
    code, text = cli("sop", "init", str(sop))
    assert code == 0, text
    role = sop / "roles" / "architect.yaml"
    role.write_text(role.read_text().replace("name: Bob", "name: Bob</pre><script>alert(1)</script>", 1))
    out = tmp_path / "graph.html"
    code, text = cli("sop", "graph", str(sop), "--html", str(out))
    assert code == 0, text
    html = out.read_text(encoding="utf-8")
    assert "alert(1)" in html and "<script>alert(1)" not in html and html.count("<script>") == 2


def test_sop_graph_html_unwritable_is_a_one_line_error(tmp_path: Path) -> None:
    res = run_cli(["sop", "graph", "--html", str(tmp_path / "no" / "such" / "g.html")], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "cannot write" in res.stderr and "--html" in res.stderr


def test_sop_init_example_copies_it(tmp_path: Path) -> None:
    code, text = cli("sop", "init", str(tmp_path / "sec"), "--example", "security_review")
    assert code == 0, text
    copied = sorted(str(p.relative_to(tmp_path / "sec")) for p in (tmp_path / "sec").rglob("*") if p.is_file())
    source = EXAMPLES_DIR / "security_review"
    assert copied == sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())
    code, text = cli("sop", "validate", str(tmp_path / "sec"))
    assert code == 0, text


def test_sop_init_unknown_example_names_the_examples(tmp_path: Path) -> None:
    res = run_cli(["sop", "init", "x", "--example", "nope"], tmp_path)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "security_review, tech_writer" in res.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.e2e
def test_examples_ship_in_the_wheel(tmp_path: Path) -> None:
    """Lay the package out as pyproject's wheel target does (its force-include table), then run
    `sop init --example` from there, outside the source tree."""
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    site = tmp_path / "site"
    for package in wheel["packages"]:
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    for source, target in wheel.get("force-include", {}).items():
        shutil.copytree(ROOT / source, site / target)
    probe = "import softco.sop.init as s; print(s.examples_dir()); import softco.cli as c; c.main()"
    res = subprocess.run(
        [sys.executable, "-c", probe, "sop", "init", "mine", "--example", "tech_writer"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines()[0] == str(site / "softco" / "defaults" / "examples")
    assert (tmp_path / "mine" / "roles" / "technical_writer.yaml").is_file()
