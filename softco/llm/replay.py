"""Recorded sessions: record every LLM exchange of a run to JSONL, and replay it by step key.

The first line is a header (softco version, SOP hash, model, date, how the answers were produced);
each further line is one exchange: step key, attempt, the request (messages, schema name,
settings), a hash of the rendered prompt, and the answer with its usage. Requests carry no HTTP
headers, so no API key or Authorization header can reach the file; any value of a secret
environment variable that turns up in a prompt is masked as well.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from softco import __version__, config
from softco.errors import UsageError
from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse, Usage, WrapperLLM

SECRET_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY", "SOFTCO_API_KEY")


class RecordingHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = "header"
    format: int = 1
    softco_version: str
    sop_hash: str
    model: str
    created_at: str
    produced_by: str
    requirement: str


class Exchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = "exchange"
    step_key: str
    attempt: int
    prompt_hash: str
    request: dict[str, Any]
    response: LLMResponse


class ReplayError(LLMError):
    """The recording cannot answer this run (a missing step, a broken file)."""


class RecordingError(UsageError):
    """``--record FILE`` names a place no recording can be written (a directory, a path under a file)."""


def check_recording_path(path: Path) -> None:
    """``path`` can take a recording (checked before anything is created); :class:`RecordingError` if not."""
    if path.is_dir():
        raise RecordingError(f"--record {path}: is a directory; give the path of a file, e.g. {path / 'session.jsonl'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RecordingError(f"--record {path}: {parent} is not a directory; give another path")
            break


def _mask(text: str) -> str:
    for var in SECRET_VARS:
        value = config.env_named(var)
        if value and len(value) >= 8:
            text = text.replace(value, "***")
    return text


class RecordingLLM(WrapperLLM):
    """Wraps a provider and appends each exchange to a JSONL file."""

    def __init__(self, inner: LLM, path: Path, header: RecordingHeader) -> None:
        super().__init__(inner)
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_mask(header.model_dump_json()) + "\n", encoding="utf-8")
        except OSError as exc:
            raise RecordingError(f"--record {path}: cannot write it ({exc.strerror}); give another path") from None

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self.inner.complete(request)
        line = Exchange(
            step_key=request.step_key,
            attempt=request.attempt,
            prompt_hash=request.prompt_hash(),
            request=request.model_dump(mode="json", exclude={"step_key", "attempt"}),
            response=response,
        ).model_dump_json()
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(_mask(line) + "\n")
        return response


def load_recording(path: Path) -> tuple[RecordingHeader, list[Exchange]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"cannot read recording {path}: {exc}") from None
    if not lines:
        raise ReplayError(f"{path}: empty recording; make one with `softco new ... --record {path}`")
    try:
        header = RecordingHeader.model_validate_json(lines[0])
        exchanges = [Exchange.model_validate_json(line) for line in lines[1:] if line.strip()]
    except ValidationError as exc:
        raise ReplayError(f"{path}: not a softco recording ({exc.errors()[0]['msg']})") from None
    return header, exchanges


class ReplayLLM(LLM):
    """Answers each step from a recording, by step key and attempt.

    A step the recording lacks raises :class:`ReplayError` naming it. A step whose rendered prompt
    differs from the recorded one is still answered, and ``on_warning`` is told which step.
    """

    def __init__(self, path: Path, on_warning: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.header, exchanges = load_recording(path)
        self.model = self.header.model
        self.on_warning = on_warning or (lambda msg: None)
        self.warnings: list[str] = []
        self._by_key: dict[tuple[str, int], Exchange] = {}
        for ex in exchanges:
            self._by_key.setdefault((ex.step_key, ex.attempt), ex)

    def steps(self) -> list[str]:
        return sorted({k for k, _ in self._by_key})

    async def complete(self, request: LLMRequest) -> LLMResponse:
        ex = self._by_key.get((request.step_key, request.attempt))
        if ex is None:
            raise ReplayError(
                f"the recording {self.path.name} has no answer for step {request.step_key} "
                f"(attempt {request.attempt}); record it again with --record"
            )
        if request.attempt == 1 and ex.prompt_hash != request.prompt_hash():
            msg = f"prompt changed since recording for step {request.step_key}; replaying the recorded answer"
            self.warnings.append(msg)
            self.on_warning(msg)
        return ex.response.model_copy(update={"usage": replayed_usage(ex.response.usage)})


def replayed_usage(recorded: Usage) -> Usage:
    """A recorded figure, replayed: what an endpoint measured is "recorded" (nothing is spent now); an
    estimate (or a recording that does not say, from an older softco) stays an estimate."""
    source = "recorded" if recorded.source in ("measured", "recorded") else "estimated"
    return recorded.model_copy(update={"source": source})


def make_header(sop_hash: str, model: str, produced_by: str, requirement: str) -> RecordingHeader:
    return RecordingHeader(
        softco_version=__version__,
        sop_hash=sop_hash,
        model=model,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        produced_by=produced_by,
        requirement=requirement,
    )


def exchanges_json(path: Path) -> list[dict[str, Any]]:
    """The exchanges of a recording as plain dicts (for tests and tooling)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:] if line]
