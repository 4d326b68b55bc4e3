"""Test isolation: no real model, no real state, no network beyond 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

import softco.llm.openai


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(softco.llm.openai, "ALLOW_REMOTE_REQUESTS", False)
    monkeypatch.setenv("SOFTCO_LOCAL_ONLY", "1")  # ... and in every softco process a test starts
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SOFTCO_MODEL", "SOFTCO_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
