"""What grading returns: a ``Verdict`` per graded cell, a ``Problem`` per cell that cannot be read, and the
``Report`` that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnedu.arch.spec import Spec
from cnnedu.grading.text import shape_text

FIELDS = ("output_shape", "params", "total_params")


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
            return shape_text(self.correct)
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
