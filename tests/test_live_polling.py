"""A run looks for the page's cancel five times a second: by a stat of its live file, querying it only when
something was written (the query costs ~0.5 ms of CPU each time on a run's busy live file)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from softco.steps import steering
from softco.steps.steering import Live, RunCancelled, request_cancel


def _queries(live: Live) -> list[str]:
    seen: list[str] = []
    live.db.set_trace_callback(lambda sql: seen.append(sql) if "FROM commands" in sql else None)
    return seen


def test_an_idle_run_looks_at_its_live_file_without_querying_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(steering, "POLL", 0.005)
    live = Live(tmp_path, "run-1")
    try:
        queries = _queries(live)

        async def watch_a_while() -> float:
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(live._wait_for_cancel(), 0.5)
            return time.monotonic() - start

        elapsed = asyncio.run(watch_a_while())
        # ~100 polls; one query at the first look, and one each FULL_LOOK seconds that went by
        assert 1 <= len(queries) <= 2 + elapsed / steering.FULL_LOOK, queries
    finally:
        live.close()


def test_a_cancel_from_the_page_is_seen_after_the_run_wrote_its_own_rows(tmp_path: Path) -> None:
    live = Live(tmp_path, "run-1")
    try:
        queries = _queries(live)

        async def work() -> None:
            await asyncio.sleep(30)

        def page() -> None:
            time.sleep(0.5)
            live.on_event(type("E", (), {"kind": "start", "step_key": "pm/write_prd/project"})())  # the run's write
            request_cancel(tmp_path, "run-1")  # the page's, right after it

        threading.Thread(target=page).start()
        with pytest.raises(RunCancelled):  # not seen, the work would end after 30 s without it
            asyncio.run(live.cancellable(work()))
        assert queries  # and it was read from the live file
    finally:
        live.close()
