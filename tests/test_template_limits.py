"""SOP templates are code from a shared file: what they may build is bounded, and a template that
tries more is a `file:line: message` problem in `softco sop validate` and a one-line error in a run,
found before anything big is allocated."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from helpers import CliResult, run_cli, write_script
from scripted_project import answers

from softco.sop import template_limits
from softco.sop.prompts import TemplateError, make_env, render

#: The address space a CLI run gets in these tests: a template that really built its gigabyte
#: would fail here with a MemoryError instead of taking the machine's memory.
CLI_MEMORY = 1 << 30


def run_capped(args: list[str], cwd: Path) -> CliResult:
    """`softco ARGS` in a subprocess whose address space is capped at CLI_MEMORY."""
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    env.update(COLUMNS="200", MALLOC_ARENA_MAX="2")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CLI_MEMORY, CLI_MEMORY))

    proc = subprocess.run(
        [sys.executable, "-m", "softco.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def insert_line(path: Path, line_no: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(line_no - 1, text + "\n")
    path.write_text("".join(lines))


@pytest.fixture
def hostile_sop(tmp_path: Path) -> Path:
    """`softco sop init`, then a huge range in write_prd.j2 (line 4) and a huge string in write_design.j2 (line 3)."""
    res = run_cli(["sop", "init", "mysop"], tmp_path)
    assert res.exit_code == 0, res.stderr
    sop = tmp_path / "mysop"
    insert_line(sop / "sop_templates" / "write_prd.j2", 4, "{% for i in range(10**8) %}.{% endfor %}")
    insert_line(sop / "sop_templates" / "write_design.j2", 3, "{{ 'a' * 999999999 }}")
    return sop


@pytest.mark.e2e
def test_sop_validate_reports_each_limit_with_file_and_line(hostile_sop: Path) -> None:
    res = run_capped(["sop", "validate", str(hostile_sop)], hostile_sop.parent)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stdout.splitlines() == [
        f"{hostile_sop}/sop_templates/write_prd.j2:4: range() would be 100,000,000 long; templates are limited "
        "to 100,000 (softco.sop.template_limits.MAX_RANGE); a run would stop here",
        f"{hostile_sop}/sop_templates/write_design.j2:3: str * 999999999 would be 999,999,999 long; templates "
        "are limited to 1,000,000 (softco.sop.template_limits.MAX_TEXT); a run would stop here",
    ]
    assert res.stderr == "softco: 2 problem(s) in the SOP; fix them and validate again\n"


@pytest.mark.e2e
def test_new_with_such_a_sop_stops_before_creating_anything(hostile_sop: Path) -> None:
    tmp = hostile_sop.parent
    script = write_script(tmp / "a.json", answers())
    res = run_capped(["new", "calc", "--sop", str(hostile_sop), "--llm", f"script:{script}", "--output", "out"], tmp)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr and "MemoryError" not in res.stderr
    assert res.stderr.startswith(f"softco: error: 2 problem(s) in {hostile_sop}; nothing was run:\n")
    assert f"{hostile_sop}/sop_templates/write_prd.j2:4: range() would be 100,000,000 long" in res.stderr
    assert f"{hostile_sop}/sop_templates/write_design.j2:3: str * 999999999 would be" in res.stderr
    assert not (tmp / "out").exists()


@pytest.mark.e2e
def test_a_limit_only_the_data_reaches_stops_the_run_with_file_and_line(tmp_path: Path) -> None:
    """`requirement * 999999999` needs the requirement: validate cannot run it, the run stops on it."""
    assert run_cli(["sop", "init", "mysop"], tmp_path).exit_code == 0
    sop = tmp_path / "mysop"
    insert_line(sop / "sop_templates" / "write_prd.j2", 4, "{{ requirement * 999999999 }}")
    assert run_cli(["sop", "validate", str(sop)], tmp_path).exit_code == 0
    script = write_script(tmp_path / "a.json", answers())
    res = run_capped(["new", "calc", "--sop", str(sop), "--llm", f"script:{script}", "--output", "out"], tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr and "MemoryError" not in res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(
        f"softco: error: {sop}/sop_templates/write_prd.j2:4: str * 999999999 would be 3,999,999,996 long; "
        "templates are limited to 1,000,000 (softco.sop.template_limits.MAX_TEXT)"
    )


# in-process: each way of building something huge, found before it is built --------------------

HOSTILE = [
    ("{% for i in range(10**8) %}.{% endfor %}", "range() would be 100,000,000 long"),
    ("{{ 'a' * 999999999 }}", "str * 999999999 would be"),
    ("{{ 999999999 * [1] }}", "list * 999999999 would be"),
    ("{{ 7 ** 999999999 }}", "7 ** 999999999 in bits"),
    (
        "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "an integer product in bits",
    ),
    ("{{ 'a'.ljust(999999999) }}", "str.ljust(999999999) would be"),
    ("{{ ('a' * 100000).replace('a', 'a' * 100) }}", "str.replace would be"),
    ("{{ '{:>999999999}'.format(1) }}", "str.format would be"),
    ("{{ '{:{}}'.format(1, 999999999) }}", "nested {} fields"),
    ("{{ '%999999999d' % 1 }}", "a % format would be"),
    ("{{ '%*d' % (999999999, 1) }}", "'*' widths"),
    ("{{ 'a'|center(999999999) }}", "center would be"),
    ("{{ 'a'|indent(999999999, true) }}", "indent would be"),
    ("{{ '%999999999s'|format(1) }}", "format would be"),
    ("{{ [1]|batch(999999999, 0)|list }}", "batch would be"),
    ("{{ range(100)|join('a' * 100000) }}", "join would be"),
    ("{{ ('a' * 1000).join(range(100000)) }}", "str.join would be"),
    ("{{ lipsum(10**6) }}", "lipsum() is limited"),
    (
        "{% set ns = namespace(s='a' * 1000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "a ~ concatenation would be",
    ),
    (
        "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s|replace('a', 'aa') %}{% endfor %}",
        "replace would be",
    ),
    ("{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}", "attribute 'extend' of 'list'"),
    # a list of references to one long string is small, but not once printed (found by a review)
    ("{% set x = 'a' * 999999 %}{% set l = [x] * 1000 %}{{ l|length }}", "list * 1000 would be"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x, x, x] %}{{ l }}", "would write a value"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x, x, x] %}{{ l ~ '' }}", "a ~ concatenation would be"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x, x, x] %}{{ l|tojson }}", "tojson would be"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x, x, x] %}{{ l|string|length }}", "the filter's result would be"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x, x, x] %}{{ '%s' % (l,) }}", "a % format would be"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x, x, x] %}{{ l|pprint }}", "the filter's result would be"),
    ("{% set x = 'a' * 999999 %}{% set l = [x, x] + [x, x] %}{{ 1 }}", "list + list would be"),
    ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
    ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "RecursionError"),
]


@pytest.mark.parametrize(("source", "message"), HOSTILE, ids=[m for _, m in HOSTILE])
def test_a_template_cannot_build_something_huge(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "t.j2").write_text("line one\n\n" + source + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as err:
            render(make_env([tmp_path]), "t.j2", {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(err.value).startswith(f"{tmp_path}/t.j2:3: "), err.value
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert peak < 30_000_000, f"{peak:,} bytes were allocated"


def test_loops_and_output_have_a_budget_per_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each render may loop and write only so much; ordinary templates (namespace, format, join) still work."""
    monkeypatch.setattr(template_limits, "MAX_LOOP_ITERATIONS", 1000)
    monkeypatch.setattr(template_limits, "MAX_OUTPUT", 5000)
    env = make_env([tmp_path])
    (tmp_path / "loops.j2").write_text("{% for i in range(100) %}\n{% for j in range(100) %}{% endfor %}{% endfor %}")
    with pytest.raises(TemplateError, match=r"loops\.j2:2: the template's loops ran over 1,000 times in all"):
        render(env, "loops.j2", {})
    macro = "{% macro m() %}{{ s }}{% endmacro %}\n"
    (tmp_path / "out.j2").write_text(macro + "{% for i in range(20) %}{{ m() }}{% endfor %}")
    with pytest.raises(TemplateError, match=r"out\.j2:\d: the template writes over 5,000 characters"):
        render(env, "out.j2", {"s": "x" * 300})
    deep = "{% for x in [1] recursive %}\n{{ loop(range(100)) if loop.depth < 5 }}{% endfor %}"
    (tmp_path / "deep.j2").write_text(deep)
    with pytest.raises(TemplateError, match=r"deep\.j2:\d: the template's loops ran over 1,000 times in all"):
        render(env, "deep.j2", {})  # a recursive loop's inner loops count too
    (tmp_path / "ok.j2").write_text("{% for i in range(30) %}{% for j in range(30) %}{{ s }}{% endfor %}{% endfor %}")
    assert render(env, "ok.j2", {"s": "x"}) == "x" * 900  # the budget is per render: each render gets it afresh
    assert render(env, "ok.j2", {"s": "y"}) == "y" * 900
    (tmp_path / "t.j2").write_text(
        "{% set ns = namespace(n=0, s='') %}{% for f in files %}{% set ns.n = ns.n + f.size %}"
        "{% set ns.s = ns.s ~ f.path ~ ';' %}{% endfor %}{{ ns.n }} {{ ns.s }}"
        " {{ files|map(attribute='path')|join(', ') }}"
        " {{ '%s=%d' % ('a', 3) }} {{ '{}!'.format('hi') }} {{ 'x' * 3 }} {{ [1] + [2] }} {{ 2 ** 10 }}"
        " {{ 'ab'|center(6) }}|{{ 'a\nb'|indent(2) }} {{ loop_over|batch(2)|list }} {{ lipsum(1, false)|length > 0 }}"
    )
    files = [{"path": "a.py", "size": 2}, {"path": "b.py", "size": 3}]
    out = render(env, "t.j2", {"files": files, "loop_over": [1, 2, 3]})
    assert out == "5 a.py;b.py; a.py, b.py a=3 hi! xxx [1, 2] 1024   ab  |a\n  b [[1, 2], [3]] True"


def test_a_render_has_a_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loops within the iteration budget whose every turn costs (a scan of a long string): the render
    stops at the time limit instead of taking minutes (found by a review: 35 s per render)."""
    monkeypatch.setattr(template_limits, "MAX_RENDER_SECONDS", 0.5)
    (tmp_path / "slow.j2").write_text(
        "{% set x = 'a' * 999999 %}\n{% for i in range(100000) %}{% if x.count('b') %}{% endif %}{% endfor %}"
    )
    with pytest.raises(TemplateError, match=r"slow\.j2:2: the template took over 0 s to render"):
        render(make_env([tmp_path]), "slow.j2", {})
