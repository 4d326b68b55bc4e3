"""ScriptedLLM: a model whose answers are written in advance. For tests of softco and of your SOPs.

    llm = ScriptedLLM({
        "product_manager/write_prd/project": prd_dict,
        "engineer/write_code/todo/cli.py": ["not json", code_dict],  # bad first, then good
    })
    ... run the company ...
    llm.assert_complete()          # every scripted answer was used
    llm.calls                      # the requests, in the order they came

Answers may be given as a list (served in order, whatever the step) or a mapping from step key
to an answer or a list of answers for that step (served in order for that step). An answer is a
string (sent as is), a dict or pydantic model (sent as JSON), an exception (raised), or a
callable taking the :class:`LLMRequest` and returning one of those.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse, Usage
from softco.llm.tokens import estimate_tokens

Answer = str | dict[str, Any] | BaseModel | BaseException | Callable[[LLMRequest], Any]


class ScriptExhausted(LLMError):
    pass


def answer_text(answer: Any, request: LLMRequest) -> str:
    """Turn a scripted answer into the text a model would have sent."""
    if callable(answer) and not isinstance(answer, BaseModel | type):
        answer = answer(request)
    if isinstance(answer, BaseException):
        raise answer
    return to_text(answer)


def to_text(answer: Any) -> str:
    """A pydantic model or dict/list as JSON text; anything else as it prints."""
    if isinstance(answer, BaseModel):
        return answer.model_dump_json()
    if isinstance(answer, dict | list):
        return json.dumps(answer)
    return str(answer)


class Script:
    """Scripted answers, served once each: by step key (a list per step, in order), else in order whatever
    the step. The one queue of :class:`ScriptedLLM` and of the HTTP fake in tests (tests/fake_server.py);
    an entry may be a callable, which the consumer calls with its request. Safe across threads."""

    def __init__(self, answers: Sequence[Any] | Mapping[str, Any]) -> None:
        self._ordered: deque[Any] = deque()
        self._by_step: dict[str, deque[Any]] = {}
        if isinstance(answers, Mapping):
            for key, val in answers.items():
                self._by_step[key] = deque(list(val) if isinstance(val, list | tuple) else [val])
        else:
            self._ordered = deque(answers)
        self._lock = threading.Lock()

    def next(self, step_key: str) -> Any:
        """The next entry for ``step_key``; :class:`ScriptExhausted` when none is left."""
        with self._lock:
            queue = self._by_step.get(step_key)
            if queue:
                return queue.popleft()
            if self._ordered:
                return self._ordered.popleft()
        raise ScriptExhausted(f"no scripted answer left for step {step_key}")

    def remaining(self) -> list[str]:
        """The entries never served, described."""
        with self._lock:
            left = [f"(ordered answer #{i + 1})" for i in range(len(self._ordered))]
            return left + [f"{k} x{len(q)}" for k, q in self._by_step.items() if q]


class ScriptedLLM(LLM):
    def __init__(
        self,
        answers: Sequence[Answer] | Mapping[str, Answer | Sequence[Answer]],
        model: str = "scripted",
    ) -> None:
        self.model = model
        self.calls: list[LLMRequest] = []
        self.script = Script(answers)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls.append(request)
        try:
            answer = self.script.next(request.step_key)
        except ScriptExhausted:
            raise ScriptExhausted(f"ScriptedLLM has no answer left for step {request.step_key}") from None
        text = answer_text(answer, request)
        prompt = sum(estimate_tokens(m.content) for m in request.messages)
        return LLMResponse(
            content=text,
            usage=Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(text), source="estimated"),
            model=self.model,
        )

    def remaining(self) -> list[str]:
        return self.script.remaining()

    def assert_complete(self) -> None:
        """Fail if any scripted answer was never asked for."""
        left = self.remaining()
        if left:
            raise AssertionError(f"scripted answers never used: {left}")

    def steps_called(self) -> list[str]:
        return [c.step_key for c in self.calls]
