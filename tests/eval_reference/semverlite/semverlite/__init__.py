"""Semantic versions: precedence and bumps (SemVer 2.0.0)."""

import re

_VERSION = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def _parse(version: str) -> tuple[int, int, int, list[str] | None]:
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"not a semantic version: {version!r}")
    major, minor, patch, pre, _build = match.groups()
    return int(major), int(minor), int(patch), pre.split(".") if pre else None


def _ident_key(ident: str) -> tuple[int, int, str]:
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)


def _cmp(a: object, b: object) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def compare(a: str, b: str) -> int:
    pa, pb = _parse(a), _parse(b)
    if pa[:3] != pb[:3]:
        return _cmp(pa[:3], pb[:3])
    pre_a, pre_b = pa[3], pb[3]
    if pre_a is None or pre_b is None:
        return _cmp(pre_a is None, pre_b is None)
    return _cmp([_ident_key(i) for i in pre_a], [_ident_key(i) for i in pre_b])


def bump(version: str, part: str) -> str:
    major, minor, patch, _ = _parse(version)
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"part is major, minor or patch, not {part!r}")
