"""What the mistake detectors look at: the ``Sheet`` (the truth from cnnedu/arch/analysis.py beside the
student's claims), the ``Mistake`` a detector names, and where the student's own earlier (wrong) shape
answer leads when it is carried through the layers in between."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cnnedu.arch.analysis import Analysis, Row
from cnnedu.arch.nets import trace
from cnnedu.arch.spec import Spec
from cnnedu.errors import CnnEduError


@dataclass
class Mistake:
    """A likely mistake: a tag ("missing_bias") and the hint that explains it to the student."""

    tag: str
    hint: str


@dataclass
class Sheet:
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


def propagate(spec: Spec, start: tuple[int, ...], first: int, last: int) -> tuple[int, ...] | None:
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


def earlier_wrong_shape(sheet: Sheet, i: int) -> int | None:
    """The layer of the student's nearest shape answer before layer i, if that answer is wrong."""
    j = max((k for k in sheet.shapes if k < i), default=None)
    if j is None or sheet.shape_ok[j]:
        return None
    return j


def students_input(sheet: Sheet, i: int) -> tuple[tuple[int, ...], str, tuple[int, ...]] | None:
    """What reaches layer i if the student's nearest earlier (wrong) shape answer were right:
    (shape in PyTorch order, the layer they answered, the shape as written)."""
    j = earlier_wrong_shape(sheet, i)
    if j is None:
        return None
    shape = sheet.shapes[j] if j == i - 1 else propagate(sheet.spec, sheet.shapes[j], j + 1, i - 1)
    if shape is None:
        return None
    written = sheet.written[j] if j == i - 1 or len(shape) == 1 and math.prod(sheet.written[j]) == shape[0] \
        else shape
    return shape, sheet.names[j], written
