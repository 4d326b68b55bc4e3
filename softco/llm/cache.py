"""The step cache: a step whose request is identical to one already answered reuses its answer.

Keys are (provider, request hash): the hash covers the rendered messages, the schema and the model
settings, so a changed template misses exactly for the steps that render it, and everything their
output feeds. Only a step's final, validated answer is stored (never a rejected one, which would
make a re-ask meet the same bad answer again). One SQLite file per output directory, shared by its
projects, so re-running the same requirement or resuming a killed run pays for nothing twice. Only
real endpoints are cached; replayed and scripted answers are free already.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from softco.errors import UsageError
from softco.llm.base import LLM, LLMRequest, LLMResponse, WrapperLLM


class CacheError(UsageError):
    """The step cache cannot be used (not a SQLite file, or not softco's): one line saying how to go on."""


class StepCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # as the board: safe when killed, no fsync per answer
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS answers (provider TEXT NOT NULL, request_hash TEXT NOT NULL,"
                " response_json TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (provider, request_hash))"
            )
            self.db.execute("SELECT provider, request_hash, response_json, created_at FROM answers LIMIT 0")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise CacheError(
                f"the step cache {path} cannot be used ({exc}); delete it (it only saves paying twice for the same "
                "call), or run with --no-cache"
            ) from None

    def get(self, provider: str, request_hash: str) -> LLMResponse | None:
        """The kept answer, or None; an answer this softco cannot read (kept by a newer one) is a miss."""
        row = self.db.execute(
            "SELECT response_json FROM answers WHERE provider=? AND request_hash=?", (provider, request_hash)
        ).fetchone()
        if row is None:
            return None
        try:
            return LLMResponse.model_validate_json(row[0])
        except ValueError:  # pydantic's ValidationError: another shape, or not JSON
            return None

    def put(self, provider: str, request_hash: str, response: LLMResponse) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
            (provider, request_hash, response.model_dump_json(), time.time()),
        )

    def close(self) -> None:
        self.db.close()


class CachedLLM(WrapperLLM):
    """The step cache as a wrapper, outermost: a step's first request that was answered and accepted before
    gets that answer back (``cached``, no call, not recorded, nothing spent); the answer a step accepts is
    kept. A kept answer is handed out once a run: asked the same again (today's schema refused it), the
    model answers."""

    def __init__(self, inner: LLM, cache: StepCache) -> None:
        super().__init__(inner)
        self.cache = cache
        self._served: set[tuple[str, str]] = set()

    async def complete(self, request: LLMRequest) -> LLMResponse:
        provider = self.inner.cache_id_for(request.step_key)
        if provider is not None and request.attempt == 1:
            key = (provider, request.request_hash())
            if key not in self._served:
                self._served.add(key)
                hit = self.cache.get(*key)
                if hit is not None:
                    return hit.model_copy(update={"cached": True})
        return await self.inner.complete(request)

    def accepted(self, request: LLMRequest, response: LLMResponse) -> None:
        provider = self.inner.cache_id_for(request.step_key)
        if provider is not None and not response.cached:
            self.cache.put(provider, request.request_hash(), response)
        self.inner.accepted(request, response)

    async def aclose(self) -> None:
        self.cache.close()
        await self.inner.aclose()
