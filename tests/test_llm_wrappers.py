"""One shape for the LLM wrappers (issue 14): budget, recording, routing and the step cache wrap an LLM the
same way, and the step cache is a wrapper too."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pydantic import BaseModel

from softco.llm.base import LLMRequest, WrapperLLM
from softco.llm.budget import Budget, BudgetedLLM
from softco.llm.cache import CachedLLM, StepCache
from softco.llm.human import RoutingLLM
from softco.llm.replay import RecordingHeader, RecordingLLM
from softco.llm.structured import ask_structured
from softco.llm.testing import ScriptedLLM


class Answer(BaseModel):
    n: int


class Paid(ScriptedLLM):
    """A scripted provider that counts as a real endpoint for the step cache."""

    cache_id = "paid"


def request(step: str = "pm/write/project") -> LLMRequest:
    return LLMRequest(step_key=step, messages=[{"role": "user", "content": "give n"}])


def ask(llm: CachedLLM, parse: type[BaseModel] = Answer) -> int:
    result = asyncio.run(ask_structured(llm, request(), lambda text: parse.model_validate_json(text)))
    return len(result.attempts)


def test_every_wrapper_has_the_one_shape_and_passes_on_who_answers(tmp_path: Path) -> None:
    inner = Paid(["{}"])
    header = RecordingHeader.model_construct()
    wrapped = [
        BudgetedLLM(inner, Budget()),
        RecordingLLM(inner, tmp_path / "rec.jsonl", header),
        RoutingLLM(inner, {}),
        CachedLLM(inner, StepCache(tmp_path / "cache.sqlite")),
    ]
    for llm in wrapped:
        assert isinstance(llm, WrapperLLM) and llm.inner is inner
        assert llm.cache_id_for("pm/write/project") == "paid" and llm.model == inner.model
    assert RoutingLLM(inner, {"pm": ScriptedLLM([])}).cache_id_for("pm/write/project") is None  # a person or script


def test_the_step_cache_answers_a_request_it_kept_without_a_call(tmp_path: Path) -> None:
    first = Paid([json.dumps({"n": 1})])
    assert ask(CachedLLM(first, StepCache(tmp_path / "c.sqlite"))) == 1 and len(first.calls) == 1
    again = Paid([])  # a new run: nothing scripted, so any call would fail
    cached = CachedLLM(again, StepCache(tmp_path / "c.sqlite"))
    result = asyncio.run(ask_structured(cached, request(), Answer.model_validate_json))
    assert result.value == Answer(n=1) and result.attempts[0].response.cached and again.calls == []


def test_a_kept_answer_todays_schema_refuses_is_asked_fresh_not_re_asked(tmp_path: Path) -> None:
    ask(CachedLLM(Paid([json.dumps({"n": 1})]), StepCache(tmp_path / "c.sqlite")))

    class Renamed(BaseModel):
        count: int

    model = Paid([json.dumps({"count": 2})])
    attempts = ask(CachedLLM(model, StepCache(tmp_path / "c.sqlite")), Renamed)
    assert attempts == 1 and len(model.calls) == 1
    assert [m.content for m in model.calls[0].messages] == ["give n"]  # the plain request, no error quoted


def test_a_persons_step_files_are_bounded_and_never_shared_by_two_steps() -> None:
    """--human: each step's prompt and answer files are named from its key; a custom kind's subject is free text,
    so a name is cut to a bound and two keys that read alike get two names."""
    from softco.llm.human import _file_stem

    assert _file_stem("engineer/write_code/shop/cli.py") == "engineer__write_code__shop__cli.py"  # as before
    alike = ["reviewer/review/x y", "reviewer/review/x:y", "reviewer/review/x/y", "reviewer/review/x__y"]
    assert len({_file_stem(k) for k in alike}) == len(alike)
    long = _file_stem("reviewer/review/" + "z" * 5000)
    assert len(long) <= 100 and long != _file_stem("reviewer/review/" + "z" * 4999)
