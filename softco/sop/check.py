"""Checking a SOP before any call: `softco sop validate`, and the first thing `softco new` does.

:func:`check_dir` returns a list of :class:`~softco.sop.load.Problem` (``file:line: message``), empty
when the SOP is fine. What it checks, in order:

- role files: YAML syntax, unknown keys, wrong types (from :func:`softco.sop.load.load_role`), kind
  declarations, a kind declared twice or named like a built-in one, ``.yml`` files that are ignored;
- each role: watched kinds that do not exist or that no role publishes (``requirement`` comes from
  the customer), triggers the role does not watch, unknown published kinds, tools used with the
  wrong kinds, ``for_each`` fields that are not lists of objects, ``when`` expressions;
- templates: missing files, Jinja syntax, variables a template uses that its step does not get
  (:data:`softco.sop.prompts.TEMPLATE_VARIABLES`), fields of ``trigger`` / ``item`` its kind does not
  have, templates it includes or imports (checked the same way), templates nobody uses;
- the company: roles and actions that can never run (nothing published from the requirement on
  triggers them), a company that never publishes its final kind (``test_report``), and loops
  with no bound.

A loop is a cycle in the kind graph (kind -> action -> published kind). It is bounded when one of
its actions runs a bounded number of times: the ``triage`` and ``collect_disputes`` tools (they
stop after ``--max-fix-rounds``), an action with ``max_rounds``, or a non-batch action triggered by a kind
whose subjects are fixed by the design (a step key is role/action/subject, so such an action runs
once per subject). A ``batch`` action makes a new ``round-N`` subject every time, and a kind whose
subject the model chooses freely can have any number of subjects: a cycle of only such actions
could make new steps forever.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import softco
from softco.sop.check_templates import check_expression, check_templates, item_fields
from softco.sop.graph import CUSTOMER_KINDS, FINAL_KIND, check_loops, check_reach, publishes
from softco.sop.load import ActionSpec, Problem, RoleSpec, Sop, SopError, _yaml_line, load_sop
from softco.sop.problems import RoleLines, kind_list
from softco.sop.tools import TOOLS

#: The largest note of a clean check read (a few hundred modules a line each).
MAX_NOTE_BYTES = 256 * 1024


def check_dir(user_dir: Path | None, final_kind: str = FINAL_KIND) -> list[Problem]:
    """Every problem of the SOP in ``user_dir`` over the defaults (None: the defaults alone).

    Raises :class:`SopError` when ``user_dir`` is not a directory.
    """
    sop, problems = _loaded(user_dir)
    return problems if sop is None else problems + check_sop(sop, final_kind)


def _loaded(user_dir: Path | None) -> tuple[Sop | None, list[Problem]]:
    """The SOP (None when it cannot be loaded) and the problems found on the way: stray files, and what made
    the load fail. Raises :class:`SopError` when ``user_dir`` is not a directory."""
    problems = _stray_files(user_dir) if user_dir is not None and user_dir.is_dir() else []
    try:
        return load_sop(user_dir), problems
    except SopError as exc:
        if not exc.problems:
            raise
        return None, problems + exc.problems


def load_checked_sop(user_dir: Path | None, cache: Path | None = None) -> Sop:
    """Load the SOP and check it; :class:`SopError` carries every problem.

    With ``cache`` (a directory, e.g. :func:`softco.config.cache_home`), a SOP found without problems is
    noted there (a file named by :func:`check_key`, which covers softco's version and every file of the
    SOP, listing the softco modules loaded when the check ended with their sizes and modification times:
    :func:`code_stamp`), and the same SOP is not checked again while those modules are unchanged. Only a
    clean check is noted; a SOP with problems is checked (and reported) every time. The cache is best
    effort: a directory that cannot be written costs only the check.
    """
    sop, problems = _loaded(user_dir)
    if sop is None:
        raise SopError(problems)
    noted = cache / "sop-checks" / check_key(sop) if cache is not None and not problems else None
    if noted is not None and _still_true(noted):
        return sop
    problems += check_sop(sop)
    if problems:
        raise SopError(problems)
    if noted is not None:
        try:
            noted.parent.mkdir(parents=True, exist_ok=True)
            part = noted.with_name(f"{noted.name}.{os.getpid()}.part")
            part.write_text(json.dumps(code_stamp()), encoding="utf-8")
            part.replace(noted)  # whole or not at all, for another softco reading it now
        except OSError:
            pass
    return sop


def check_key(sop: Sop) -> str:
    """What a clean check of ``sop`` depends on besides softco's code, hashed: softco's version and every
    file of the SOP: its role files (the removals too) and, per template directory in lookup order, every
    file under it (a template may include any of them)."""
    h = hashlib.sha256(f"softco {softco.__version__}\0".encode())
    for rid in sorted(sop.role_files):
        h.update(b"role\0" + rid.encode() + b"\0" + sop.role_files[rid].read_bytes() + b"\0")
    for rid in sorted(sop.removed):
        h.update(b"removed\0" + rid.encode() + b"\0")
    for i, d in enumerate(sop.template_dirs):
        for path in sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []:
            h.update(f"templates {i}\0{path.relative_to(d).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return h.hexdigest()


def code_stamp() -> list[list[object]]:
    """The softco modules this process has loaded, each as [path in the package, size, mtime in ns]: all the
    code a check that just ended can have run (an edit that makes it run another module edits one of these).
    An editable install being edited, or an upgrade, changes a size or a time."""
    package = Path(softco.__file__).parent
    out: list[list[object]] = []
    for module in list(sys.modules.copy().values()):
        where = getattr(module, "__file__", None)
        if not isinstance(where, str) or not (module.__name__ == "softco" or module.__name__.startswith("softco.")):
            continue
        path = Path(where)
        if package in path.parents:
            st = path.stat()
            out.append([path.relative_to(package).as_posix(), st.st_size, st.st_mtime_ns])
    return sorted(out)


def _still_true(noted: Path) -> bool:
    """Whether ``noted`` is a note of a clean check whose modules are all as they were then."""
    try:
        with noted.open("rb") as f:
            stamp = json.loads(f.read(MAX_NOTE_BYTES + 1) or b"null")
        package = Path(softco.__file__).parent
        if not isinstance(stamp, list) or not stamp:
            return False
        for rel, size, mtime in stamp:
            st = (package / rel).stat()
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                return False
    except (OSError, ValueError, TypeError):  # gone, unreadable, an older softco's empty note, not a stamp
        return False
    return True


def _stray_files(user_dir: Path) -> list[Problem]:
    roles = user_dir / "roles"
    return [
        Problem(str(p), 1, f"not read: role files end in .yaml; rename it to {p.stem}.yaml")
        for p in sorted(roles.glob("*.yml"))
    ]


def check_sop(sop: Sop, final_kind: str = FINAL_KIND) -> list[Problem]:
    """The problems of a loaded SOP (roles, kinds, templates, reachability, loops)."""
    lines = RoleLines(sop)
    out: list[Problem] = []
    publishers: dict[str, list[tuple[RoleSpec, int]]] = {}
    for role in sop.roles:
        for j, a in enumerate(role.actions):
            publishers.setdefault(publishes(a), []).append((role, j))
    known = set(sop.kinds)
    excused: set[str] = set()  # kinds already reported: assume them fixed, so nothing cascades
    out += _check_removed(sop, publishers, excused, final_kind)
    for role in sop.roles:
        out += _check_role(sop, role, lines, known, publishers, excused)
    out += check_templates(sop, lines)
    out += check_reach(sop, lines, excused, final_kind, publishers)
    out += check_loops(sop, lines)
    return list(dict.fromkeys(out))


# role files -------------------------------------------------------------------------------------


def _check_removed(
    sop: Sop, publishers: dict[str, list[tuple[RoleSpec, int]]], excused: set[str], final_kind: str
) -> list[Problem]:
    """A default role the SOP removes must not leave a kind that is needed (watched, or the final kind)
    without a publisher: say so at the removal, once, rather than at every role that watches it."""
    needed = {final_kind, *(k for r in sop.roles for k in r.watches)}
    out: list[Problem] = []
    for rid, path in sop.removed.items():
        default = sop.removed_roles[rid]
        orphaned = sorted(({publishes(a) for a in default.actions} & needed) - set(publishers))
        if orphaned:
            excused.update(orphaned)
            line = _yaml_line(path.read_text(encoding="utf-8"), ("removed",))
            kinds = ", ".join(orphaned)
            out.append(
                Problem(
                    str(path),
                    line,
                    f"removed: {default.name} ({default.title}) published {kinds}, which no other role publishes; "
                    "add a role that does, or keep this one",
                )
            )
    return out


def _check_role(
    sop: Sop,
    role: RoleSpec,
    lines: RoleLines,
    known: set[str],
    publishers: dict[str, list[tuple[RoleSpec, int]]],
    excused: set[str],
) -> list[Problem]:
    out: list[Problem] = []
    for i, kind in enumerate(role.watches):
        if kind not in known:
            excused.add(kind)
            out.append(
                lines.problem(role, ("watches", i), f"watches unknown kind {kind!r}; known kinds: {kind_list(known)}")
            )
        elif kind not in publishers and kind not in CUSTOMER_KINDS and kind not in excused:
            excused.add(kind)
            out.append(
                lines.problem(
                    role,
                    ("watches", i),
                    f"watches {kind!r}, which no role publishes; add an action that publishes it, or stop watching it",
                )
            )
    for j, a in enumerate(role.actions):
        for t in a.trigger:
            if t not in role.watches:
                excused.add(t)
                what = "" if t in known else " (an unknown kind)"
                out.append(
                    lines.problem(
                        role,
                        ("actions", j, "trigger"),
                        f"action {a.name!r} is triggered by {t!r}{what}, which the role does not watch; "
                        f"add it to watches",
                    )
                )
        if a.publishes not in known:
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "publishes"),
                    f"action {a.name!r} publishes unknown kind {a.publishes!r}; known kinds: {kind_list(known)}; "
                    "declare new kinds under `kinds:`",
                )
            )
        out += _check_action_shape(sop, role, j, a, lines)
    return out


def _check_action_shape(sop: Sop, role: RoleSpec, j: int, a: ActionSpec, lines: RoleLines) -> list[Problem]:
    out: list[Problem] = []
    if a.tool is not None:
        wants_trigger, publishes = TOOLS[a.tool].reads, TOOLS[a.tool].publishes
        if a.publishes != publishes:
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "publishes"),
                    f"tool {a.tool} publishes {publishes}; set publishes: {publishes}",
                )
            )
        if wants_trigger is not None and a.trigger != [wants_trigger]:
            out.append(
                lines.problem(
                    role,
                    ("actions", j, "trigger"),
                    f"tool {a.tool} reads a {wants_trigger}; set trigger: {wants_trigger}",
                )
            )
    if a.batch and a.for_each:
        out.append(lines.problem(role, ("actions", j, "for_each"), "a batch action runs once per round; drop for_each"))
    elif a.for_each:
        for t in a.trigger:
            cls = sop.kinds.get(t)
            if cls is not None and item_fields(cls, a.for_each) is None:
                out.append(
                    lines.problem(
                        role,
                        ("actions", j, "for_each"),
                        f"for_each: {a.for_each!r} is not a list of objects with a 'path' or 'id' field in kind {t!r}"
                        f" (its fields: {kind_list(cls.model_fields)})",
                    )
                )
    if a.when:
        file, line = lines.at(role, "actions", j, "when")
        out += check_expression(sop, a, file, line)
    return out
