"""Finding a provider from what the user typed: `openai` (default), `replay:FILE`, `script:FILE`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from softco import config
from softco.llm.base import LLM, LLMError
from softco.llm.openai import (
    OpenAILLM,
    StructuredSettingError,
    client_maker,
    structured_from_env,
    structured_setting,
)
from softco.llm.replay import ReplayLLM
from softco.llm.testing import ScriptedLLM


class ProviderError(LLMError):
    """The --llm value cannot be used; the message says what to pass instead."""


def default_model() -> str:
    return config.current().model


def make_llm(
    spec: str | None,
    model: str | None = None,
    base_url: str | None = None,
    on_warning: Callable[[str], None] | None = None,
    structured: str | None = None,
) -> LLM:
    """Build the provider named by ``spec`` (None means the OpenAI-compatible endpoint). ``structured`` is
    --structured (else ``SOFTCO_STRUCTURED``): how structured answers are asked for; unset, negotiated."""
    if spec is None or spec == "openai":
        try:
            mode = structured_setting(structured) if structured else structured_from_env()
        except StructuredSettingError as exc:
            raise StructuredSettingError(f"--structured {structured}: {exc}" if structured else str(exc)) from None
        client = client_maker(base_url, None)  # checked now; made (openai imported) when first needed
        return OpenAILLM(client, model or default_model(), structured=mode, on_notice=on_warning)
    kind, _, arg = spec.partition(":")
    if kind == "replay" and arg:
        return ReplayLLM(Path(arg), on_warning=on_warning)
    if kind == "script" and arg:
        try:
            answers = json.loads(Path(arg).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot read script {arg}: {exc}") from None
        if not isinstance(answers, dict | list):
            raise ProviderError(f"{arg}: a script is a JSON list of answers or an object step key -> answer(s)")
        return ScriptedLLM(answers, model=model or "scripted")
    raise ProviderError(f"unknown --llm {spec!r}; use 'openai', 'replay:FILE' or 'script:FILE'")
