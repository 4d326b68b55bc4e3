"""Kinds declared in YAML become pydantic models: a schema with the descriptions, strict validation,
references checked against the PRD and the design, a subject, a title and a generic docs view."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from softco.artifacts import Artifact, Refs
from softco.custom_kinds import REFERS_TO_KEY, KindSpec, build_kind
from softco.llm.base import ModelSettings
from softco.llm.openai import OpenAILLM, make_client
from softco.views import doc_files, doc_name

SPEC = KindSpec.model_validate(
    {
        "description": "A security review of one file.",
        "subject": "path",
        "fields": {
            "path": {"type": "string", "refers_to": "design_file", "description": "The file reviewed"},
            "score": {"type": "number", "required": False},
            "tags": {"type": "list[string]", "required": False},
            "findings": {
                "type": "list[object]",
                "required": False,
                "fields": {
                    "line": {"type": "integer"},
                    "severity": {"type": "string", "choices": ["low", "high"]},
                    "req_ids": {"type": "list[string]", "refers_to": "requirement"},
                    "note": {"type": "string", "required": False},
                },
            },
        },
    }
)
REFS = Refs(req_ids={"REQ-1"}, design_paths={"pkg/a.py"})


def test_the_model_is_an_artifact_with_a_described_schema() -> None:
    Review = build_kind("review", SPEC)
    assert issubclass(Review, Artifact) and Review.kind == "review"
    schema = Review.model_json_schema()
    assert schema["description"] == "A security review of one file."
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["path"]
    assert schema["properties"]["path"]["description"] == "The file reviewed"
    assert schema["properties"]["path"][REFERS_TO_KEY] == "design_file"
    item = schema["$defs"][schema["properties"]["findings"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert item["properties"]["severity"]["enum"] == ["low", "high"] and item["additionalProperties"] is False


def test_answers_are_validated_strictly_and_against_the_board() -> None:
    Review = build_kind("review", SPEC)
    ok = Review.model_validate(
        {"path": "pkg/a.py", "findings": [{"line": 3, "severity": "high", "req_ids": ["REQ-1"]}]}, context=REFS
    )
    assert ok.subject() == "pkg/a.py" and ok.title() == "pkg/a.py (tags: 0, findings: 1)"
    assert ok.model_dump()["tags"] == [] and ok.model_dump()["score"] is None
    bad = [
        ({"path": "pkg/b.py"}, "not in the design"),
        ({"path": "../etc/passwd"}, "not a safe relative file path"),
        ({"path": "pkg/a.py", "colour": "red"}, "Extra inputs are not permitted"),
        ({"path": "pkg/a.py", "findings": [{"line": 1, "severity": "urgent", "req_ids": []}]}, "'low' or 'high'"),
        ({"path": "pkg/a.py", "findings": [{"line": 1, "severity": "low", "req_ids": ["REQ-7"]}]}, "REQ-7"),
        ({"path": ""}, "at least 1 character"),
    ]
    for data, message in bad:
        with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
            Review.model_validate(data, context=REFS)


def test_declarations_are_checked() -> None:
    cases = [
        ({"fields": {"x": {"type": "list[object]"}}}, "needs 'fields'"),
        ({"fields": {"x": {"type": "integer", "choices": ["a"]}}}, "not of type integer"),
        ({"fields": {"x": {"type": "integer", "refers_to": "design_file"}}}, "refers_to needs a string"),
        ({"subject": "n", "fields": {"n": {"type": "integer"}}}, "must be a required string field"),
        ({"fields": {"title": {"type": "string"}}}, "reserved"),
        ({"fields": {"model_x": {"type": "string"}}}, "reserved"),
        ({"fields": {"class": {"type": "string"}}}, "Python identifier"),
        ({"fields": {}}, "at least 1 item"),
        ({"fields": {"x": {"type": "text"}}}, "Input should be 'string'"),
    ]
    for data, message in cases:
        with pytest.raises(ValidationError, match=message):
            KindSpec.model_validate(data)


def test_docs_of_a_declared_kind() -> None:
    Review = build_kind("review", SPEC)
    art = Review.model_validate(
        {"path": "pkg/a.py", "findings": [{"line": 3, "severity": "high", "req_ids": ["REQ-1"], "note": "x|y"}]}
    )
    files = doc_files(art)
    name = doc_name("pkg/a.py")  # one-to-one: pkg/a.py and pkg_a.py never share a file
    assert name.startswith("pkg_a.py-")
    assert sorted(files) == [f"docs/review/{name}.json", f"docs/review/{name}.md"]
    md = files[f"docs/review/{name}.md"]
    assert md.startswith("# Review: pkg/a.py (tags: 0, findings: 1)\n\n_A security review of one file._")
    assert "| Line | Severity | Req ids | Note |" in md and "| 3 | high | REQ-1 | x\\|y |" in md
    Guide = build_kind("guide", KindSpec.model_validate({"fields": {"body": {"type": "string"}}}))
    g = Guide.model_validate({"body": "line one\nline two"})
    assert g.subject() == "project" and g.title() == "guide"
    assert doc_files(g)["docs/guide.md"] == "# Guide: guide\n\n_A guide artifact._\n\n## Body\n\nline one\nline two\n"


def test_openai_provider_keeps_one_client_per_role_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODER_URL", "http://127.0.0.1:9/v1")
    llm = OpenAILLM(make_client("http://127.0.0.1:8/v1", None), "m")
    default = ModelSettings()
    coder = ModelSettings(model="big", base_url_env="CODER_URL")
    assert llm.client_for(default) is llm.client
    assert llm.client_for(coder) is llm.client_for(coder.model_copy(update={"temperature": 0.5}))
    assert str(llm.client_for(coder).base_url) == "http://127.0.0.1:9/v1/"
    monkeypatch.delenv("CODER_URL")
    from softco.llm.openai import EndpointNotConfigured, role_endpoint

    with pytest.raises(EndpointNotConfigured, match="CODER_URL is not set"):
        role_endpoint(coder)
