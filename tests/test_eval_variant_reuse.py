"""Running an eval again in the same --output continues it; a variant of the same name made of another SOP
(or model) must not take the earlier variant's finished records as its own."""

from __future__ import annotations

from pathlib import Path

from eval_helpers import invoke, write_task
from helpers import write_script
from scripted_project import answers


def test_a_variant_of_the_same_name_with_another_sop_is_refused(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    write_task(suite, "calc")
    script = write_script(tmp_path / "script.json", answers())
    out = tmp_path / "ev"
    for where in ("a", "b"):  # two copies of the default SOP, both directories named sop
        code, text = invoke("sop", "init", str(tmp_path / where / "sop"))
        assert code == 0, text
    args = ["eval", "--suite", str(suite), "--llm", f"script:{script}", "--output", str(out)]
    code, text = invoke(*args, "--sop", str(tmp_path / "a" / "sop"))
    assert code == 0, text
    code, text = invoke(*args, "--sop", str(tmp_path / "b" / "sop"))
    assert code == 2, text
    assert "give another --output" in text
