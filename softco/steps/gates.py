"""Human in the loop: approval gates after chosen artifacts, and editing an artifact by hand.

A gate sees an artifact before it is published and answers approve, edit (the person changes the
JSON in $EDITOR; it is validated against the kind's schema before it counts) or feedback (the role
redoes the step with the person's words).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydantic import ValidationError
from rich.console import Console
from rich.prompt import Prompt

from softco.artifacts import Artifact
from softco.llm.human import edit_file
from softco.llm.structured import describe_error
from softco.safe_text import safe_line, safe_text, visible
from softco.views import doc_files


@dataclass
class Decision:
    action: Literal["approve", "edit", "feedback"]
    artifact: Artifact | None = None
    feedback: str | None = None


class Gate(Protocol):
    kinds: set[str]

    def review(self, step_key: str, artifact: Artifact, validate: Callable[[str], Artifact]) -> Decision:
        """Decide about ``artifact``; ``validate`` turns edited JSON text into an artifact or raises."""
        ...


class AutoApprove:
    """--yes: every gate approves."""

    def __init__(self, kinds: set[str]) -> None:
        self.kinds = kinds

    def review(self, step_key: str, artifact: Artifact, validate: Callable[[str], Artifact]) -> Decision:
        return Decision("approve", artifact)


class ConsoleGate:
    """Asks on the terminal: [a]pprove, [e]dit in $EDITOR, or [f]eedback for the role."""

    def __init__(self, kinds: set[str], console: Console, workdir: Path) -> None:
        self.kinds = kinds
        self.console = console
        self.workdir = workdir

    def review(self, step_key: str, artifact: Artifact, validate: Callable[[str], Artifact]) -> Decision:
        self.show(step_key, artifact)
        while True:
            choice = Prompt.ask(
                safe_line(f"{artifact.kind}: (a)pprove, (e)dit, or give (f)eedback"),
                choices=["a", "e", "f"],
                default="a",
                console=self.console,
            )
            if choice == "a":
                return Decision("approve", artifact)
            if choice == "f":
                text = Prompt.ask("feedback for the role", console=self.console).strip()
                if text:
                    return Decision("feedback", feedback=text)
                continue
            edited = self._edit(artifact, validate)
            if edited is not None:
                return Decision("edit", edited)

    def show(self, step_key: str, artifact: Artifact) -> None:
        """Print the artifact to review, wrapped at the terminal's width: every word of it is read before
        it is approved (the CLI's console soft-wraps, which would let rich crop the markdown's lines)."""
        from rich.rule import Rule

        from softco.markdown import terminal_markdown  # markdown-it is slow to import: --approve only

        md = next((v for k, v in doc_files(artifact).items() if k.endswith(".md")), None)
        self.console.print(safe_line(f"review: {artifact.kind} from {step_key}", "bold"), Rule(), soft_wrap=False)
        # the artifact is a model's answer: control characters shown, links shown as text (no OSC 8)
        if md:
            self.console.print(terminal_markdown(visible(md), hyperlinks=False), soft_wrap=False)
        else:
            self.console.print(safe_text(artifact.model_dump_json(indent=2)), soft_wrap=False)

    def _edit(self, artifact: Artifact, validate: Callable[[str], Artifact]) -> Artifact | None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{artifact.kind}.json"
        path.write_text(json.dumps(artifact.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
        text = edit_file(path)
        try:
            return validate(text)
        except (ValidationError, ValueError) as exc:
            head = safe_line(f"the edit does not fit the {artifact.kind} schema:", "red")
            self.console.print(head, safe_text(describe_error(exc)), sep="\n")
            return None
