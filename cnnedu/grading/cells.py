"""One cell of the answers, read: a shape ("6x28x28", "28×28×6", [6, 28, 28], 400) or a parameter count
(156, "432,120", "5*5*3*6+6 = 456"). An empty cell is None; one that cannot be read raises ``CellError``."""

from __future__ import annotations

import re
from typing import Any

from cnnedu.grading.arith import evaluate
from cnnedu.grading.limits import COUNT_FIX, MAX_CELL, MAX_COUNT, SHAPE_FIX, CellError
from cnnedu.grading.text import quoted

_SHAPE_CHARS = re.compile(r"^[0-9\s,xX×*·()\[\]]*$")


def read_shape(raw: Any) -> tuple[int, ...] | None:
    """A shape as written: [6, 28, 28], 400, "6x28x28", "28×28×6", "60 x 60 x 6", "(6, 60, 60)",
    "(64 − 5)/1 + 1 = 60 × 60 × 6" (a worked size: the last part counts). None for an empty cell;
    ``CellError`` for one that cannot be read."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, (list, tuple)):
        values = list(raw)
    elif is_count(raw):
        values = [raw]
    elif isinstance(raw, str):
        if len(raw) > MAX_CELL:
            raise CellError(f"cannot read {quoted(raw)}: it is {len(raw):,} characters long", SHAPE_FIX)
        text = raw.split("=")[-1].strip()
        if not _SHAPE_CHARS.match(text) or not re.search(r"[0-9]", text):
            raise CellError(f"cannot read {quoted(raw)} as a shape", SHAPE_FIX)
        values = [int(v) for v in re.findall(r"[0-9]+", text)]
    else:
        raise CellError(f"cannot read {quoted(raw)} as a shape", SHAPE_FIX)
    if not values or len(values) > 4 or not all(is_count(v) and 1 <= v <= MAX_COUNT for v in values):
        raise CellError(f"cannot read {quoted(raw)}: a shape is 1 to 3 whole numbers of at least 1",
                        SHAPE_FIX)
    return tuple(int(v) for v in values)


def read_count(raw: Any) -> int | None:
    """A parameter count as written: 156, "432,120", "432 120", a product or sum ("5*5*3*6+6", "5·5·3·6 + 6",
    "5×5×3×6+6", "(5*5*3+1)*6", "5^2*3*6+6", "5²·3·6 + 6") or a worked sum ending in its result
    ("5·5·6·16 + 16 = 2416"). None for an empty cell; ``CellError`` for one that cannot be read."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if is_count(raw):
        value = int(raw)
        if value < 0:
            raise CellError(f"cannot read {quoted(raw)}: a number of parameters cannot be negative", COUNT_FIX)
        if value > MAX_COUNT:
            raise CellError(f"{quoted(raw)} is far too large for a number of parameters", COUNT_FIX)
        return value
    if not isinstance(raw, str):
        raise CellError(f"cannot read {quoted(raw)} as a number of parameters", COUNT_FIX)
    value = evaluate(raw)
    if value < 0:
        raise CellError(f"cannot read {quoted(raw)}: it comes to {value:,}, and a number of parameters "
                        "cannot be negative", COUNT_FIX)
    return value


def is_count(v: Any) -> bool:
    """A whole number (an int, or a float such as 456.0), not a bool."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())
