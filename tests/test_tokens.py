"""Token counts: exact (tiktoken) where the model's encoding ships in an installed package, the estimate
labelled as such elsewhere, and never a download."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from fake_server import FakeOpenAIServer, FakeReply

import softco.cli
import softco.company.run  # noqa: F401  (imported first: the CLI then imports nothing more in-process)
import softco.llm.tokens
from softco.llm.base import ChatMessage, LLMRequest, ModelSettings, Usage
from softco.llm.openai import OpenAILLM, make_client
from softco.llm.tokens import ESTIMATE, TokenCount, count_all, count_tokens, encoding_name, estimate_tokens

TEXT = "Write a command-line todo app that stores tasks in a JSON file."


@pytest.fixture(autouse=True)
def _no_tiktoken_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken reads the packaged file and writes no copy of it


def test_a_model_whose_encoding_is_installed_is_counted_exactly() -> None:
    # "hello world" is two cl100k_base tokens (15339, 1917)
    assert count_tokens("hello world", "gpt-4") == TokenCount(2, "tiktoken cl100k_base")
    exact = count_tokens(TEXT, "gpt-4")
    assert exact == TokenCount(14, "tiktoken cl100k_base") and exact.exact
    assert estimate_tokens(TEXT) == 15  # what the estimate says for the same text
    assert count_tokens("<|endoftext|>", "gpt-3.5-turbo").tokens > 1  # special-token text is plain text here


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4.1", "local-model", "qwen2.5-coder:7b", None])
def test_other_models_get_the_estimate_labelled_as_such(model: str | None) -> None:
    counted = count_tokens(TEXT, model)
    assert counted == TokenCount(estimate_tokens(TEXT), ESTIMATE) and not counted.exact
    assert count_all([TEXT, TEXT], model) == TokenCount(2 * estimate_tokens(TEXT), ESTIMATE)


def test_the_encoding_of_a_model_is_tiktokens() -> None:
    assert encoding_name("gpt-4o-mini") == "o200k_base"  # known, but its file ships in no package
    assert encoding_name("gpt-4-0613") == "cl100k_base"
    assert encoding_name("local-model") is None


OFFLINE = """
import sys
attempts = []
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        attempts.append(event)
        raise OSError("network refused in this test")
sys.addaudithook(refuse)
from softco.llm.tokens import count_tokens
print(count_tokens("hello world", "gpt-4").method, count_tokens("hello world", "gpt-4o").method, len(attempts))
"""


def test_counting_never_downloads_an_encoding(tmp_path: Path) -> None:
    """tiktoken would fetch o200k_base on first use; softco counts only with files a package ships."""
    env = {"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", OFFLINE], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["tiktoken", "cl100k_base", "estimate", "0"]


def test_an_endpoint_that_reports_no_usage_is_counted_with_tiktoken_and_still_called_an_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted with tiktoken where the model's tokenizer is known (OpenAI's endpoint: the fake stands in for it),
    at 4 characters a token elsewhere (a local server may serve anything as "gpt-4")."""
    request = LLMRequest(
        step_key="product_manager/write_prd/project",
        messages=[ChatMessage(role="system", content="You are a PM."), ChatMessage(role="user", content=TEXT)],
        settings=ModelSettings(model="gpt-4"),
    )
    answer = "A todo app: add, list and complete tasks, stored as JSON."

    def ask() -> Usage:
        with FakeOpenAIServer([FakeReply(content=answer, no_usage=True)]) as srv:

            async def main() -> Usage:
                llm = OpenAILLM(make_client(base_url=srv.base_url, api_key=None), model="gpt-4")
                try:
                    return (await llm.complete(request)).usage
                finally:
                    await llm.aclose()

            return asyncio.run(main())

    assert ask() == Usage(
        prompt_tokens=estimate_tokens("You are a PM.") + estimate_tokens(TEXT),
        completion_tokens=estimate_tokens(answer),
        source="estimated",
    )
    monkeypatch.setattr(softco.llm.tokens, "tokenizer_known", lambda base_url: True)  # as if it were OpenAI's
    usage = ask()
    prompt = count_tokens("You are a PM.", "gpt-4").tokens + count_tokens(TEXT, "gpt-4").tokens
    completion = count_tokens(answer, "gpt-4").tokens
    assert usage == Usage(prompt_tokens=prompt, completion_tokens=completion, source="estimated")
    assert usage.completion_tokens != estimate_tokens(answer)  # counted, not estimated at 4 characters a token


def test_a_dry_run_says_how_it_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def dry_run(*extra: str) -> str:
        monkeypatch.setattr(sys, "argv", ["softco", "new", "a todo app", "--dry-run", "--output", "out", *extra])
        with pytest.raises(SystemExit) as info:
            softco.cli.main()
        out = capsys.readouterr()
        assert info.value.code == 0, out.out + out.err
        return out.out

    exact = dry_run("--model", "gpt-4")
    line = next(x for x in exact.splitlines() if "dry run: product_manager/write_prd/project" in x)
    assert "prompt tokens (tiktoken cl100k_base)" in line and "~" not in line
    assert "counted with tiktoken cl100k_base" in exact
    estimated = dry_run()  # gpt-4o-mini: o200k_base is not installed
    line = next(x for x in estimated.splitlines() if "dry run: product_manager/write_prd/project" in x)
    assert "~" in line and "prompt tokens (estimate)" in line
    assert "an estimate at 4 characters a token" in estimated
