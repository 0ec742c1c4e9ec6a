"""What one cell of the answers may hold: the limits on its length and value, the fix texts shown for a
cell that cannot be read, and ``CellError``, the error for such a cell."""

from __future__ import annotations

from cnnedu.errors import AnswersError

MAX_CELL = 200  # characters: a cell is a number, a shape or a short worked sum
MAX_COUNT = 10**15  # no network here comes near; larger values are typos (or hostile)
MAX_EXPONENT = 64
COUNT_FIX = "write a number like 456 or a sum like 5*5*3*6+6"
SHAPE_FIX = "write it like 6x28x28 (C×H×W), 28x28x6, or one number such as 400 after Flatten"


class CellError(AnswersError):
    """One cell cannot be read; ``grade`` turns it into a ``Problem`` naming the layer and the cell."""
