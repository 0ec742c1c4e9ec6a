"""Numbers typed by a student: one parser for every numeric training setting, with a message a student can
act on for anything that is not a usable value.

    >>> parse_setting("lr", "1e-3")
    Parsed(value=0.001, message=None)
    >>> parse_setting("lr", "0,01").message
    'Use a dot for decimals: 0.01 (not 0,01).'

The Train page draws each setting of ``FIELDS`` (made from ``cnnedu.training.config.SETTINGS``) as a text box, shows ``message`` right under it and keeps
Start disabled while any message is there. No Streamlit here: the rules are tested on their own.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cnnedu.training.config import SETTINGS, Setting


@dataclass(frozen=True)
class Field:
    """A numeric setting: its name in messages, whole or decimal, the allowed range and an example."""

    title: str
    whole: bool
    low: float
    high: float
    example: str
    low_open: bool = False  # True: the value must be above ``low`` (not equal)
    high_open: bool = False
    zero_means: str | None = None  # what 0 means, when 0 is allowed and special ("all of them")


def _field(s: Setting) -> Field:
    """The number box of a setting: its range on the Train page (``page_low``/``page_high`` where the page
    allows less than ``TrainConfig.validate``)."""
    low = s.low if s.page_low is None else s.page_low
    high = s.high if s.page_high is None else s.page_high
    return Field(s.title, s.kind == "whole", low, high, s.example, s.low_open, s.high_open, s.zero_means)


#: The numeric settings of the Train page, by TrainConfig name: those with a ``title`` in ``SETTINGS``.
FIELDS: dict[str, Field] = {name: _field(s) for name, s in SETTINGS.items() if s.title}


@dataclass(frozen=True)
class Parsed:
    """``value`` when the text is a usable number, else None and ``message`` says why and what to type."""

    value: float | int | None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.message is None


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def format_number(value: float | int) -> str:
    """How a value is shown in its text box: ``0.001``, ``1e-05``, ``64``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value)) if isinstance(value, int) else f"{value:g}"
    return f"{value:g}"


def _range_text(f: Field) -> str:
    lo = f"{'above' if f.low_open else 'at least'} {format_number(f.low)}"
    hi = f"{'below' if f.high_open else 'at most'} {format_number(f.high)}"
    return f"{lo} and {hi}"


def parse_number(text: str, field: Field) -> Parsed:
    """The value of ``text`` for ``field``, or a message naming the problem and an example to type."""
    raw = str(text).strip().replace("_", "")
    need = f"{'a whole number' if field.whole else 'a number'} {_range_text(field)}, e.g. {field.example}"
    if not raw:
        return Parsed(None, f"{field.title} is empty: type {need}.")
    if "," in raw:
        fixed = raw.replace(",", ".")
        if raw.count(",") == 1 and "." not in raw and _NUMBER.fullmatch(fixed):
            return Parsed(None, f"Use a dot for decimals: {fixed} (not {raw}).")
        return Parsed(None, f"'{raw}' is not a number: type {need} (a dot for decimals, no commas).")
    if raw.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return Parsed(None, f"'{raw}' is not a usable value: type {need}.")
    if not _NUMBER.fullmatch(raw):
        return Parsed(None, f"'{raw}' is not a number: type {need}.")
    value = float(raw)
    if not math.isfinite(value):
        return Parsed(None, f"{raw} is far too large: type {need}.")
    if field.whole:
        if not value.is_integer():
            return Parsed(None, f"{field.title} must be a whole number: type {need}.")
        value = int(value)
    too_low = value <= field.low if field.low_open else value < field.low
    too_high = value >= field.high if field.high_open else value > field.high
    if too_low or too_high:
        return Parsed(None, f"{field.title} must be {_range_text(field)} (you typed {raw}), e.g. {field.example}.")
    return Parsed(value)


def parse_setting(name: str, text: str) -> Parsed:
    """``parse_number`` with the rules of the setting ``name`` (a key of ``FIELDS``)."""
    return parse_number(text, FIELDS[name])
