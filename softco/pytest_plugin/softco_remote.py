"""The trusted side of softco's import proxy: the scoring pytest never runs project code.

Loaded by ``softco_score.py`` (the scoring pytest's entry, run ``-I -S``) from softco's read-only
``pytest_plugin/`` directory; it imports nothing but the standard library. :func:`install` puts a
meta-path finder first on ``sys.meta_path`` for the project's top-level names (the task's package and
what sits at the top of the project directory): ``import PKG`` and ``importlib.import_module("PKG.sub")``
give :class:`RemoteModule` objects whose attributes, calls, returned objects, operators... are forwarded
to ONE child process per pytest run (``softco_remote_child.py``, the sandbox venv's python, with the
project on its path) that really imports the project.

What crosses, and how:

- plain data (None, bool, int, float incl. nan/inf, str, bytes, list, tuple, dict, set, frozenset, and
  the standard library's date, time, datetime (no zone or a fixed offset), timedelta, Decimal, Fraction,
  complex; exactly those types) crosses **by value**: the test gets real local objects (a copy); what a
  call did to its list / dict / set arguments is copied back into the test's own after it;
- every other object of the child crosses **by reference**: a :class:`RemoteObject` that forwards
  attribute access, calls, iteration, operators, ``len``, indexing, ``repr``/``str``, ``==``, hashing,
  ``with``; the same remote object always gives the same proxy (so ``is`` works); passed back as an
  argument, it is the original object again in the child;
- exceptions raised in the child are raised in the test: builtin types as themselves with their args;
  the project's own exception classes as local classes made once per remote class that mirror its
  bases (so ``issubclass(pkg.InsufficientFunds, ValueError)`` and ``pytest.raises(pkg.InsufficientFunds)``
  work); the remote exception's attributes are forwarded;
- ``isinstance(x, pkg.Class)`` and ``issubclass`` with a proxied (non-exception) class are answered by
  the child: the real ``isinstance`` of the real objects. The proxy's own type is :class:`RemoteObject`;
- the test's working directory and environment are sent along with a call when they changed; what the
  child prints is written to this process's ``sys.stdout`` / ``sys.stderr`` (a test's capture sees it);
- the test's arguments cross by value (plain data, ``pathlib`` paths, slices, builtin types) or as the
  proxies they are; anything else (a local function, a local class's instance) is refused with a
  TypeError: the child never gets a reference into this process, so it can never make it run code.

The wire is hostile input: length-prefixed frames of tagged JSON (never pickle, never eval), each at most
:data:`MAX_FRAME` bytes, nested at most :data:`MAX_DEPTH` deep, strings at most :data:`MAX_STRING`
characters, at most :data:`MAX_ITEMS` values. A child that breaks the protocol, sends too much, answers
nothing within the call limit, or dies is killed; the calling test gets a :class:`RemoteError` (it
errors), and so does every later call (the child is not restarted).
"""

from __future__ import annotations

import base64
import builtins
import codecs
import datetime
import decimal
import fractions
import importlib.util
import json
import math
import os
import pathlib
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any


def _load_wire() -> ModuleType:
    """softco_wire.py beside this file (what both sides of the proxy agree on): by its path, under a private
    name, whether this file was imported from sys.path (the scoring pytest) or by its path (softco's tests)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "softco_wire.py")
    spec = importlib.util.spec_from_file_location("_softco_wire", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    wire = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wire)
    return wire


_wire = _load_wire()

MAX_FRAME = 8 * 1024 * 1024
"""Bytes of one message from the child at most."""
MAX_DEPTH = 100
"""Nesting of one value at most."""
MAX_STRING = 4 * 1024 * 1024
"""Characters of one string at most."""
MAX_ITEMS = 1_000_000
"""Values in one message at most."""
MAX_NAME = 300
"""Characters of a class or module name at most."""
MAX_NOTE = 4000
"""Characters of the child's traceback kept as the exception's note."""
MAX_ID = 2**62
MAX_OUTPUT = 8 * 1024 * 1024
"""Bytes of the child's output forwarded a call at most."""

_HEADER = struct.Struct(">I")
#: builtin exceptions that would stop pytest itself: raised in the test as RemoteError instead
_STOPPERS = (KeyboardInterrupt, SystemExit, GeneratorExit)
#: the import machinery's own module attributes: never asked of the child
_MODULE_OWN = frozenset(
    ("__spec__", "__loader__", "__path__", "__package__", "__name__", "__file__", "__cached__", "__builtins__")
)
_BUILTIN_TYPES = {name: obj for name, obj in vars(builtins).items() if isinstance(obj, type)}


class RemoteError(Exception):
    """The project's process failed softco's proxy: it died, hung, or broke the protocol."""


class ProtocolError(RemoteError):
    """The child sent what the protocol does not allow."""


class Unencodable(TypeError):
    """A local value that cannot cross to the project's process."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


_JSON = json.JSONDecoder(parse_constant=_no_constant)
#: what a dict key or set member decoded from the child may be (in tuples and frozensets too)
_KEY_TYPES = frozenset(
    (bool, int, float, str, bytes, datetime.datetime, datetime.date, datetime.time, datetime.timedelta)
    + (decimal.Decimal, fractions.Fraction, complex)
)

# -- values --------------------------------------------------------------------------------------


_encode_float = _wire.encode_float
#: the other side's stdlib values: a date, time, datetime, timedelta, Decimal, Fraction or complex
encode_stdlib = _wire.encode_stdlib


def encode_value(channel: Channel, value: Any, depth: int = 0) -> Any:
    """A local value as the tagged JSON the child reads (the child's references as ``{"r": id}``)."""
    if depth > MAX_DEPTH:
        raise Unencodable(f"a value nested deeper than {MAX_DEPTH} cannot be passed to the project")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return _wire.encode_int(value)
    if t is float:
        return _encode_float(value)
    if t is list:
        return [encode_value(channel, v, depth + 1) for v in value]
    if t is tuple:
        return {"t": [encode_value(channel, v, depth + 1) for v in value]}
    if t is dict:
        return {
            "d": [[encode_value(channel, k, depth + 1), encode_value(channel, v, depth + 1)] for k, v in value.items()]
        }
    if t is set or t is frozenset:
        return {"e" if t is set else "z": [encode_value(channel, v, depth + 1) for v in value]}
    if t is bytes:
        return {"y": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (RemoteObject, RemoteModule)):
        if _channel_of(value) is not channel:
            raise Unencodable("a proxy of another project process cannot be passed here")
        return {"r": _id_of(value)}
    if t is slice:
        return {"sl": [encode_value(channel, v, depth + 1) for v in (value.start, value.stop, value.step)]}
    stdlib = encode_stdlib(value)
    if stdlib is not None:
        return stdlib
    if isinstance(value, pathlib.PurePath):
        return {"p": str(value)}
    if isinstance(value, type):
        ref = value.__dict__.get("_softco_ref")
        if ref is not None and value.__dict__.get("_softco_ch") is channel:
            return {"r": ref}
        if _BUILTIN_TYPES.get(value.__name__) is value:
            return {"c": value.__name__}
    if isinstance(value, BaseException):
        inst = value.__dict__.get("_softco_inst") if hasattr(value, "__dict__") else None
        if isinstance(inst, RemoteObject) and _channel_of(inst) is channel:
            return {"r": _id_of(inst)}
    raise Unencodable(
        f"softco's proxy cannot pass a {t.__name__} to the project: only plain data (None, bool, int, float, str, "
        "bytes, list, tuple, dict, set, frozenset), dates and times, Decimal, Fraction, complex, paths, slices, "
        "builtin types and the project's own objects cross"
    )


def _finite_or_special(x: Any) -> float:
    if type(x) is float or type(x) is int:
        return float(x)
    if type(x) is dict and len(x) == 1 and x.get("f") in ("nan", "inf", "-inf"):
        return float(x["f"])
    raise ValueError("not a float")


def _int(x: Any) -> int:
    """An int as :func:`softco_wire.encode_int` writes it (a number, or ``{"n": HEX}`` within MAX_STRING)."""
    if type(x) is int:
        return x
    if type(x) is dict and len(x) == 1 and type(x.get("n")) is str and len(x["n"]) <= MAX_STRING:
        return int(_wire.decode_int(x["n"]))
    raise ValueError("not an int")


def decode_stdlib(payload: Any) -> Any:
    """The other side of :func:`encode_stdlib`, bounded; anything malformed is a ProtocolError."""
    try:
        kind, data = payload
        if kind in ("datetime", "date", "time") and type(data) is str and len(data) <= 64:
            return getattr(datetime, kind).fromisoformat(data)
        if kind == "timedelta" and type(data) is list and all(type(x) is int for x in data) and len(data) == 3:
            return datetime.timedelta(days=data[0], seconds=data[1], microseconds=data[2])
        if kind == "Decimal" and type(data) is str and len(data) <= 1000:
            return decimal.Decimal(data)
        if kind == "Fraction" and type(data) is list and len(data) == 2:
            return fractions.Fraction(_int(data[0]), _int(data[1]))
        if kind == "complex" and type(data) is list and len(data) == 2:
            return complex(_finite_or_special(data[0]), _finite_or_special(data[1]))
    except (ValueError, TypeError, OverflowError, ZeroDivisionError, ArithmeticError):
        pass
    raise ProtocolError("the project's process sent a malformed standard-library value")


class _Decoder:
    """Turns one decoded JSON message of the child into local values, within the bounds."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.items = 0

    def value(self, obj: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"the project's process sent a value nested deeper than {MAX_DEPTH}")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise ProtocolError(f"the project's process sent more than {MAX_ITEMS} values in one message")
        t = type(obj)
        if obj is None or t is bool or t is int or t is float:
            return obj
        if t is str:
            if len(obj) > MAX_STRING:
                raise ProtocolError(f"the project's process sent a string over {MAX_STRING} characters")
            return obj
        if t is list:
            return [self.value(v, depth + 1) for v in obj]
        if t is not dict or len(obj) != 1:
            raise ProtocolError("the project's process sent a value the protocol does not know")
        ((tag, payload),) = obj.items()
        if tag == "t":
            return tuple(self.value(v, depth + 1) for v in self._list(payload))
        if tag == "d":
            out: dict[Any, Any] = {}
            for pair in self._list(payload):
                pair = self._list(pair)
                if len(pair) != 2:
                    raise ProtocolError("the project's process sent a dict entry that is not a pair")
                key = self.value(pair[0], depth + 1)
                out[self._hashable(key)] = self.value(pair[1], depth + 1)
            return out
        if tag in ("e", "z"):
            items = [self._hashable(self.value(v, depth + 1)) for v in self._list(payload)]
            return set(items) if tag == "e" else frozenset(items)
        if tag == "y":
            text = self._str(payload)
            try:
                return base64.b64decode(text.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise ProtocolError("the project's process sent bytes that are not base64") from None
        if tag == "n":
            try:
                return _int({"n": payload})
            except ValueError:
                raise ProtocolError("the project's process sent an int that is not hex text") from None
        if tag == "f":
            special = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
            if type(payload) is not str or payload not in special:
                raise ProtocolError("the project's process sent an unknown float")
            return special[payload]
        if tag == "c":
            cls = _BUILTIN_TYPES.get(self._str(payload))
            if cls is None:
                raise ProtocolError("the project's process named a builtin type that does not exist")
            return cls
        if tag == "r":
            ref = self._list(payload)
            if len(ref) != 2:
                raise ProtocolError("the project's process sent a malformed reference")
            return self.channel.proxy(self._id(ref[0]), self._name(ref[1]))
        if tag == "m":
            ref = self._list(payload)
            if len(ref) != 2:
                raise ProtocolError("the project's process sent a malformed module reference")
            return self.channel.module(self._id(ref[0]), self._name(ref[1]))
        if tag == "x":
            return self._exception_class(payload, depth + 1)
        if tag == "v":
            return decode_stdlib(payload)
        raise ProtocolError("the project's process sent a value the protocol does not know")

    def _exception_class(self, payload: Any, depth: int) -> type[BaseException]:
        if type(payload) is not dict or set(payload) != {"id", "name", "module", "bases"}:
            raise ProtocolError("the project's process sent a malformed exception class")
        rid = self._id(payload["id"])
        known = self.channel.mirrors.get(rid)
        if known is not None:
            return known
        name, module = self._name(payload["name"]), self._name(payload["module"])
        stdlib = _stdlib_exception(module, name)
        if stdlib is not None:  # json.JSONDecodeError is json.JSONDecodeError here too
            self.channel.mirrors[rid] = stdlib
            return stdlib
        bases: list[type[BaseException]] = []
        for base in self._list(payload["bases"]):
            cls = self.value(base, depth + 1)
            if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                raise ProtocolError("the project's process sent an exception class whose base is not an exception")
            bases.append(cls)
        return self.channel.mirror(rid, name, module, bases)

    @staticmethod
    def _list(obj: Any) -> list[Any]:
        if type(obj) is not list:
            raise ProtocolError("the project's process sent a malformed value")
        return obj

    @staticmethod
    def _str(obj: Any) -> str:
        if type(obj) is not str or len(obj) > MAX_STRING:
            raise ProtocolError("the project's process sent a malformed value")
        return obj

    @staticmethod
    def _name(obj: Any) -> str:
        if type(obj) is not str or not obj or len(obj) > MAX_NAME or not obj.isprintable():
            raise ProtocolError("the project's process sent a malformed name")
        return obj

    @staticmethod
    def _id(obj: Any) -> int:
        if type(obj) is not int or not 0 <= obj < MAX_ID:
            raise ProtocolError("the project's process sent a malformed reference id")
        return obj

    @staticmethod
    def _hashable(value: Any) -> Any:
        """A dict key or set member: plain values only (a proxy's hash would be a call to the child)."""
        todo = [value]
        while todo:
            item = todo.pop()
            t = type(item)
            if t is tuple or t is frozenset:
                todo.extend(item)
            elif not (item is None or t in _KEY_TYPES):
                raise ProtocolError("the project's process sent an unhashable key")
        return value


def _stdlib_exception(module: str, qualname: str) -> type[BaseException] | None:
    """The standard library's exception class ``module.qualname`` if this process has imported that module
    already (nothing is imported on the child's word), else None."""
    if module.partition(".")[0] not in sys.stdlib_module_names:
        return None
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None) if obj is not None and part.isidentifier() else None
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def decode_frame(channel: Channel, data: bytes) -> Any:
    """One frame's bytes as JSON (bounded, no NaN constants), not yet turned into values."""
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"the project's process sent a message over {MAX_FRAME} bytes")
    try:
        return _JSON.decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        why = type(exc).__name__
        raise ProtocolError(f"the project's process sent a message that is not valid JSON ({why})") from None


# -- the child process ---------------------------------------------------------------------------


class Channel:
    """One child process that imports the project, and the proxies of its objects. Thread-safe."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        call_seconds: float = 600.0,
    ) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.call_seconds = call_seconds
        self.lock = threading.RLock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.to_child = -1
        self.from_child = -1
        #: the child's stdout and stderr (read ends), forwarded to this process's sys.stdout / sys.stderr
        self.outputs: dict[int, tuple[Any, codecs.IncrementalDecoder]] = {}
        self.forwarded = 0
        self.printed = False
        self.dead = ""
        self.buffer = bytearray()
        self.sent_cwd = cwd if cwd is not None else os.getcwd()
        start_env = env if env is not None else dict(os.environ)
        self.sent_env: dict[bytes, bytes] | None = {os.fsencode(k): os.fsencode(v) for k, v in start_env.items()}
        self.proxies: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self.mirrors: dict[int, type[BaseException]] = {}

    # the process

    def _start(self) -> None:
        child_in, self.to_child = os.pipe()
        self.from_child, child_out = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [*self.argv, str(child_in), str(child_out)],
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(child_in, child_out),
                env=self.env,
                cwd=self.cwd,
                close_fds=True,
            )
        except OSError as exc:
            self.dead = f"the project's process could not start: {exc}"
            for fd in (out_r, err_r):
                os.close(fd)
            raise RemoteError(self.dead) from None
        finally:
            for fd in (child_in, child_out, out_w, err_w):
                os.close(fd)
        for fd, stream in ((out_r, "stdout"), (err_r, "stderr")):
            os.set_blocking(fd, False)
            self.outputs[fd] = (stream, codecs.getincrementaldecoder("utf-8")(errors="replace"))

    def _forward(self, fd: int) -> bool:
        """What the child printed, to this process's ``sys.stdout`` / ``sys.stderr`` (so a test's capture sees
        it), at most MAX_OUTPUT bytes a call; False once that stream has ended."""
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        stream, decoder = self.outputs[fd]
        if not chunk:
            os.close(fd)
            del self.outputs[fd]
            return False
        keep = chunk[: max(0, MAX_OUTPUT - self.forwarded)]
        self.forwarded += len(chunk)
        text = decoder.decode(keep) if keep else ""
        if self.forwarded > MAX_OUTPUT and len(keep) < len(chunk):
            text += (
                f"\n(softco's proxy: the project printed over {MAX_OUTPUT} bytes in one call; the rest is dropped)\n"
            )
            self.forwarded += MAX_OUTPUT  # said once a call
        try:
            getattr(sys, stream).write(text)
        except (ValueError, OSError, AttributeError):
            pass
        return True

    def _drain(self) -> None:
        """Forward what the child printed before it answered (it flushes before each answer)."""
        for fd in list(self.outputs):
            while fd in self.outputs:
                try:
                    ready, _, _ = select.select([fd], [], [], 0)
                except (OSError, ValueError):
                    break
                if not ready or not self._forward(fd):
                    break

    def _fail(self, why: str) -> RemoteError:
        """Kill the child (whatever it was doing) and remember why: every later call fails the same way."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                code = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
        self._drain()
        for fd in (self.to_child, self.from_child, *self.outputs):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.to_child = self.from_child = -1
        self.outputs.clear()
        self.dead = why + (f" (exit code {code})" if code is not None else "")
        return RemoteError(self.dead)

    def close(self) -> None:
        with self.lock:
            if not self.dead and self.proc is not None:
                self._fail("the project's process was closed")

    def _read(self, n: int, deadline: float) -> bytes:
        """``n`` bytes from the child (a whole frame usually comes in one read; the rest waits in a buffer)."""
        buf = self.buffer
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"the project's process did not answer within {self.call_seconds:g} s")
            ready, _, _ = select.select([self.from_child, *self.outputs], [], [], left)
            for fd in ready:
                if fd != self.from_child:
                    self.printed = True
                    self._forward(fd)  # while it answers: a child blocked on a full output pipe would never answer
            if self.from_child not in ready:
                continue
            chunk = os.read(self.from_child, max(n - len(buf), 1 << 16))
            if not chunk:
                raise self._fail("the project's process ended")
            buf += chunk
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def request(self, op: str, **fields: Any) -> Any:
        """Send one request, wait for its answer; the child's exception is raised here."""
        message = {"op": op}
        for key, value in fields.items():
            message[key] = encode_value(self, value)  # Unencodable before anything is sent
        with self.lock:
            if self.dead:
                raise RemoteError(self.dead)
            if self.proc is None:
                self._start()
            self._follow(message)
            self.forwarded = 0
            self.printed = False
            data = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
            try:
                self._write_all(_HEADER.pack(len(data)) + data)
            except OSError:
                raise self._fail("the project's process ended") from None
            deadline = time.monotonic() + self.call_seconds
            (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
            if size > MAX_FRAME:
                raise self._fail(f"the project's process sent a message over {MAX_FRAME} bytes")
            try:
                body = self._read(size, deadline)
                if self.printed:  # the rest of what it printed before answering
                    self._drain()
                reply = decode_frame(self, body)
                if type(reply) is not dict or set(reply) not in ({"ok"}, {"ok", "back"}, {"err"}):
                    raise ProtocolError("the project's process sent a reply the protocol does not know")
                if "err" in reply:
                    error = self._error(reply["err"])
                else:
                    value = _Decoder(self).value(reply["ok"])
                    back = _Decoder(self).value(reply["back"]) if "back" in reply else None
            except ProtocolError as exc:
                raise self._fail(str(exc)) from None
            if "err" not in reply:
                if op == "call" and type(back) is list and len(back) == 2:
                    _write_back(fields.get("args"), back[0])
                    _write_back(fields.get("kwargs"), back[1])
                return value
        raise error

    def _follow(self, message: dict[str, Any]) -> None:
        """The test's working directory and environment, sent along when they changed since the last call
        (``monkeypatch.chdir`` / ``setenv`` before a call reach the project as they would in-process)."""
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = self.sent_cwd
        if cwd != self.sent_cwd:
            message["cwd"] = cwd
            self.sent_cwd = cwd
        env = getattr(os.environ, "_data", None)  # CPython's encoded copy: compared at C speed
        if env is None or env != self.sent_env:
            message["env"] = {"d": [[k, v] for k, v in os.environ.items()]}
            self.sent_env = dict(env) if env is not None else None

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.to_child, view) :]

    def _error(self, body: Any) -> BaseException:
        """The exception the child raised, as a local one (the module doc)."""
        if type(body) is not dict or set(body) != {"cls", "args", "str", "ref", "tb"}:
            raise ProtocolError("the project's process sent a malformed exception")
        dec = _Decoder(self)
        cls = dec.value(body["cls"])
        args = dec.value(body["args"])
        text = dec.value(body["str"])
        ref = dec.value(body["ref"])
        note = dec.value(body["tb"])
        if not (isinstance(cls, type) and issubclass(cls, BaseException)) or type(args) is not list:
            raise ProtocolError("the project's process sent a malformed exception")
        if type(text) is not str or type(note) is not str or not (ref is None or isinstance(ref, RemoteObject)):
            raise ProtocolError("the project's process sent a malformed exception")
        if issubclass(cls, _STOPPERS):
            exc: BaseException = RemoteError(f"the project raised {cls.__name__}: {text[:MAX_NOTE]}")
        else:
            try:
                exc = cls(*args)
            except Exception:  # noqa: BLE001 - a constructor that wants other arguments: the bare instance
                exc = cls.__new__(cls)
                exc.args = tuple(args)
        if "_softco_ref" in cls.__dict__:
            exc._softco_str = text  # type: ignore[attr-defined]
            exc._softco_inst = ref  # type: ignore[attr-defined]
        if note:
            exc.add_note("raised in the project's process (softco's proxy):\n" + note[-MAX_NOTE:])
        return exc

    # the proxies

    def proxy(self, rid: int, typename: str) -> Any:
        known = self.proxies.get(rid)
        if known is None:
            known = RemoteObject(self, rid, typename)
            self.proxies[rid] = known
        return known

    def module(self, rid: int, name: str) -> RemoteModule:
        known = self.proxies.get(rid)
        if not isinstance(known, RemoteModule):
            known = RemoteModule(name)
            known.__dict__["_softco_ch"] = self
            known.__dict__["_softco_id"] = rid
            self.proxies[rid] = known
        return known

    def mirror(self, rid: int, name: str, module: str, bases: list[type[BaseException]]) -> type[BaseException]:
        """The local class standing for the child's exception class ``rid`` (made once)."""
        known = self.mirrors.get(rid)
        if known is not None:
            return known
        cleaned: list[type[BaseException]] = []
        for base in bases:
            if base in _STOPPERS:
                base = RemoteError
            if base not in cleaned:
                cleaned.append(base)
        namespace = {
            "__module__": module,
            "__qualname__": name,
            "__str__": _mirror_str,
            "__getattr__": _mirror_getattr,
            "_softco_ref": rid,
            "_softco_ch": self,
        }
        short = name.rpartition(".")[2] or "RemoteException"
        cls: type[BaseException] | None = None
        tries = [tuple(cleaned) or (Exception,)]
        builtin_only = tuple(b for b in cleaned if "_softco_ref" not in b.__dict__)
        tries += [builtin_only[:1] or (Exception,), (Exception,)]
        for attempt in tries:
            try:
                cls = type(short, attempt, dict(namespace))
                break
            except TypeError:  # a layout or MRO conflict between the bases: fewer of them
                continue
        assert cls is not None
        self.mirrors[rid] = cls
        return cls

    def op(self, name: str, target: Any, *args: Any) -> Any:
        return self.request("op", name=name, target=target, args=list(args))


def _NEVER_WRITTEN() -> tuple[object, ...]:  # noqa: N802 - a constant, looked up when used
    """This process's own import state: a test that passes it to the project never has it changed back."""
    return (sys.path, sys.meta_path, sys.path_hooks, sys.argv, sys.warnoptions)


def _same_scalar(a: Any, b: Any) -> bool:
    return type(a) is type(b) and type(a) in (type(None), bool, int, float, str, bytes) and bool(a == b)


def _write_back(local: Any, new: Any, depth: int = 0) -> bool:
    """Copy-restore: make the test's own list / dict / set ``local`` hold what the call left in the child's
    copy ``new`` (in place, recursively, as an in-process call would have changed it). False where
    ``local`` cannot be changed in place (the caller then puts ``new`` in its slot)."""
    if depth > MAX_DEPTH or any(local is guarded for guarded in _NEVER_WRITTEN()):
        return False
    t = type(local)
    if t is list and type(new) is list:
        if len(local) != len(new):
            local[:] = new
            return True
        for i, item in enumerate(new):
            if not _write_back(local[i], item, depth + 1):
                local[i] = item
        return True
    if t is dict and type(new) is dict:
        for key in [k for k in local if k not in new]:
            del local[key]
        for key, item in new.items():
            if key not in local or not _write_back(local[key], item, depth + 1):
                local[key] = item
        return True
    if t is set and type(new) is set:
        local.clear()
        local.update(new)
        return True
    if t is tuple and type(new) is tuple and len(local) == len(new):
        pairs = zip(local, new, strict=True)
        return all([_write_back(a, b, depth + 1) or a is b or _same_scalar(a, b) for a, b in pairs])
    return False


def _channel_of(proxy: RemoteObject | RemoteModule) -> Channel:
    if isinstance(proxy, RemoteModule):
        ch: Channel = proxy.__dict__["_softco_ch"]
        return ch
    return object.__getattribute__(proxy, "_softco_ch")  # type: ignore[no-any-return]


def _id_of(proxy: RemoteObject | RemoteModule) -> int:
    if isinstance(proxy, RemoteModule):
        rid: int = proxy.__dict__["_softco_id"]
        return rid
    return object.__getattribute__(proxy, "_softco_id")  # type: ignore[no-any-return]


def _mirror_str(self: BaseException) -> str:
    text = self.__dict__.get("_softco_str")
    return text if isinstance(text, str) else BaseException.__str__(self)


def _mirror_getattr(self: BaseException, name: str) -> Any:
    """The remote exception's own attributes (pytest's probes of dunder names are not forwarded)."""
    dunder = name.startswith("__") and name.endswith("__")
    inst = self.__dict__.get("_softco_inst") if not (name.startswith("_softco_") or dunder) else None
    if inst is None:
        raise AttributeError(name)
    try:
        return getattr(inst, name)
    except RemoteError as exc:
        raise AttributeError(f"{name}: {exc}") from None


def _must(kind: type, value: Any, what: str) -> Any:
    if type(value) is not kind:
        raise TypeError(f"the project's {what} returned {type(value).__name__}, not {kind.__name__}")
    return value


class RemoteObject:
    """A reference to one object of the project's process (the module doc)."""

    __slots__ = ("_softco_ch", "_softco_id", "_softco_type", "__weakref__")

    def __init__(self, channel: Channel, rid: int, typename: str) -> None:
        object.__setattr__(self, "_softco_ch", channel)
        object.__setattr__(self, "_softco_id", rid)
        object.__setattr__(self, "_softco_type", typename)

    def _softco_op(self, name: str, *args: Any) -> Any:
        return object.__getattribute__(self, "_softco_ch").op(name, self, *args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_softco_"):
            raise AttributeError(name)
        return object.__getattribute__(self, "_softco_ch").request("getattr", target=self, name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_softco_ch").request("setattr", target=self, name=name, value=value)

    def __delattr__(self, name: str) -> None:
        object.__getattribute__(self, "_softco_ch").request("delattr", target=self, name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_softco_ch").request("call", target=self, args=list(args), kwargs=kwargs)

    def __repr__(self) -> str:
        return _must(str, self._softco_op("repr"), "__repr__")  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return _must(str, self._softco_op("str"), "__str__")  # type: ignore[no-any-return]

    def __format__(self, spec: str) -> str:
        return _must(str, self._softco_op("format", spec), "__format__")  # type: ignore[no-any-return]

    def __bytes__(self) -> bytes:
        return _must(bytes, self._softco_op("bytes"), "__bytes__")  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return _must(int, self._softco_op("len"), "__len__")  # type: ignore[no-any-return]

    def __bool__(self) -> bool:
        return _must(bool, self._softco_op("bool"), "__bool__")  # type: ignore[no-any-return]

    def __hash__(self) -> int:
        return _must(int, self._softco_op("hash"), "__hash__")  # type: ignore[no-any-return]

    def __int__(self) -> int:
        return _must(int, self._softco_op("int"), "__int__")  # type: ignore[no-any-return]

    def __index__(self) -> int:
        return _must(int, self._softco_op("index"), "__index__")  # type: ignore[no-any-return]

    def __float__(self) -> float:
        return _must(float, self._softco_op("float"), "__float__")  # type: ignore[no-any-return]

    def __iter__(self) -> Any:
        return self._softco_op("iter")

    def __next__(self) -> Any:
        return self._softco_op("next")

    def __contains__(self, item: Any) -> bool:
        return bool(self._softco_op("contains", item))

    def __getitem__(self, key: Any) -> Any:
        return self._softco_op("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._softco_op("setitem", key, value)

    def __delitem__(self, key: Any) -> None:
        self._softco_op("delitem", key)

    def __dir__(self) -> list[str]:
        names = self._softco_op("dir")
        return [n for n in names if type(n) is str] if type(names) is list else []

    def __enter__(self) -> Any:
        return self._softco_op("enter")

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        try:
            sent = encode_value(object.__getattribute__(self, "_softco_ch"), kind)
        except Unencodable:
            sent = None
        return bool(self._softco_op("exit", kind if sent is not None else None))

    def __instancecheck__(self, obj: Any) -> bool:
        try:
            return bool(self._softco_op("instancecheck", obj))
        except Unencodable:
            return False

    def __subclasscheck__(self, cls: Any) -> bool:
        try:
            return bool(self._softco_op("subclasscheck", cls))
        except Unencodable:
            return False


def _forward(name: str, unary: bool = False) -> Callable[..., Any]:
    def unary_method(self: RemoteObject) -> Any:
        return self._softco_op(name)

    def binary_method(self: RemoteObject, other: Any) -> Any:
        try:
            return self._softco_op(name, other)
        except Unencodable:
            return NotImplemented

    method: Callable[..., Any] = unary_method if unary else binary_method
    method.__name__ = f"__{name}__"
    return method


for _name in _wire.COMPARISONS:
    setattr(RemoteObject, f"__{_name}__", _forward(_name))
for _name in _wire.ARITHMETIC:
    setattr(RemoteObject, f"__{_name}__", _forward(_name))
    setattr(RemoteObject, f"__r{_name}__", _forward("r" + _name))
for _name in _wire.UNARY:
    setattr(RemoteObject, f"__{_name}__", _forward(_name, unary=True))


class RemoteModule(ModuleType):
    """A module of the project's process: its attributes are asked of the child. Attributes set on it
    here (the import machinery's, a test's ``monkeypatch``) stay local."""

    def __getattr__(self, name: str) -> Any:
        if name in _MODULE_OWN or name.startswith("_softco_"):
            raise AttributeError(name)
        return _channel_of(self).request("getattr", target=self, name=name)

    def __dir__(self) -> list[str]:
        names = _channel_of(self).request("op", name="dir", target=self, args=[])
        return [n for n in names if type(n) is str] if type(names) is list else []


# -- the import hook -----------------------------------------------------------------------------


class RemoteFinder(MetaPathFinder, Loader):
    """First on ``sys.meta_path``: ``names`` (top-level) and their submodules come from the child."""

    def __init__(self, channel: Channel, names: set[str]) -> None:
        self.channel = channel
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname.partition(".")[0] not in self.names:
            return None
        return ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        module = self.channel.request("import", name=spec.name)
        if not isinstance(module, RemoteModule):
            raise ImportError(f"the project's process did not give a module for {spec.name}", name=spec.name)
        return module

    def exec_module(self, module: ModuleType) -> None:
        return None


def _top_level_names(directory: str) -> set[str]:
    """The importable top-level names in a project directory (packages, modules, extension modules)."""
    out: set[str] = set()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            stem = name
        elif name.endswith((".py", ".so", ".pyd")):
            stem = name.partition(".")[0]
        else:
            continue
        if stem.isidentifier() and not stem.startswith("__"):
            out.add(stem)
    return out


def proxied_names(packages: list[str], paths: list[str], local: list[str]) -> set[str]:
    """What the finder serves: the declared packages, and the project's top-level names that this process
    cannot import itself (``local``: its own path plus the acceptance directories); never a standard module
    nor one this process has already imported."""
    local_names: set[str] = set()
    for directory in local:
        local_names |= _top_level_names(directory)
    names = {p for p in packages if p.isidentifier()}
    for directory in paths:
        for name in _top_level_names(directory):
            if name in local_names or PathFinder.find_spec(name) is not None:
                continue
            names.add(name)
    return {n for n in names if n not in sys.stdlib_module_names and n not in sys.modules}


def install(config: dict[str, Any]) -> Channel:
    """Start serving the project's names from a child process (started at the first import).

    ``config``: ``packages`` (the task's package names), ``path`` (the project directories, the child's
    ``PYTHONPATH``), ``child`` (the child script), ``acceptance`` (the hidden tests' directories),
    ``call_seconds`` (one call's limit)."""
    paths = [str(p) for p in config.get("path", [])]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    argv = [sys.executable, "-P", str(config["child"])]
    channel = Channel(
        argv,
        env=env,
        cwd=os.getcwd(),
        call_seconds=float(config.get("call_seconds", 600.0)),
    )
    names = proxied_names(list(config.get("packages", [])), paths, [str(p) for p in config.get("acceptance", [])])
    sys.meta_path.insert(0, RemoteFinder(channel, names))
    return channel
