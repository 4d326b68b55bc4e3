"""Rebuild softco/demo/change_session.jsonl, the recording `softco demo --change` replays.

The answers (tests/change_project.py's :func:`recorded_answers`, which the tests of `softco change` share) were
written by softco's developers, playing the model, for the real rendered change prompts of the default SOP.
This script runs the normal `softco change` path on the bundled project with those answers scripted and
records every exchange.

    python scripts/make_change_recording.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from softco.change.demo import recording, run_demo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from change_project import recorded_answers  # noqa: E402 - the tests' module, one source of the answers


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "answers.json"
        script.write_text(json.dumps(recorded_answers()))
        target = recording()
        target.unlink(missing_ok=True)
        code_ = run_demo(Path(tmp) / "out", Console(), llm=f"script:{script}", record=target)
    print(f"wrote {recording()} (exit {code_})")
    return code_


if __name__ == "__main__":
    sys.exit(main())
