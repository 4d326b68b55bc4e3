"""A person playing a role (--human ROLE): they read the rendered prompt and answer in an editor
or a file; their answer is validated like a model's (and re-asked with the error)."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
from pathlib import Path

from softco import config
from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse, WrapperLLM
from softco.safe_text import visible


class GateError(LLMError):
    """The gate cannot ask (no terminal, no editor); the message says what to do."""


def editor_command() -> list[str]:
    editor = config.editor()
    if not editor:
        raise GateError("set $EDITOR (or $VISUAL) to the editor to use, e.g. export EDITOR=nano")
    return shlex.split(editor)


def edit_file(path: Path) -> str:
    """Open ``path`` in the user's editor and return what they saved."""
    try:
        subprocess.run([*editor_command(), str(path)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GateError(f"the editor failed ({exc}); check $EDITOR") from None
    return path.read_text(encoding="utf-8")


def _file_stem(step_key: str) -> str:
    """A file name for a step's prompt and answer: the key with every other character made ``__``; when that
    changed it or it is long (a custom kind's subject is free text), cut to 80 characters and told apart by
    a hash of the whole key, so that two steps never share a file."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "__", step_key)
    if stem.replace("__", "/") == step_key and len(stem) <= 80:
        return stem
    return f"{stem[:80]}-{hashlib.sha256(step_key.encode('utf-8')).hexdigest()[:12]}"


class HumanLLM(LLM):
    """Writes the prompt to ``<dir>/<step>.prompt.md`` and reads the answer from ``<dir>/<step>.json``.

    If the answer file already exists when the step starts, it is used as is (answer "in a file");
    otherwise the editor opens on it. A rejected answer reopens the editor with the error in the
    prompt file.
    """

    def __init__(self, workdir: Path, interactive: bool) -> None:
        self.workdir = workdir
        self.interactive = interactive
        self.model = "human"
        self.cache_id = "human"  # a person's validated answer to the same request is reused, like a model's

    def billed_for(self, step_key: str) -> bool:
        return False  # a person's answer costs nothing

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.workdir.mkdir(parents=True, exist_ok=True)
        stem = _file_stem(request.step_key)
        prompt, answer = self.workdir / f"{stem}.prompt.md", self.workdir / f"{stem}.json"
        parts = [f"## {m.role}\n\n{m.content}" for m in request.messages]
        if request.json_schema is not None:
            parts.append(f"## answer schema\n\n```json\n{json.dumps(request.json_schema, indent=1)}\n```")
        prompt.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        if request.attempt == 1 and answer.is_file() and answer.read_text(encoding="utf-8").strip():
            return LLMResponse(content=answer.read_text(encoding="utf-8"), model="human")
        if not self.interactive:
            raise GateError(
                f"step {request.step_key} is yours (--human): read {prompt} and write your JSON answer to "
                f"{answer}, then `softco resume`; or run in a terminal to answer in $EDITOR"
            )
        if not answer.exists():
            answer.write_text("{}\n", encoding="utf-8")
        print(visible(f"step {request.step_key} is yours: the prompt is in {prompt}; answer in the editor"))
        return LLMResponse(content=edit_file(answer), model="human")


class RoutingLLM(WrapperLLM):
    """Sends each role's requests to its own provider (a human, say), the rest to the default (the inner LLM)."""

    def __init__(self, default: LLM, routes: dict[str, LLM]) -> None:
        super().__init__(default)
        self.routes = routes

    def _route(self, step_key: str) -> LLM:
        return self.routes.get(step_key.split("/", 1)[0], self.inner)

    def cache_id_for(self, step_key: str) -> str | None:
        return self._route(step_key).cache_id_for(step_key)

    def billed_for(self, step_key: str) -> bool:
        return self._route(step_key).billed_for(step_key)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return await self._route(request.step_key).complete(request)

    def accepted(self, request: LLMRequest, response: LLMResponse) -> None:
        self._route(request.step_key).accepted(request, response)
