"""Evaluate arithmetic expressions with a small recursive-descent parser."""

import re

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(.))")


def _tokens(expr: str) -> list[str]:
    out = []
    for number, other in _TOKEN.findall(expr.rstrip()):
        if number:
            out.append(number)
        elif other in "+-*/^()":
            out.append(other)
        else:
            raise ValueError(f"unexpected character {other!r}")
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of expression")
        self.pos += 1
        return token

    def expression(self) -> float:  # sum := term (('+'|'-') term)*
        value = self.term()
        while self.peek() in ("+", "-"):
            if self.take() == "+":
                value += self.term()
            else:
                value -= self.term()
        return value

    def term(self) -> float:  # term := unary (('*'|'/') unary)*
        value = self.unary()
        while self.peek() in ("*", "/"):
            if self.take() == "*":
                value *= self.unary()
            else:
                value /= self.unary()  # ZeroDivisionError as asked
        return value

    def unary(self) -> float:  # unary := '-' unary | power
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.power()

    def power(self) -> float:  # power := atom ('^' unary)?   (right-associative)
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return float(base ** self.unary())
        return base

    def atom(self) -> float:
        token = self.take()
        if token == "(":
            value = self.expression()
            if self.take() != ")":
                raise ValueError("missing ')'")
            return value
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        raise ValueError(f"unexpected {token!r}")


def evaluate(expr: str) -> float:
    parser = _Parser(_tokens(expr))
    value = parser.expression()
    if parser.peek() is not None:
        raise ValueError(f"unexpected {parser.peek()!r}")
    return value
