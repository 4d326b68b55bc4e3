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
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from softco.errors import SoftcoError


class ChatMessage(BaseModel):
    """One chat message, as the OpenAI chat API has it."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


#: How a structured answer is asked for (``--structured``, ``SOFTCO_STRUCTURED``, a role's ``model.structured``):
#: ``schema`` sends ``response_format`` ``json_schema``; ``json`` sends JSON mode (``json_object``) with the
#: schema in the prompt; ``prompt`` sends the schema in the prompt alone. Unset, softco negotiates.
StructuredMode = Literal["schema", "json", "prompt"]
STRUCTURED_MODES: tuple[str, ...] = get_args(StructuredMode)


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
    structured: StructuredMode | None = Field(
        default=None,
        description="how answers are asked for: schema (response_format json_schema), json (JSON mode, schema in "
        "the prompt) or prompt (schema in the prompt only); unset: --structured / SOFTCO_STRUCTURED, else negotiated",
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
        """Hash of everything that decides the answer (not the attempt number, nor how the answer's structure
        is asked for: every mode's answer is validated against the same schema)."""
        body = self.model_dump(mode="json", exclude={"attempt": True, "step_key": True, "settings": {"structured"}})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def prompt_hash(self) -> str:
        """Hash of the rendered messages only: what a template change touches."""
        body = [m.model_dump() for m in self.messages]
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


#: Where a usage figure came from: "measured" (the endpoint reported it for this call), "recorded"
#: (replayed from a recording in which an endpoint reported it; nothing was spent now) or "estimated"
#: (a length-based guess: scripted and dry-run answers, an endpoint that reported no usage, a
#: recording that does not say). Only measured figures are priced.
UsageSource = Literal["measured", "recorded", "estimated"]

#: The least trustworthy source wins when figures are added up.
_TRUST: dict[str, int] = {"measured": 0, "recorded": 1, "estimated": 2}


class Usage(BaseModel):
    """Tokens of one call and where the figures came from. Unless a provider says it measured them,
    they are an estimate (so a recording or cache entry of an older softco replays as estimated)."""

    model_config = ConfigDict(extra="forbid")
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    source: UsageSource = "estimated"

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        """The sum; its source is the least trustworthy of the figures that count (an empty usage,
        e.g. the start of a sum or a failed attempt, says nothing about where figures came from)."""
        sources = [u.source for u in (self, other) if u.total] or [self.source, other.source]
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            source=max(sources, key=_TRUST.__getitem__),
        )


class LLMResponse(BaseModel):
    """The model's answer: raw text (JSON text for structured steps) and usage."""

    model_config = ConfigDict(extra="forbid")
    content: str
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"
    cached: bool = Field(default=False, description="answered from the step cache, no call made")


class LLMError(SoftcoError):
    """The model could not be reached or kept failing; the message says what to do next."""


class TransientLLMError(LLMError):
    """A failure worth retrying (rate limit, 5xx, timeout, connection reset)."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        reason: str = "transient error",
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        #: a few words of our own for the retry line (never text the endpoint sent)
        self.reason = reason
        #: what the failed call may have used: an estimate for a call the endpoint was still working on when it
        #: was cut (a timeout), nothing for one that never reached it
        self.usage = usage or Usage()


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
        """Who answers ``step_key``, for the step cache (None: do not cache)."""
        return self.cache_id

    def billed_for(self, step_key: str) -> bool:
        """Whether a call for ``step_key`` goes to an endpoint that may bill it (not a script, a recording, a
        person): a call cancelled while such an endpoint had it counts its bound (softco.llm.budget)."""
        return self.cache_id_for(step_key) is not None

    def caches(self) -> bool:
        """Whether answers may be cached at all (``cache_id_for`` names someone), asked before any call: a
        provider whose ``cache_id_for`` has work to do (make a client) answers without doing it."""
        return self.cache_id_for("") is not None

    def accepted(self, request: LLMRequest, response: LLMResponse) -> None:  # noqa: B027 - optional hook
        """``response`` answered ``request`` (a step's first request; the answer may be a re-ask's) and passed
        validation: told once a step by :func:`softco.llm.structured.ask_structured`."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release network resources; the default has none."""


class WrapperLLM(LLM):
    """An LLM around another, as pydantic-ai's ``WrapperModel``: the one shape of the budget, the recording, the
    routing to people and the step cache. It delegates everything; a wrapper overrides what it adds to."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.model = inner.model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        return await self.inner.complete(request)

    def cache_id_for(self, step_key: str) -> str | None:
        return self.cache_id if self.cache_id is not None else self.inner.cache_id_for(step_key)

    def billed_for(self, step_key: str) -> bool:
        return self.inner.billed_for(step_key)

    def caches(self) -> bool:
        return self.cache_id is not None or self.inner.caches()

    def accepted(self, request: LLMRequest, response: LLMResponse) -> None:
        self.inner.accepted(request, response)

    async def aclose(self) -> None:
        await self.inner.aclose()
