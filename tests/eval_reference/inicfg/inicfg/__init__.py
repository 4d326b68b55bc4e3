"""A small INI parser."""


def parse(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
        elif "=" in line:
            if section is None:
                raise ValueError(f"line {number}: key before any section")
            key, value = line.split("=", 1)
            section[key.strip()] = value.strip()
        else:
            raise ValueError(f"line {number}: not a section, key or comment: {raw!r}")
    return out
