"""The LLM boundary: one small interface every provider implements.

A provider turns an :class:`LLMRequest` (chat messages, plus an optional JSON schema the answer
must follow) into an :class:`LLMResponse` (the raw text of the answer and the token usage).
Validation of the answer and re-asking with the validation error live one level up, in
:mod:`softco.llm.structured`, so every provider gets them for free.

Finding a provider (``openai``, ``replay:FILE``, a scripted one in tests) is apart from calling
it: see :func:`softco.llm.providers.make_llm`.
"""

from __future__ import annotations

import abc
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    """One chat message, as the OpenAI chat API has it."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class ModelSettings(BaseModel):
    """Per-call model settings (a role file's ``model:``); ``None`` leaves the provider's default.

    ``base_url_env`` / ``api_key_env`` name environment variables (never the values, so role files
    and recordings hold no secret): the OpenAI provider sends this role's requests to the endpoint
    in ``$base_url_env`` with the key in ``$api_key_env`` (default ``OPENAI_API_KEY``).
    """

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, description="model name for this role, e.g. gpt-4o")
    temperature: float | None = Field(default=None, ge=0, le=2, description="sampling temperature, 0 to 2")
    max_tokens: int | None = Field(default=None, ge=1, description="the longest answer, in tokens")
    base_url_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="env var holding this role's base URL"
    )
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="env var holding this role's API key"
    )


class LLMRequest(BaseModel):
    """What a step asks of the model."""

    model_config = ConfigDict(extra="forbid")
    step_key: str = Field(description="role/action/subject: stable across runs")
    messages: list[ChatMessage]
    schema_name: str | None = None
    json_schema: dict[str, Any] | None = None
    settings: ModelSettings = Field(default_factory=ModelSettings)
    attempt: int = 1

    def request_hash(self) -> str:
        """Hash of everything that decides the answer (not the attempt number)."""
        body = self.model_dump(mode="json", exclude={"attempt", "step_key"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def prompt_hash(self) -> str:
        """Hash of the rendered messages only: what a template change touches."""
        body = [m.model_dump() for m in self.messages]
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class LLMResponse(BaseModel):
    """The model's answer: raw text (JSON text for structured steps) and usage."""

    model_config = ConfigDict(extra="forbid")
    content: str
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"
    cached: bool = Field(default=False, description="answered from the step cache, no call made")


class LLMError(Exception):
    """The model could not be reached or kept failing; the message says what to do next."""


class TransientLLMError(LLMError):
    """A failure worth retrying (rate limit, 5xx, timeout, connection reset)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLM(abc.ABC):
    """An LLM provider. Implementations must be safe to call concurrently."""

    #: The model name reported in summaries and recordings.
    model: str = ""
    #: Who answers, for the step cache; None means "do not cache" (replayed or scripted answers).
    cache_id: str | None = None

    @abc.abstractmethod
    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer one request. Raise :class:`LLMError` when no answer can be had."""

    def cache_id_for(self, step_key: str) -> str | None:
        """Who answers ``step_key``, for the step cache: this provider's ``cache_id``, else that of the
        provider it wraps (an ``inner`` attribute), else None (do not cache)."""
        if self.cache_id is not None:
            return self.cache_id
        inner = getattr(self, "inner", None)
        return inner.cache_id_for(step_key) if isinstance(inner, LLM) else None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release network resources; the default has none."""
