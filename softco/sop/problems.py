"""Problems that point at a line of a role file (``file:line: message``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from softco.sop.load import Problem, RoleSpec, Sop, _yaml_line


class RoleLines:
    """Lines of keys in the role files, for problems that point at them."""

    def __init__(self, sop: Sop) -> None:
        self.files = {rid: str(p) for rid, p in sop.role_files.items()}
        self.texts = {rid: p.read_text(encoding="utf-8") for rid, p in sop.role_files.items()}

    def at(self, role: RoleSpec, *keys: Any) -> tuple[str, int]:
        return self.files[role.id], _yaml_line(self.texts[role.id], keys)

    def problem(self, role: RoleSpec, keys: tuple[Any, ...], message: str) -> Problem:
        file, line = self.at(role, *keys)
        return Problem(file, line, message)


def kind_list(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))
