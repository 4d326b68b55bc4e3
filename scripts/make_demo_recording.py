"""Rebuild softco/demo/todo_session.jsonl, the recording `softco demo` replays.

The answers in scripts/demo/ were written by softco's developers, playing the model, against the
real rendered prompts of the default SOP (see the header's `produced_by`). This script runs the
normal `softco new` path with those answers scripted and records every exchange.

    python scripts/make_demo_recording.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from demo_answers import load_answers  # noqa: E402

from softco.cli import DEMO_REQUIREMENT, demo_recording  # noqa: E402
from softco.company.run import NewOptions, start_new  # noqa: E402

PRODUCED_BY = (
    "Not a live model: the answers were written by softco's developers (an LLM coding assistant "
    "acting as the model) for the real rendered prompts of the default SOP, then recorded by "
    "running `softco new --llm script:... --record` through the normal code path. The first "
    "version of todo/service.py carries a deliberate, realistic bug so the demo shows QA's "
    "bug report and the engineer's fix, and QA's first tests/test_cli.py pins an error wording "
    "the spec leaves open, so the demo shows the engineer disputing a test and QA re-checking it."
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "answers.json"
        script.write_text(json.dumps(load_answers()))
        opts = NewOptions(
            requirement=DEMO_REQUIREMENT,
            name="todo-demo",
            output=Path(tmp) / "out",
            llm=f"script:{script}",
            record=demo_recording(),
            produced_by=PRODUCED_BY,
        )
        code = start_new(opts, Console())
    print(f"wrote {demo_recording()} (exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
