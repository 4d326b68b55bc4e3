"""A file's prompt shows its dependencies' designed interfaces, shortened for a hub to fit a budget."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from softco.artifacts import Design
from softco.board import Message
from softco.sop.load import load_sop
from softco.steps.interfaces import dependency_interfaces, member_name, split_interface
from softco.steps.step import BoardView, Step, build_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from synthetic import project  # noqa: E402


@pytest.mark.parametrize(
    ("line", "signature", "description"),
    [
        (
            "def load(path: Path) -> list[Task]: Read tasks; [] if missing.",
            "def load(path: Path) -> list[Task]",
            "Read tasks; [] if missing.",
        ),
        (
            "Store.get(self, key: str) -> dict[str, int] | None: the row",
            "Store.get(self, key: str) -> dict[str, int] | None",
            "the row",
        ),
        ("class TaskError(ValueError): a bad task", "class TaskError(ValueError)", "a bad task"),
        ('SEP = ": ": the separator', 'SEP = ": "', "the separator"),
        ("def run(argv: list[str] | None = None) -> int", "def run(argv: list[str] | None = None) -> int", ""),
        (
            "def f(x: dict[str, Callable[[int], str]]) -> None: calls x",
            "def f(x: dict[str, Callable[[int], str]]) -> None",
            "calls x",
        ),
    ],
)
def test_an_interface_line_splits_into_signature_and_description(line: str, signature: str, description: str) -> None:
    assert split_interface(line) == (signature, description)


def test_member_names() -> None:
    assert member_name("Store.get(self, key: str) -> int: the row") == "Store.get"
    assert member_name("class Item: dataclass with fields id: int") == "Item"
    assert member_name("async def fetch(url: str) -> bytes: body") == "fetch"


def _design(n: int) -> list[dict[str, Any]]:
    return project(n).answers["architect/write_design/project"]["files"]  # type: ignore[no-any-return]


def _deps(files: list[dict[str, Any]], name: str) -> list[str]:
    return next(f["depends_on"] for f in files if f["path"].endswith(name))


def test_under_the_budget_the_interfaces_are_shown_as_designed() -> None:
    files = _design(32)
    by_path = {f["path"]: f for f in files}
    deps = _deps(files, "item_service.py")
    view = dependency_interfaces(deps, files)
    assert view["note"] == ""
    assert [v["path"] for v in view["files"]] == deps
    assert all(v["lines"] == by_path[v["path"]]["interfaces"] and not v["omitted"] for v in view["files"])
    # budget 0 never shortens, even a hub
    hub = dependency_interfaces(_deps(files, "cli.py"), files, budget=0)
    assert hub["note"] == "" and all(v["lines"] == by_path[v["path"]]["interfaces"] for v in hub["files"])


def test_a_hub_keeps_every_signature_it_calls_and_builds_what_it_hands_on() -> None:
    """The 32-file cli.py imports 10 services and the 10 stores they are built on: it sees each
    service's every signature, each store's class and constructor, and the names of the rest."""
    files = _design(32)
    by_path = {f["path"]: f for f in files}
    deps = _deps(files, "cli.py")
    view = dependency_interfaces(deps, files, budget=2000)
    assert "Shortened to fit 2000 tokens" in view["note"]
    shown = {v["path"]: v for v in view["files"]}
    assert list(shown) == deps
    services = [p for p in deps if p.endswith("_service.py")]
    stores = [p for p in deps if p.endswith("_store.py")]
    assert len(services) == len(stores) == 10
    for p in services:
        signatures = [split_interface(x)[0] for x in by_path[p]["interfaces"]]
        # every method of a service the hub calls keeps its whole signature (not its description)
        assert [split_interface(x)[0] for x in shown[p]["lines"]] == signatures
        assert not shown[p]["omitted"]
    for p in stores:
        cls = p.rsplit("/", 1)[1].split("_")[0].capitalize() + "Store"
        lines = shown[p]["lines"]
        assert [member_name(x) for x in lines] == [cls, f"{cls}.__init__"]
        assert lines[0] == by_path[p]["interfaces"][0]  # a class line keeps its description
        assert shown[p]["omitted"] == [f"{cls}: load, save, next_id, add, get, update, remove"]
    # a smaller budget cannot take away a signature of a direct dependency
    tiny = dependency_interfaces(deps, files, budget=10)
    assert tiny["files"] == view["files"]


def test_a_step_two_view_keeps_descriptions_when_it_fits() -> None:
    files = _design(32)
    deps = _deps(files, "cli.py")
    full = dependency_interfaces(deps, files, budget=0)
    size = sum(len(x) for v in full["files"] for x in v["lines"]) // 4
    view = dependency_interfaces(deps, files, budget=size * 3 // 4)
    assert "descriptions" not in view["note"] and "built on" in view["note"]
    service = next(v for v in view["files"] if v["path"].endswith("item_service.py"))
    assert any(": store a new open item with the next id" in x for x in service["lines"])


def _render_write_code(n: int, name: str) -> str:
    proj = project(n)
    view = BoardView()
    design = proj.answers["architect/write_design/project"]
    payloads = [
        ("requirement", {"text": proj.requirement}),
        ("prd", proj.answers["product_manager/write_prd/project"]),
        ("design", design),
        ("tasks", Design.model_validate(design).tasks().model_dump()),
    ]
    for i, (kind, payload) in enumerate(payloads, 1):
        view.add(Message(i, "r", kind, "project", "x", "a", f"x/a/{kind}", None, payload, None, time.time()))
    sop = load_sop()
    role = next(r for r in sop.roles if r.id == "engineer")
    action = next(a for a in role.actions if a.name == "write_code")
    item = next(t for t in view.latest["tasks"].payload["tasks"] if t["path"].endswith(name))
    return (
        build_request(sop, view, Step(role, action, item["path"], view.latest["tasks"], item=item)).messages[1].content
    )


def test_the_engineer_prompt_of_a_hub_is_bounded_and_a_small_projects_is_untouched() -> None:
    small = _render_write_code(8, "cli.py")
    assert "Shortened" not in small and "not shown" not in small
    assert "- ItemStore.load(self) -> list[Item]: all items in id order; ItemError on a corrupt file" in small
    # 16 files: the cli imports 5 services and their stores; the stores' unused methods go first
    mid = _render_write_code(16, "cli.py")
    assert "(Shortened to fit 1500 tokens:" in mid and "descriptions" not in mid
    assert "- ItemService.top(self, n: int = 3) -> list[Item]: largest metric first; n >= 1" in mid
    assert "- not shown: ItemStore: load, save, next_id, add, get, update, remove" in mid
    hub = _render_write_code(32, "cli.py")
    assert "(Shortened to fit 1500 tokens:" in hub
    assert "- ItemService.top(self, n: int = 3) -> list[Item]\n" in hub
    assert "- ItemStore.__init__(self, path: Path) -> None\n" in hub
    assert "- not shown: ItemStore: load, save, next_id, add, get, update, remove" in hub
    assert "ItemStore.load(self)" not in hub
    full = sum(len(x) for f in _design(32) if f["path"] in _deps(_design(32), "cli.py") for x in f["interfaces"])
    assert len(hub) < full  # the whole hub prompt is now shorter than its dependencies' full interfaces
