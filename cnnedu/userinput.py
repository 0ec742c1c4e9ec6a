"""Reading what a user typed, uploaded or named: JSON (a spec, answers, a training config) and files.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnedu.budgets import MAX_JSON_CHARS, MAX_JSON_DEPTH, MAX_JSON_DIGITS, MB
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
        raise error(f"{what} is not valid JSON: {err.msg.removesuffix(' at')} at line {err.lineno}, "
                    f"column {err.colno}.",
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
                      max_bytes: int, too_big_fix: str | None = None,
                      too_big: Callable[[int], CnnEduError] | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; ``error`` for anything else. A FIFO, a device
    (/dev/zero), a socket or a folder is refused before it is read: reading one can block or never end."""
    path = Path(path)
    try:
        info = path.stat()  # what it is, before opening it (opening a socket fails, a FIFO may block)
        if not stat.S_ISREG(info.st_mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise error(f"The {what} {path} is {kind}, not a regular file; cnnedu reads only regular files.",
                        "Give the path of a file saved on disk.")
        if info.st_size > max_bytes:  # ``too_big(size)`` makes the caller's own message
            raise too_big(info.st_size) if too_big else error(
                f"The {what} is {info.st_size / MB:.1f} MB; cnnedu reads files up to {max_bytes / MB:.0f} MB.",
                too_big_fix or "Check that it is the right file.")
        # O_NONBLOCK: if the path was swapped for a FIFO since stat(), open() must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise error(f"The {what} {path} is not a regular file; cnnedu reads only regular files.")
            os.set_blocking(f.fileno(), True)
            raw = f.read(max_bytes + 1)
    except OSError as err:
        raise error(f"Cannot read the {what} {path}: {err.strerror or err}.",
                    "Check the path." if isinstance(err, FileNotFoundError) else None) from None
    if len(raw) > max_bytes:  # it grew while being read
        raise error(f"The {what} is over {max_bytes / MB:.0f} MB; cnnedu reads files up to that size.",
                    too_big_fix)
    return raw


_FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
               stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


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
