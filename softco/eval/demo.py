"""`softco eval --demo`: two small tasks whose answers are bundled recordings, replayed offline.

`wordcount` (a CLI) was answered correctly; `tempconv` (a library) carries a planted bug that QA's
own tests do not catch and a hidden acceptance test does. The eval runs and scores them for real.
"""

from __future__ import annotations

from pathlib import Path

from softco.errors import UsageError
from softco.eval.suite import Suite, load_suite

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_TASKS = ("tempconv", "wordcount")


def recording(task_id: str) -> Path:
    return DEMO_DIR / task_id / "recording.jsonl"


def demo_setup() -> tuple[Suite, dict[str, str]]:
    """The demo suite, and the --llm each of its tasks replays."""
    missing = [t for t in DEMO_TASKS if not recording(t).is_file()]
    if missing:
        raise UsageError(f"the bundled demo recordings are missing ({', '.join(missing)}); reinstall softco")
    suite = load_suite(str(DEMO_DIR))
    return suite.model_copy(update={"name": "demo"}), {t: f"replay:{recording(t)}" for t in DEMO_TASKS}
