"""Synthetic but realistic projects of N source files, as the answers a model would give.

Used by ``benchmarks/bench.py`` and by ``tests/test_concurrency.py``. ``project(n)`` builds a
records manager for a small shop: per kind of record (item, order, customer, ...) a model, a JSON
store and a service, plus ``cli.py`` and ``__init__.py``. The dependencies are layered like a real
project's, four levels deep (model <- store <- service <- cli), with the PRD, design and tasks to
match, so the answers validate against :mod:`softco.artifacts`. A module is 55-81 lines, ``cli.py``
62-237 (it grows with the project), and every test file passes when QA runs it for real, so a run
ends in round 1 with exit code 0.

Everything is deterministic: the same ``n`` gives the same answers, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import Template
from typing import Any

#: (kind, text field, count field, amount field): the fields differ, so no two files are alike.
ENTITIES: list[tuple[str, str, str, str]] = [
    ("item", "name", "quantity", "price"),
    ("order", "reference", "lines", "total"),
    ("customer", "email", "visits", "balance"),
    ("supplier", "company", "lead_days", "rating"),
    ("invoice", "number", "terms_days", "amount"),
    ("shipment", "carrier", "parcels", "weight"),
    ("warehouse", "city", "bays", "capacity"),
    ("payment", "method", "installments", "value"),
    ("review", "author", "stars", "score"),
    ("coupon", "code", "uses", "discount"),
    ("employee", "fullname", "grade", "salary"),
    ("ticket", "subject", "replies", "hours"),
    ("vehicle", "plate", "seats", "mileage"),
    ("booking", "guest", "nights", "rate"),
]

LAYERS = ("model", "store", "service")


@dataclass
class SyntheticProject:
    """The answers for one project, and what they produce."""

    n: int
    package: str
    requirement: str
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: source path -> content, and test path -> content
    code: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)
    #: source path -> the source paths it depends on
    depends_on: dict[str, list[str]] = field(default_factory=dict)

    def answer(self, step_key: str) -> dict[str, Any]:
        """The answer for a step key (KeyError for a step this project never scripted)."""
        return self.answers[step_key]

    def lines(self) -> int:
        """Lines of generated code and tests."""
        return sum(len(text.splitlines()) for text in [*self.code.values(), *self.tests.values()])


@dataclass
class _Module:
    path: str
    kind: str  # init / model / store / service / cli
    entity: tuple[str, str, str, str] | None
    req_ids: list[str]
    depends_on: list[str]
    interfaces: list[str]
    purpose: str
    description: str


def _cls(entity: str) -> str:
    return entity.capitalize()


def _subst(template: str, **values: str) -> str:
    return Template(template).substitute(values)


def _entity_values(pkg: str, entity: tuple[str, str, str, str]) -> dict[str, str]:
    e, t, i, f = entity
    return {"pkg": pkg, "e": e, "E": _cls(e), "t": t, "i": i, "f": f}


# -- code ---------------------------------------------------------------------------------------

MODEL = '''"""${E} records: the fields, their rules, and conversion to and from plain dicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("open", "closed")
MAX_TEXT = 200
FIELDS = ("id", "${t}", "${i}", "${f}", "status", "tags")


class ${E}Error(ValueError):
    """A ${e} that breaks one of its rules."""


@dataclass
class ${E}:
    """One ${e}: an id, a ${t}, a ${i} count, a ${f} amount, a status and tags."""

    id: int
    ${t}: str
    ${i}: int = 0
    ${f}: float = 0.0
    status: str = "open"
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.${t} = self.${t}.strip()
        self.tags = sorted({tag.strip().lower() for tag in self.tags if tag.strip()})
        validate_${e}(self)

    def metric(self) -> float:
        """${i} times ${f}, rounded to cents."""
        return round(self.${i} * self.${f}, 2)

    def close(self) -> None:
        """Mark the ${e} closed; closing it twice is an error."""
        if self.status == "closed":
            raise ${E}Error(f"${e} {self.id} is already closed")
        self.status = "closed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ${E}:
        """Build a ${E} from a dict made by to_dict; unknown or missing keys are an error."""
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise ${E}Error(f"unknown ${e} field(s): {sorted(unknown)}")
        try:
            return cls(
                id=int(data["id"]),
                ${t}=str(data["${t}"]),
                ${i}=int(data.get("${i}", 0)),
                ${f}=float(data.get("${f}", 0.0)),
                status=str(data.get("status", "open")),
                tags=[str(tag) for tag in data.get("tags", [])],
            )
        except KeyError as exc:
            raise ${E}Error(f"missing ${e} field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ${E}Error(f"bad ${e} value: {exc}") from None


def validate_${e}(${e}: ${E}) -> None:
    """Raise ${E}Error unless every field of the ${e} is in range."""
    if ${e}.id < 1:
        raise ${E}Error(f"${e} id must be positive, got {${e}.id}")
    if not ${e}.${t}:
        raise ${E}Error("${e} ${t} must not be empty")
    if len(${e}.${t}) > MAX_TEXT:
        raise ${E}Error(f"${e} ${t} is longer than {MAX_TEXT} characters")
    if ${e}.${i} < 0:
        raise ${E}Error(f"${e} ${i} must be >= 0, got {${e}.${i}}")
    if ${e}.${f} < 0:
        raise ${E}Error(f"${e} ${f} must be >= 0, got {${e}.${f}}")
    if ${e}.status not in STATUSES:
        raise ${E}Error(f"${e} status must be one of {STATUSES}, got {${e}.status!r}")
'''

STORE = '''"""${E} storage: every ${e} in one JSON file, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ${pkg}.${e}_model import ${E}, ${E}Error


class ${E}Store:
    """The ${e}s of one JSON file; a file that does not exist yet is an empty store."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> list[${E}]:
        """Every ${e} in the file, in id order; [] if the file does not exist."""
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ${E}Error(f"{self.path} is not valid JSON: {exc.msg}") from None
        if not isinstance(raw, list):
            raise ${E}Error(f"{self.path} must hold a JSON list of ${e}s")
        return sorted((${E}.from_dict(d) for d in raw), key=lambda r: r.id)

    def save(self, records: list[${E}]) -> None:
        """Write all ${e}s, replacing the file atomically (a crash leaves the old file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps([r.to_dict() for r in sorted(records, key=lambda r: r.id)], indent=2)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".${e}s-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data + "\\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def next_id(self) -> int:
        """One more than the highest id in the file (1 for an empty store)."""
        return max((r.id for r in self.load()), default=0) + 1

    def add(self, record: ${E}) -> ${E}:
        """Append a ${e}; an id that is already taken is an error."""
        records = self.load()
        if any(r.id == record.id for r in records):
            raise ${E}Error(f"${e} {record.id} already exists")
        self.save([*records, record])
        return record

    def get(self, record_id: int) -> ${E} | None:
        """The ${e} with this id, or None."""
        return next((r for r in self.load() if r.id == record_id), None)

    def update(self, record: ${E}) -> None:
        """Replace the stored ${e} that has the same id; a missing one is an error."""
        records = self.load()
        if not any(r.id == record.id for r in records):
            raise ${E}Error(f"no ${e} {record.id}")
        self.save([record if r.id == record.id else r for r in records])

    def remove(self, record_id: int) -> bool:
        """Delete a ${e}; True if it was there."""
        records = self.load()
        kept = [r for r in records if r.id != record_id]
        if len(kept) == len(records):
            return False
        self.save(kept)
        return True
'''

SERVICE = '''"""${E} operations: create, close, search and summarise the ${e}s of a ${E}Store."""

from __future__ import annotations

from ${pkg}.${e}_model import ${E}, ${E}Error
from ${pkg}.${e}_store import ${E}Store


class ${E}Service:
    """Business rules on top of a ${E}Store; every change is saved at once."""

    def __init__(self, store: ${E}Store) -> None:
        self.store = store

    def create(self, ${t}: str, ${i}: int = 0, ${f}: float = 0.0, tags: list[str] | None = None) -> ${E}:
        """Validate and store a new open ${e} with the next free id."""
        record = ${E}(self.store.next_id(), ${t}, ${i}, ${f}, tags=list(tags or []))
        return self.store.add(record)

    def close(self, record_id: int) -> ${E}:
        """Close an open ${e}; an unknown id or a closed ${e} is an error."""
        record = self.store.get(record_id)
        if record is None:
            raise ${E}Error(f"no ${e} {record_id}")
        record.close()
        self.store.update(record)
        return record

    def search(self, text: str) -> list[${E}]:
        """${E}s whose ${t} or tags contain ``text``, ignoring case, in id order."""
        needle = text.strip().lower()
        if not needle:
            return self.store.load()
        return [r for r in self.store.load() if needle in r.${t}.lower() or any(needle in t for t in r.tags)]

    def open_${e}s(self) -> list[${E}]:
        """The ${e}s that are not closed."""
        return [r for r in self.store.load() if r.status == "open"]

    def summary(self) -> dict[str, float]:
        """Counts and totals: count, open, closed, ${i}, metric."""
        records = self.store.load()
        return {
            "count": len(records),
            "open": sum(r.status == "open" for r in records),
            "closed": sum(r.status == "closed" for r in records),
            "${i}": sum(r.${i} for r in records),
            "metric": round(sum(r.metric() for r in records), 2),
        }

    def top(self, n: int = 3) -> list[${E}]:
        """The ``n`` ${e}s with the largest metric (ties by id); n must be >= 1."""
        if n < 1:
            raise ${E}Error(f"n must be >= 1, got {n}")
        return sorted(self.store.load(), key=lambda r: (-r.metric(), r.id))[:n]
'''

CLI_HEAD = '''"""The command line: `${pkg} [--data DIR] KIND ACTION ...`, one KIND per record type."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

'''

CLI_HANDLER_SERVICE = '''

def run_${e}(args: argparse.Namespace) -> int:
    """${E}s: add, list, close, summary."""
    service = ${E}Service(${E}Store(args.data / "${e}s.json"))
    if args.action == "add":
        record = service.create(args.text, args.count, args.amount, args.tag)
        print(f"added ${e} {record.id}")
    elif args.action == "list":
        for record in service.search(args.filter):
            print(json.dumps(record.to_dict(), sort_keys=True))
    elif args.action == "close":
        service.close(args.id)
        print(f"closed ${e} {args.id}")
    else:
        print(json.dumps(service.summary(), sort_keys=True))
    return 0
'''

CLI_HANDLER_STORE = '''

def run_${e}(args: argparse.Namespace) -> int:
    """${E}s: add, list."""
    store = ${E}Store(args.data / "${e}s.json")
    if args.action == "add":
        record = store.add(${E}(store.next_id(), args.text, args.count, args.amount, tags=args.tag))
        print(f"added ${e} {record.id}")
    else:
        for record in store.load():
            if args.filter.lower() in record.${t}.lower():
                print(json.dumps(record.to_dict(), sort_keys=True))
    return 0
'''

CLI_TAIL = '''

def build_parser() -> argparse.ArgumentParser:
    """The argument parser: --data, then KIND and ACTION."""
    parser = argparse.ArgumentParser(prog="${pkg}", description="Keep the records of a small shop.")
    parser.add_argument("--data", type=Path, default=Path("data"), help="directory of the JSON files")
    kinds = parser.add_subparsers(dest="kind", required=True)
    for kind in HANDLERS:
        actions = kinds.add_parser(kind).add_subparsers(dest="action", required=True)
        add = actions.add_parser("add")
        add.add_argument("text")
        add.add_argument("--count", type=int, default=0)
        add.add_argument("--amount", type=float, default=0.0)
        add.add_argument("--tag", action="append", default=[])
        actions.add_parser("list").add_argument("--filter", default="")
        if kind in FULL:
            actions.add_parser("close").add_argument("id", type=int)
            actions.add_parser("summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input prints one line on stderr and returns 2."""
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.kind](args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
'''

INIT = '''"""${pkg}: keep the records of a small shop in JSON files, from Python or the command line."""

__version__ = "0.1.0"
'''

# -- tests --------------------------------------------------------------------------------------

MODEL_TESTS = '''"""Tests of ${pkg}/${e}_model.py."""

import pytest

from ${pkg}.${e}_model import ${E}, ${E}Error, validate_${e}


def test_${e}_metric_is_${i}_times_${f}():
    record = ${E}(1, "first", 3, 2.5)
    assert record.metric() == 7.5


def test_${e}_normalises_text_and_tags():
    record = ${E}(2, "  spaced  ", tags=["B", "a", "b", " "])
    assert record.${t} == "spaced"
    assert record.tags == ["a", "b"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": 0, "${t}": "x"},
        {"id": 1, "${t}": "   "},
        {"id": 1, "${t}": "x" * 201},
        {"id": 1, "${t}": "x", "${i}": -1},
        {"id": 1, "${t}": "x", "${f}": -0.5},
        {"id": 1, "${t}": "x", "status": "lost"},
    ],
)
def test_${e}_rejects_bad_fields(kwargs):
    with pytest.raises(${E}Error):
        ${E}(**kwargs)


def test_${e}_round_trips_through_a_dict():
    record = ${E}(4, "round", 2, 1.25, tags=["x"])
    assert ${E}.from_dict(record.to_dict()) == record


def test_${e}_from_dict_names_unknown_and_missing_fields():
    with pytest.raises(${E}Error, match="unknown"):
        ${E}.from_dict({"id": 1, "${t}": "x", "colour": "red"})
    with pytest.raises(${E}Error, match="missing"):
        ${E}.from_dict({"id": 1})


def test_${e}_close_twice_fails():
    record = ${E}(5, "closing")
    record.close()
    assert record.status == "closed"
    with pytest.raises(${E}Error):
        record.close()
    validate_${e}(record)
'''

STORE_TESTS = '''"""Tests of ${pkg}/${e}_store.py."""

import pytest

from ${pkg}.${e}_model import ${E}, ${E}Error
from ${pkg}.${e}_store import ${E}Store


def test_a_missing_file_is_an_empty_store(tmp_path):
    store = ${E}Store(tmp_path / "none.json")
    assert store.load() == []
    assert store.next_id() == 1


def test_add_then_load_in_id_order(tmp_path):
    store = ${E}Store(tmp_path / "data" / "${e}s.json")
    store.add(${E}(2, "second", 1, 1.0))
    store.add(${E}(1, "first", 2, 2.0))
    assert [r.id for r in store.load()] == [1, 2]
    assert store.next_id() == 3
    assert not list(store.path.parent.glob("*.tmp"))


def test_a_taken_id_is_refused(tmp_path):
    store = ${E}Store(tmp_path / "${e}s.json")
    store.add(${E}(1, "one"))
    with pytest.raises(${E}Error):
        store.add(${E}(1, "again"))


def test_get_update_remove(tmp_path):
    store = ${E}Store(tmp_path / "${e}s.json")
    store.add(${E}(1, "one"))
    record = store.get(1)
    assert record is not None and store.get(9) is None
    record.close()
    store.update(record)
    assert store.get(1).status == "closed"
    with pytest.raises(${E}Error):
        store.update(${E}(9, "nine"))
    assert store.remove(1) is True
    assert store.remove(1) is False


def test_a_corrupt_file_is_an_error(tmp_path):
    path = tmp_path / "${e}s.json"
    path.write_text("{not json")
    with pytest.raises(${E}Error, match="not valid JSON"):
        ${E}Store(path).load()
    path.write_text("{}")
    with pytest.raises(${E}Error, match="list"):
        ${E}Store(path).load()
'''

SERVICE_TESTS = '''"""Tests of ${pkg}/${e}_service.py."""

import pytest

from ${pkg}.${e}_model import ${E}Error
from ${pkg}.${e}_service import ${E}Service
from ${pkg}.${e}_store import ${E}Store


@pytest.fixture
def service(tmp_path):
    return ${E}Service(${E}Store(tmp_path / "${e}s.json"))


def test_create_gives_increasing_ids(service):
    first = service.create("alpha", 1, 2.0)
    second = service.create("beta", 3, 1.0, ["Sale"])
    assert (first.id, second.id) == (1, 2)
    assert second.tags == ["sale"]
    with pytest.raises(${E}Error):
        service.create("", 1, 1.0)


def test_close_and_open_${e}s(service):
    service.create("alpha")
    service.create("beta")
    assert service.close(1).status == "closed"
    assert [r.id for r in service.open_${e}s()] == [2]
    with pytest.raises(${E}Error):
        service.close(1)
    with pytest.raises(${E}Error):
        service.close(42)


def test_search_ignores_case_and_looks_at_tags(service):
    service.create("Blue Box", tags=["gift"])
    service.create("red box")
    service.create("lamp", tags=["GIFT"])
    assert [r.id for r in service.search("BOX")] == [1, 2]
    assert [r.id for r in service.search("gift")] == [1, 3]
    assert len(service.search("  ")) == 3


def test_summary_and_top(service):
    service.create("a", 2, 5.0)
    service.create("b", 1, 1.0)
    service.create("c", 4, 5.0)
    service.close(2)
    assert service.summary() == {"count": 3, "open": 2, "closed": 1, "${i}": 7, "metric": 31.0}
    assert [r.id for r in service.top(2)] == [3, 1]
    with pytest.raises(${E}Error):
        service.top(0)
'''

CLI_TESTS_HEAD = '''"""Tests of ${pkg}/cli.py."""

import json

from ${pkg}.cli import build_parser, main


def test_every_kind_has_a_command():
    parser = build_parser()
    for kind in ${kinds}:
        args = parser.parse_args([kind, "list"])
        assert (args.kind, args.action) == (kind, "list")


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "${e0}", "add", "x", "--count", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
'''

CLI_TESTS_KIND = """

def test_${e}_add_and_list(tmp_path, capsys):
    data = ["--data", str(tmp_path)]
    assert main([*data, "${e}", "add", "first", "--count", "2", "--amount", "1.5", "--tag", "x"]) == 0
    assert main([*data, "${e}", "add", "second"]) == 0
    assert capsys.readouterr().out.splitlines() == ["added ${e} 1", "added ${e} 2"]
    assert main([*data, "${e}", "list", "--filter", "FIRST"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["${t}"], r["${i}"]) for r in listed] == [(1, "first", 2)]
"""

CLI_TESTS_SERVICE = """

def test_${e}_close_and_summary(tmp_path, capsys):
    data = ["--data", str(tmp_path)]
    main([*data, "${e}", "add", "one", "--count", "3", "--amount", "2"])
    assert main([*data, "${e}", "close", "1"]) == 0
    assert main([*data, "${e}", "close", "7"]) == 2
    capsys.readouterr()
    assert main([*data, "${e}", "summary"]) == 0
    assert json.loads(capsys.readouterr().out)["closed"] == 1
"""


# -- the project --------------------------------------------------------------------------------


def _modules(n: int, pkg: str) -> list[_Module]:
    if n < 4:
        raise ValueError("a synthetic project has at least 4 files")
    slots = n - 2
    kinds: list[tuple[tuple[str, str, str, str], str]] = []
    for k in range((slots + 2) // 3):
        if k >= len(ENTITIES):
            raise ValueError(f"at most {2 + 3 * len(ENTITIES)} files")
        for layer in LAYERS:
            if len(kinds) < slots:
                kinds.append((ENTITIES[k], layer))
    mods: list[_Module] = [
        _Module(
            f"{pkg}/__init__.py",
            "init",
            None,
            [],
            [],
            ['__version__ = "0.1.0": the package version'],
            "Package marker and version",
            "Define the package docstring and __version__ only.",
        )
    ]
    req = 0
    layers_of: dict[str, list[str]] = {}
    for entity, layer in kinds:
        e, t, i, f = entity
        E = _cls(e)
        req += 1
        rid = f"REQ-{req}"
        model, store = f"{pkg}/{e}_model.py", f"{pkg}/{e}_store.py"
        layers_of.setdefault(e, []).append(layer)
        if layer == "model":
            mods.append(
                _Module(
                    model,
                    "model",
                    entity,
                    [rid],
                    [],
                    [
                        f"class {E}Error(ValueError): a {e} that breaks a rule",
                        f"class {E}: dataclass with fields id: int, {t}: str, {i}: int = 0, {f}: float = 0.0, "
                        'status: str = "open", tags: list[str]; validated on creation',
                        f"{E}.metric(self) -> float: {i} times {f}, rounded to cents",
                        f"{E}.close(self) -> None: mark closed; {E}Error if already closed",
                        f"{E}.to_dict(self) -> dict[str, Any]: JSON-ready dict of every field",
                        f"{E}.from_dict(cls, data: dict[str, Any]) -> {E}: inverse of to_dict; {E}Error on "
                        "unknown or missing keys",
                        f"def validate_{e}({e}: {E}) -> None: raise {E}Error unless every field is in range",
                    ],
                    f"The {e} record and its rules",
                    f"A dataclass for {e}s: strip the {t}, normalise tags (lower case, sorted, unique), "
                    f"reject ids < 1, an empty or over-200-character {t}, a negative {i} or {f}, and an "
                    "unknown status.",
                )
            )
        elif layer == "store":
            mods.append(
                _Module(
                    store,
                    "store",
                    entity,
                    [rid],
                    [model],
                    [
                        f"class {E}Store: the {e}s of one JSON file",
                        f"{E}Store.__init__(self, path: Path) -> None: a missing file is an empty store",
                        f"{E}Store.load(self) -> list[{E}]: all {e}s in id order; {E}Error on a corrupt file",
                        f"{E}Store.save(self, records: list[{E}]) -> None: write atomically",
                        f"{E}Store.next_id(self) -> int: highest id + 1",
                        f"{E}Store.add(self, record: {E}) -> {E}: append; {E}Error if the id is taken",
                        f"{E}Store.get(self, record_id: int) -> {E} | None: the {e} or None",
                        f"{E}Store.update(self, record: {E}) -> None: replace; {E}Error if missing",
                        f"{E}Store.remove(self, record_id: int) -> bool: True if it was there",
                    ],
                    f"JSON file storage of {e}s",
                    f"Keep {e}s in one JSON list; write through a temporary file and os.replace so a crash "
                    "never leaves half a file; a corrupt file or a non-list is a clear error.",
                )
            )
        else:
            mods.append(
                _Module(
                    f"{pkg}/{e}_service.py",
                    "service",
                    entity,
                    [rid],
                    [model, store],
                    [
                        f"class {E}Service: business rules over a {E}Store",
                        f"{E}Service.__init__(self, store: {E}Store) -> None: keep the store as .store",
                        f"{E}Service.create(self, {t}: str, {i}: int = 0, {f}: float = 0.0, tags: list[str] | "
                        f"None = None) -> {E}: store a new open {e} with the next id",
                        f"{E}Service.close(self, record_id: int) -> {E}: close it; {E}Error if unknown/closed",
                        f"{E}Service.search(self, text: str) -> list[{E}]: by {t} or tag, ignoring case",
                        f"{E}Service.open_{e}s(self) -> list[{E}]: the {e}s not closed",
                        f"{E}Service.summary(self) -> dict[str, float]: count, open, closed, {i}, metric",
                        f"{E}Service.top(self, n: int = 3) -> list[{E}]: largest metric first; n >= 1",
                    ],
                    f"Operations on {e}s",
                    f"Create, close, search and summarise {e}s through the store; every change is saved at "
                    "once; an unknown id, closing twice or top(n < 1) raise the model's error.",
                )
            )
    req += 1
    cli_deps: list[str] = []
    for e, layers in layers_of.items():
        if "service" in layers:
            cli_deps += [f"{pkg}/{e}_service.py", f"{pkg}/{e}_store.py"]
        elif "store" in layers:
            cli_deps += [f"{pkg}/{e}_model.py", f"{pkg}/{e}_store.py"]
    mods.append(
        _Module(
            f"{pkg}/cli.py",
            "cli",
            None,
            [f"REQ-{req}"],
            cli_deps,
            [
                "def build_parser() -> argparse.ArgumentParser: --data DIR, then KIND (one per record type) "
                "and ACTION (add, list; close and summary where a service exists)",
                "def main(argv: list[str] | None = None) -> int: run one command; bad input prints one "
                "'error: ...' line on stderr and returns 2",
            ],
            "The command line",
            "One sub-command per record kind with add (TEXT --count --amount --tag), list (--filter), and "
            "close ID / summary where the kind has a service; print JSON lines; ValueError -> exit 2.",
        )
    )
    return mods


def _code(pkg: str, mod: _Module, mods: list[_Module]) -> str:
    if mod.kind == "init":
        return _subst(INIT, pkg=pkg)
    if mod.entity is not None:
        template = {"model": MODEL, "store": STORE, "service": SERVICE}[mod.kind]
        return _subst(template, **_entity_values(pkg, mod.entity))
    served = [m for m in mods if m.path in mod.depends_on and m.kind in ("service", "store") and m.entity]
    full = sorted({m.entity[0] for m in served if m.kind == "service" and m.entity})
    kinds = [m.entity for m in served if m.kind == "store" and m.entity]
    imports = []
    for entity in kinds:
        e = entity[0]
        if e in full:
            imports.append(f"from {pkg}.{e}_service import {_cls(e)}Service")
        else:
            imports.append(f"from {pkg}.{e}_model import {_cls(e)}")
        imports.append(f"from {pkg}.{e}_store import {_cls(e)}Store")
    text = _subst(CLI_HEAD, pkg=pkg) + "\n".join(imports) + "\n"
    for entity in kinds:
        handler = CLI_HANDLER_SERVICE if entity[0] in full else CLI_HANDLER_STORE
        text += _subst(handler, **_entity_values(pkg, entity))
    handlers = ", ".join(f'"{entity[0]}": run_{entity[0]}' for entity in kinds)
    text += f"\n\nHANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {{{handlers}}}\nFULL = {tuple(full)!r}\n"
    return text + _subst(CLI_TAIL, pkg=pkg)


def _tests(pkg: str, mod: _Module, mods: list[_Module]) -> tuple[str, str] | None:
    """(test path, content) for a module with requirements."""
    if mod.kind == "init":
        return None
    name = mod.path.removeprefix(f"{pkg}/").removesuffix(".py")
    path = f"tests/test_{name}.py"
    if mod.entity is not None:
        template = {"model": MODEL_TESTS, "store": STORE_TESTS, "service": SERVICE_TESTS}[mod.kind]
        return path, _subst(template, **_entity_values(pkg, mod.entity))
    stores = [m.entity for m in mods if m.path in mod.depends_on and m.kind == "store" and m.entity]
    full = {m.entity[0] for m in mods if m.path in mod.depends_on and m.kind == "service" and m.entity}
    text = _subst(CLI_TESTS_HEAD, pkg=pkg, kinds=repr([s[0] for s in stores]), e0=stores[0][0])
    for entity in stores:
        text += _subst(CLI_TESTS_KIND, **_entity_values(pkg, entity))
        if entity[0] in full:
            text += _subst(CLI_TESTS_SERVICE, **_entity_values(pkg, entity))
    return path, text


def _cases(content: str, req_ids: list[str]) -> list[dict[str, Any]]:
    names = [line[4:].split("(")[0] for line in content.splitlines() if line.startswith("def test_")]
    return [{"name": name, "req_ids": req_ids} for name in names]


def _prd(n: int, mods: list[_Module]) -> dict[str, Any]:
    reqs: list[dict[str, Any]] = []
    for mod in mods:
        if not mod.req_ids:
            continue
        if mod.entity is None:
            reqs.append(
                {
                    "title": "Command line",
                    "description": "A command line with one sub-command per record kind: add, list, and "
                    "close / summary where the kind has operations; data lives in JSON files under --data.",
                    "priority": "P0",
                    "acceptance_criteria": [
                        "`KIND add TEXT --count N --amount X` prints 'added KIND ID'",
                        "`KIND list --filter TEXT` prints one JSON object per matching record",
                        "bad input prints one 'error:' line on stderr and exits 2",
                    ],
                }
            )
            continue
        e, t, i, f = mod.entity
        E = _cls(e)
        if mod.kind == "model":
            reqs.append(
                {
                    "title": f"{E} records",
                    "description": f"A {e} has an id, a {t}, a {i} count, a {f} amount, a status (open or "
                    "closed) and tags; invalid values are rejected with a clear error.",
                    "priority": "P0",
                    "acceptance_criteria": [
                        f"{E}(1, 'x', 3, 2.5).metric() == 7.5",
                        f"an id < 1, an empty {t}, a negative {i} or {f} raise {E}Error",
                        f"{E}.from_dict(r.to_dict()) == r",
                    ],
                }
            )
        elif mod.kind == "store":
            reqs.append(
                {
                    "title": f"Keep {e}s in a JSON file",
                    "description": f"{E}s are saved to and loaded from one JSON file, atomically; a missing "
                    "file is empty, a corrupt one is an error.",
                    "priority": "P0",
                    "acceptance_criteria": [
                        f"added {e}s load back in id order",
                        "a taken id is refused",
                        "a corrupt file raises an error naming the file",
                    ],
                }
            )
        else:
            reqs.append(
                {
                    "title": f"{E} operations",
                    "description": f"Create, close, search and summarise {e}s.",
                    "priority": "P1",
                    "acceptance_criteria": [
                        "ids increase from 1",
                        f"closing an unknown or closed {e} is an error",
                        f"search matches the {t} or a tag, ignoring case",
                        f"summary gives count, open, closed, total {i} and metric",
                    ],
                }
            )
    for k, r in enumerate(reqs, 1):
        r["id"] = f"REQ-{k}"
    kinds = sorted({m.entity[0] for m in mods if m.entity})
    return {
        "project_name": f"Shop records ({n} files)",
        "summary": "A library and command line that keep the records of a small shop in JSON files, with "
        "validation, search and summaries. For shop owners who live in a terminal.",
        "goals": ["Keep every record valid", "Never lose data on a crash", "Answer common questions fast"],
        "user_stories": [
            f"As a shop owner, I want to add {k}s from the terminal so that my records stay current." for k in kinds[:4]
        ],
        "requirements": [
            {key: r[key] for key in ("id", "title", "description", "priority", "acceptance_criteria")} for r in reqs
        ],
        "competitive_analysis": ["Spreadsheets: flexible but no validation", "ERP suites: heavy and costly"],
        "open_questions": ["Multiple users? Assumed one user, one data directory."],
    }


def _design(pkg: str, mods: list[_Module]) -> dict[str, Any]:
    entities = sorted({m.entity[0] for m in mods if m.entity})
    classes = "\n".join(f"  class {_cls(e)}" for e in entities)
    first = entities[0]
    return {
        "approach": "Layers, each importing only the ones below it: per record kind a dataclass model with "
        "its validation, a store that keeps the records in one JSON file (atomic writes), and a service "
        "with the business rules; cli.py parses arguments and calls the services. Errors are ValueError "
        "subclasses per kind, turned into exit code 2 by the command line.",
        "package": pkg,
        "entry_point": f"{pkg}.cli:main",
        "dependencies": [],
        "files": [
            {
                "path": m.path,
                "purpose": m.description,
                "req_ids": m.req_ids,
                "interfaces": m.interfaces,
                "depends_on": m.depends_on,
            }
            for m in mods
        ],
        "class_diagram": f"classDiagram\n{classes}",
        "sequence_diagram": f"sequenceDiagram\n  User->>cli: {first} add\n  cli->>{_cls(first)}Store: add\n"
        f"  {_cls(first)}Store-->>cli: {_cls(first)}\n  cli-->>User: added {first} 1",
    }


def project(n: int) -> SyntheticProject:
    """The scripted answers of a project with ``n`` source files (4 <= n <= 44)."""
    pkg = f"shop{n}"
    mods = _modules(n, pkg)
    kinds = sorted({m.entity[0] for m in mods if m.entity})
    proj = SyntheticProject(
        n=n,
        package=pkg,
        requirement=f"a records manager for a small shop ({', '.join(kinds)}) in JSON files, with a command line",
    )
    prd = _prd(n, mods)
    proj.answers["product_manager/write_prd/project"] = prd
    proj.answers["architect/write_design/project"] = _design(pkg, mods)
    for m in mods:
        content = _code(pkg, m, mods)
        proj.code[m.path] = content
        proj.depends_on[m.path] = list(m.depends_on)
        proj.answers[f"engineer/write_code/{m.path}"] = {
            "path": m.path,
            "content": content,
            "req_ids": m.req_ids,
            "notes": m.purpose,
        }
        made = _tests(pkg, m, mods)
        if made is not None:
            path, text = made
            proj.tests[path] = text
            proj.answers[f"qa_engineer/write_tests/{m.path}"] = {
                "path": path,
                "source": m.path,
                "content": text,
                "cases": _cases(text, m.req_ids),
            }
    return proj
