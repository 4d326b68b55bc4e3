"""Convert lengths between metric and imperial units."""

import argparse

METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254}
METRES["ft"] = 12 * METRES["in"]
METRES["yd"] = 3 * METRES["ft"]
METRES["mi"] = 1760 * METRES["yd"]


def convert(value: float, source: str, target: str) -> float:
    return value * METRES[source] / METRES[target]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unitconv")
    parser.add_argument("value", type=float)
    parser.add_argument("source", choices=sorted(METRES))
    parser.add_argument("target", choices=sorted(METRES))
    args = parser.parse_args(argv)  # exits 2 with a message on bad input
    print(f"{convert(args.value, args.source, args.target):.4f} {args.target}")
    return 0
