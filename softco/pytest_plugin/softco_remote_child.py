"""The child side of softco's import proxy (see ``softco_remote.py``): the process that really imports the
project, run by the sandbox venv's python (``python -P softco_remote_child.py IN_FD OUT_FD``) with the
project on its ``PYTHONPATH``. It answers one request at a time: import a module, get / set / delete an
attribute, call, apply an operator; values go back as tagged JSON, plain data by value and everything else
as a reference into its table. Standard library only.

This process runs the project's code, so the trusted side believes nothing it says: what is here is for
an honest project to be scored right, not a guard."""

from __future__ import annotations

import base64
import builtins
import ctypes
import datetime
import decimal
import fractions
import importlib
import importlib.util
import json
import operator
import os
import pathlib
import struct
import sys
import traceback
import types
from typing import Any

MAX_FRAME = 8 * 1024 * 1024
MAX_DEPTH = 100
MAX_TRACEBACK = 4000
_HEADER = struct.Struct(">I")
_BUILTIN_TYPES = {name: obj for name, obj in vars(builtins).items() if isinstance(obj, type)}
_PLAIN_SCALARS = (type(None), bool, int, float, str, bytes)


def _load_wire() -> types.ModuleType:
    """softco_wire.py beside this file (what both sides of the proxy agree on), before any project code runs:
    by its path, under a private name, not in sys.modules (see its docstring)."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_softco_wire", os.path.join(here, "softco_wire.py"))
    wire = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(wire)  # type: ignore[union-attr]
    return wire


_wire = _load_wire()


def _rop(fn: Any) -> Any:
    return lambda a, b: fn(b, a)


OPS: dict[str, Any] = {
    "repr": repr,
    "str": str,
    "format": format,
    "bytes": bytes,
    "len": len,
    "bool": bool,
    "hash": hash,
    "int": int,
    "index": operator.index,
    "float": float,
    "iter": iter,
    "next": next,
    "contains": operator.contains,
    "getitem": operator.getitem,
    "setitem": operator.setitem,
    "delitem": operator.delitem,
    "dir": lambda obj: sorted(str(n) for n in dir(obj)),
    "enter": lambda obj: type(obj).__enter__(obj),
    "exit": lambda obj, kind: type(obj).__exit__(obj, kind, None, None),
    "instancecheck": lambda cls, obj: isinstance(obj, cls),
    "subclasscheck": lambda cls, sub: issubclass(sub, cls),
    "round": round,
}
for _name in _wire.COMPARISONS + _wire.UNARY[:-1]:  # round is the builtin
    OPS[_name] = getattr(operator, _name)
for _name in _wire.ARITHMETIC:
    _fn = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    OPS[_name] = _fn
    OPS["r" + _name] = _rop(_fn)


def _mutable(value: Any, depth: int = 0) -> bool:
    """Whether a decoded argument is or holds a list, dict or set that a call could change in place."""
    t = type(value)
    if t is list or t is dict or t is set:
        return True
    if t is tuple and depth < MAX_DEPTH:
        return any(_mutable(v, depth + 1) for v in value)
    return False


class Server:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}  # id(obj) -> reference id (the object is kept alive in objects)
        self.back: list[Any] | None = None
        self.buffer = bytearray()

    # values

    def ref(self, obj: Any) -> int:
        rid = self.ids.get(id(obj))
        if rid is None or self.objects.get(rid) is not obj:
            rid = len(self.objects) + 1
            self.objects[rid] = obj
            self.ids[id(obj)] = rid
        return rid

    def plain_key(self, value: Any, depth: int = 0) -> bool:
        t = type(value)
        if t in _PLAIN_SCALARS:
            return True
        if (t is tuple or t is frozenset) and depth < MAX_DEPTH:
            return all(self.plain_key(v, depth + 1) for v in value)
        return False

    def exception_class(self, cls: type) -> Any:
        if _BUILTIN_TYPES.get(cls.__name__) is cls:
            return {"c": cls.__name__}
        bases = [self.exception_class(b) for b in cls.__bases__ if isinstance(b, type) and issubclass(b, BaseException)]
        return {
            "x": {
                "id": self.ref(cls),
                "name": str(getattr(cls, "__qualname__", cls.__name__))[:300] or "RemoteException",
                "module": str(getattr(cls, "__module__", "") or "?")[:300],
                "bases": bases,
            }
        }

    def encode(self, value: Any, depth: int = 0) -> Any:
        t = type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return _wire.encode_int(value)
        if t is float:
            return _wire.encode_float(value)
        if depth < MAX_DEPTH:
            if t is list:
                return [self.encode(v, depth + 1) for v in value]
            if t is tuple:
                return {"t": [self.encode(v, depth + 1) for v in value]}
            if t is dict and all(self.plain_key(k) for k in value):
                return {"d": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
            if (t is set or t is frozenset) and all(self.plain_key(v) for v in value):
                return {"e" if t is set else "z": [self.encode(v, depth + 1) for v in value]}
        if t is bytes:
            return {"y": base64.b64encode(value).decode("ascii")}
        stdlib = _wire.encode_stdlib(value)
        if stdlib is not None:
            return stdlib
        if isinstance(value, type):
            if _BUILTIN_TYPES.get(value.__name__) is value:
                return {"c": value.__name__}
            if issubclass(value, BaseException):
                return self.exception_class(value)
        if isinstance(value, types.ModuleType):
            return {"m": [self.ref(value), str(value.__name__)[:300] or "module"]}
        return {"r": [self.ref(value), t.__name__[:300] or "object"]}

    def decode(self, obj: Any) -> Any:
        t = type(obj)
        if obj is None or t in (bool, int, float, str):
            return obj
        if t is list:
            return [self.decode(v) for v in obj]
        ((tag, payload),) = obj.items()
        if tag == "t":
            return tuple(self.decode(v) for v in payload)
        if tag == "d":
            return {self.decode(k): self.decode(v) for k, v in payload}
        if tag == "e":
            return {self.decode(v) for v in payload}
        if tag == "z":
            return frozenset(self.decode(v) for v in payload)
        if tag == "y":
            return base64.b64decode(payload)
        if tag == "f":
            return float(payload)
        if tag == "n":
            return _wire.decode_int(payload)
        if tag == "c":
            return _BUILTIN_TYPES[payload]
        if tag == "r":
            return self.objects[payload]
        if tag == "v":
            kind, data = payload
            if kind in ("datetime", "date", "time"):
                return getattr(datetime, kind).fromisoformat(data)
            if kind == "timedelta":
                return datetime.timedelta(days=data[0], seconds=data[1], microseconds=data[2])
            if kind == "complex":
                return complex(*(self.decode(x) for x in data))
            if kind == "Decimal":
                return decimal.Decimal(data)
            return fractions.Fraction(self.decode(data[0]), self.decode(data[1]))
        if tag == "sl":
            return slice(*(self.decode(v) for v in payload))
        if tag == "p":
            return pathlib.Path(payload)
        raise ValueError(f"unknown tag {tag!r}")

    # requests

    def handle(self, req: dict[str, Any]) -> Any:
        if "cwd" in req:
            os.chdir(self.decode(req["cwd"]))
        if "env" in req:
            env = self.decode(req["env"])
            os.environ.clear()
            os.environ.update(env)
        op = req["op"]
        if op == "import":
            return importlib.import_module(self.decode(req["name"]))
        target = self.decode(req["target"])
        if op == "getattr":
            return getattr(target, self.decode(req["name"]))
        if op == "setattr":
            setattr(target, self.decode(req["name"]), self.decode(req["value"]))
            return None
        if op == "delattr":
            delattr(target, self.decode(req["name"]))
            return None
        if op == "call":
            args, kwargs = self.decode(req["args"]), self.decode(req["kwargs"])
            value = target(*args, **kwargs)
            if any(map(_mutable, args)) or any(map(_mutable, kwargs.values())):
                self.back = [args, kwargs]  # what the call did to its arguments goes back (copy-restore)
            return value
        if op == "op":
            return OPS[self.decode(req["name"])](target, *self.decode(req["args"]))
        raise ValueError(f"unknown request {op!r}")

    def reply(self, req: dict[str, Any]) -> bytes:
        value: Any = None
        self.back = None
        try:
            value = self.handle(req)
            body = {"ok": self.encode(value)}
            if self.back is not None:
                body["back"] = self.encode(self.back)
        except BaseException as exc:  # noqa: BLE001 - every exception goes back to the test, even SystemExit
            body = {"err": self.error(exc)}
        data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_FRAME and "ok" in body:  # too big to copy: the value goes by reference
            body.pop("back", None)
            data = json.dumps({"ok": {"r": [self.ref(value), type(value).__name__[:300]]}}).encode("utf-8")
        return data

    def error(self, exc: BaseException) -> dict[str, Any]:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-MAX_TRACEBACK:]
        try:
            text = str(exc)
        except Exception:  # noqa: BLE001 - a __str__ that fails
            text = f"({type(exc).__name__} whose str() failed)"
        return {
            "cls": self.encode(type(exc)),
            "args": self.encode(list(exc.args)),
            "str": text[:MAX_TRACEBACK],
            "ref": self.encode(exc) if type(exc).__name__ not in _BUILTIN_TYPES else None,
            "tb": tb,
        }

    def read(self, n: int) -> bytes:
        buf = self.buffer
        while len(buf) < n:
            chunk = os.read(self.rfd, max(n - len(buf), 1 << 16))
            if not chunk:
                raise EOFError
            buf += chunk
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def serve(self) -> None:
        while True:
            try:
                (size,) = _HEADER.unpack(self.read(_HEADER.size))
                req = json.loads(self.read(size))
            except EOFError:
                return
            data = self.reply(req)
            for stream in (sys.stdout, sys.stderr):  # what it printed reaches the test before the answer
                try:
                    stream.flush()
                except (OSError, ValueError, AttributeError):
                    pass
            data = _HEADER.pack(len(data)) + data
            view = memoryview(data)
            while view:
                view = view[os.write(self.wfd, view) :]


def main() -> None:
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    del sys.argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (the sandbox set it already)
    Server(rfd, wfd).serve()


if __name__ == "__main__":
    main()
