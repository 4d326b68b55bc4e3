"""`softco --help` stays fast: it imports none of the heavy modules (no timing in tests; the benchmark
times it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("openai", "pydantic", "git", "softco.company.run", "softco.company.scheduler", "softco.report.html")

PROBE = f"""
import sys
sys.argv = ["softco", "--help"]
import softco.cli
try:
    softco.cli.main()
except SystemExit:
    pass
print("LOADED", sorted(m for m in {HEAVY!r} if m in sys.modules))
"""


@pytest.mark.e2e
def test_help_imports_no_heavy_module() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Usage" in out and "new" in out
    assert out.strip().splitlines()[-1] == "LOADED []"
