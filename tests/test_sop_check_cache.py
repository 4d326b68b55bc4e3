"""A SOP found clean is not checked again by the same softco (the per-user cache), and any change to its
files, or to softco's code, checks it again: a broken SOP never gets past `softco new` on a stale note."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers import run_cli

import softco.sop.check
from softco import config
from softco.defaults import ROLES_DIR, TEMPLATES_DIR
from softco.sop.check import load_checked_sop
from softco.sop.load import SopError


def copy_of_defaults(root: Path) -> Path:
    shutil.copytree(ROLES_DIR, root / "roles")
    shutil.copytree(TEMPLATES_DIR, root / "sop_templates")
    return root


class Counted:
    """softco.sop.check.check_sop, counting its calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = softco.sop.check.check_sop

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(softco.sop.check, "check_sop", counted)


def test_a_clean_sop_is_checked_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = Counted(monkeypatch)
    cache = tmp_path / "cache"
    sop_dir = copy_of_defaults(tmp_path / "sop")
    first = load_checked_sop(sop_dir, cache)
    second = load_checked_sop(sop_dir, cache)
    assert checks.calls == 1
    assert [r.id for r in second.roles] == [r.id for r in first.roles] and second.sop_hash == first.sop_hash
    assert len(list((cache / "sop-checks").iterdir())) == 1
    load_checked_sop(None, cache)  # the defaults alone are another SOP
    load_checked_sop(sop_dir, None)  # no cache: always checked
    assert checks.calls == 3


@pytest.mark.parametrize(
    "change",
    [
        # an edited template now uses a variable its step does not get
        lambda d: (d / "sop_templates" / "write_prd.j2").write_text("PRD for {{ requirment }}\n"),
        # a new file that a template includes is broken (every file of a template directory counts)
        lambda d: (
            (d / "sop_templates" / "write_prd.j2").write_text("{% include 'rules.txt' %}\n")
            or (d / "sop_templates" / "rules.txt").write_text("{{ nope }}\n")
        ),
        # a role file watches a kind that does not exist
        lambda d: (d / "roles" / "architect.yaml").write_text(
            (d / "roles" / "architect.yaml")
            .read_text()
            .replace("watches: [prd, design]", "watches: [prd, design, nothing]")
        ),
    ],
    ids=["template", "included file", "role file"],
)
def test_a_changed_sop_is_checked_again(tmp_path: Path, change: object) -> None:
    cache = tmp_path / "cache"
    sop_dir = copy_of_defaults(tmp_path / "sop")
    if "watches: [prd, design]" not in (sop_dir / "roles" / "architect.yaml").read_text():
        pytest.fail("the architect's role file no longer says `watches: [prd, design]`: update this test")
    load_checked_sop(sop_dir, cache)
    change(sop_dir)  # type: ignore[operator]
    with pytest.raises(SopError) as err:
        load_checked_sop(sop_dir, cache)
    assert err.value.problems
    assert len(list((cache / "sop-checks").iterdir())) == 1  # the broken SOP is not noted


def test_a_change_to_softcos_code_checks_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = Counted(monkeypatch)
    cache = tmp_path / "cache"
    load_checked_sop(None, cache)
    module = Path(softco.sop.check.__file__)
    st = module.stat()
    try:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # as an edit or an upgrade would
        load_checked_sop(None, cache)
    finally:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert checks.calls == 2


def test_an_unwritable_cache_only_costs_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = Counted(monkeypatch)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    load_checked_sop(None, blocked)
    load_checked_sop(None, blocked)
    assert checks.calls == 2


def test_new_notes_the_sop_in_the_users_cache_and_still_refuses_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_home() == tmp_path / "xdg" / "softco"
    sop_dir = copy_of_defaults(tmp_path / "sop")
    args = ["new", "a calculator", "--sop", "sop", "--output", "out", "--dry-run"]
    res = run_cli(args, tmp_path)
    assert res.exit_code in (0, 1), res.stderr  # placeholder answers: the run ends, its tests may fail
    assert len(list((tmp_path / "xdg" / "softco" / "sop-checks").iterdir())) == 1
    (sop_dir / "sop_templates" / "write_prd.j2").write_text("PRD for {{ requirment }}\n")
    res = run_cli([*args[:-1], "--output", "out2", "--dry-run"], tmp_path)
    assert res.exit_code == 2 and "write_prd.j2:1: " in res.stderr and "requirment" in res.stderr
    assert not (tmp_path / "out2").exists()


def _touch(path: Path, seconds: int) -> int:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))
    return st.st_mtime_ns


def test_only_the_code_a_check_ran_invalidates_its_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The note lists the softco modules loaded when the check ended: an edit to one of them (one the check
    imported as it ran too) checks again; an edit to code the check never ran (the web page) does not, and
    the hit stats those modules only, not every file of softco."""
    import softco.sop.template_limits

    monkeypatch.delitem(sys.modules, "softco.web.pages", raising=False)  # as in `softco new`: never loaded
    checks = Counted(monkeypatch)
    cache = tmp_path / "cache"
    load_checked_sop(None, cache)
    unused = Path(softco.__file__).parent / "web" / "pages.py"
    for module, seconds in ((unused, 5), (Path(softco.sop.template_limits.__file__), 7)):
        before = _touch(module, seconds)
        try:
            load_checked_sop(None, cache)
        finally:
            st = module.stat()
            os.utime(module, ns=(st.st_atime_ns, before))
    assert checks.calls == 2  # the first check, then the one after template_limits.py changed
    load_checked_sop(None, cache)
    assert checks.calls == 3  # its time is back as it was: the newest note (of the edited code) is stale again
    (note,) = (cache / "sop-checks").iterdir()
    listed = {rel for rel, _, _ in json.loads(note.read_text())}
    assert {"sop/check.py", "sop/template_limits.py", "artifacts.py", "__init__.py"} <= listed
    assert "web/pages.py" not in listed


def test_a_note_of_an_older_softco_or_a_damaged_one_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = Counted(monkeypatch)
    cache = tmp_path / "cache"
    load_checked_sop(None, cache)
    (note,) = (cache / "sop-checks").iterdir()
    for text in ("", "[]", "{", '[["no/such/module.py", 1, 2]]', '[["__init__.py"]]', "[1]"):
        note.write_text(text)
        load_checked_sop(None, cache)
    assert checks.calls == 7
    load_checked_sop(None, cache)
    assert checks.calls == 7  # the last check rewrote it
