"""What every softco run of a process pays once, paid once in the local backend's fork server so that no
worker process pays it again: the lazy imports a run makes (the openai client's resources and types, its
HTTP stack, the report) and, in :func:`warm`, the process's caches a run fills (the sandbox's probe, the
report's template, scripts and code highlighting, the price data). Each worker is forked from the fork
server, so it starts with all of them. Measured in one process (its own CPU time, the imports above done
first): a first run took 0.69 to 0.90 s of CPU without :func:`warm`, 0.47 to 0.51 s after it, later runs
0.40 to 0.53 s (`benchmarks/eval_breakdown.py` says where a run's CPU goes)."""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401  (asyncio.to_thread's pool: a run's tool steps and test runs)

import openai.lib.streaming.chat  # noqa: F401
import openai.pagination  # noqa: F401
import openai.resources.chat.chat  # noqa: F401
import openai.resources.chat.completions  # noqa: F401
import openai.resources.chat.completions.messages  # noqa: F401
import openai.types.chat
import rich._emoji_codes  # noqa: F401  (a run's log console, at its first line with a colon)

import softco.company.run  # noqa: F401
import softco.company.startup  # noqa: F401
import softco.eval.results  # noqa: F401
import softco.eval.score  # noqa: F401
import softco.report.html  # noqa: F401
import softco.report.project  # noqa: F401

try:  # the HTTP stack the client loads at its first request, where installed
    import anyio._backends._asyncio  # noqa: F401
    import h11  # noqa: F401
    import httpcore2._async.connection_pool  # noqa: F401
    import truststore  # noqa: F401
except ImportError:
    pass

#: File names whose highlighting a run's report needs most (pygments finds a lexer by scanning every
#: lexer's patterns, then compiles the lexer's rules: once a process).
_SAMPLES = ("warm.py", "README.md", "pyproject.toml", "data.json", "notes.txt", "setup.cfg", "conf.yaml", "run.sh")


def warm() -> None:
    """Fill the caches a run fills at its start, in this process (no thread is left running: a fork server
    must fork from a process with one thread). Whatever fails here is left for the run, which does it again
    and reports what went wrong."""
    import jinja2

    from softco import sandbox
    from softco.dependencies import check_dependencies
    from softco.errors import SoftcoError
    from softco.llm import openai as openai_llm
    from softco.llm import prices
    from softco.report import html
    from softco.sop.load import load_sop

    try:
        sandbox.best()  # probes the mechanisms once (a bwrap run), cached for the process
    except (OSError, ValueError):
        pass
    for name in _SAMPLES:
        html.highlight(name, "x = 1\n")
    html.warm()
    # the client's answer model builds its validator at its first use
    openai.types.chat.ChatCompletion.model_validate(
        {
            "id": "warm",
            "object": "chat.completion",
            "created": 0,
            "model": "warm",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
    openai_llm.ssl_context()  # the CA bundle, loaded once for every worker
    try:  # softco's own SOP: its templates compiled once, for every run of every worker that uses it
        sop = load_sop()
        for name in sop.template_names():
            sop.env.get_template(name)
    except (OSError, ValueError, SoftcoError, jinja2.TemplateError):
        pass
    check_dependencies(["pytest"])  # the design's dependency parser (packaging), as a run's warm-up does
    try:
        prices.price_of("gpt-4o-mini")  # builds genai-prices' lookup, as the first priced call does
    except (ImportError, LookupError, ValueError):
        pass
