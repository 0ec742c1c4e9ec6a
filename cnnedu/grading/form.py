"""The answers as the Check page's form holds them (``AnswerSheet``), the name a form's answers are kept
under (``network_key``), and the verdicts as the page's table (``verdict_table``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cnnedu.arch.spec import Spec
from cnnedu.grading.limits import MAX_CELL
from cnnedu.grading.read import read_answers
from cnnedu.grading.report import Report


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
