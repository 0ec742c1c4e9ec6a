"""Errors a user can cause, with a message a student understands and, where possible, the fix.

Every module raises one of these for bad input; pages show ``str(err)`` with ``st.error`` and the CLI
prints it and exits non-zero. Nothing else should reach a user as a traceback.
"""

from __future__ import annotations


class CnnEduError(Exception):
    """Base class: ``message`` says what is wrong, ``fix`` (optional) says what to do about it."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if not self.fix:
            return _sentence(self.message)
        fix = self.fix.strip()
        first = fix.split(" ", 1)[0]
        if first.isalpha() and first.islower():  # "give the path" → "Give the path" (not "input_shape")
            fix = fix[0].upper() + fix[1:]
        return f"{_sentence(self.message)} {_sentence(fix)}"


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never repeats a whole hostile input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _sentence(text: str) -> str:
    """``text`` ending with a full stop, so a message and its fix never run together ("the folder does not
    exist give a path" → "the folder does not exist. give a path.")."""
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


class SpecError(CnnEduError):
    """A malformed architecture spec: unknown layer type or key, a value out of range."""

    def __init__(self, message: str, fix: str | None = None, *, layer: int | None = None,
                 field: str | None = None):
        super().__init__(message, fix)
        self.layer = layer
        self.field = field


class ArchitectureError(CnnEduError):
    """A well-formed spec whose layers do not fit together (shapes, channels, features)."""

    def __init__(self, message: str, fix: str | None = None, *, layer: int | None = None,
                 received: str | None = None, needed: str | None = None):
        super().__init__(message, fix)
        self.layer = layer
        self.received = received
        self.needed = needed


class AnswersError(CnnEduError):
    """Hand-calculation answers that cannot be read: not JSON, an unknown layer, a value that is neither a
    shape nor a count."""


class DataError(CnnEduError):
    """A dataset that cannot be found, downloaded, read or fitted to the network."""


class TrainError(CnnEduError):
    """A training run that cannot start or had to stop (diverged, bad settings)."""


class RunStoreError(CnnEduError):
    """An unknown run id, or a run store that cannot be opened."""


class ExportError(CnnEduError):
    """A model that cannot be exported to ONNX or fails the parity check."""


class PredictError(CnnEduError):
    """An image or ONNX file that cannot be used for prediction."""


class StorageError(CnnEduError):
    """A folder or file cnnedu must write that cannot be written: a full disk, a quota, a read-only disk, no
    permission, a file where a folder should be."""


class ScratchError(CnnEduError):
    """A gradient check or a NumPy-from-scratch training run asked with settings it cannot use: an unknown
    layer, an input too small or too large, a step h out of range."""
