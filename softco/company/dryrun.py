"""DryRunLLM: a schema-driven stand-in for the model, for `softco new ... --dry-run`.

It answers every step with a valid placeholder built from the request's JSON schema, and keeps in
mind what it answered before, so references hold: the REQ ids of the PRD it wrote, the files of
the design it made. Code placeholders are valid Python modules and test placeholders are pytest
files that import them and pass, so the whole SOP runs (git, board, the sandboxed pytest run) with
no network and no cost. A kind it has no special rules for (one a SOP declares in YAML) gets a
placeholder from its schema's types alone.

Every request is written to ``prompts_dir`` (``<step key with / as __>.md``) and reported to
``on_step`` with its size and a token estimate, so a user can read what a real run would send.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from softco.artifacts import PATH_PATTERN, REQ_ID_PATTERN
from softco.custom_kinds import REFERS_TO_KEY
from softco.llm.base import LLM, LLMRequest, LLMResponse, Usage
from softco.llm.tokens import ESTIMATE, count_all, estimate_tokens

PACKAGE = "placeholder"


@dataclass(frozen=True)
class DryRunStep:
    """One request the stand-in answered."""

    key: str
    attempt: int
    prompt_chars: int
    prompt_tokens: int
    prompt_file: Path | None
    #: how prompt_tokens were counted: "tiktoken <encoding>", or softco.llm.tokens.ESTIMATE (4 characters a token)
    token_method: str = ESTIMATE


def _method_text(method: str) -> str:
    return "an estimate at 4 characters a token" if method == ESTIMATE else f"counted with {method}"


def prompt_file_name(step_key: str, attempt: int = 1) -> str:
    """``architect/write_design/project`` -> ``architect__write_design__project.md``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", step_key.replace("/", "__"))
    return name + ("" if attempt == 1 else f".attempt-{attempt}") + ".md"


def module_of(path: str) -> str:
    """``pkg/core.py`` -> ``pkg.core``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


class DryRunLLM(LLM):
    """Answers from the schema, writes each prompt to ``prompts_dir``, makes no call."""

    def __init__(
        self,
        model: str,
        prompts_dir: Path | None = None,
        on_step: Callable[[DryRunStep], None] | None = None,
        base_url: str | None = None,
    ) -> None:
        self.model = model
        #: the endpoint a real run would ask (None: OpenAI's): a model's name tells its tokenizer only on OpenAI's
        self.base_url = base_url
        self.prompts_dir = prompts_dir
        self.on_step = on_step or (lambda s: None)
        self.steps: list[DryRunStep] = []
        self.req_ids: list[str] = []
        self.design_files: dict[str, list[str]] = {}  # path -> its REQ ids
        self._key = ""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        text = json.dumps(self.answer(request), indent=1)
        prompt = "".join(m.content for m in request.messages)
        model = request.settings.model or self.model
        counted = count_all([m.content for m in request.messages], model, self.base_url)
        tokens = counted.tokens
        written = self._write(request, tokens, counted.method)
        step = DryRunStep(request.step_key, request.attempt, len(prompt), tokens, written, counted.method)
        self.steps.append(step)
        self.on_step(step)
        return LLMResponse(
            content=text,
            usage=Usage(prompt_tokens=tokens, completion_tokens=estimate_tokens(text), source="estimated"),
            model=request.settings.model or self.model,
        )

    def _write(self, request: LLMRequest, tokens: int, method: str) -> Path | None:
        if self.prompts_dir is None:
            return None
        self.prompts_dir.mkdir(parents=True, exist_ok=True)
        path = self.prompts_dir / prompt_file_name(request.step_key, request.attempt)
        parts = [
            f"# {request.step_key}\n\n{tokens:,} prompt tokens ({_method_text(method)}) in the messages; model "
            f"{request.settings.model or self.model}"
        ]
        for m in request.messages:
            parts.append(f"## {m.role}\n\n{m.content.rstrip()}")
        if request.json_schema is not None:
            schema = json.dumps(request.json_schema, indent=1)
            parts.append(
                f"## answer schema `{request.schema_name}` (sent as response_format)\n\n```json\n{schema}\n```"
            )
        path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        return path

    # answers ---------------------------------------------------------------------------------

    def answer(self, request: LLMRequest) -> Any:
        """A placeholder that validates against the request's schema and what was answered before."""
        schema = request.json_schema or {"type": "object", "properties": {}}
        subject = request.step_key.split("/", 2)[2] if request.step_key.count("/") >= 2 else ""
        filler = _Filler(schema, self, subject)
        data = filler.value(schema, "answer")
        kind = request.schema_name
        self._key = request.step_key
        special = {"prd": self._prd, "design": self._design, "tasks": self._tasks, "code": self._code}
        if kind == "tests":
            return self._tests(data, subject)
        if kind in special and isinstance(data, dict):
            return special[kind](data, subject, filler)
        return data

    def path_for(self, subject: str) -> str | None:
        """The design file a step subject is about (``round-2/pkg/core.py`` -> ``pkg/core.py``)."""
        for path in sorted(self.design_files, key=len, reverse=True):
            if subject == path or subject.endswith("/" + path):
                return path
        return next(iter(self.design_files), None)

    def _prd(self, data: dict[str, Any], subject: str, filler: _Filler) -> dict[str, Any]:
        items = data.get("requirements") or [{}]
        reqs = []
        for i in (1, 2):
            item = dict(items[0]) if isinstance(items[0], dict) else {}
            item.update(id=f"REQ-{i}", title=f"Placeholder requirement {i}", priority="P0")
            reqs.append(item)
        data["requirements"] = reqs
        data["project_name"] = "Dry run"
        self.req_ids = [r["id"] for r in reqs]
        return data

    def _design(self, data: dict[str, Any], subject: str, filler: _Filler) -> dict[str, Any]:
        template = data["files"][0] if data.get("files") else {}
        files = []
        for path, reqs in ((f"{PACKAGE}/__init__.py", []), (f"{PACKAGE}/core.py", list(self.req_ids))):
            f = dict(template)
            f.update(path=path, req_ids=reqs, purpose=f"placeholder module {path}", interfaces=[], depends_on=[])
            files.append(f)
        data.update(package=PACKAGE, entry_point="", dependencies=[], files=files)
        self.design_files = {f["path"]: f["req_ids"] for f in files}
        return data

    def _tasks(self, data: dict[str, Any], subject: str, filler: _Filler) -> dict[str, Any]:
        template = data["tasks"][0] if data.get("tasks") else {}
        tasks = []
        for path, reqs in self.design_files.items():
            t = dict(template)
            t.update(path=path, req_ids=reqs, depends_on=[], description=f"placeholder task for {path}")
            tasks.append(t)
        data["tasks"] = tasks
        return data

    def _code(self, data: dict[str, Any], subject: str, filler: _Filler) -> dict[str, Any]:
        path = self.path_for(subject) or f"{PACKAGE}/core.py"
        data.update(
            path=path,
            content=f'"""{path}: a placeholder written by softco --dry-run (step {self._key})."""\n',
            req_ids=self.design_files.get(path, []),
            notes="dry-run placeholder",
            disputed_tests=[],
        )
        return data

    def _tests(self, data: Any, subject: str) -> Any:
        source = self.path_for(subject) or f"{PACKAGE}/core.py"
        name = re.sub(r"[^A-Za-z0-9_]", "_", source.removesuffix(".py"))
        module = module_of(source)
        content = (
            "import importlib\n\n\n"
            "def test_module_imports():\n"
            f"    assert importlib.import_module({module!r}) is not None\n"
        )
        reqs = self.design_files.get(source) or self.req_ids[:1] or ["REQ-1"]
        base = data if isinstance(data, dict) else {}
        return {
            **base,
            "path": f"tests/test_{name}.py",
            "source": source,
            "content": content,
            "cases": [{"name": "test_module_imports", "req_ids": reqs}],
        }


class _Filler:
    """A value for a JSON schema: the first choice, the smallest list, a placeholder string."""

    def __init__(self, root: dict[str, Any], llm: DryRunLLM, subject: str) -> None:
        self.defs: dict[str, Any] = root.get("$defs", {})
        self.llm = llm
        self.subject = subject

    def value(self, schema: dict[str, Any], name: str, depth: int = 0) -> Any:
        if depth > 8:
            return None
        if "$ref" in schema:
            return self.value(self.defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), name, depth + 1)
        refers = schema.get(REFERS_TO_KEY)
        if refers is not None:
            return self._reference(refers, schema.get("type") == "array")
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"] or schema["anyOf"]
            return self.value(options[0], name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:  # a request schema lists the design's files and the PRD's REQ ids as enums
            path = self.llm.path_for(self.subject)
            return path if path in schema["enum"] else schema["enum"][0]
        if schema.get("pattern") in (PATH_PATTERN, REQ_ID_PATTERN):  # the same, before they are known
            return self._reference("design_file" if schema["pattern"] == PATH_PATTERN else "requirement", False)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            props: dict[str, Any] = schema.get("properties", {})
            return {k: self.value(v, k, depth + 1) for k, v in props.items()}
        if kind == "array":
            if name == "req_ids":
                return self.llm.req_ids[:1]
            n = max(1, int(schema.get("minItems", 1)))
            return [self.value(schema.get("items", {}), name, depth + 1) for _ in range(n)]
        if kind == "integer":
            low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else 1)
            return int(low)
        if kind == "number":
            return float(schema.get("minimum", 1.0))
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        text = f"placeholder {name.replace('_', ' ')}"
        return text.ljust(int(schema.get("minLength", 0)), ".")

    def _reference(self, refers: str, many: bool) -> Any:
        if refers == "requirement":
            value: Any = self.llm.req_ids[:1] or ["REQ-1"]
            return value if many else value[0]
        path = self.llm.path_for(self.subject) or f"{PACKAGE}/core.py"
        return [path] if many else path
