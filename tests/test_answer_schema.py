"""The request schema says what the validators check (issue 13.3): a schema-constrained endpoint can
then only write answers softco accepts; fix-only fields stay out of first writes; huge bounds that
grammar compilers choke on are not sent."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeOpenAIServer, FakeRequest
from helpers import only_project, run_cli
from schema_check import schema_errors
from scripted_project import DESIGN, INIT, OPS_BUGGY, OPS_FIXED, PRD, REQUIREMENT, TESTS_ANSWER, code
from test_templates import fixture_view, steps_for

from softco.artifacts import (
    DEPENDENCY_PATTERN,
    KINDS,
    PATH_PATTERN,
    TEST_ID_PATTERN,
    TEST_PATH_PATTERN,
    Code,
    Refs,
    Tests,
    check_relative_path,
)
from softco.dependencies import check_dependency
from softco.llm.strict import strict_compatible
from softco.schemas import MAX_SENT_BOUND, answer_schema
from softco.sop.load import load_sop
from softco.steps.step import build_request


def walk(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``schema`` and every schema in it (properties, items, anyOf, $defs)."""
    subs = [*schema.get("properties", {}).values(), *schema.get("$defs", {}).values(), *schema.get("anyOf", [])]
    if isinstance(schema.get("items"), dict):
        subs.append(schema["items"])
    return [schema, *(n for s in subs for n in walk(s))]


def requests_by_action() -> dict[str, dict[str, Any]]:
    view, sop = fixture_view(), load_sop()
    out = {}
    for step in steps_for(view):
        schema = build_request(sop, view, step).json_schema
        assert schema is not None
        out[step.action.name] = schema
    return out


def test_request_schemas_carry_the_validators_rules() -> None:
    schemas = requests_by_action()
    design = schemas["write_design"]["properties"]
    assert design["package"]["pattern"] == "^[a-z_][a-z0-9_]*$"
    file_props = design["files"]["items"]["properties"]
    assert file_props["path"]["pattern"] == PATH_PATTERN and file_props["path"]["maxLength"] == 200
    assert file_props["req_ids"]["items"]["enum"] == ["REQ-1", "REQ-2"]  # the PRD's ids, from the board
    assert design["dependencies"]["items"]["pattern"] == DEPENDENCY_PATTERN and design["dependencies"]["maxItems"] == 50
    assert design["files"]["minItems"] == 1
    written = schemas["write_code"]["properties"]
    assert written["path"]["enum"] == ["calc/__init__.py", "calc/ops.py"]  # a file of the design
    assert written["req_ids"]["items"]["enum"] == ["REQ-1", "REQ-2"]
    tests = schemas["write_tests"]["properties"]
    assert tests["path"]["pattern"] == TEST_PATH_PATTERN
    assert tests["source"]["enum"] == ["calc/__init__.py", "calc/ops.py"]
    assert tests["cases"]["minItems"] == 1 and tests["cases"]["items"]["properties"]["req_ids"]["minItems"] == 1
    prd = schemas["write_prd"]["properties"]["requirements"]["items"]["properties"]
    assert prd["id"]["pattern"] == "^REQ-[1-9][0-9]*$" and prd["priority"]["enum"] == ["P0", "P1", "P2"]


def test_a_fix_only_field_is_only_in_the_fix_schema() -> None:
    schemas = requests_by_action()
    assert "disputed_tests" not in schemas["write_code"]["properties"]
    assert "disputed_tests" not in schemas["write_code"]["required"]
    fix = schemas["fix_code"]["properties"]["disputed_tests"]
    assert fix["items"]["properties"]["test"]["pattern"] == TEST_ID_PATTERN
    # a first write that still sends one (a model with no schema support) is accepted, as before
    Code.model_validate({**code("calc/ops.py", OPS_FIXED, ["REQ-1"]), "disputed_tests": []})


def test_schemas_fit_strict_mode_and_send_no_huge_bound() -> None:
    refs = Refs(req_ids={"REQ-1"}, design_paths={"a/b.py"})
    for cls in KINDS.values():
        for triggers in ([], ["bug_report"]):
            for r in (None, refs):
                schema = answer_schema(cls, r, triggers)
                assert strict_compatible(schema), cls.kind
                for node in walk(schema):
                    for bound in ("maxLength", "maxItems", "minLength", "minItems"):
                        assert node.get(bound, 0) <= MAX_SENT_BOUND, (cls.kind, node)
                    assert not any(str(k).startswith(("x-", "$", "title", "default")) for k in node)
    content = answer_schema(Code)["properties"]["content"]
    assert "maxLength" not in content  # 200,000 crashes llama.cpp's grammar compiler...
    with pytest.raises(ValueError, match="200000"):  # ...and pydantic still enforces it
        Code.model_validate(code("a.py", "x" * 200_001, []))


def _name(rng: random.Random) -> str:
    first = "ab_Z09"
    middle = "ab_Z09.-"
    last = "ab_Z09-"
    n = rng.randint(0, 6)
    if n == 0:
        return rng.choice(first)
    return rng.choice(first) + "".join(rng.choice(middle) for _ in range(n - 1)) + rng.choice(last)


def test_a_string_that_fits_a_pattern_passes_its_validator() -> None:
    """The patterns are as strict as the validators or stricter: what a constrained endpoint writes passes."""
    rng = random.Random(13)
    paths = ["/".join(_name(rng) for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    paths += ["a", "_", "a-", "a.b-", "0/1/2/3/4/5/6/7", "x" * 200, "a/" * 99 + "b"]
    fitting = [p for p in paths if re.search(PATH_PATTERN, p) and len(p) <= 200]
    assert len(fitting) > 1000
    for p in fitting:
        check_relative_path(p)
    for bad in [".git/config", "a/../b", "./a", "-rf", "a.", "a//b", ".softco/x", "a/.GIT", "a b", "é", "/a", ""]:
        assert not re.search(PATH_PATTERN, bad), bad

    for p in ["tests/test_a.py", "tests/x_1/test_b2.py", "tests/a/b/c/d/e/f/test_x.py"]:
        assert re.search(TEST_PATH_PATTERN, p)
        Tests.model_validate({**TESTS_ANSWER, "path": p})
        assert re.search(TEST_ID_PATTERN, p + "::test_it[1-a]")
    for bad in ["tests/a_test.py", "tests/test_.py.bak", "src/test_a.py", "tests/../test_a.py", "tests/test-a.py"]:
        assert not re.search(TEST_PATH_PATTERN, bad), bad

    names = ["requests", "a", "A1", "zope.interface", "ruamel.yaml", "typing_extensions", "x-y"]
    tails = ["", "[socks]", "[a,b]", ">=2", "==1.2.3", ">=1,<2", "~=3.1", "!=0"]
    for n in names:
        for t in tails:
            dep = n + t
            assert re.search(DEPENDENCY_PATTERN, dep), dep
            check_dependency(dep)
    for bad in ["-r x", "./pkg", "git+https://x/y", "a @ https://x", "a; os_name=='nt'", "a>=", "--index-url=x"]:
        assert not re.search(DEPENDENCY_PATTERN, bad), bad


# A schema-constrained endpoint (OpenAI strict mode, vLLM, llama.cpp grammars) writes only what fits the
# schema it was sent. Each step below has two candidate answers: the first fits a schema that leaves the
# rules out but breaks a validator; the second is right. The fake endpoint answers the first candidate
# that fits the request's schema, as constrained decoding would.
_DESIGN = {**DESIGN, "files": [{"depends_on": [], **f} for f in DESIGN["files"]]}
CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "product_manager/write_prd/project": [PRD],
    "architect/write_design/project": [{**_DESIGN, "package": "Calc"}, _DESIGN],
    "engineer/write_code/calc/ops.py": [
        code("calc/ops.py", OPS_BUGGY, ["REQ-1", "REQ-3"], "add and divide"),
        code("calc/ops.py", OPS_BUGGY, ["REQ-1", "REQ-2"], "add and divide"),
    ],
    "engineer/write_code/calc/__init__.py": [
        code("calc/init.py", INIT, [], "exports"),
        code("calc/__init__.py", INIT, [], "exports"),
    ],
    "qa_engineer/write_tests/calc/ops.py": [{**TESTS_ANSWER, "path": "tests/ops_test.py"}, TESTS_ANSWER],
    "engineer/fix_code/round-1/calc/ops.py": [
        {**code("calc/ops.py", OPS_FIXED, ["REQ-1", "REQ-2"], "raise ValueError"), "disputed_tests": []}
    ],
}


def test_a_schema_constrained_endpoint_writes_answers_that_validate(tmp_path: Path) -> None:
    sent: dict[str, list[dict[str, Any]]] = {}
    unfit: list[str] = []

    def constrained(req: FakeRequest) -> Any:
        fmt = (req.response_format or {}).get("json_schema", {})
        sent.setdefault(str(req.step), []).append(fmt)
        options = CANDIDATES[str(req.step)]
        fits = [c for c in options if not schema_errors(fmt.get("schema", {}), c)]
        if not fits:
            unfit.append(f"{req.step}: {schema_errors(fmt.get('schema', {}), options[-1])}")
        return (fits or options)[0]

    with FakeOpenAIServer(constrained) as srv:
        res = run_cli(["new", REQUIREMENT, "--output", "out"], tmp_path, env={"OPENAI_BASE_URL": srv.base_url})
        assert not srv.errors, srv.errors
    # today's schema leaves the rules out: the constrained endpoint wrote "Calc" three times and the run died
    assert res.exit_code == 0, res.stdout + res.stderr
    assert not unfit, unfit
    assert all(len(calls) == 1 for calls in sent.values()), {k: len(v) for k, v in sent.items()}  # no re-ask
    assert all(fmt["strict"] is True for calls in sent.values() for fmt in calls)
    assert "disputed_tests" not in sent["engineer/write_code/calc/ops.py"][0]["schema"]["properties"]
    assert "disputed_tests" in sent["engineer/fix_code/round-1/calc/ops.py"][0]["schema"]["properties"]
    for calls in sent.values():
        assert all(n.get("maxLength", 0) <= MAX_SENT_BOUND for n in walk(calls[0]["schema"]))
    project = only_project(tmp_path / "out")
    design = json.loads((project / "docs" / "design.json").read_text())
    assert design["package"] == "calc"


def test_a_custom_kinds_references_become_enums() -> None:
    from test_sop_kinds import REFS, SPEC

    from softco.custom_kinds import build_kind

    Review = build_kind("review", SPEC)
    schema = answer_schema(Review, REFS, ["code"])
    props = schema["properties"]
    assert props["path"]["enum"] == ["pkg/a.py"]
    finding = props["findings"]["items"]
    assert finding["properties"]["req_ids"]["items"]["enum"] == ["REQ-1"]
    assert finding["properties"]["severity"]["enum"] == ["low", "high"]
    assert schema["required"] == ["path", "score", "tags", "findings"] and strict_compatible(schema)
    assert props["score"]["anyOf"] == [{"type": "number"}, {"type": "null"}]  # optional: required but nullable
    # before the design and the PRD exist, their patterns
    early = answer_schema(Review)["properties"]
    assert early["path"]["pattern"] == PATH_PATTERN
    assert early["findings"]["items"]["properties"]["req_ids"]["items"]["pattern"] == "^REQ-[1-9][0-9]*$"
    # what the endpoint may write validates
    Review.model_validate(
        {
            "path": "pkg/a.py",
            "score": None,
            "tags": [],
            "findings": [{"line": 1, "severity": "low", "req_ids": ["REQ-1"], "note": ""}],
        },
        context=REFS,
    )
