"""`softco change` on synthetic repos of 50, 200 and 1,000 Python files: the repo map's build time, and the
prompt tokens of each change step (estimated at 4 characters a token: no tokenizer here).

Targets (exit 1 on a miss): the prompt of every change step grows at most 1.3x from the smallest repo to
the largest, and the map of the largest is built in under 2 s. The prompts are the default SOP's change
templates rendered for real (softco.roles.build_request) on a board holding a change PRD and design;
no model is called.

    python benchmarks/change_bench.py [--sizes 50,200,1000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from softco.board import Message
from softco.change.mode import ChangeMode
from softco.change.repo_map import build_map
from softco.sop.load import load_sop
from softco.steps.step import BoardView, Step, build_request

MAX_GROWTH = 1.3
MAX_MAP_SECONDS = 2.0
AREAS = ["billing", "catalog", "orders", "users", "shipping", "reports", "search", "payments", "audit", "mail"]
TOUCHED = "shop/billing/invoice.py"
REQUIREMENT = "add discount codes to invoice totals"

INVOICE = '''"""Invoices: lines, totals and taxes."""

from dataclasses import dataclass, field


@dataclass
class Line:
    """One line of an invoice."""

    description: str
    quantity: int
    unit_price: float


@dataclass
class Invoice:
    """An invoice of a customer."""

    customer: str
    lines: list[Line] = field(default_factory=list)
    tax_rate: float = 0.2

    def subtotal(self) -> float:
        """The sum of the lines."""
        return sum(line.quantity * line.unit_price for line in self.lines)

    def total(self) -> float:
        """The subtotal with tax."""
        return round(self.subtotal() * (1 + self.tax_rate), 2)
'''


def module(area: str, i: int, n_in_area: int) -> str:
    other = f"shop.{area}.m{(i + 1) % n_in_area}" if n_in_area > 1 else "json"
    return (
        f'"""{area.title()} helpers, part {i}: records of the {area} area."""\n\n'
        f"import {other}\n\n\n"
        f"class {area.title()}Record{i}:\n"
        f'    """A {area} record kept in memory."""\n\n'
        f"    def __init__(self, key: str, value: int) -> None:\n        self.key, self.value = key, value\n\n"
        f'    def describe(self) -> str:\n        """One line about the record."""\n'
        f"        return f'{{self.key}}={{self.value}}'\n\n\n"
        f"def load_{area}_{i}(path: str) -> list[{area.title()}Record{i}]:\n"
        f'    """Read {area} records from a file."""\n    return []\n\n\n'
        f"def summarize_{area}_{i}(items: list[int], scale: float = 1.0) -> float:\n"
        f'    """The scaled sum of the items."""\n    return sum(items) * scale\n'
    )


def make_repo(root: Path, n: int) -> list[str]:
    files = {"shop/__init__.py": '"""A shop."""\n', TOUCHED: INVOICE}
    per_area = max(1, (n - len(files)) // len(AREAS) + 1)
    i = 0
    while len(files) < n:
        area = AREAS[i % len(AREAS)]
        k = i // len(AREAS)
        files.setdefault(f"shop/{area}/__init__.py", "")
        if len(files) < n:
            files[f"shop/{area}/m{k}.py"] = module(area, k, per_area)
        i += 1
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "-c", "core.hooksPath=/dev/null"]
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "shop"]):
        subprocess.run([*git, *argv], cwd=root, check=True, capture_output=True)
    return sorted(files)


PRD: dict[str, Any] = {
    "project_name": "shop",
    "summary": "Discount codes on invoices.",
    "goals": ["Discounts"],
    "user_stories": ["As a clerk, I want discount codes so that loyal customers pay less."],
    "requirements": [
        {
            "id": "REQ-1",
            "title": "Discount codes",
            "description": "Invoice.apply_code(code) lowers the total by the code's percentage",
            "priority": "P0",
            "acceptance_criteria": ["a 10% code on a 100.0 subtotal with no tax gives 90.0"],
        }
    ],
    "competitive_analysis": [],
    "open_questions": [],
}
DESIGN: dict[str, Any] = {
    "approach": "Codes live in a new module; Invoice applies one.",
    "package": "shop",
    "entry_point": "",
    "dependencies": [],
    "files": [
        {
            "path": "shop/billing/codes.py",
            "purpose": "Known discount codes and their percentages.",
            "req_ids": ["REQ-1"],
            "interfaces": ["def percent_of(code: str) -> float: The code's percentage; KeyError if unknown."],
            "depends_on": [],
        },
        {
            "path": TOUCHED,
            "purpose": "Invoice.apply_code and a total that honours it.",
            "req_ids": ["REQ-1"],
            "interfaces": ["Invoice.apply_code(self, code: str) -> None: Apply a discount code."],
            "depends_on": ["shop/billing/codes.py"],
        },
    ],
    "class_diagram": "classDiagram\n  class Invoice",
    "sequence_diagram": "sequenceDiagram\n  Clerk->>Invoice: apply_code",
}


def _message(i: int, kind: str, payload: dict[str, Any]) -> Message:
    return Message(i, "bench", kind, "project", "bench", "bench", f"bench/{kind}", None, payload, None, 0.0)


def step_tokens(root: Path, files: list[str]) -> dict[str, int]:
    """Estimated prompt tokens of each change step on a board with the PRD and design above."""
    sop = load_sop()
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True)
    mode = ChangeMode(str(root), str(root), "main", base.stdout.strip(), "softco/bench", "bench", files=files)
    view = BoardView()
    tasks = {"tasks": [{"path": f["path"], "description": f["purpose"], "req_ids": f["req_ids"],
                        "depends_on": f["depends_on"]} for f in DESIGN["files"]]}  # fmt: skip
    for i, (kind, payload) in enumerate(
        [("requirement", {"text": REQUIREMENT}), ("prd", PRD), ("design", DESIGN), ("tasks", tasks)], 1
    ):
        view.add(_message(i, kind, payload))
    out: dict[str, int] = {}
    for role in sop.roles:
        for action in role.actions:
            if action.template is None or action.name in ("fix_code", "recheck_tests"):
                continue
            trigger = view.latest[action.trigger[0]]
            items = trigger.payload["tasks"] if action.for_each else [None]
            for item in items:
                subject = item["path"] if item else "project"
                step = Step(role, action, subject, trigger, item=item)
                request = build_request(sop, view, step, mode)
                chars = sum(len(m.content) for m in request.messages)
                if item and item["path"] == TOUCHED and action.name == "write_code":
                    assert "def subtotal(self) -> float:" in request.messages[1].content, "the edited file is shown"
                out[step.key] = chars // 4
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200,1000", help="repo sizes in Python files, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="softco-change-bench-"))
    rows: list[tuple[int, float, dict[str, int]]] = []
    try:
        for n in sizes:
            root = tmp / f"repo{n}"
            files = make_repo(root, n)
            started = time.perf_counter()
            repo_map = build_map(root, files)
            seconds = time.perf_counter() - started
            assert len(repo_map.files) == n
            rows.append((n, seconds, step_tokens(root, files)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    keys = sorted(rows[0][2])
    print("| files | map build (s) | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for n, seconds, tokens in rows:
        print(f"| {n} | {seconds:.3f} | " + " | ".join(f"~{tokens[k]:,}" for k in keys) + " |")
    ok = True
    small, large = rows[0], rows[-1]
    for k in keys:
        growth = large[2][k] / max(1, small[2][k])
        good = growth <= MAX_GROWTH
        ok &= good
        verdict = "PASS" if good else "FAIL"
        print(f"{verdict}  {k}: prompt tokens {small[0]} -> {large[0]} files: x{growth:.2f} (<= {MAX_GROWTH})")
    good = large[1] < MAX_MAP_SECONDS
    ok &= good
    print(f"{'PASS' if good else 'FAIL'}  map of {large[0]} files built in {large[1]:.3f} s (< {MAX_MAP_SECONDS} s)")
    print("prompt tokens are estimates (4 characters a token); the map time is measured on this machine")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
