"""Count the most frequent words of a text file."""

import argparse
import re
import sys
from collections import Counter


def top_words(text: str, n: int) -> list[tuple[str, int]]:
    counts = Counter(word.lower() for word in re.findall(r"[A-Za-z]+", text))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wordfreq")
    parser.add_argument("file")
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        print(f"wordfreq: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    for word, count in top_words(text, args.n):
        print(f"{word} {count}")
    return 0
