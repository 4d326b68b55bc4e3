"""Convert a CSV file with a header row to a JSON array of objects."""

import csv
import json
import re
import sys

_INT = re.compile(r"[+-]?\d+")


def value(text: str) -> int | str | None:
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    return text


def rows(path: str) -> list[dict[str, int | str | None]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        out = []
        for line_no, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise ValueError(f"line {line_no}: {len(row)} fields, the header has {len(header)}")
            out.append({key: value(cell) for key, cell in zip(header, row, strict=True)})
        return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m csv2json INPUT.csv OUTPUT.json", file=sys.stderr)
        return 2
    try:
        data = rows(argv[0])
    except (OSError, ValueError, csv.Error) as exc:
        print(f"csv2json: {exc}", file=sys.stderr)
        return 1
    with open(argv[1], "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
    print(f"{len(data)} rows")
    return 0
