"""Rebuild the recordings `softco eval --demo` replays (softco/eval/demo/<task>/recording.jsonl).

The answers are in scripts/eval_demo_answers.py; this runs the normal `softco new` path with them
scripted and records every exchange.

    python scripts/make_eval_demo.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from eval_demo_answers import ANSWERS  # noqa: E402

from softco.company.run import NewOptions, start_new  # noqa: E402
from softco.eval.demo import DEMO_DIR, recording  # noqa: E402
from softco.eval.suite import load_task  # noqa: E402

PRODUCED_BY = (
    "Not a live model: the answers were written by softco's developers acting as the model for the default "
    "SOP (scripts/eval_demo_answers.py), then recorded by running `softco new --llm script:... --record`. "
    "tempconv carries a planted bug (F->K adds 273) that QA's tests miss and a hidden acceptance test catches."
)


def main() -> int:
    worst = 0
    for task_id, answers in ANSWERS.items():
        task = load_task(DEMO_DIR / task_id)
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "answers.json"
            script.write_text(json.dumps(answers))
            opts = NewOptions(
                requirement=task.requirement,
                name=task_id,
                output=Path(tmp) / "out",
                llm=f"script:{script}",
                record=recording(task_id),
                produced_by=PRODUCED_BY,
            )
            code = start_new(opts, Console())
        print(f"wrote {recording(task_id)} (exit {code})")
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
