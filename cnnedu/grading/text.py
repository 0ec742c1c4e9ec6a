"""How the grading messages write numbers, shapes, lists and a student's own text."""

from __future__ import annotations

import difflib
from typing import Any


def shape_text(shape: Any, sep: str = "×") -> str:
    """(6, 60, 60) → '6×60×60'."""
    return sep.join(str(s) for s in shape)


def hw_text(shape: tuple[int, ...]) -> str:
    """The last two sizes, height × width: (6, 60, 60) → '60×60'."""
    hw = shape[-2:]
    return f"{hw[0]}×{hw[1]}"


def pair_text(values: tuple[int, int]) -> str:
    """(2, 2) → '2', (1, 2) → '1×2': one number when both directions agree."""
    return str(values[0]) if values[0] == values[1] else f"{values[0]}×{values[1]}"


def kernel_text(k: tuple[int, int]) -> str:
    return f"{k[0]}×{k[1]}"


def and_join(items: list[str]) -> str:
    """['a', 'b', 'c'] → 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def did_you_mean(word: str, options: Any) -> str | None:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"Did you mean '{match[0]}'?" if match else None


def quoted(raw: Any) -> str:
    """What the student wrote, quoted and cut to 40 characters."""
    text = raw if isinstance(raw, str) else repr(raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")
