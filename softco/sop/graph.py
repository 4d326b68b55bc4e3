"""The company as a graph of kinds: kind -> action -> published kind.

What :mod:`softco.sop.check` asks of it: which roles and actions can ever run (reachability from the
requirement), whether the company ever publishes its final kind, and which loops have no bound; and
what ``softco sop graph`` draws (:func:`mermaid`).
"""

from __future__ import annotations

import graphlib

from softco.artifacts import KINDS
from softco.custom_kinds import CustomArtifact
from softco.sop.load import ActionSpec, Problem, RoleSpec, Sop
from softco.sop.problems import RoleLines
from softco.sop.tools import TOOLS

#: The kind a company exists to publish; without it a run ends "no tests were run".
FINAL_KIND = "test_report"
#: Kinds the customer publishes (no role needs to).
CUSTOMER_KINDS = frozenset({"requirement"})
#: Built-in kinds whose subjects the design fixes ('project', or a design file's path).
BOUNDED_SUBJECT_KINDS = frozenset({"requirement", "prd", "design", "tasks", "code", "tests"})


def publishes(a: ActionSpec) -> str:
    """What an action really publishes: a tool's own kind, whatever its `publishes` says."""
    return TOOLS[a.tool].publishes if a.tool else a.publishes


def check_reach(
    sop: Sop,
    lines: RoleLines,
    excused: set[str],
    final_kind: str,
    publishers: dict[str, list[tuple[RoleSpec, int]]],
) -> list[Problem]:
    reach = set(CUSTOMER_KINDS) | excused
    runnable: set[tuple[str, int]] = set()
    changed = True
    while changed:
        changed = False
        for role in sop.roles:
            for j, a in enumerate(role.actions):
                if (role.id, j) not in runnable and any(t in reach for t in a.trigger):
                    runnable.add((role.id, j))
                    reach.add(publishes(a))
                    changed = True
    out: list[Problem] = []
    for role in sop.roles:
        dead = [j for j in range(len(role.actions)) if (role.id, j) not in runnable]
        final = any(publishes(role.actions[j]) == final_kind for j in dead)
        tail = f", so the company never publishes {final_kind}, its final kind" if final else ""
        if len(dead) == len(role.actions):
            triggers = sorted({t for a in role.actions for t in a.trigger})
            out.append(
                lines.problem(
                    role,
                    ("watches",),
                    f"role {role.id!r} ({role.author}) can never run: starting from the requirement, no role ever "
                    f"publishes what triggers it ({', '.join(triggers)}){tail}",
                )
            )
            continue
        for j in dead:
            a = role.actions[j]
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "name"),
                    f"action {a.name!r} can never run: starting from the requirement, no role ever publishes what "
                    f"triggers it ({', '.join(a.trigger)}){tail if publishes(a) == final_kind else ''}",
                )
            )
    if final_kind not in publishers and final_kind not in excused and sop.roles:
        last = sop.roles[-1]
        out.append(
            lines.problem(
                last,
                ("actions",),
                f"no action publishes {final_kind}, the company's final kind: no run could ever finish with tested "
                f"code; add an action with `tool: run_tests` (publishes: {final_kind})",
            )
        )
    return out


def _bounded_subjects(sop: Sop, kind: str) -> bool:
    cls = sop.kinds.get(kind)
    if isinstance(cls, type) and issubclass(cls, CustomArtifact):
        return cls.spec.bounded_subjects()
    return kind in BOUNDED_SUBJECT_KINDS and kind in KINDS


def _edge_bounded(sop: Sop, a: ActionSpec, trigger: str) -> bool:
    if (a.tool is not None and TOOLS[a.tool].bounded) or a.max_rounds is not None:
        return True
    if a.batch:
        return False
    return _bounded_subjects(sop, trigger)


def check_loops(sop: Sop, lines: RoleLines) -> list[Problem]:
    """Cycles in the kind graph made only of actions that can run any number of times."""
    edges: dict[str, list[tuple[str, RoleSpec, int]]] = {}
    for role in sop.roles:
        for j, a in enumerate(role.actions):
            for t in a.trigger:
                if t in sop.kinds and publishes(a) in sop.kinds and not _edge_bounded(sop, a, t):
                    edges.setdefault(t, []).append((publishes(a), role, j))
    out: list[Problem] = []
    for cycle in _cycles(edges):
        kinds = " -> ".join([cycle[0][0], *(dst for _, dst, _, _ in cycle)])
        actions = [(role, j) for _, _, role, j in cycle]
        role, j = next(((r, k) for r, k in actions if r.actions[k].batch), actions[0])
        names = ", ".join(f"{r.id}.{r.actions[k].name}" for r, k in actions)
        out.append(
            lines.problem(
                role,
                ("actions", j, "name"),
                f"loop {kinds} (actions {names}) has no bound: each round can make new steps forever; put the "
                f"triage tool in it or give one of its actions `max_rounds: N`",
            )
        )
    return out


def _cycles(edges: dict[str, list[tuple[str, RoleSpec, int]]]) -> list[list[tuple[str, str, RoleSpec, int]]]:
    """Cycles of the kind graph (graphlib finds them), as (src, dst, role, action index) edges, each starting at
    its first kind in sorted order. The kinds of a cycle found leave the graph, so loops that share a kind are
    reported once."""
    # graphlib reads a mapping of node -> predecessors; given kind -> kinds it leads to, a cycle comes out reversed
    graph = {src: {dst for dst, _, _ in es} for src, es in edges.items()}
    found: list[list[tuple[str, str, RoleSpec, int]]] = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            kinds: list[str] = list(reversed(exc.args[1][1:]))
            first = kinds.index(min(kinds))
            kinds = kinds[first:] + kinds[:first]
            hops = zip(kinds, [*kinds[1:], kinds[0]], strict=True)
            found.append([(v, w, *next((role, j) for d, role, j in edges[v] if d == w)) for v, w in hops])
            graph = {v: ws - set(kinds) for v, ws in graph.items() if v not in kinds}
        else:
            return found


# the drawing -----------------------------------------------------------------------------------


def _node_id(prefix: str, name: str) -> str:
    return prefix + "".join(c if c.isalnum() else "_" for c in name)


def _label(text: str) -> str:
    """Text safe inside a quoted mermaid label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(sop: Sop, final_kind: str = FINAL_KIND) -> str:
    """The company as a mermaid flowchart: roles, kinds, who watches and publishes what."""
    out = ["flowchart LR", '  customer(["Customer"])', "  customer --> kind_requirement"]
    kinds: list[str] = ["requirement"]
    for role in sop.roles:
        for a in role.actions:
            for k in [*a.trigger, a.publishes]:
                if k not in kinds:
                    kinds.append(k)
        for k in role.watches:
            if k not in kinds:
                kinds.append(k)
    for k in kinds:
        out.append(f'  {_node_id("kind_", k)}(["{k}"])')
    for role in sop.roles:
        rid = _node_id("role_", role.id)
        out.append(f'  {rid}["{_label(role.name)}<br/>{_label(role.title)}"]')
        triggers = {t for a in role.actions for t in a.trigger}
        for a in role.actions:
            notes = [
                n
                for n, on in (
                    ("batch", a.batch),
                    (f"each {a.for_each}", a.for_each),
                    ("when", a.when),
                    (f"max {a.max_rounds}", a.max_rounds),
                    (f"tool {a.tool}", a.tool),
                )
                if on
            ]
            label = a.name + (f" ({', '.join(notes)})" if notes else "")
            for t in a.trigger:
                out.append(f'  {_node_id("kind_", t)} -->|"{label}"| {rid}')
            out.append(f'  {rid} -->|"{a.name}"| {_node_id("kind_", a.publishes)}')
        for k in role.watches:
            if k not in triggers:
                out.append(f"  {_node_id('kind_', k)} -.-> {rid}")
    out.append("  classDef kind fill:#eef,stroke:#88a")
    out.append("  classDef final fill:#efe,stroke:#393,stroke-width:3px")
    out.append("  classDef custom fill:#fef6e0,stroke:#c90")
    out.append("  class " + ",".join(_node_id("kind_", k) for k in kinds) + " kind")
    custom = [k for k in kinds if k in sop.custom_kinds]
    if custom:
        out.append("  class " + ",".join(_node_id("kind_", k) for k in custom) + " custom")
    if final_kind in kinds:
        out.append(f"  class {_node_id('kind_', final_kind)} final")
    return "\n".join(out) + "\n"
