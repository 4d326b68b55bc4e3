"""Dependencies a model chose for a generated project: plain PEP 508 requirements, nothing else.

A dependency string ends up as an argument of ``pip install``. Anything but a package name with
extras, version specifiers and markers could make pip fetch code from a URL or a path, or read an
option (``--index-url``, ``--no-binary``) that makes it build and run an sdist. So each one is parsed
with ``packaging`` and refused unless it is a plain requirement; what pip gets is the parsed, normal
form, after ``--``.
"""

from __future__ import annotations

# packaging's requirement parser (~15 ms of imports) is imported where a dependency is checked: a run needs it
# only once a design lists dependencies, not before its first model call

MAX_LENGTH = 200
MAX_COUNT = 50
#: pip takes an argument with one of these endings for a local file when such a file exists
ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".xz", ".txz", ".tlz", ".lz", ".egg")


def check_dependency(text: str) -> str:
    """``text`` as a plain PEP 508 requirement in normal form; ValueError says what is wrong."""
    from packaging.requirements import InvalidRequirement, Requirement

    raw = text.strip()
    if not raw or raw.startswith("-") or len(raw) > MAX_LENGTH:
        raise ValueError(
            f"dependency {text[:80]!r} is not a package name; give a PyPI name like 'requests>=2' "
            f"(at most {MAX_LENGTH} characters, no pip options)"
        )
    if any(c in raw for c in "/\\") or raw.startswith("."):
        raise ValueError(f"dependency {text!r} looks like a path or URL; give a PyPI name and version only")
    if raw.lower().endswith(ARCHIVE_SUFFIXES):
        raise ValueError(f"dependency {text!r} is named like an archive file; give a PyPI name and version only")
    try:
        req = Requirement(raw)
    except InvalidRequirement as exc:
        raise ValueError(f"dependency {text!r} is not a PEP 508 requirement ({exc}); give a PyPI name") from None
    if req.url:
        raise ValueError(f"dependency {text!r} names a URL; give a PyPI name and version only")
    return str(req)


def check_dependencies(items: list[str]) -> list[str]:
    """Every dependency checked, in normal form, no name twice, at most MAX_COUNT."""
    from packaging.requirements import Requirement

    if len(items) > MAX_COUNT:
        raise ValueError(f"{len(items)} dependencies; at most {MAX_COUNT}, and prefer the standard library")
    out = [check_dependency(d) for d in items]
    names = [Requirement(d).name.lower().replace("_", "-") for d in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"dependencies named twice: {twice}; list each package once")
    return out
