"""softco's import proxy (softco/pytest_plugin/softco_remote.py and softco_remote_child.py): what a library
task's hidden tests see of the project, and the bounds of the wire the project's process answers on. The
child is hostile here: whatever it sends, the calling test gets a RemoteError (never a crash, a hang past
the call limit, or a value outside the bounds), and so does every later call."""

from __future__ import annotations

import fractions
import importlib.util
import json
import math
import struct
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from softco import sandbox


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, sandbox.PLUGIN_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


remote = _load("softco_remote")
CHILD = sandbox.PLUGIN_DIR / "softco_remote_child.py"

# -- a hostile child: reads one request, answers with these bytes, then waits ----------------------

_HOSTILE = """
import os, struct, sys, time
rfd, wfd = int(sys.argv[-2]), int(sys.argv[-1])
(n,) = struct.unpack(">I", os.read(rfd, 4))
while n:
    n -= len(os.read(rfd, n))
data = open(sys.argv[1], "rb").read()
os.unlink(sys.argv[1])
if data:
    os.write(wfd, data)
if sys.argv[2] == "exit":
    os._exit(7)
time.sleep(120)
"""


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def hostile(reply: bytes, then: str = "wait", seconds: float = 30) -> Any:
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="softco-hostile-", delete=False) as handle:
        handle.write(reply)  # the child reads it, then removes it
    return remote.Channel([sys.executable, "-c", _HOSTILE, handle.name, then], call_seconds=seconds)


def fails(channel: Any, match: str) -> None:
    with pytest.raises(remote.RemoteError, match=match):
        channel.request("import", name="pkg")
    assert channel.proc is not None and channel.proc.poll() is not None, "the child is killed"
    with pytest.raises(remote.RemoteError, match=match):  # every later call fails the same way, at once
        channel.request("import", name="pkg")


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    fails(hostile(struct.pack(">I", remote.MAX_FRAME + 1)), "over")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"\xff\xfe not json", "not valid JSON"),
        (b'{"ok": NaN}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON|deeper"),
        (json.dumps({"ok": json.loads("[" * 150 + "]" * 150)}).encode(), "deeper"),
        (b'{"ok": {"nope": 1}}', "does not know"),
        (b'{"ok": 1, "extra": 2}', "does not know"),
        (b'{"ok": {"r": [-1, "x"]}}', "reference id"),
        (b'{"ok": {"r": [true, "x"]}}', "reference id"),
        (b'{"ok": {"r": [1, "bad\\nname"]}}', "name"),
        (b'{"ok": {"y": "***"}}', "base64"),
        (b'{"ok": {"c": "NoSuchBuiltin"}}', "builtin"),
        (b'{"ok": {"d": [[[1], 2]]}}', "unhashable"),
        (b'{"ok": {"e": [{"t": [1, {"r": [1, "x"]}]}]}}', "unhashable"),
        (b'{"ok": {"f": [1]}}', "unknown float"),
        (b'{"ok": {"n": "12z"}}', "not hex"),
        (b'{"ok": {"n": 12}}', "not hex"),
        (b'{"ok": {"v": ["Fraction", [{"n": ""}, 1]]}}', "malformed standard-library value"),
        (b'{"ok": {"x": {"id": 1, "name": "E", "module": "m", "bases": [{"c": "int"}]}}}', "not an exception"),
        (b'{"err": {"cls": {"c": "ValueError"}}}', "malformed exception"),
        (b'{"err": {"cls": {"c": "int"}, "args": [], "str": "", "ref": null, "tb": ""}}', "malformed exception"),
    ],
)
def test_a_reply_outside_the_protocol_fails_the_call(body: bytes, match: str) -> None:
    fails(hostile(frame(body)), match)


def test_strings_and_value_counts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "MAX_STRING", 10)
    fails(hostile(frame(b'{"ok": "' + b"x" * 11 + b'"}')), "over 10 characters")
    monkeypatch.setattr(remote, "MAX_ITEMS", 50)
    fails(hostile(frame(json.dumps({"ok": list(range(60))}).encode())), "more than 50 values")


def test_a_child_that_dies_fails_the_call_with_its_exit_code() -> None:
    fails(hostile(b"", then="exit"), r"ended \(exit code 7\)")


def test_a_child_that_sends_half_a_frame_and_dies_fails_the_call() -> None:
    fails(hostile(struct.pack(">I", 100) + b"{", then="exit"), "ended")


def test_a_child_that_does_not_answer_is_killed_at_the_call_limit() -> None:
    fails(hostile(b"", seconds=1), "did not answer within 1 s")


@pytest.mark.parametrize("stopper", ["KeyboardInterrupt", "SystemExit", "GeneratorExit"])
def test_an_exception_that_would_stop_pytest_arrives_as_a_remote_error(stopper: str) -> None:
    body = {"err": {"cls": {"c": stopper}, "args": [], "str": "bye", "ref": None, "tb": ""}}
    channel = hostile(frame(json.dumps(body).encode()))
    with pytest.raises(remote.RemoteError, match=f"raised {stopper}"):
        channel.request("import", name="pkg")
    channel.close()


def test_a_local_object_never_crosses_to_the_child() -> None:
    """Only values cross to the project: never a reference into the trusted process it could call back."""
    channel = hostile(b"")
    for value in (lambda: 1, object(), [1, print], {"k": sys}):
        with pytest.raises(TypeError, match="cannot pass"):
            channel.request("call", target=None, args=[value], kwargs={})
    assert channel.proc is None, "nothing was sent: the child was never started"
    Path(channel.argv[3]).unlink()


# -- an honest child: the real softco_remote_child.py on a small project ---------------------------

_PROJECT = {
    "pkg/__init__.py": """
        import math
        import os
        from pkg import sub

        SENTINEL = object()


        class BankError(Exception):
            pass


        class InsufficientFunds(BankError, ValueError):
            def __init__(self, missing):
                super().__init__(f"missing {missing}")
                self.missing = missing


        class Account:
            def __init__(self, balance=0):
                self._balance = balance

            @property
            def balance(self):
                return self._balance

            def withdraw(self, amount):
                if amount > self._balance:
                    raise InsufficientFunds(amount - self._balance)
                self._balance -= amount

            def __eq__(self, other):
                return isinstance(other, Account) and other._balance == self._balance

            def __hash__(self):
                return hash(self._balance)

            def __len__(self):
                return self._balance

            def __iter__(self):
                return iter(range(self._balance))

            def __getitem__(self, i):
                return i * 10

            def __contains__(self, x):
                return x == 1

            def __add__(self, other):
                return Account(self._balance + (other._balance if isinstance(other, Account) else other))

            __radd__ = __add__

            def __repr__(self):
                return f"Account({self._balance})"


        def values():
            return [None, True, 3, 2.5, "s", b"\\x00b", (1, (2,)), {"k": [1]}, {1, 2}, frozenset({3}),
                    math.nan, math.inf, -math.inf, 10**30]


        def same(x):
            return x


        def shout(n):
            import sys
            print("x" * n)
            print("to stderr", file=sys.stderr)


        def stdlib_values():
            import datetime, decimal, fractions
            return [datetime.date(2026, 11, 30), datetime.datetime(2026, 11, 30, 12, 5, tzinfo=datetime.timezone.utc),
                    datetime.time(1, 2, 3), datetime.timedelta(days=2, seconds=5), decimal.Decimal("1.10"),
                    fractions.Fraction(1, 3), complex(1, -2)]


        def sort_in_place(items, table):
            items.sort()
            table["seen"] = len(items)
            return None


        def parse_json(text):
            import json
            return json.loads(text)


        def power(base, n):
            return base ** n


        def describe_int(x):
            import fractions
            return [x.bit_length(), x % 1000, -x, fractions.Fraction(x, 3)]


        def fail(kind):
            raise {"key": KeyError("k"), "value": ValueError("v", 2), "stop": SystemExit(3)}[kind]
    """,
    "pkg/sub.py": "NAME = 'sub'\n",
}


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("proxy")
    for rel, text in _PROJECT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    channel = remote.Channel([sys.executable, "-P", str(CHILD)], env=env, cwd=str(root))
    finder = remote.RemoteFinder(channel, {"pkg"})
    spec = finder.find_spec("pkg")
    module = finder.create_module(spec)
    yield module
    channel.close()


def test_the_module_is_a_proxy_and_plain_data_crosses_by_value(pkg: Any) -> None:
    assert isinstance(pkg, remote.RemoteModule)
    got = pkg.values()
    assert got[:10] == [None, True, 3, 2.5, "s", b"\x00b", (1, (2,)), {"k": [1]}, {1, 2}, frozenset({3})]
    assert [type(v) for v in got[:10]] == [type(None), bool, int, float, str, bytes, tuple, dict, set, frozenset]
    assert math.isnan(got[10]) and got[11] == math.inf and got[12] == -math.inf and got[13] == 10**30
    assert pkg.same(got[:10]) == got[:10]


def test_an_int_beyond_pythons_digit_limit_crosses_both_ways(pkg: Any) -> None:
    """10**5000 has more digits than Python converts to decimal text (4,300): as a JSON number it crashed the
    project's process (every later call failed) and could not be sent to it. It crosses as hex, exactly."""
    big = pkg.power(10, 5000)
    assert type(big) is int and big == 10**5000
    assert pkg.power(-7, 9001) == (-7) ** 9001 and pkg.power(2, 64) == 2**64 and pkg.power(2, 62) == 2**62
    huge = 3**20000
    bits, low, negated, third = pkg.describe_int(huge)
    assert (bits, low, negated) == (huge.bit_length(), huge % 1000, -huge)
    assert third == fractions.Fraction(huge, 3) and type(third) is fractions.Fraction
    assert pkg.same([huge, {"k": -huge}]) == [huge, {"k": -huge}]
    assert pkg.power(2, 10) == 1024  # the process is still there


def test_other_objects_cross_by_reference_and_keep_their_identity(pkg: Any) -> None:
    acct = pkg.Account(3)
    assert isinstance(acct, remote.RemoteObject) and not isinstance(acct, remote.RemoteModule)
    assert pkg.same(acct) is acct and pkg.SENTINEL is pkg.SENTINEL
    assert acct.balance == 3 and repr(acct) == "Account(3)" and str(acct) == "Account(3)" and f"{acct}" == "Account(3)"
    assert len(acct) == 3 and list(acct) == [0, 1, 2] and acct[2] == 20 and 1 in acct and 2 not in acct
    assert acct == pkg.Account(3) and acct != pkg.Account(4) and {acct: "x"}[pkg.Account(3)] == "x"
    assert (acct + 1).balance == 4 and (1 + acct).balance == 4 and (acct + acct).balance == 6
    assert isinstance(acct, pkg.Account) and not isinstance(3, pkg.Account) and not isinstance(acct, pkg.BankError)
    with pytest.raises(AttributeError):
        acct.balance = 5  # a read-only property stays read-only
    acct.note = "set"
    assert acct.note == "set"


def test_exceptions_are_raised_locally_with_their_classes_mirrored(pkg: Any) -> None:
    assert issubclass(pkg.InsufficientFunds, ValueError) and issubclass(pkg.InsufficientFunds, pkg.BankError)
    assert pkg.InsufficientFunds is pkg.InsufficientFunds and pkg.InsufficientFunds.__name__ == "InsufficientFunds"
    acct = pkg.Account(1)
    with pytest.raises(pkg.InsufficientFunds, match="missing 4") as info:
        acct.withdraw(5)
    assert info.value.missing == 4 and isinstance(info.value, ValueError)
    with pytest.raises(pkg.BankError):
        acct.withdraw(5)
    with pytest.raises(KeyError) as key:
        pkg.fail("key")
    assert type(key.value) is KeyError and key.value.args == ("k",)
    with pytest.raises(ValueError) as value:
        pkg.fail("value")
    assert type(value.value) is ValueError and value.value.args == ("v", 2)
    with pytest.raises(remote.RemoteError, match="SystemExit"):
        pkg.fail("stop")
    with pytest.raises(AttributeError):
        pkg.no_such_name  # noqa: B018


def test_what_a_call_does_to_its_list_and_dict_arguments_comes_back(pkg: Any) -> None:
    items, table = [3, 1, 2], {"old": 1}
    inner = [items]
    pkg.sort_in_place(items, table)
    assert items == [1, 2, 3] and table == {"old": 1, "seen": 3}
    pkg.sort_in_place(inner[0], table)
    assert inner == [[1, 2, 3]]


def test_submodules_import_through_the_proxy(pkg: Any) -> None:
    assert pkg.sub.NAME == "sub"
    assert isinstance(pkg.sub, remote.RemoteModule)


def test_the_finder_serves_only_the_projects_own_names(tmp_path: Path) -> None:
    for name in ("mylib", "json", "pytest", "helper"):
        (tmp_path / "p" / name).mkdir(parents=True)
    (tmp_path / "p" / "tool.py").write_text("")
    (tmp_path / "acc").mkdir()
    (tmp_path / "acc" / "helper.py").write_text("")
    names = remote.proxied_names(["mylib"], [str(tmp_path / "p")], [str(tmp_path / "acc")])
    assert names == {"mylib", "tool"}  # never a standard module, pytest itself, or a module beside the tests


def test_the_scoring_process_own_import_state_is_never_written_back(pkg: Any) -> None:
    before = list(sys.path)
    pkg.sort_in_place(sys.path, {})  # the child sorts its copy; this process's path stays as it was
    assert sys.path == before


def test_standard_library_values_cross_by_value(pkg: Any) -> None:
    import datetime
    import decimal
    import fractions

    expected = [
        datetime.date(2026, 11, 30),
        datetime.datetime(2026, 11, 30, 12, 5, tzinfo=datetime.UTC),
        datetime.time(1, 2, 3),
        datetime.timedelta(days=2, seconds=5),
        decimal.Decimal("1.10"),
        fractions.Fraction(1, 3),
        complex(1, -2),
    ]
    got = pkg.stdlib_values()
    assert got == expected and [type(v) for v in got] == [type(v) for v in expected]
    assert str(got[4]) == "1.10"
    assert pkg.same(expected) == expected  # and back to the project and here again


@pytest.mark.parametrize(
    "payload",
    [["date", "x" * 100], ["date", "2026-13-01"], ["timedelta", [1, 2]], ["timedelta", [10**20, 0, 0]],
     ["Decimal", "1" * 1001], ["Fraction", [1, 0]], ["complex", ["a", 1]], ["nope", 1], "date"],
)  # fmt: skip
def test_a_malformed_standard_library_value_fails_the_call(payload: Any) -> None:
    fails(hostile(frame(json.dumps({"ok": {"v": payload}}).encode())), "malformed standard-library value")


def test_the_tests_directory_and_environment_reach_the_project(
    pkg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in-process: a test that changes directory or sets a variable before a call, the project sees it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOFTCO_PROXY_TEST", "seen")
    assert pkg.os.getcwd() == str(tmp_path)
    assert pkg.os.environ.get("SOFTCO_PROXY_TEST") == "seen"
    monkeypatch.delenv("SOFTCO_PROXY_TEST")
    assert pkg.os.environ.get("SOFTCO_PROXY_TEST") is None


def test_what_the_project_prints_reaches_the_tests_capture(
    pkg: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg.shout(3)
    assert capsys.readouterr() == ("xxx\n", "to stderr\n")
    pkg.shout(300_000)  # more than a pipe holds: forwarded while the call runs, no deadlock
    assert capsys.readouterr().out == "x" * 300_000 + "\n"
    monkeypatch.setattr(remote, "MAX_OUTPUT", 1000)
    pkg.shout(300_000)
    out = capsys.readouterr().out
    assert out.startswith("x" * 1000) and "the rest is dropped" in out and len(out) < 2000


def test_a_standard_library_exception_is_the_local_class(pkg: Any) -> None:
    with pytest.raises(json.JSONDecodeError):
        pkg.parse_json("{")
    with pytest.raises(ValueError):
        pkg.parse_json("{")
