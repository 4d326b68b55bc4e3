"""Imports a softco run makes lazily (the openai client's resources and types, its HTTP stack, the report),
made once in the local backend's fork server so that no worker process pays for them again."""

from __future__ import annotations

import openai.lib.streaming.chat  # noqa: F401
import openai.resources.chat.completions  # noqa: F401
import openai.types.chat  # noqa: F401

import softco.company.run  # noqa: F401
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
