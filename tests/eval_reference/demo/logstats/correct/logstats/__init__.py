"""Count log lines per level."""

import re
import sys
from collections import Counter

LINE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING|ERROR) .*")


def summarise(lines: list[str]) -> tuple[list[tuple[str, int]], int]:
    counts: Counter[str] = Counter()
    skipped = 0
    for raw in lines:
        match = LINE.fullmatch(raw.rstrip("\r\n"))
        if match:
            counts[match.group(1)] += 1
        else:
            skipped += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0])), skipped


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m logstats FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        print(f"logstats: cannot read {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 1
    counts, skipped = summarise(lines)
    for level, count in counts:
        print(f"{level} {count}")
    print(f"total {sum(count for _, count in counts)}")
    if skipped:
        print(f"skipped {skipped}", file=sys.stderr)
    return 0
