"""Reading JSON that a user typed, uploaded or linked: a spec, hand-calculation answers, a training config.

Python's ``json`` module is not made for hostile input: a 5,000-digit number raises ``ValueError``,
100,000 nested brackets raise ``RecursionError``, a UTF-8 byte-order mark (as Windows Notepad writes)
is refused, and a named pipe given as a file blocks forever. ``read_json`` and ``read_text_file`` turn
each of those into the caller's own ``CnnEduError`` with a sentence a student understands::

    read_json('{"layers": [1' + "0" * 5000 + ']}', "The spec", SpecError)
    # SpecError: The spec holds a number with 5,001 digits; at most 30 are allowed.

The limits live in cnnedu/budgets.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from cnnedu.budgets import MAX_JSON_CHARS, MAX_JSON_DEPTH, MAX_JSON_DIGITS
from cnnedu.errors import CnnEduError


def read_json(text: str | bytes, what: str, error: type[CnnEduError] = CnnEduError, *,
              fix: str | None = None) -> Any:
    """Parse ``text`` (``what`` names it in messages: "The spec", "The answers file x.json"); raises
    ``error`` for text that is too long, too deep, not UTF-8, not JSON, or holds a huge number."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_text(bytes(text), what, error)
    text = text.removeprefix("\ufeff")  # a byte-order mark, as Notepad writes it: harmless
    if len(text) > MAX_JSON_CHARS:
        raise error(f"{what} is {len(text):,} characters long; cnnedu reads at most {MAX_JSON_CHARS:,}.",
                    fix or "Check that it is the right file.")
    depth = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise error(f"{what} nests brackets {depth:,} levels deep; cnnedu reads at most {MAX_JSON_DEPTH}.",
                    fix or "Check that it is the right file.")
    try:
        return json.loads(text, parse_int=_whole, parse_float=_real)
    except _TooLong as err:
        raise error(f"{what} holds a number with {err.digits:,} digits; at most {MAX_JSON_DIGITS} are allowed.",
                    fix or "Check for a typing mistake.") from None
    except json.JSONDecodeError as err:
        raise error(f"{what} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}.",
                    fix) from None
    except (ValueError, RecursionError) as err:  # anything else json refuses: never a traceback
        raise error(f"{what} cannot be read as JSON ({err}).", fix) from None


def decode_text(data: bytes, what: str, error: type[CnnEduError] = CnnEduError) -> str:
    """Bytes as text: UTF-8 (with or without a byte-order mark) or UTF-16 with its mark."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error(f"{what} is not UTF-8 text (byte {err.start} cannot be read).",
                    "Save it again as UTF-8 (any text editor can) and try again.") from None


def read_text_file(path: str | os.PathLike, what: str, error: type[CnnEduError] = CnnEduError, *,
                   max_bytes: int = MAX_JSON_CHARS) -> str:
    """The text of a regular file (``what`` names it: "spec file"). A missing file, a folder, a named pipe
    or a device (which would block or never end), a file over ``max_bytes`` and bytes that are not text
    each raise ``error``."""
    data = read_regular_file(path, what, error, max_bytes=max_bytes)
    return decode_text(data, f"The {what} {path}", error)


def read_regular_file(path: str | os.PathLike, what: str, error: type[CnnEduError] = CnnEduError, *,
                      max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; ``error`` for anything else."""
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait; fstat then says what it is
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"No {what} at {path}.", "Check the path.") from None
    except IsADirectoryError:
        raise error(f"The {what} {path} is a folder, not a file.", "Give the path of a file.") from None
    except OSError as err:
        raise error(f"The {what} {path} cannot be opened ({err.strerror}).",
                    "Check the path and its permissions.") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file but a pipe, socket or device"
            raise error(f"The {what} {path} is {kind}.", "Give the path of a regular file.")
        if info.st_size > max_bytes:
            raise error(f"The {what} {path} is {info.st_size:,} bytes; cnnedu reads at most {max_bytes:,}.",
                        "Check that it is the right file.")
        try:
            os.set_blocking(f.fileno(), True)
            return f.read(max_bytes + 1)[:max_bytes]
        except OSError as err:
            raise error(f"The {what} {path} cannot be read ({err.strerror}).") from None


class _TooLong(ValueError):
    def __init__(self, digits: int):
        super().__init__(digits)
        self.digits = digits


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise _TooLong(len(text.lstrip("-")))
    return int(text)


def _real(text: str) -> float:
    mantissa = text.lstrip("-").lower().split("e")[0].replace(".", "")
    if len(mantissa) > MAX_JSON_DIGITS * 10:
        raise _TooLong(len(mantissa))
    return float(text)  # 1e999 is inf: the fields' own checks say "got inf"


def _depth(text: str) -> int:
    """How deeply brackets nest in ``text``, ignoring brackets inside strings."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"')
_BRACKETS = re.compile(r"[\[\]{}]")
