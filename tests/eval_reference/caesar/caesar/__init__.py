"""The Caesar cipher on ASCII letters."""

import argparse
import sys


def shift_text(text: str, shift: int) -> str:
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - ord("a") + shift) % 26 + ord("a")))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - ord("A") + shift) % 26 + ord("A")))
        else:
            out.append(ch)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="caesar")
    parser.add_argument("mode", choices=["encode", "decode"])
    parser.add_argument("shift", type=int)
    args = parser.parse_args(argv)  # exits 2 with a message on bad input
    shift = args.shift if args.mode == "encode" else -args.shift
    sys.stdout.write(shift_text(sys.stdin.read(), shift))
    return 0
