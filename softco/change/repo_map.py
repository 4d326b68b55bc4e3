"""A map of an existing Python project, read with ``ast``, trimmed to a token budget.

For every Python file: its first docstring line, its classes and functions with their signatures and
the first line of their docstrings, and which of the project's modules it imports. A prompt gets the
files most relevant to what is asked (words of the requirement and design that name the file, its
symbols or its docstrings; the files the step edits and their neighbours in the import graph) until the
budget is spent, so the prompt stays the same size however large the repo is. Code is never run: it is
parsed. A file that is too large, binary or not valid Python is listed by name only.
"""

from __future__ import annotations

import ast
import gc
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from softco.artifacts import _AST_LOCK
from softco.change.repo import MAX_READ_BYTES, read_text

#: At most this many Python files are parsed; the rest are counted and said to be left out.
MAX_MAP_FILES = 5_000
#: The default budget of a map in a prompt, in tokens (estimated at 4 characters a token).
DEFAULT_MAP_BUDGET = 1_500
CHARS_PER_TOKEN = 4
MAX_LINE = 160
MAX_SYMBOLS = 40
#: The line ends the parser knows (str.splitlines knows more, which would shift line numbers).
_LINES = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_STOP = frozenset(
    "the and for with that this from into are was not but all any can each has have its new use add get set "
    "def self none true false return returns class file files test tests py init main".split()
)


def words(text: str) -> set[str]:
    """Lower-case words of identifiers and prose: ``parse_CSVFile`` -> parse, csv, file."""
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2 and w.lower() not in _STOP}


def _short(text: str, limit: int = MAX_LINE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _doc_line(node: ast.AST) -> str:
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        doc = ast.get_docstring(node, clean=True)
        if doc:
            return _short(doc.strip().splitlines()[0], 100)
    return ""


def _uncomment(line: str) -> str:
    """A line without its ``# comment`` (when no quote before the ``#`` leaves a string open)."""
    at = line.find("#")
    while at != -1:
        before = line[:at]
        if before.count('"') % 2 == 0 and before.count("'") % 2 == 0:
            return before
        at = line.find("#", at + 1)
    return line


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str:
    """The ``def`` line(s) as written, up to the body (a slice of the source: much faster than unparsing)."""
    first, last = fn.lineno - 1, fn.body[0].lineno - 1
    if not (0 <= first <= last < len(lines)):
        return f"def {fn.name}(...)"
    if first == last:
        parts = [lines[first][fn.col_offset : fn.body[0].col_offset]]
    else:
        parts = [lines[first][fn.col_offset :], *lines[first + 1 : last], lines[last][: fn.body[0].col_offset]]
    header = " ".join(_uncomment(p) for p in parts)
    header = " ".join(header.split()).rstrip()
    return header[:-1].rstrip() if header.endswith(":") else header


def module_name(path: str) -> str:
    """The import name of a repo path: src/pkg/a.py -> pkg.a, pkg/__init__.py -> pkg."""
    mod = path[:-3] if path.endswith(".py") else path
    if mod.startswith("src/"):
        mod = mod[4:]
    if mod.endswith("/__init__"):
        mod = mod[: -len("/__init__")]
    return mod.replace("/", ".")


@dataclass
class FileEntry:
    path: str
    doc: str = ""
    #: the file's outline, one line per class, function or method
    symbols: list[str] = field(default_factory=list)
    #: modules named by its import statements (resolved to dotted names)
    imported: set[str] = field(default_factory=set)
    #: why the file is listed by name only (too large, binary, a syntax error), or ""
    problem: str = ""
    words: set[str] = field(default_factory=set)


def _outline(tree: ast.Module, source: list[str]) -> list[str]:
    lines: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            doc = _doc_line(node)
            lines.append(_short(_signature(node, source) + (f": {doc}" if doc else "")))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            doc = _doc_line(node)
            lines.append(_short(f"class {node.name}" + (f"({bases})" if bases else "") + (f": {doc}" if doc else "")))
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not sub.name.startswith("_") or sub.name == "__init__"
                ):
                    sdoc = _doc_line(sub)
                    lines.append("  " + _short(_signature(sub, source) + (f": {sdoc}" if sdoc else "")))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper():
                lines.append(_short(f"{name} = {ast.unparse(node.value)}", 100))
        if len(lines) >= MAX_SYMBOLS:
            lines.append("  ...")
            break
    return lines


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones too, without walking expressions (the import statements are among them)."""
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers"):
            more = getattr(node, name, None)
            if isinstance(more, list):
                stack.extend(reversed(more))


def _imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    out: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            if base:
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)
    return out


def read_entry(root: Path, path: str) -> FileEntry:
    text = read_text(root, path)
    entry = FileEntry(path=path)
    if text is None:
        entry.problem = f"not read: larger than {MAX_READ_BYTES:,} bytes, binary or not UTF-8"
    else:
        try:
            with _AST_LOCK:  # CPython 3.11's parser is not safe in two threads at once (QA's tools run in threads)
                tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # the last two: nested too deep
            entry.problem = f"not parsed: {type(exc).__name__} on line {getattr(exc, 'lineno', '?')}"
        else:
            entry.doc = _doc_line(tree)
            entry.symbols = _outline(tree, _LINES.split(text))
            entry.imported = _imports(tree, module_name(path), path.endswith("__init__.py"))
    entry.words = words(path) | words(entry.doc) | words(" ".join(entry.symbols))
    return entry


@dataclass
class RepoMap:
    files: dict[str, FileEntry]
    #: Python files left out because there were more than MAX_MAP_FILES
    not_read: int = 0
    _graph: dict[str, set[str]] | None = None

    def graph(self) -> dict[str, set[str]]:
        """path -> the project's files it imports."""
        if self._graph is None:
            by_module = {module_name(p): p for p in self.files}
            graph: dict[str, set[str]] = {}
            for p, entry in self.files.items():
                graph[p] = {by_module[m] for m in entry.imported if m in by_module and by_module[m] != p}
            self._graph = graph
        return self._graph

    def to_json(self) -> str:
        files = [
            {"path": e.path, "doc": e.doc, "symbols": e.symbols, "imported": sorted(e.imported), "problem": e.problem}
            for e in self.files.values()
        ]
        return json.dumps({"format": 1, "not_read": self.not_read, "files": files})

    @classmethod
    def from_json(cls, text: str) -> RepoMap:
        """A map kept by :meth:`to_json`; ValueError if it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("files"), list):
            raise ValueError("not a repo map")
        files: dict[str, FileEntry] = {}
        for f in data["files"]:
            e = FileEntry(
                path=str(f["path"]),
                doc=str(f["doc"]),
                symbols=[str(x) for x in f["symbols"]],
                imported={str(x) for x in f["imported"]},
                problem=str(f["problem"]),
            )
            e.words = words(e.path) | words(e.doc) | words(" ".join(e.symbols))
            files[e.path] = e
        return cls(files=files, not_read=int(data.get("not_read", 0)))

    def importers(self, path: str) -> set[str]:
        return {p for p, deps in self.graph().items() if path in deps}

    def rank(self, query: str, focus: Iterable[str] = ()) -> list[str]:
        """Files, most relevant first: the focus files, then by shared rare words with ``query``, the
        focus files' import neighbours and directories, and how many files import them."""
        return [p for p, _ in self.scored(query, focus)]

    def scored(self, query: str, focus: Iterable[str] = ()) -> list[tuple[str, float]]:
        """(file, relevance) most relevant first; the focus files first, with an infinite relevance."""
        focus = [f for f in focus if f in self.files]
        n = max(1, len(self.files))
        df: dict[str, int] = {}
        for e in self.files.values():
            for w in e.words:
                df[w] = df.get(w, 0) + 1
        wanted = words(query)
        graph = self.graph()
        indegree: dict[str, int] = {}
        for deps in graph.values():
            for d in deps:
                indegree[d] = indegree.get(d, 0) + 1
        near = {d for f in focus for d in graph.get(f, set())} | {p for f in focus for p in self.importers(f)}
        dirs = {f.rpartition("/")[0] for f in focus}

        def score(p: str) -> float:
            e = self.files[p]
            s = sum(math.log(1 + n / df[w]) for w in e.words & wanted)
            if s == 0 and p not in near and p.rpartition("/")[0] not in dirs:
                return 0.0  # nothing links it to the request: listed by name only, if at all
            s += 3.0 if p in near else 0.0
            s += 1.5 if p.rpartition("/")[0] in dirs else 0.0
            s += 0.5 * math.log(1 + indegree.get(p, 0))
            return s

        scores = {p: score(p) for p in self.files if p not in focus}
        rest = sorted(scores, key=lambda p: (-scores[p], p))
        return [*((f, math.inf) for f in focus), *((p, scores[p]) for p in rest)]

    def render(self, query: str, focus: Iterable[str] = (), budget: int = DEFAULT_MAP_BUDGET) -> str:
        """The map for a prompt: the most relevant files first, within ``budget`` tokens (estimated)."""
        limit = max(0, budget) * CHARS_PER_TOKEN
        order = self.scored(query, focus)
        graph = self.graph()
        head = f"{len(self.files)} Python files"
        if self.not_read:
            head += f" ({self.not_read} more not read: the map reads at most {MAX_MAP_FILES})"
        out: list[str] = []
        used = len(head) + 60
        shown = 0
        for p, relevance in order:
            e = self.files[p]
            lines = [f"{p}" + (f": {e.doc}" if e.doc else "") + (f" ({e.problem})" if e.problem else "")]
            if relevance <= 0:  # unrelated to the request: its name and docstring line only
                if used + len(lines[0]) + 1 > limit:
                    break
                out.append(lines[0])
                used += len(lines[0]) + 1
                shown += 1
                continue
            lines += [f"  {s}" for s in e.symbols]
            deps = sorted(graph.get(p, set()))
            if deps:
                lines.append("  imports: " + _short(", ".join(deps), 200))
            block = "\n".join(lines)
            if used + len(block) + 1 > limit:
                brief = lines[0]
                if used + len(brief) + 1 > limit:
                    break
                block = brief + " (outline left out: budget)"
            out.append(block)
            used += len(block) + 1
            shown += 1
        left = len(order) - shown
        tail = f"; {left} less relevant file(s) not shown" if left else ""
        return f"{head}, most relevant first{tail}:\n" + "\n".join(out)


def build_map(root: Path, files: Iterable[str]) -> RepoMap:
    """Read every tracked Python file of the worktree at ``root`` (at most MAX_MAP_FILES, shallowest first)."""
    py = sorted((f for f in files if f.endswith(".py")), key=lambda f: (f.count("/"), f))
    taken = py[:MAX_MAP_FILES]
    enabled = gc.isenabled()
    gc.disable()  # parsing makes many objects and no garbage cycles: collecting while it runs is wasted time
    try:
        entries = {p: read_entry(root, p) for p in taken}
    finally:
        if enabled:
            gc.enable()
    return RepoMap(files=entries, not_read=len(py) - len(taken))
