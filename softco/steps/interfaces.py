"""What a prompt shows of the files a file depends on: their designed interfaces, within a budget.

A design's interface lines read ``signature: description`` (the Architect's template asks for
that), e.g. ``ItemStore.load(self) -> list[Item]: all items in id order``. A file's prompt carries
the interfaces of the files it depends on, never their code, so it does not grow with the project.
One kind of file still does: a hub (a command line, an app factory) that wires many modules
together. Like aider's repo map, the view then gets shorter in steps until it fits the budget:

1. everything, as designed;
2. a dependency that another of the file's dependencies is built on (a store under a service the
   file also imports) shows its classes and constructors, the parts a file needs to build it and
   hand it on, and names the other members;
3. descriptions are left out of method and function lines; class lines keep theirs (they carry a
   dataclass's fields).

Every member of a direct dependency keeps its full signature at every step, so a prompt never
loses a name or a type it needs to call. If step 3 is still over the budget, it is shown anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from softco.llm.tokens import estimate_tokens

#: The default budget of a prompt's dependency section, in tokens (4 characters a token): about
#: 60 interface lines. Templates pass their own: ``dependency_interfaces(paths, budget=0)`` never shortens.
DEFAULT_BUDGET = 1500

_NAME = re.compile(r"\s*(?:async\s+)?(?:def\s+|class\s+)?([A-Za-z_][\w.]*)")


class DependencyView(TypedDict):
    path: str
    #: interface lines to show, each a whole design line or its signature alone
    lines: list[str]
    #: the members left out (step 2), grouped by class: ["ItemStore: load, save", "validate_item"]
    omitted: list[str]


class DependencyInterfaces(TypedDict):
    files: list[DependencyView]
    #: "" when shown as designed; otherwise one sentence on what was shortened and why
    note: str


def split_interface(line: str) -> tuple[str, str]:
    """``signature: description`` -> (signature, description); the colon is the first one outside
    brackets and quotes that a space follows. A line with no description is all signature."""
    depth, quote = 0, ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0 and line[i + 1 : i + 2] == " ":
            return line[:i].rstrip(), line[i + 2 :].strip()
    return line.strip(), ""


def member_name(line: str) -> str:
    """The name an interface line defines: ``ItemStore.load``, ``validate_item``, ``Item``."""
    m = _NAME.match(split_interface(line)[0])
    return m.group(1) if m else line


def _is_class(signature: str) -> bool:
    return signature.startswith("class ")


def _is_constructor(signature: str) -> bool:
    return _is_class(signature) or member_name(signature).endswith(".__init__")


def _built_on(paths: list[str], depends_on: Mapping[str, Iterable[str]]) -> set[str]:
    """The paths among ``paths`` that another of them depends on, directly or through others."""
    reached: set[str] = set()
    for start in paths:
        todo = list(depends_on.get(start, ()))
        seen: set[str] = set()
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo.extend(depends_on.get(p, ()))
        reached |= seen - {start}
    return reached & set(paths)


def _grouped(names: list[str]) -> list[str]:
    """["A.x", "A.y", "f"] -> ["A: x, y", "f"], in the order first seen."""
    groups: dict[str, list[str]] = {}
    for name in names:
        owner, _, member = name.rpartition(".")
        groups.setdefault(owner, []).append(member)
    return [f"{owner}: {', '.join(members)}" if owner else ", ".join(members) for owner, members in groups.items()]


def _size(files: list[DependencyView]) -> int:
    text = "\n".join(f"### {f['path']}\n" + "\n".join(f"- {x}" for x in f["lines"]) for f in files)
    omitted = " ".join(", ".join(f["omitted"]) for f in files)
    return estimate_tokens(text + omitted)


def dependency_interfaces(
    paths: list[str], design_files: list[dict[str, Any]], budget: int = DEFAULT_BUDGET
) -> DependencyInterfaces:
    """The interfaces of ``paths`` (design file paths) as a prompt shows them, within ``budget``
    tokens if it can be done (see the module docstring); ``budget`` 0 or less means no limit."""
    by_path = {f["path"]: f for f in design_files}
    deps = [p for p in paths if p in by_path]
    full = [DependencyView(path=p, lines=list(by_path[p]["interfaces"]), omitted=[]) for p in deps]
    if budget <= 0 or _size(full) <= budget:
        return DependencyInterfaces(files=full, note="")
    built_on = _built_on(deps, {p: f.get("depends_on", []) for p, f in by_path.items()})
    step2: list[DependencyView] = []
    for view in full:
        if view["path"] not in built_on:
            step2.append(view)
            continue
        keep = [x for x in view["lines"] if _is_constructor(split_interface(x)[0])]
        left = [member_name(x) for x in view["lines"] if x not in keep]
        step2.append(DependencyView(path=view["path"], lines=keep, omitted=_grouped(left)))
    built = "a file another of these is built on shows its classes and constructors and names the rest"
    if built_on and _size(step2) <= budget:
        return DependencyInterfaces(files=step2, note=f"Shortened to fit {budget} tokens: {built}.")
    step3 = [
        DependencyView(
            path=v["path"],
            lines=[x if _is_class(split_interface(x)[0]) else split_interface(x)[0] for x in v["lines"]],
            omitted=v["omitted"],
        )
        for v in step2
    ]
    sigs = "descriptions of methods and functions are left out"
    note = f"{built}; {sigs}" if built_on else sigs
    return DependencyInterfaces(files=step3, note=f"Shortened to fit {budget} tokens: {note}.")
