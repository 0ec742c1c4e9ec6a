"""Grading a hand calculation: a student's output shapes and parameter counts, checked against PyTorch.

Every claim gets a ``Verdict``: right or wrong, the correct value, the formula with the numbers in it
(from cnnedu/arch/analysis.py), and, for a wrong claim, the *likely mistake* in words a student understands.
Mistakes are found the simple way: each detector recomputes the value under one mistaken assumption
("forgot the bias", "used the network's input channels", "pooled the conv's input instead of its output")
and checks whether that gives the student's number. The first detector that reproduces it names it.

The answers are a small JSON object::

    {"layers": [{"output_shape": "60x60x6", "params": 156}, {}, null, ...],  # one per layer, in order
     "total_params": "443,706"}

``layers`` may also be a dict keyed by layer index or name (``{"conv2": {"params": 416}}``), or a list of
entries that say which layer they answer (``[{"layer": "conv2", "params": 416}]``). Shapes may be written
C×H×W (PyTorch's order) or H×W×C; counts may contain thousands separators or end a worked sum
("5·5·6·16 + 16 = 2416").
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from cnnedu.arch.analysis import Analysis, Row, analyze
from cnnedu.arch.nets import trace
from cnnedu.arch.spec import Spec, pair, parse_spec
from cnnedu.arch.spec import params as layer_params
from cnnedu.arch.window import window_output
from cnnedu.errors import AnswersError, CnnEduError
from cnnedu.userinput import read_json

FIELDS = ("output_shape", "params", "total_params")
_SHAPE_KEYS = ("output_shape", "shape", "output", "output_size", "size")
_PARAM_KEYS = ("params", "parameters", "n_params", "num_params", "param_count")
_TOTAL_KEYS = ("total_params", "total", "total_parameters", "params_total")
_IGNORED_KEYS = ("name", "arch", "spec", "note", "notes", "comment", "student", "description")
_WINDOW_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d")
_BLOCK_TYPES = ("DepthwiseSeparable", "BasicBlock", "Bottleneck")


@dataclass
class Verdict:
    """One graded claim. ``layer`` is the top-level layer index (``None`` for the total)."""

    layer: int | None
    field: str  # "output_shape" | "params" | "total_params"
    claimed: Any  # as the student wrote it
    correct: Any  # list [C, H, W] / [F] for shapes, int for counts
    ok: bool
    formula: str  # how the correct value follows, with the numbers in it
    hint: str = ""  # the likely mistake ("" when ok)
    name: str = ""  # the layer's name, "total" for the total
    note: str = ""  # a remark on a right answer, e.g. about the channel order
    mistakes: list[str] = field(default_factory=list)  # tags of the mistakes found, e.g. ["missing_bias"]

    @property
    def correct_text(self) -> str:
        """The correct value as a student writes it: '6×60×60' or '2,416'."""
        if isinstance(self.correct, list):
            return _shape_text(self.correct)
        return f"{self.correct:,}"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "name": self.name, "field": self.field, "claimed": self.claimed,
                "correct": self.correct, "ok": self.ok, "formula": self.formula, "hint": self.hint,
                "note": self.note, "mistakes": list(self.mistakes)}


@dataclass
class Problem:
    """One cell that cannot be read ("abc", "5²"): it is not graded, the others still are."""

    layer: int | None  # None for the total
    field: str  # "output_shape" | "params" | "total_params"
    raw: Any  # as the student wrote it
    message: str  # what is wrong: "cannot read 'abc'"
    fix: str  # what to write instead
    name: str = ""  # the layer's name, "total" for the total

    @property
    def where(self) -> str:
        """'Layer 3 (conv2), your params' / 'Your total'."""
        if self.layer is None:
            return "Your total"
        what = {"output_shape": "output shape", "params": "params"}[self.field]
        return f"Layer {self.layer} ({self.name}), your {what}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message} — {self.fix}"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "name": self.name, "field": self.field, "claimed": self.raw,
                "message": self.message, "fix": self.fix, "text": str(self)}


@dataclass
class Report:
    """All verdicts, layer by layer (output shape, then parameters), the total last; and the cells that
    could not be read (``problems``), which are left out of the verdicts."""

    spec: Spec
    verdicts: list[Verdict]
    problems: list[Problem] = field(default_factory=list)

    @property
    def right(self) -> int:
        return sum(v.ok for v in self.verdicts)

    @property
    def wrong(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.spec.name, "right": self.right, "graded": len(self.verdicts),
                "verdicts": [v.to_dict() for v in self.verdicts],
                "problems": [p.to_dict() for p in self.problems]}


# ------------------------------------------------------------------------------------------- grading


@dataclass
class _Mistake:
    tag: str
    hint: str


@dataclass
class _Sheet:
    """Everything the detectors look at: the truth (analysis) and the student's claims."""

    spec: Spec
    analysis: Analysis
    rows: list[Row]  # top-level rows, one per layer
    names: list[str]
    written: dict[int, tuple[int, ...]] = field(default_factory=dict)  # shapes as the student wrote them
    shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)  # ... read in PyTorch's order
    shape_ok: dict[int, bool] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    channels_last: bool = False  # the student writes H×W×C


def grade(spec: Spec | dict[str, Any] | str, answers: dict[str, Any] | list[Any] | str) -> Report:
    """Grade a hand calculation (see the module docstring for the answers format).

    A cell that cannot be read ("abc", "5²") becomes a ``Problem`` of the report, naming the layer and the
    cell; every other cell is still graded. Raises ``AnswersError`` only for answers whose structure cannot
    be read (not JSON, an unknown layer or key), and the spec's ``ArchitectureError`` when its layers do not
    fit together (there is no truth to grade against then).
    """
    spec = parse_spec(spec)
    analysis = analyze(spec)
    if analysis.error is not None:
        raise analysis.error
    names = spec.names()
    per_layer, total = read_answers(answers, names)
    sheet = _Sheet(spec, analysis, analysis.top_rows(), names)
    problems: list[Problem] = []

    def read(reader: Any, raw: Any, layer: int | None, what: str) -> Any:
        try:
            return reader(raw)
        except CellError as err:
            problems.append(Problem(layer, what, raw, err.message, err.fix or "",
                                    "total" if layer is None else names[layer]))
            return None

    raw_shapes = {i: read(read_shape, a.get("output_shape"), i, "output_shape") for i, a in per_layer.items()}
    raw_shapes = {i: s for i, s in raw_shapes.items() if s is not None}
    sheet.channels_last = _writes_channels_last(sheet, raw_shapes)
    for i in sorted(raw_shapes):
        sheet.written[i] = raw_shapes[i]
        sheet.shape_ok[i], _, sheet.shapes[i] = _read_shape(sheet, i, raw_shapes[i])
    for i, a in per_layer.items():
        count = read(read_count, a.get("params"), i, "params")
        if count is not None:
            sheet.counts[i] = count

    verdicts: list[Verdict] = []
    for i in sorted(per_layer):
        if i in sheet.written:
            verdicts.append(_grade_shape(sheet, i, per_layer[i]["output_shape"]))
        if i in sheet.counts:
            verdicts.append(_grade_params(sheet, i, per_layer[i]["params"]))
    total_count = read(read_count, total, None, "total_params")
    if total_count is not None:
        verdicts.append(_grade_total(sheet, total, total_count))
    order = {i: n for n, i in enumerate(sorted(per_layer))}
    problems.sort(key=lambda p: (len(order) if p.layer is None else order[p.layer], FIELDS.index(p.field)))
    return Report(spec, verdicts, problems)


# ------------------------------------------------------------------------------------ reading answers


def read_answers(answers: dict[str, Any] | list[Any] | str,
                 names: list[str]) -> tuple[dict[int, dict[str, Any]], Any]:
    """The answers as {layer index: {"output_shape": raw, "params": raw}} and the raw total (or None)."""
    if isinstance(answers, (str, bytes)):
        answers = read_json(answers, "The answers text", AnswersError)
    if isinstance(answers, list):
        answers = {"layers": answers}
    if not isinstance(answers, dict):
        raise AnswersError('The answers must be a JSON object like {"layers": [...], "total_params": 123}.')
    total = None
    layers: Any = []
    for key, value in answers.items():
        if key == "layers":
            layers = value if value is not None else []
        elif key in _TOTAL_KEYS:
            total = value
        elif key not in _IGNORED_KEYS:
            raise AnswersError(f"Unknown key '{key}' in the answers.",
                               _did_you_mean(key, ("layers", "total_params")) or
                               'Use "layers" (one entry per layer) and "total_params".')
    out: dict[int, dict[str, Any]] = {}
    if isinstance(layers, list):
        entries = [(None if isinstance(e, dict) and "layer" in e else i, e) for i, e in enumerate(layers)]
    elif isinstance(layers, dict):
        entries = [(_layer_index(k, names), e) for k, e in layers.items()]
    else:
        raise AnswersError("'layers' must be a list (one entry per layer, in order) or an object keyed by "
                           "layer index or name.")
    for position, entry in entries:
        if entry is None or entry == {}:
            continue
        if not isinstance(entry, dict):
            raise AnswersError(f"Answer {position}: expected an object like "
                               f'{{"output_shape": "6x28x28", "params": 456}}, got {_quoted(entry)}.')
        index = position
        if "layer" in entry:
            index = _layer_index(entry["layer"], names)
        elif "name" in entry and position is None:
            index = _layer_index(entry["name"], names)
        if index is None or index >= len(names):
            raise AnswersError(f"There are answers for {len(layers)} layers, but the network has "
                               f"{len(names)}.", "Give one entry per layer (null for a layer you skip).")
        item: dict[str, Any] = {}
        for key, value in entry.items():
            if key in ("layer", "name", "type", "note", "comment"):
                continue
            if key in _SHAPE_KEYS:
                item["output_shape"] = value
            elif key in _PARAM_KEYS:
                item["params"] = value
            else:
                raise AnswersError(f"Layer {index} ({names[index]}): unknown answer '{key}'.",
                                   _did_you_mean(key, ("output_shape", "params"))
                                   or 'Use "output_shape" and "params".')
        if index in out:
            raise AnswersError(f"Layer {index} ({names[index]}) is answered twice.")
        out[index] = item
    return out, total


def _layer_index(ref: Any, names: list[str]) -> int:
    if isinstance(ref, bool):
        ref = str(ref)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        index = int(ref)
        if 0 <= index < len(names):
            return index
        raise AnswersError(f"There is no layer {index}: the network has layers 0 to {len(names) - 1}.")
    if isinstance(ref, str) and ref.strip() in names:
        return names.index(ref.strip())
    hint = _did_you_mean(str(ref), names) or f"Layers: {', '.join(names)}."
    raise AnswersError(f"There is no layer '{ref}' in this network.", hint)


class CellError(AnswersError):
    """One cell cannot be read; ``grade`` turns it into a ``Problem`` naming the layer and the cell."""


MAX_CELL = 200  # characters: a cell is a number, a shape or a short worked sum
MAX_COUNT = 10**15  # no network here comes near; larger values are typos (or hostile)
MAX_EXPONENT = 64
COUNT_FIX = "write a number like 456 or a sum like 5*5*3*6+6"
SHAPE_FIX = "write it like 6x28x28 (C×H×W), 28x28x6, or one number such as 400 after Flatten"
_SHAPE_CHARS = re.compile(r"^[0-9\s,xX×*·()\[\]]*$")
_TIMES = str.maketrans({"·": "*", "⋅": "*", "∙": "*", "•": "*", "×": "*", "✕": "*", "x": "*", "X": "*",
                        "−": "-", "–": "-", "—": "-", "÷": "/", "[": "(", "]": ")", "{": "(", "}": ")"})
_SUPERSCRIPTS = {c: str(d) for d, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}


def _quoted(raw: Any) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def read_shape(raw: Any) -> tuple[int, ...] | None:
    """A shape as written: [6, 28, 28], 400, "6x28x28", "28×28×6", "60 x 60 x 6", "(6, 60, 60)",
    "(64 − 5)/1 + 1 = 60 × 60 × 6" (a worked size: the last part counts). None for an empty cell;
    ``CellError`` for one that cannot be read."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, (list, tuple)):
        values = list(raw)
    elif _is_count(raw):
        values = [raw]
    elif isinstance(raw, str):
        if len(raw) > MAX_CELL:
            raise CellError(f"cannot read {_quoted(raw)}: it is {len(raw):,} characters long", SHAPE_FIX)
        text = raw.split("=")[-1].strip()
        if not _SHAPE_CHARS.match(text) or not re.search(r"[0-9]", text):
            raise CellError(f"cannot read {_quoted(raw)} as a shape", SHAPE_FIX)
        values = [int(v) for v in re.findall(r"[0-9]+", text)]
    else:
        raise CellError(f"cannot read {_quoted(raw)} as a shape", SHAPE_FIX)
    if not values or len(values) > 4 or not all(_is_count(v) and 1 <= v <= MAX_COUNT for v in values):
        raise CellError(f"cannot read {_quoted(raw)}: a shape is 1 to 3 whole numbers of at least 1",
                        SHAPE_FIX)
    return tuple(int(v) for v in values)


def read_count(raw: Any) -> int | None:
    """A parameter count as written: 156, "432,120", "432 120", a product or sum ("5*5*3*6+6", "5·5·3·6 + 6",
    "5×5×3×6+6", "(5*5*3+1)*6", "5^2*3*6+6", "5²·3·6 + 6") or a worked sum ending in its result
    ("5·5·6·16 + 16 = 2416"). None for an empty cell; ``CellError`` for one that cannot be read."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if _is_count(raw):
        value = int(raw)
        if value < 0:
            raise CellError(f"cannot read {_quoted(raw)}: a number of parameters cannot be negative", COUNT_FIX)
        if value > MAX_COUNT:
            raise CellError(f"{_quoted(raw)} is far too large for a number of parameters", COUNT_FIX)
        return value
    if not isinstance(raw, str):
        raise CellError(f"cannot read {_quoted(raw)} as a number of parameters", COUNT_FIX)
    value = evaluate(raw)
    if value < 0:
        raise CellError(f"cannot read {_quoted(raw)}: it comes to {value:,}, and a number of parameters "
                        "cannot be negative", COUNT_FIX)
    return value


def evaluate(text: str) -> int:
    """The whole number a short sum stands for: digits, + − * × · / ( ) and powers (^, **, ²), thousands
    separators ("62,006", "62 006"); a worked sum ("5*5*3*6 + 6 = 456") counts by its last part. Safe for any
    input: parsed by ``_Sum`` and computed node by node with bounds (no ``eval``); ``CellError`` otherwise."""
    if len(text) > MAX_CELL:
        raise CellError(f"cannot read {_quoted(text)}: it is {len(text):,} characters long", COUNT_FIX)
    parts = [p for p in text.split("=") if p.strip()]
    if not parts:
        raise CellError(f"cannot read {_quoted(text)} as a number of parameters", COUNT_FIX)
    expr = parts[-1].strip().translate(_TIMES).replace("^", "**")
    expr = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "**" + "".join(_SUPERSCRIPTS[c] for c in m.group()), expr)
    expr = re.sub(r"(?<=[0-9])[\s_'\u00a0\u2009\u202f](?=[0-9])", "", expr)  # 432 120, 432_120
    expr = re.sub(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))", "", expr)  # 62,006 and 1,234,567
    expr = re.sub(r"(?<![0-9])0+(?=[0-9])", "", expr)  # 007 is 7
    if not re.fullmatch(r"[0-9+\-*/()\s]+", expr) or not re.search(r"[0-9]", expr):
        raise CellError(f"cannot read {_quoted(text)} as a number of parameters", COUNT_FIX)
    try:
        tree = _Sum(expr).tree()
    except _Unreadable:
        raise CellError(f"cannot read {_quoted(text)} as a number of parameters", COUNT_FIX) from None
    try:
        return _compute(tree, text)
    except RecursionError:
        raise CellError(f"cannot read {_quoted(text)}: it is nested too deeply", COUNT_FIX) from None


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
        return CellError(f"{_quoted(text)} is far too large for a number of parameters",
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
                raise CellError(f"cannot read {_quoted(text)}: it divides by zero", COUNT_FIX)
            if left % right:
                raise CellError(f"cannot read {_quoted(text)}: {left:,} / {right:,} is not a whole number",
                                COUNT_FIX)
            value = left // right
        else:
            if right < 0:
                raise CellError(f"cannot read {_quoted(text)}: a negative power is not a whole number", COUNT_FIX)
            if right > MAX_EXPONENT and abs(left) > 1:
                raise too_large()
            value = left**right
    if abs(value) > MAX_COUNT:
        raise too_large()
    return value


def _is_count(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


# ------------------------------------------------------------------------------- the answers as a form


@dataclass
class AnswerSheet:
    """The answers as a form shows them: per layer, the output shape and the parameter count as typed
    (strings, "" for an empty cell), and the total. ``to_json``/``from_json`` keep it compact (for a link)
    and read back whatever a link holds without failing (a damaged or hand-edited link gives empty cells)."""

    cells: list[list[str]]  # one [output shape, params] per layer
    total: str = ""

    @classmethod
    def empty(cls, n_layers: int) -> AnswerSheet:
        return cls([["", ""] for _ in range(n_layers)])

    @classmethod
    def from_answers(cls, answers: dict[str, Any] | list[Any] | str, names: list[str]) -> AnswerSheet:
        """E.g. the coursework document's answers (cnnedu.arch.zoo.DOCUMENT_ANSWERS) put into the form."""
        per_layer, total = read_answers(answers, names)
        sheet = cls.empty(len(names))
        for i, item in per_layer.items():
            sheet.cells[i] = [_cell_text(item.get("output_shape")), _cell_text(item.get("params"))]
        sheet.total = _cell_text(total)
        return sheet

    @classmethod
    def from_json(cls, data: Any, n_layers: int) -> AnswerSheet:
        sheet = cls.empty(n_layers)
        if not isinstance(data, dict):
            return sheet
        cells = data.get("cells")
        for i, row in enumerate(cells[:n_layers] if isinstance(cells, list) else []):
            if isinstance(row, list):
                sheet.cells[i] = [_cell_text(v)[:MAX_CELL] if isinstance(v, (str, int)) else ""
                                  for v in (row + ["", ""])[:2]]
        total = data.get("total")
        sheet.total = _cell_text(total)[:MAX_CELL] if isinstance(total, (str, int)) else ""
        return sheet

    def to_json(self) -> dict[str, Any]:
        cells = [list(row) for row in self.cells]
        while cells and not any(cells[-1]):
            cells.pop()
        return {"cells": cells, "total": self.total}

    @property
    def is_empty(self) -> bool:
        return not self.total.strip() and not any(v.strip() for row in self.cells for v in row)

    def answers(self) -> dict[str, Any]:
        """The answers for ``grade``."""
        layers = [{k: v.strip() for k, v in zip(("output_shape", "params"), row, strict=True) if v.strip()}
                  for row in self.cells]
        out: dict[str, Any] = {"layers": layers}
        if self.total.strip():
            out["total_params"] = self.total.strip()
        return out


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "×".join(map(str, value))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def network_key(name: str, spec: Spec | None = None) -> str:
    """A short name for the network a form answers: the preset id, or, for a network being built (which
    can change), a name that changes with it, so answers for an earlier version are not carried over."""
    if spec is None:
        return name
    digest = hashlib.sha1(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    return f"build-{digest}"


def verdict_table(report: Report) -> list[dict[str, Any]]:
    """One row per graded cell, as the Check page shows them: mark, layer, what, claim, correct, hint."""
    names = report.spec.names()
    rows = []
    for v in report.verdicts:
        rows.append({"": "✓" if v.ok else "✗",
                     "layer": "total" if v.layer is None else f"{v.layer} {names[v.layer]}",
                     "what": {"output_shape": "shape", "params": "params", "total_params": "params"}[v.field],
                     "you wrote": _cell_text(v.claimed), "correct": v.correct_text,
                     "likely mistake": v.hint or v.note, "formula": v.formula})
    return rows


# ---------------------------------------------------------------------------------------------- shapes


def _writes_channels_last(sheet: _Sheet, raw: dict[int, tuple[int, ...]]) -> bool:
    """Does the student write H×W×C? Decided by the 3-number claims that read unambiguously one way."""
    chw = hwc = 0
    for i, claim in raw.items():
        correct = sheet.rows[i].output_shape
        if len(claim) == 3 and len(correct) == 3 and correct[0] != correct[1]:
            chw += claim[0] == correct[0] or (claim[1] == claim[2] and claim[0] != claim[1])
            hwc += claim[2] == correct[0] or (claim[0] == claim[1] and claim[2] != claim[0])
    return hwc > chw


def _read_shape(sheet: _Sheet, i: int, claim: tuple[int, ...]) -> tuple[bool, str, tuple[int, ...]]:
    """(right?, a note on a right answer, the claim in PyTorch's C×H×W order)."""
    correct = sheet.rows[i].output_shape
    c = claim[1:] if len(claim) == 4 and claim[0] == 1 else claim  # a batch dimension of 1
    if len(correct) == 3:
        hwc = (c[2], c[0], c[1]) if len(c) == 3 else c
        if c == correct:
            return True, "", c
        if hwc == correct:
            return True, (f"PyTorch orders the dimensions C×H×W: {_shape_text(correct)} "
                          f"(you wrote H×W×C, {_shape_text(claim)})."), correct
        if len(c) == 2 and c == correct[1:]:
            return True, f"The full output is {_shape_text(correct)} (C×H×W): {correct[0]} channels.", correct
        if len(c) == 1 and c[0] == math.prod(correct):
            return True, f"As an image that is {_shape_text(correct)} (C×H×W).", correct
        if len(c) == 3:
            if c[0] == correct[0]:
                return False, "", c
            if c[2] == correct[0] or (c[0] == c[1] != c[2]):
                return False, "", hwc
            return False, "", hwc if sheet.channels_last and c[1] != c[2] else c
        if len(c) == 2:
            return False, "", (correct[0], *c)
        return False, "", c
    stripped = tuple(v for v in c if v != 1) or (1,)
    if stripped == correct:
        return True, "", correct
    if math.prod(c) == correct[0]:
        return True, f"That is one vector of {correct[0]} features.", correct
    return False, "", stripped if len(stripped) == 1 else (math.prod(c),)


def _grade_shape(sheet: _Sheet, i: int, raw: Any) -> Verdict:
    row = sheet.rows[i]
    ok, note, claim = _read_shape(sheet, i, sheet.written[i])
    verdict = Verdict(i, "output_shape", raw, list(row.output_shape), ok, row.formula, name=sheet.names[i],
                      note=note)
    if not ok:
        mistakes = _shape_mistakes(sheet, i, claim)
        verdict.mistakes = [m.tag for m in mistakes]
        verdict.hint = " ".join(m.hint for m in mistakes) or (
            f"{sheet.names[i]} outputs {_shape_text(row.output_shape)}; work it through with the formula.")
    return verdict


def _shape_mistakes(sheet: _Sheet, i: int, claim: tuple[int, ...]) -> list[_Mistake]:
    carried = _carried_shape(sheet, i, claim)
    if carried:
        return [carried]
    row, name = sheet.rows[i], sheet.names[i]
    correct = row.output_shape
    t = sheet.spec.layers[i]["type"]
    if len(correct) == 1:
        return [_vector_mistake(sheet, i, claim[0] if len(claim) == 1 else math.prod(claim))]
    if len(claim) != 3:
        return [_Mistake("not_an_image", f"{name} still outputs an image, C×H×W = {_shape_text(correct)}; "
                         "only Flatten turns it into one vector.")]
    found = []
    if claim[0] != correct[0]:
        found.append(_channel_mistake(sheet, i, claim[0]))
    if claim[1:] != correct[1:]:
        if t in _WINDOW_TYPES:
            found.extend(_window_mistake(sheet, i, claim[1:]))
        elif t in _BLOCK_TYPES:
            stride = layer_params(sheet.spec.layers[i])["stride"]
            if stride > 1 and claim[1:] == row.input_shape[1:]:
                found.append(_Mistake("stride_ignored", f"The block has stride {stride}: its first conv "
                                      f"steps {stride} pixels, so {_hw(row.input_shape)} becomes "
                                      f"{_hw(correct)}."))
            else:
                found.append(_Mistake("size", f"{name} keeps the size with 3×3 convs and padding 1, and divides "
                                      f"it by its stride {stride}: {_hw(row.input_shape)} → {_hw(correct)}."))
        elif t == "AdaptiveAvgPool2d":
            found.append(_Mistake("adaptive_pool", f"An adaptive pool always outputs its output_size, "
                                  f"{_hw(correct)}, whatever size comes in."))
        else:
            found.append(_Mistake("shape_kept", f"{t} does not change the size: {name} outputs what it "
                                  f"receives, {_shape_text(row.input_shape)}."))
    return found


def _carried_shape(sheet: _Sheet, i: int, claim: tuple[int, ...]) -> _Mistake | None:
    """The student's own (wrong) earlier answer, carried through the layers in between, gives this one."""
    j = max((k for k in sheet.shapes if k < i), default=None)
    if j is None or sheet.shape_ok[j]:
        return None
    out = _propagate(sheet.spec, sheet.shapes[j], j + 1, i)
    if out is None or out != claim:
        return None
    return _Mistake("carried_forward", f"This follows from your answer for {sheet.names[j]} "
                    f"({_shape_text(sheet.written[j])}), which is wrong; from there your step is right. "
                    f"Fix {sheet.names[j]} and this one follows.")


def _propagate(spec: Spec, start: tuple[int, ...], first: int, last: int) -> tuple[int, ...] | None:
    """The output of layers first..last for an input of ``start`` (measured by torch), or None."""
    if len(start) != 3 or not all(1 <= s <= 4096 for s in start):
        return None
    layers = [{k: v for k, v in layer.items() if k not in ("in_channels", "in_features", "num_features")}
              for layer in spec.layers[first:last + 1]]
    try:
        result = trace({"input_shape": list(start), "num_classes": 1, "layers": layers})
    except CnnEduError:
        return None
    return result.out_shapes[-1] if len(result.out_shapes) == len(layers) and layers else None


def _channel_mistake(sheet: _Sheet, i: int, channels: int) -> _Mistake:
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    c_in, c_out = row.input_shape[0], row.output_shape[0]
    if layer["type"] == "Conv2d":
        if channels == c_in:
            return _Mistake("channels", f"A convolution outputs one channel per filter: {name} has "
                            f"out_channels = {c_out} filters, so {c_out} channels, not its {c_in} input channels.")
        return _Mistake("channels", f"{name} has {c_out} filters, so it outputs {c_out} channels.")
    if layer["type"] in _BLOCK_TYPES:
        return _Mistake("channels", f"The block outputs out_channels = {c_out} channels.")
    return _Mistake("channels", f"{layer['type']} keeps the number of channels: {c_in} in, {c_out} out.")


def _window_settings(layer: dict[str, Any]) -> tuple[tuple[int, int], ...] | None:
    """(kernel, stride, padding, dilation, ceil) as (h, w) pairs; None for padding "same"."""
    p = layer_params(layer)
    if p.get("padding") == "same":
        return None
    padding = (0, 0) if p.get("padding") == "valid" else pair(p["padding"])
    ceil = 1 if p.get("ceil_mode") else 0
    return (pair(p["kernel_size"]), pair(p["stride"] or p["kernel_size"]), padding,
            pair(p.get("dilation", 1)), (ceil, ceil))


def _window(hw: tuple[int, ...], k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
            d: tuple[int, int], ceil: tuple[int, int]) -> tuple[int, int] | None:
    out = tuple(window_output(hw[a], k[a], s[a], p[a], d[a], bool(ceil[a])) for a in (0, 1))
    return out if min(out) >= 1 else None


def _window_mistake(sheet: _Sheet, i: int, claim_hw: tuple[int, ...]) -> list[_Mistake]:
    """The slip that turns the right size into the student's; when several slips give the same number
    (leaving out padding 1 at stride 2 and forgetting the + 1 both give 15 for 16), all of them."""
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    in_hw, out_hw = row.input_shape[1:], row.output_shape[1:]
    is_pool = layer["type"] != "Conv2d"
    settings = _window_settings(layer)
    if settings is None:  # padding "same"
        return [_Mistake("same_padding", f'padding="same" adds just enough zeros to keep the size: '
                         f"{_hw(in_hw)} stays {_hw(out_hw)}.")]
    k, s, p, d, ceil = settings
    claim_hw = tuple(claim_hw)
    if is_pool and claim_hw == in_hw:
        return [_Mistake("pool_ignored", f"You left the size unchanged, as if there were no pooling: {name} "
                         f"({_kernel(k)} windows, stride {_one(s)}) shrinks {_hw(in_hw)} to {_hw(out_hw)}.")]
    wrong_input = _wrong_input(sheet, i, claim_hw, settings)
    if wrong_input:
        return [wrong_input]
    found = [m for m, size in _window_slips(sheet, i, settings) if size == claim_hw]
    if any(m.tag == "same_padding_assumed" for m in found):  # "divided by the stride" is the same story
        found = [m for m in found if m.tag != "divided_only"]
    if not found:
        return [_Mistake("size", f"{name} receives {_hw(in_hw)}; the formula gives {_hw(out_hw)}.")]
    if len(found) > 1:
        found[0].hint = f"{len(found)} different slips give {_hw(claim_hw)}; check which one you made. " + found[0].hint
        for m in found[1:]:
            m.hint = "Or " + m.hint[0].lower() + m.hint[1:]
    return found


def _window_slips(sheet: _Sheet, i: int, settings: tuple) -> list[tuple[_Mistake, tuple[int, int] | None]]:
    """Each slip a student makes with a conv or pool size, and the size it gives."""
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    in_hw, out_hw = row.input_shape[1:], row.output_shape[1:]
    k, s, p, d, ceil = settings
    formula = f"⌊({in_hw[0]} − {k[0]} + 2·{p[0]})/{s[0]}⌋ + 1 = {out_hw[0]}"
    out: list[tuple[_Mistake, tuple[int, int] | None]] = []
    if p != (0, 0):
        out.append((_Mistake("padding_ignored", f"You left out the padding: {name} pads {_one(p)} pixel(s) on "
                             f"each side, which is the + 2·{_one(p)} in the formula."),
                    _window(in_hw, k, s, (0, 0), d, ceil)))
    if s != (1, 1):
        out.append((_Mistake("stride_ignored", f"You left out the stride: {name} moves {_one(s)} pixels at a "
                             f"time, so divide by {_one(s)} before the + 1."), _window(in_hw, k, (1, 1), p, d, ceil)))
    if s != k and k != (1, 1):  # (a 1×1 kernel as the stride is the stride left out)
        default = ("a pooling layer's stride is its kernel size only when no stride is given"
                   if layer["type"] != "Conv2d" else "only a pooling layer's stride defaults to its kernel size")
        out.append((_Mistake("stride_is_kernel", f"You used the kernel size {_one(k)} as the stride: {name} "
                             f"moves {_one(s)} pixel(s) at a time ({default})."), _window(in_hw, k, k, p, d, ceil)))
    if d != (1, 1):
        span = _one(tuple(d[a] * (k[a] - 1) + 1 for a in (0, 1)))
        out.append((_Mistake("dilation_ignored", f"You left out the dilation: {name}'s taps are {_one(d)} apart, "
                             f"so its {_kernel(k)} kernel spans {span} pixels."), _window(in_hw, k, s, p, (1, 1), ceil)))
    rounding = ("You rounded down, but ceil_mode=True rounds the division up." if ceil[0]
                else "You rounded up, but PyTorch rounds the division down (⌊ ⌋) unless ceil_mode=True.")
    out.append((_Mistake("rounding", rounding), _window(in_hw, k, s, p, d, tuple(1 - c for c in ceil))))
    out.append((_Mistake("off_by_one", f"You forgot the + 1: the first window sits at position 0, so {name} "
                         f"fits {formula} windows."), tuple(out_hw[a] - 1 for a in (0, 1))))
    if layer["type"] == "Conv2d":
        same = tuple(-(-in_hw[a] // s[a]) for a in (0, 1))
        rule = f"{_hw(in_hw)} stays" if s == (1, 1) else f"{_hw(in_hw)} divided by the stride, rounded up, is"
        out.append((_Mistake("same_padding_assumed", f'You computed it as if {name} had padding "same" ({rule} '
                             f"{_hw(same)}), but its padding is {_one(p)}, so the kernel shrinks the size: "
                             f"{formula}."), same))
    if s != (1, 1):
        out.append((_Mistake("divided_only", f"You only divided by the stride; the kernel size counts too: "
                             f"{formula}."), tuple(in_hw[a] // s[a] for a in (0, 1))))
    return out


def _wrong_input(sheet: _Sheet, i: int, claim_hw: tuple[int, ...], settings: tuple) -> _Mistake | None:
    """The right formula applied to the wrong size: an earlier layer's input or output."""
    rows, names = sheet.rows, sheet.names
    in_hw = rows[i].input_shape[1:]
    sources = [(-1, tuple(sheet.spec.input_shape[1:]))]
    sources += [(m, rows[m].output_shape[1:]) for m in range(i) if len(rows[m].output_shape) == 3]
    changers = [m for m in range(i) if len(rows[m].output_shape) == 3
                and rows[m].output_shape[1:] != rows[m].input_shape[1:]]
    verb = "pooled" if sheet.spec.layers[i]["type"] != "Conv2d" else f"applied {names[i]}'s filter to"
    for m, hw in reversed(sources):
        if hw == in_hw or _window(hw, *settings) != claim_hw:
            continue
        skipped = [n for n in changers if n > m]
        if len(skipped) == 1:
            n = skipped[0]
            return _Mistake("wrong_input", f"You {verb} the {_hw(hw)} input of {names[n]} instead of its "
                            f"{_hw(rows[n].output_shape)} output: {names[i]} comes after {names[n]}, so it "
                            f"receives {_hw(in_hw)}.")
        where = "the network's input" if m < 0 else f"the output of {names[m]}"
        left_out = ", ".join(f"{names[n]} ({_hw(rows[n].input_shape)} → {_hw(rows[n].output_shape)})"
                             for n in skipped)
        return _Mistake("wrong_input", f"You started from {_hw(hw)}, {where}, and left out {left_out}: "
                        f"{names[i]} receives {_hw(in_hw)}.")
    return None


def _vector_mistake(sheet: _Sheet, i: int, features: int) -> _Mistake:
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    t = layer["type"]
    correct = row.output_shape[0]
    if t == "Linear":
        last_linear = max(k for k, lay in enumerate(sheet.spec.layers) if lay["type"] == "Linear")
        if i == last_linear and correct == sheet.spec.num_classes:
            return _Mistake("wrong_classes", f"The last layer gives one score per class: this network has "
                            f"{sheet.spec.num_classes} classes, so {name} outputs {correct}, not {features}.")
        if features == row.input_shape[0]:
            return _Mistake("linear_output", f"{features} is what {name} receives; a Linear layer outputs "
                            f"out_features = {correct} values.")
        return _Mistake("linear_output", f"A Linear layer outputs out_features values: {name} has {correct}.")
    if t == "Flatten":
        for m in range(i - 1, -1, -1):
            shape = sheet.rows[m].output_shape
            if math.prod(shape) == features and shape != row.input_shape:
                return _Mistake("wrong_input", f"You flattened {_shape_text(shape)}, the output of "
                                f"{sheet.names[m]}; {name} receives {_shape_text(row.input_shape)} = {correct}.")
        return _Mistake("flatten", f"Flatten multiplies C·H·W: {_shape_text(row.input_shape, '·')} = {correct}.")
    return _Mistake("shape_kept", f"{t} does not change the shape: {name} outputs the {row.input_shape[0]} "
                    "features it receives.")


# ------------------------------------------------------------------------------------------ parameters


def _grade_params(sheet: _Sheet, i: int, raw: Any) -> Verdict:
    row, claim = sheet.rows[i], sheet.counts[i]
    ok = claim == row.params
    verdict = Verdict(i, "params", raw, row.params, ok, row.params_formula, name=sheet.names[i])
    if not ok:
        mistake = _params_mistake(sheet, i, claim)
        verdict.mistakes = [mistake.tag]
        verdict.hint = mistake.hint
    return verdict


def _params_mistake(sheet: _Sheet, i: int, claim: int) -> _Mistake:
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    t = layer["type"]
    if row.params == 0:
        what = {"MaxPool2d": "it only picks the largest value of each window",
                "AvgPool2d": "it only averages each window", "Flatten": "it only reshapes",
                "Dropout": "it only zeroes random values", "Dropout2d": "it only zeroes random channels"}
        if t.startswith("BatchNorm"):
            return _Mistake("bn_affine", f"{name} has affine=false: no learned γ and β, so 0 parameters "
                            "(its running mean and variance are buffers, not parameters).")
        return _Mistake("no_params", f"{t} has no learned parameters: {what.get(t, 'it is a fixed function')}.")
    if t == "Conv2d":
        return _conv_mistake(sheet, i, claim)
    if t == "Linear":
        return _linear_mistake(sheet, i, claim)
    if t.startswith("BatchNorm"):
        c = row.input_shape[0]
        if claim == 4 * c:
            return _Mistake("bn_stats", f"You counted BatchNorm's running mean and variance: they are buffers, "
                            f"not learned. {name} learns γ and β, one each per channel: 2·{c} = {2 * c}.")
        if claim == 0:
            return _Mistake("bn_forgotten", f"BatchNorm learns a scale γ and a shift β per channel: "
                            f"2·{c} = {2 * c} parameters in {name}.")
        if claim == c:
            return _Mistake("bn_half", f"BatchNorm learns two values per channel, γ (scale) and β (shift): "
                            f"2·{c} = {2 * c}.")
        return _Mistake("bn", f"BatchNorm learns γ and β per channel: 2·{c} = {2 * c}.")
    found = _find_components(claim, row.params, _components(sheet, [r for r in sheet.analysis.rows
                                                                    if r.index == i and r.depth == 1]))
    if found:
        return found
    return _Mistake("count", f"{name}'s parameters add up as {row.params_formula}.")


def _conv_mistake(sheet: _Sheet, i: int, claim: int) -> _Mistake:
    row, name = sheet.rows[i], sheet.names[i]
    p = layer_params(sheet.spec.layers[i])
    kh, kw = pair(p["kernel_size"])
    c_in, c_out, groups = row.input_shape[0], row.output_shape[0], p["groups"]
    bias = c_out if p["bias"] else 0
    weights = kh * kw * (c_in // groups) * c_out
    if bias and claim == weights:
        return _Mistake("missing_bias", f"You left out the biases: each of the {c_out} filters also has one "
                        f"bias, {weights:,} + {c_out} = {row.params:,}.")
    if not bias and claim == weights + c_out:
        return _Mistake("extra_bias", f"{name} has bias=false: only the {weights:,} weights count.")
    if bias and claim == weights + 1:
        return _Mistake("bias_count", f"The bias is one per filter ({c_out}), not one per layer.")
    if bias and c_in != c_out and claim == weights + c_in:
        return _Mistake("bias_count", f"The bias is one per filter, i.e. per output channel ({c_out}), not per "
                        f"input channel ({c_in}).")
    source = _input_source(sheet, i)
    for channels, where in _channel_candidates(sheet, i):
        if channels == c_in:
            continue
        wrong = kh * kw * (channels // groups if channels % groups == 0 else channels) * c_out
        for b, extra in ((bias, ""), (0, " and left out the biases")):
            if (b or extra == "") and claim == wrong + b:
                tag = "wrong_in_channels" + ("+missing_bias" if extra else "")
                plural = "" if channels == 1 else "s"
                return _Mistake(tag, f"You used {channels} input channel{plural} ({where}){extra}: {name}'s "
                                f"input channels are {c_in}, {source}. Each filter is {kh}×{kw}×{c_in // groups}: "
                                f"{row.params_formula}.")
    if groups > 1 and claim in (kh * kw * c_in * c_out + bias, kh * kw * c_in * c_out):
        return _Mistake("groups_ignored", f"{name} has groups = {groups}: each filter sees only "
                        f"{c_in} / {groups} = {c_in // groups} input channel(s), not all {c_in}.")
    if kh == kw and claim in (kh * (c_in // groups) * c_out + bias, kh * (c_in // groups) * c_out):
        return _Mistake("kernel_not_squared", f"A {kh}×{kw} filter has {kh}·{kw} = {kh * kw} weights per "
                        f"input channel, not {kh}.")
    per_channel = kh * kw * c_out
    for b in (bias, 0):
        if claim > b and (claim - b) % per_channel == 0:
            implied = (claim - b) // per_channel
            return _Mistake("wrong_in_channels", f"Your count means {implied} input channels; {name}'s input "
                            f"channels are {c_in} ({source}).")
    return _Mistake("count", f"Count k·k·C_in·C_out weights plus one bias per filter: {row.params_formula}.")


def _linear_mistake(sheet: _Sheet, i: int, claim: int) -> _Mistake:
    row, name = sheet.rows[i], sheet.names[i]
    p = layer_params(sheet.spec.layers[i])
    f_in, f_out = row.input_shape[0], row.output_shape[0]
    bias = f_out if p["bias"] else 0
    weights = f_in * f_out
    if bias and claim == weights:
        return _Mistake("missing_bias", f"You left out the biases: each of the {f_out} outputs also has one "
                        f"bias, {weights:,} + {f_out} = {row.params:,}.")
    if not bias and claim == weights + f_out:
        return _Mistake("extra_bias", f"{name} has bias=false: only the {weights:,} weights count.")
    source = _input_source(sheet, i)
    for features, where, text in _feature_candidates(sheet, i):
        if features == f_in:
            continue
        for b, extra in ((bias, ""), (0, " and leaves out the biases")):
            if (b or extra == "") and claim == features * f_out + b:
                tag = "wrong_in_features" + ("+missing_bias" if extra else "")
                size = f"{features}" if text == str(features) else f"{text} = {features}"
                return _Mistake(tag, f"Your count uses an input of {size} features ({where}){extra}; "
                                f"{source}, so in_features = {f_in}: {row.params_formula}.")
    for b in (bias, 0):
        if claim > b and (claim - b) % f_out == 0:
            implied = (claim - b) // f_out
            return _Mistake("wrong_in_features", f"Your count means in_features = {implied}; {source}, so "
                            f"in_features = {f_in}: {row.params_formula}.")
    if claim > bias and (claim - bias) % f_in == 0:
        return _Mistake("wrong_out_features", f"Your count means {(claim - bias) // f_in} outputs; {name} has "
                        f"out_features = {f_out}.")
    return _Mistake("count", f"Count in_features·out_features weights plus one bias per output: "
                    f"{row.params_formula}.")


def _input_source(sheet: _Sheet, i: int) -> str:
    """'the layer before outputs 16×13×13 = 2704' / 'the output of pool1 (6×30×30)'."""
    if i == 0:
        return f"the network's input ({_shape_text(sheet.spec.input_shape)})"
    prev = sheet.rows[i - 1]
    if prev.type == "Flatten" and len(prev.input_shape) > 1:
        return (f"the layer before outputs {_shape_text(prev.input_shape)} = {prev.output_shape[0]} "
                f"(flattened by {sheet.names[i - 1]})")
    return f"the output of {sheet.names[i - 1]} ({_shape_text(prev.output_shape)})"


def _channel_candidates(sheet: _Sheet, i: int) -> list[tuple[int, str]]:
    """Channel counts a student might wrongly take as a conv's input: their own answer first."""
    out = []
    own = _students_input(sheet, i)
    if own is not None and len(own[0]) == 3:
        out.append((own[0][0], f"from your answer for {own[1]}, carried forward"))
    out.append((sheet.spec.input_shape[0], "the network's input"))
    for m in range(i - 1, -1, -1):
        shape = sheet.rows[m].output_shape
        if len(shape) == 3:
            out.append((shape[0], f"the output of {sheet.names[m]}"))
    out.append((1, "one channel"))
    return out


def _feature_candidates(sheet: _Sheet, i: int) -> list[tuple[int, str, str]]:
    """(features, where from, how written) a student might wrongly feed a Linear layer."""
    out = []
    own = _students_input(sheet, i)
    if own is not None:
        shape, name, written = own
        out.append((math.prod(shape), f"your size for {name}, carried forward", _shape_text(written)))
    for m in range(i - 1, -2, -1):
        shape = sheet.rows[m].output_shape if m >= 0 else sheet.spec.input_shape
        where = f"the output of {sheet.names[m]}" if m >= 0 else "the network's input"
        out.append((math.prod(shape), where, _shape_text(shape)))
    return out


def _students_input(sheet: _Sheet, i: int) -> tuple[tuple[int, ...], str, tuple[int, ...]] | None:
    """What reaches layer i if the student's nearest earlier (wrong) shape answer were right:
    (shape in PyTorch order, the layer they answered, the shape as written)."""
    j = max((k for k in sheet.shapes if k < i), default=None)
    if j is None or sheet.shape_ok[j]:
        return None
    shape = sheet.shapes[j] if j == i - 1 else _propagate(sheet.spec, sheet.shapes[j], j + 1, i - 1)
    if shape is None:
        return None
    written = sheet.written[j] if j == i - 1 or len(shape) == 1 and math.prod(sheet.written[j]) == shape[0] \
        else shape
    return shape, sheet.names[j], written


# ---------------------------------------------------------------------------------------------- totals


def _grade_total(sheet: _Sheet, raw: Any, claim: int) -> Verdict:
    rows = sheet.rows
    total = sheet.analysis.totals.params
    parts = [r.params for r in rows if r.params]
    formula = (" + ".join(f"{p:,}" for p in parts) + f" = {total:,}") if len(parts) > 1 else f"{total:,}"
    verdict = Verdict(None, "total_params", raw, total, claim == total, formula, name="total")
    if verdict.ok:
        return verdict
    mistakes: list[_Mistake] = []
    own = sheet.counts
    if own and sum(own.values()) == claim:
        wrong = [i for i in sorted(own) if own[i] != rows[i].params]
        missing = [i for i in range(len(rows)) if rows[i].params and i not in own]
        text = []
        if wrong:
            listed = ", ".join(f"{sheet.names[i]} ({own[i]:,}, should be {rows[i].params:,})" for i in wrong)
            text.append(f"Your total adds up your layer counts correctly, but {len(wrong)} of them "
                        f"{'is' if len(wrong) == 1 else 'are'} wrong: {listed}.")
        if missing:
            listed = ", ".join(f"{sheet.names[i]} ({rows[i].params:,})" for i in missing)
            text.append(f"{'It' if wrong else 'Your total adds up your layer counts, but it'} leaves out "
                        f"layers that have parameters too: {listed}.")
        mistakes.append(_Mistake("sum_of_wrong_layers", " ".join(text)))
    leaves = sheet.analysis.leaf_rows()
    found = _find_components(claim, total, _components(sheet, leaves, layers=rows))
    if found:
        if mistakes:
            found.hint = "Altogether, " + found.hint[0].lower() + found.hint[1:]
        mistakes.append(found)
    if not mistakes:
        diff = claim - total
        own_sum = sum(own.values()) if own else None
        slip = (f" (your layer counts add up to {own_sum:,})" if own_sum is not None and len(own) > 1 else "")
        mistakes.append(_Mistake("count", f"Your total is {abs(diff):,} {'too many' if diff > 0 else 'too few'}"
                                 f"{slip}; add up the parameters of every layer: {formula}."))
    verdict.mistakes = [m.tag for m in mistakes]
    verdict.hint = " ".join(m.hint for m in mistakes)
    return verdict


@dataclass
class _Component:
    tag: str
    label: str  # what is left out / added, in words
    delta: int  # what it changes in the count (negative: left out)
    rows: tuple[str, ...] = ()


def _components(sheet: _Sheet, leaves: list[Row], layers: list[Row] | None = None) -> list[_Component]:
    """The parts of a count a student may leave out (or add), for the total or for one block."""

    def part(tag: str, what: str, picked: list[tuple[str, int]], sign: int) -> _Component | None:
        picked = [(n, v) for n, v in picked if v]
        if not picked:
            return None
        value = sum(v for _, v in picked)
        names = [n for n, _ in picked]
        if len(picked) == 1:
            label = f"{what} of {names[0]} ({value:,})"
        elif len(picked) <= 5:
            label = f"{what} of {_join(names)} ({' + '.join(f'{v:,}' for _, v in picked)} = {value:,})"
        else:
            label = f"{what} of {len(picked)} layers ({value:,} in all)"
        return _Component(tag, label, sign * value, tuple(names))

    conv = [(r.name, r.biases) for r in leaves if r.type == "Conv2d"]
    linear = [(r.name, r.biases) for r in leaves if r.type == "Linear"]
    bn = [(r.name, r.params) for r in leaves if r.type.startswith("BatchNorm")]
    stats = [(r.name, r.buffers) for r in leaves if r.type.startswith("BatchNorm")]
    candidates = [
        part("missing_bias", "the biases", conv + linear, -1),
        part("missing_conv_bias", "the biases", conv, -1),
        part("missing_linear_bias", "the biases", linear, -1),
        part("bn_forgotten", "the BatchNorm parameters γ and β", bn, -1),
        part("bn_stats", "the BatchNorm running mean and variance (buffers, not learned parameters)", stats, 1),
    ]
    candidates.append(_groups_ignored(leaves))
    for r in layers if layers is not None else leaves:
        if r.params:
            what = "the projection shortcut" if r.name.endswith(".shortcut") else "all of"
            candidates.append(_Component("missing_layer", f"{what} {r.name} ({r.params:,})", -r.params, (r.name,)))
    seen: set[int] = set()
    unique = []
    for c in candidates:  # "all the biases" and "the biases of the Linear layers" may be the same thing
        if c is not None and (c.tag.startswith("missing_layer") or c.delta not in seen):
            seen.add(c.delta)
            unique.append(c)
    return unique


def _groups_ignored(leaves: list[Row]) -> _Component | None:
    """A grouped (depthwise) conv counted as if each filter saw every input channel."""
    grouped = [r for r in leaves if r.type == "Conv2d" and r.groups > 1]
    if not grouped:
        return None
    extra = sum(r.weights * (r.groups - 1) for r in grouped)
    if len(grouped) == 1:
        r = grouped[0]
        c = r.input_shape[0]
        label = (f"weights for all {c} input channels in each filter of {r.name} ({r.weights * r.groups:,} "
                 f"instead of {r.weights:,}: it has groups = {r.groups}, so each filter sees {c // r.groups} "
                 f"channel{'' if c // r.groups == 1 else 's'})")
    else:
        label = (f"weights for all input channels in each filter of the {len(grouped)} grouped (depthwise) "
                 f"convs ({extra:,} too many: a conv with groups = g gives each filter 1/g of the channels)")
    return _Component("groups_ignored", label, extra, tuple(r.name for r in grouped))


def _find_components(claim: int, correct: int, components: list[_Component]) -> _Mistake | None:
    """The smallest set of left-out (or added) parts that turns the correct count into the claim."""
    for size in (1, 2, 3):
        for combo in itertools.combinations(components, size):
            names = [n for c in combo for n in c.rows]
            if len(names) != len(set(names)) and size > 1:
                continue  # the same layer in two parts: not a plausible story
            if correct + sum(c.delta for c in combo) != claim:
                continue
            missing = [c.label for c in combo if c.delta < 0]
            added = [c.label for c in combo if c.delta > 0]
            text = []
            if missing:
                text.append(f"Your count leaves out {_join(missing)}.")
            if added:
                text.append(f"{'It also counts' if missing else 'Your count includes'} {_join(added)}.")
            return _Mistake("+".join(c.tag for c in combo), " ".join(text))
    return None


# ----------------------------------------------------------------------------------------------- text


def _shape_text(shape: Any, sep: str = "×") -> str:
    return sep.join(str(s) for s in shape)


def _hw(shape: tuple[int, ...]) -> str:
    hw = shape[-2:]
    return f"{hw[0]}×{hw[1]}"


def _one(values: tuple[int, int]) -> str:
    return str(values[0]) if values[0] == values[1] else f"{values[0]}×{values[1]}"


def _kernel(k: tuple[int, int]) -> str:
    return f"{k[0]}×{k[1]}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _did_you_mean(word: str, options: Any) -> str | None:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"Did you mean '{match[0]}'?" if match else None
