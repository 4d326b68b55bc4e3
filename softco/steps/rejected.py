"""A way out of a step whose answers kept failing validation.

When a step's answer is rejected on every re-ask, the run stops (exit 1) and the last answer is kept
in ``.softco/rejected/<step>.json``, with every error in ``<step>.error.txt``. The one-line error names
the ways out, all through ``softco resume``:

- fix the kept answer and ``softco resume DIR --answer STEP=FILE``: the file is validated like a
  model's answer (no re-ask: a broken edit stops the run again, exit 2, with its errors) and used;
- ``softco resume DIR --model M --base-url URL``: another endpoint from there on;
- ``softco resume DIR --human ROLE``: answer the role's steps yourself.
"""

from __future__ import annotations

import json
import re
import shlex
from hashlib import sha256
from pathlib import Path

from softco.errors import EXIT_ERROR, EXIT_USAGE
from softco.llm.base import LLM, LLMError, LLMRequest, LLMResponse
from softco.llm.structured import Attempt, InvalidAnswer, strip_fences
from softco.text_file import read_text

#: Where rejected answers are kept, under the project.
REJECTED_DIR = Path(".softco") / "rejected"
#: The largest answer file `--answer` reads.
MAX_ANSWER_BYTES = 2_000_000
#: How much of an error the one-line message shows (the error file has all of it).
SHOWN_ERROR_CHARS = 300


class StepRejected(InvalidAnswer):
    """A step's answer failed validation for good; the message says where it is kept and the ways out."""

    def __init__(self, message: str, attempts: list[Attempt], exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message, attempts)
        self.exit_code = exit_code


def file_stem(step_key: str) -> str:
    """A file name for a step key: ``architect/write_design/project`` -> ``architect__write_design__project``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "__", step_key).lstrip(".-") or "step"
    if len(stem) > 150:  # a long subject: keep the name short enough for any file system, and unique
        stem = f"{stem[:120]}-{sha256(step_key.encode()).hexdigest()[:12]}"
    return stem


def rejected_paths(project: Path, step_key: str) -> tuple[Path, Path]:
    """The kept answer and its errors for a step."""
    stem = file_stem(step_key)
    return project / REJECTED_DIR / f"{stem}.json", project / REJECTED_DIR / f"{stem}.error.txt"


def _one_line(text: str) -> str:
    """Validation errors (``- loc: msg`` lines) as one short line."""
    lines = [line.strip().removeprefix("- ").replace("Value error, ", "") for line in text.splitlines()]
    flat = " ".join("; ".join(line for line in lines if line).split())
    return flat if len(flat) <= SHOWN_ERROR_CHARS else flat[: SHOWN_ERROR_CHARS - 3] + "..."


def _readable(content: str) -> str:
    """The answer as a person would edit it: indented JSON when it parses, else as it came."""
    try:
        data = json.loads(strip_fences(content), strict=False)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to read
        return content
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="replace")


def ways_out(project: Path, step_key: str, role_id: str, answer: Path) -> str:
    q = shlex.quote
    return (
        f"fix the answer and run `softco resume {q(str(project))} --answer {q(f'{step_key}={answer}')}`, "
        f"or resume with another model (`--model M --base-url URL`) or answer the step yourself "
        f"(`--human {role_id}`)"
    )


def keep_rejected(project: Path, step_key: str, role_id: str, exc: InvalidAnswer) -> StepRejected:
    """Keep the last rejected answer and the errors of every attempt on disk; the error to raise."""
    answer, errors = rejected_paths(project, step_key)
    rejected = [a for a in exc.attempts if a.error and a.response.finish_reason != "fault"]
    last = rejected[-1] if rejected else None
    error = last.error if last is not None and last.error else str(exc)
    lines = [f"step: {step_key}", f"The answer kept in {answer.name} was rejected {len(rejected)} time(s)."]
    for i, a in enumerate(rejected, 1):
        lines += ["", f"attempt {i}:", a.error or ""]
    lines += ["", f"Ways out: {ways_out(project, step_key, role_id, answer)}.", ""]
    try:
        _write(answer, _readable(last.response.content) if last is not None else "")
        _write(errors, "\n".join(lines))
    except OSError as err:
        return StepRejected(
            f"step {step_key}: the answer failed validation {len(rejected)} times ({_one_line(error)}); it could "
            f"not be kept ({err.strerror}): resume with another model (`--model M --base-url URL`) or answer the "
            f"step yourself (`--human {role_id}`)",
            exc.attempts,
        )
    return StepRejected(
        f"step {step_key}: the answer failed validation {len(rejected)} times ({_one_line(error)}); the last one "
        f"is kept in {answer} and the errors in {errors.name}: {ways_out(project, step_key, role_id, answer)}",
        exc.attempts,
    )


def refused_answer_file(project: Path, step_key: str, path: Path, exc: InvalidAnswer) -> StepRejected:
    """The error for an ``--answer`` file that does not validate (its errors go next to the kept answer)."""
    error = exc.attempts[-1].error if exc.attempts and exc.attempts[-1].error else str(exc)
    _, errors = rejected_paths(project, step_key)
    try:
        _write(errors, f"step: {step_key}\nThe answer in {path} was rejected:\n{error}\n")
        where = f"; all of them are in {errors}"
    except OSError:
        where = ""
    return StepRejected(
        f"step {step_key}: the answer in {path} does not validate ({_one_line(error)}){where}: fix it and run "
        "the same `softco resume ... --answer` again",
        exc.attempts,
        exit_code=EXIT_USAGE,
    )


def rejected_steps(project: Path) -> list[tuple[str, Path]]:
    """The steps whose last answers were kept as rejected: (step key, the kept answer)."""
    found = []
    for errors in sorted((project / REJECTED_DIR).glob("*.error.txt")):
        try:
            first = errors.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
        except OSError:
            continue
        if first.startswith("step: "):
            found.append(
                (first.removeprefix("step: "), errors.with_name(errors.name.removesuffix(".error.txt") + ".json"))
            )
    return found


def read_answer_file(path: Path) -> str:
    """The text of an ``--answer`` file; ValueError says why it cannot be used."""
    return read_text(path, MAX_ANSWER_BYTES, "an answer is one JSON object")


class AnswerFile(LLM):
    """Answers one step with the text of a file (``softco resume --answer STEP=FILE``); no model is called."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.model = "answer file"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        try:
            return LLMResponse(content=read_answer_file(self.path), model=self.model)
        except ValueError as exc:
            raise LLMError(f"step {request.step_key}: {exc}") from None
