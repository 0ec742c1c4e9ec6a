"""Sliding-window geometry (convolutions and pooling), one axis at a time, as PyTorch computes it.

A window of ``kernel`` taps, ``dilation`` apart, starts at position ``i·stride − padding`` for output
``i`` (positions below 0 or past the end are padding, not pixels). From that alone follow the output
length (``window_output``) and which real pixels no window ever reads (``unseen_positions``): those are
the pixels a layer throws away, e.g. the last row of an odd-sized input under a 2×2/2 max-pool.
"""

from __future__ import annotations

from dataclasses import dataclass


def window_output(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                  ceil_mode: bool = False, padding_after: int | None = None) -> int:
    """The output length of a sliding window (conv or pool), as PyTorch computes it. ``padding_after``
    is the padding at the end when it differs from the start (padding "same" with an even kernel)."""
    after = padding if padding_after is None else padding_after
    span = size + padding + after - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # the last window must start inside the input
        out -= 1
    return out



def window_formula(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> str:
    """``window_output`` written out with its numbers: ⌊(32 − 5 + 2·0)/1⌋ + 1 = 28."""
    lo, hi = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    value = window_output(size, kernel, stride, padding, dilation, ceil_mode)
    if dilation == 1:
        inner = f"{size} − {kernel} + 2·{padding}"
    else:
        inner = f"{size} + 2·{padding} − {dilation}·({kernel} − 1) − 1"
    return f"{lo}({inner})/{stride}{hi} + 1 = {value}"

@dataclass(frozen=True)
class AxisWindow:
    """A sliding window along one axis (the height or the width) of an input ``size`` pixels long."""

    size: int
    kernel: int
    stride: int
    padding: int  # before the first pixel
    dilation: int = 1
    ceil_mode: bool = False
    padding_after: int | None = None  # after the last pixel, when it differs from ``padding``

    @classmethod
    def same(cls, size: int, kernel: int, dilation: int = 1) -> AxisWindow:
        """Padding "same" (stride 1): d·(k − 1) zeros in all, the odd one at the end (as PyTorch pads)."""
        total = dilation * (kernel - 1)
        return cls(size, kernel, 1, total // 2, dilation, False, total - total // 2)

    @property
    def outputs(self) -> int:
        return window_output(self.size, self.kernel, self.stride, self.padding, self.dilation,
                             self.ceil_mode, self.padding_after)

    def unseen_positions(self) -> list[int]:
        """The real input positions (0 … size − 1) that no tap of any window falls on."""
        seen = bytearray(self.size)
        last = self.outputs - 1
        for tap in range(self.kernel):
            first = tap * self.dilation - self.padding  # where this tap sits in window 0
            lo = max(0, -(-(0 - first) // self.stride))  # the first window whose tap is a real pixel
            hi = min(last, (self.size - 1 - first) // self.stride)  # ... and the last
            if lo <= hi:
                seen[first + lo * self.stride: first + hi * self.stride + 1: self.stride] = b"\x01" * (hi - lo + 1)
        return [x for x, v in enumerate(seen) if not v]


@dataclass(frozen=True)
class Unseen:
    """The input rows and columns a layer never reads, split into where they are."""

    rows: list[int]
    columns: list[int]
    height: int
    width: int

    def __bool__(self) -> bool:
        return bool(self.rows or self.columns)

    def describe(self) -> str:
        """'the last 1 row and the last 2 columns' / 'the first row, and 14 rows between the windows'."""
        parts = [p for p in (_where(self.rows, self.height, "row"), _where(self.columns, self.width, "column")) if p]
        return " and ".join(parts)

    @property
    def between(self) -> bool:
        """Some unseen rows or columns lie between windows (not only at the borders)."""
        return any(_split(lost, n)[1] for lost, n in ((self.rows, self.height), (self.columns, self.width)))


def _split(lost: list[int], size: int) -> tuple[int, int, int]:
    """(how many at the start, how many in between, how many at the end)."""
    start = next((n for n, x in enumerate(lost) if x != n), len(lost))
    end = 0
    while end < len(lost) - start and lost[len(lost) - 1 - end] == size - 1 - end:
        end += 1
    return start, len(lost) - start - end, end


def _where(lost: list[int], size: int, unit: str) -> str:
    """'the last 2 rows' / '4 rows (the last 2, 2 between the windows)'."""
    if not lost:
        return ""
    start, middle, end = _split(lost, size)
    units = f"{unit}{'' if len(lost) == 1 else 's'}"
    parts = [text for n, text in ((start, f"the first {start}"), (end, f"the last {end}"),
                                  (middle, f"{middle} between the windows")) if n]
    if len(parts) == 1 and not middle:
        return f"{parts[0]} {units}"
    return f"{len(lost)} {units} ({', '.join(parts)})"
