"""The whole number a short sum in a parameter cell stands for ("5*5*3*6+6", "5²·3·6 + 6", "62,006"):
the text made plain, parsed by the small recursive-descent parser ``_Sum`` and computed node by node
within ``MAX_COUNT`` (no ``eval``, no ``ast``)."""

from __future__ import annotations

import re

from cnnedu.grading.limits import COUNT_FIX, MAX_CELL, MAX_COUNT, MAX_EXPONENT, CellError
from cnnedu.grading.text import quoted

_TIMES = str.maketrans({"·": "*", "⋅": "*", "∙": "*", "•": "*", "×": "*", "✕": "*", "x": "*", "X": "*",
                        "−": "-", "–": "-", "—": "-", "÷": "/", "[": "(", "]": ")", "{": "(", "}": ")"})
_SUPERSCRIPTS = {c: str(d) for d, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}


def evaluate(text: str) -> int:
    """The whole number a short sum stands for: digits, + − * × · / ( ) and powers (^, **, ²), thousands
    separators ("62,006", "62 006"); a worked sum ("5*5*3*6 + 6 = 456") counts by its last part. Safe for any
    input: parsed by ``_Sum`` and computed node by node with bounds (no ``eval``); ``CellError`` otherwise."""
    if len(text) > MAX_CELL:
        raise CellError(f"cannot read {quoted(text)}: it is {len(text):,} characters long", COUNT_FIX)
    parts = [p for p in text.split("=") if p.strip()]
    if not parts:
        raise CellError(f"cannot read {quoted(text)} as a number of parameters", COUNT_FIX)
    expr = parts[-1].strip().translate(_TIMES).replace("^", "**")
    expr = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "**" + "".join(_SUPERSCRIPTS[c] for c in m.group()), expr)
    expr = re.sub(r"(?<=[0-9])[\s_'\u00a0\u2009\u202f](?=[0-9])", "", expr)  # 432 120, 432_120
    expr = re.sub(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))", "", expr)  # 62,006 and 1,234,567
    expr = re.sub(r"(?<![0-9])0+(?=[0-9])", "", expr)  # 007 is 7
    if not re.fullmatch(r"[0-9+\-*/()\s]+", expr) or not re.search(r"[0-9]", expr):
        raise CellError(f"cannot read {quoted(text)} as a number of parameters", COUNT_FIX)
    try:
        tree = _Sum(expr).tree()
    except _Unreadable:
        raise CellError(f"cannot read {quoted(text)} as a number of parameters", COUNT_FIX) from None
    try:
        return _compute(tree, text)
    except RecursionError:
        raise CellError(f"cannot read {quoted(text)}: it is nested too deeply", COUNT_FIX) from None


class _Unreadable(Exception):
    """The text is not a sum ``_Sum`` can read."""


_Node = int | tuple  # a number, (sign, node) with sign "+" or "-", or (operator, left, right)
_TOKEN = re.compile(r"\s*(?:([0-9]+)|(\*\*|//|[-+*/()]))")


class _Sum:
    """A parser for whole-number arithmetic, with Python's precedence and associativity::

        sum    := term (("+" | "-") term)*         term  := factor (("*" | "/") factor)*
        factor := ("+" | "-") factor | power        power := atom ("**" factor)?
        atom   := NUMBER | "(" sum ")"

    (so -2**2 is -4, 2**3**2 is 2**9 and 2**-1 a negative power). Not ``ast.parse``: the Check page grades
    in the server's request threads, and CPython 3.11's ``ast`` fails when several threads parse at once
    (python/cpython#106905). Any text it cannot read raises ``_Unreadable`` (// too, as before)."""

    def __init__(self, expr: str):
        self.tokens: list[int | str] = []
        end = len(expr.rstrip())
        at = 0
        while at < end:
            match = _TOKEN.match(expr, at)
            if match is None:
                raise _Unreadable
            self.tokens.append(int(match[1]) if match[1] else match[2])
            at = match.end()
        self.at = 0

    def tree(self) -> _Node:
        node = self._sum()
        if self.at != len(self.tokens):
            raise _Unreadable
        return node

    def _peek(self) -> int | str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> int | str | None:
        token = self._peek()
        self.at += 1
        return token

    def _sum(self) -> _Node:
        node = self._term()
        while self._peek() in ("+", "-"):
            node = (self._take(), node, self._term())
        return node

    def _term(self) -> _Node:
        node = self._factor()
        while self._peek() in ("*", "/"):
            node = (self._take(), node, self._factor())
        return node

    def _factor(self) -> _Node:
        if self._peek() in ("+", "-"):
            return (self._take(), self._factor())
        node = self._atom()
        if self._peek() == "**":
            self._take()
            node = ("**", node, self._factor())
        return node

    def _atom(self) -> _Node:
        token = self._take()
        if type(token) is int:
            return token
        if token == "(":
            node = self._sum()
            if self._take() == ")":
                return node
        raise _Unreadable


def _compute(node: _Node, text: str) -> int:
    def too_large() -> CellError:
        return CellError(f"{quoted(text)} is far too large for a number of parameters",
                         f"{COUNT_FIX} (at most {MAX_COUNT:,})")

    if type(node) is int:
        value = node
    elif len(node) == 2:
        value = _compute(node[1], text)
        value = -value if node[0] == "-" else value
    else:
        op, left, right = node[0], _compute(node[1], text), _compute(node[2], text)
        if op == "+":
            value = left + right
        elif op == "-":
            value = left - right
        elif op == "*":
            value = left * right
        elif op == "/":
            if right == 0:
                raise CellError(f"cannot read {quoted(text)}: it divides by zero", COUNT_FIX)
            if left % right:
                raise CellError(f"cannot read {quoted(text)}: {left:,} / {right:,} is not a whole number",
                                COUNT_FIX)
            value = left // right
        else:
            if right < 0:
                raise CellError(f"cannot read {quoted(text)}: a negative power is not a whole number", COUNT_FIX)
            if right > MAX_EXPONENT and abs(left) > 1:
                raise too_large()
            value = left**right
    if abs(value) > MAX_COUNT:
        raise too_large()
    return value
