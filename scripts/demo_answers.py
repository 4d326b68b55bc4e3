"""The model's answers for softco's recorded demo session.

softco's developers wrote these answers in the role of the model, for the default SOP and the
requirement below; the recording header says so. The answers live in ``scripts/demo/`` as files
people can read (``prd.json``, ``design.json``, ``code/``, ``tests/``; the tasks follow from the
design with no model call); this module
assembles them into the mapping a :class:`softco.llm.testing.ScriptedLLM` (or the recorder) takes:
step key (``role/action/subject``) -> answer dict.

The story the session tells: every file is written once, QA's tests run, and two fail. One catches
a real bug in the first version of ``todo/service.py`` (a task due today counted as overdue), which
the engineer fixes in round 1. The other pins an error message's exact wording, which the spec
leaves open: the engineer keeps ``todo/cli.py`` as it is and disputes the test; it fails again in
round 2 and goes to QA, who re-checks it against the spec and loosens it; round 3 passes.

    python scripts/demo_answers.py      # validate every answer against softco's artifact models
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEMO_DIR = Path(__file__).resolve().parent / "demo"
REQUIREMENT = "a command-line todo app with priorities, due dates and JSON storage"

KIND_OF_ACTION = {
    "write_prd": "prd",
    "write_design": "design",
    "write_code": "code",
    "fix_code": "code",
    "write_tests": "tests",
    "recheck_tests": "tests",
}


def _json(rel: str) -> Any:
    return json.loads((DEMO_DIR / rel).read_text(encoding="utf-8"))


def _text(rel: str) -> str:
    return (DEMO_DIR / rel).read_text(encoding="utf-8")


def load_answers() -> dict[str, object]:
    """Step key -> answer, in the order the default SOP asks for them.

    For the file with a planted bug, ``engineer/write_code/<path>`` holds the first (buggy) version
    from ``code_v1/`` and ``engineer/fix_code/round-1/<path>`` the fixed one from ``code/``. QA's first
    version of a test file can come from ``tests_v1/``; its re-checked version is the one in ``tests/``.
    """
    meta = _json("meta.json")
    design = _json("design.json")
    answers: dict[str, object] = {
        "product_manager/write_prd/project": _json("prd.json"),
        "architect/write_design/project": design,
    }
    req_ids = {f["path"]: list(f["req_ids"]) for f in design["files"]}
    for path, ids in req_ids.items():
        first = meta["first_versions"].get(path)
        answers[f"engineer/write_code/{path}"] = {
            "path": path,
            "content": _text(f"code_v1/{path}" if first else f"code/{path}"),
            "req_ids": ids,
            "notes": first["notes"] if first else meta["code_notes"][path],
        }
    tests: dict[str, dict[str, Any]] = {}
    for test_path, spec in meta["tests"].items():
        tests[test_path] = {
            "path": test_path,
            "source": spec["source"],
            "content": _text(test_path),
            "cases": [{"name": name, "req_ids": list(ids)} for name, ids in spec["cases"].items()],
        }
        first = meta["first_tests"].get(test_path)
        answers[f"qa_engineer/write_tests/{spec['source']}"] = {**tests[test_path], "content": _text(first or test_path)}
    for round_name, fixes in meta["fixes"].items():
        for path, notes in fixes.items():
            answers[f"engineer/fix_code/{round_name}/{path}"] = {
                "path": path,
                "content": _text(f"code/{path}"),
                "req_ids": req_ids[path],
                "notes": notes,
            }
    for round_name, disputes in meta["disputes"].items():  # the file stays; the test is disputed
        for path, answer in disputes.items():
            answers[f"engineer/fix_code/{round_name}/{path}"] = {
                "path": path,
                "content": _text(f"code/{path}"),
                "req_ids": req_ids[path],
                **answer,
            }
    for round_name, test_paths in meta["rechecks"].items():
        for test_path in test_paths:
            answers[f"qa_engineer/recheck_tests/{round_name}/{test_path}"] = tests[test_path]
    return answers


def validate(answers: dict[str, object]) -> list[str]:
    """Problems with the answers (empty when all is well): each must parse as its artifact kind."""
    from softco.artifacts import Design, Prd, Refs, parse_artifact

    prd = Prd.model_validate(answers["product_manager/write_prd/project"])
    design = Design.model_validate(answers["architect/write_design/project"])
    refs = Refs(req_ids=prd.req_ids(), design_paths=design.paths())
    problems: list[str] = []
    for key, answer in answers.items():
        action = key.split("/")[1]
        try:
            parse_artifact(KIND_OF_ACTION[action], answer, refs)
        except Exception as exc:  # report every bad answer, not just the first
            problems.append(f"{key}: {exc}")
    tested = {key.removeprefix("qa_engineer/write_tests/") for key in answers if "/write_tests/" in key}
    with_reqs = {f.path for f in design.files if f.req_ids}
    if tested != with_reqs:
        problems.append(f"QA writes tests for every file with REQ ids {sorted(with_reqs)}; got {sorted(tested)}")
    return problems


def main() -> int:
    answers = load_answers()
    for key in answers:
        print(key)
    problems = validate(answers)
    for problem in problems:
        print(f"invalid: {problem}", file=sys.stderr)
    print(f"{len(answers)} answers, {'all valid' if not problems else f'{len(problems)} invalid'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
