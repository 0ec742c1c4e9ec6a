"""Reading an answers file: which cells answer which layer, before any cell is read.

The answers are a small JSON object::

    {"layers": [{"output_shape": "60x60x6", "params": 156}, {}, null, ...],  # one per layer, in order
     "total_params": "443,706"}

``layers`` may also be a dict keyed by layer index or name (``{"conv2": {"params": 416}}``), or a list of
entries that say which layer they answer (``[{"layer": "conv2", "params": 416}]``). Shapes may be written
C×H×W (PyTorch's order) or H×W×C; counts may contain thousands separators or end a worked sum
("5·5·6·16 + 16 = 2416"); cnnedu/grading/cells.py reads them. An answers text whose structure cannot be
read (not JSON, an unknown layer or key) raises ``AnswersError``.
"""

from __future__ import annotations

from typing import Any

from cnnedu.errors import AnswersError
from cnnedu.grading.text import did_you_mean, quoted
from cnnedu.userinput import read_json

_SHAPE_KEYS = ("output_shape", "shape", "output", "output_size", "size")
_PARAM_KEYS = ("params", "parameters", "n_params", "num_params", "param_count")
_TOTAL_KEYS = ("total_params", "total", "total_parameters", "params_total")
_IGNORED_KEYS = ("name", "arch", "spec", "note", "notes", "comment", "student", "description")
_IGNORED_CELL_KEYS = ("layer", "name", "type", "note", "comment")

Cells = dict[int, dict[str, Any]]  # {layer index: {"output_shape": raw, "params": raw}}


def read_answers(answers: dict[str, Any] | list[Any] | str, names: list[str]) -> tuple[Cells, Any]:
    """The answers as {layer index: {"output_shape": raw, "params": raw}} and the raw total (or None)."""
    layers, total = _top_level(answers)
    out: Cells = {}
    for position, entry in _entries(layers, names):
        if entry is None or entry == {}:
            continue
        if not isinstance(entry, dict):
            raise AnswersError(f"Answer {position}: expected an object like "
                               f'{{"output_shape": "6x28x28", "params": 456}}, got {quoted(entry)}.')
        index = _entry_index(position, entry, names, len(layers))
        item = _entry_cells(entry, index, names)
        if index in out:
            raise AnswersError(f"Layer {index} ({names[index]}) is answered twice.")
        out[index] = item
    return out, total


def _top_level(answers: dict[str, Any] | list[Any] | str) -> tuple[Any, Any]:
    """(the raw "layers", the raw total or None) of the answers object."""
    if isinstance(answers, (str, bytes)):
        answers = read_json(answers, "The answers text", AnswersError)
    if isinstance(answers, list):
        answers = {"layers": answers}
    if not isinstance(answers, dict):
        raise AnswersError('The answers must be a JSON object like {"layers": [...], "total_params": 123}.')
    total = None
    layers: Any = []
    for key, value in answers.items():
        if key == "layers":
            layers = value if value is not None else []
        elif key in _TOTAL_KEYS:
            total = value
        elif key not in _IGNORED_KEYS:
            raise AnswersError(f"Unknown key '{key}' in the answers.",
                               did_you_mean(key, ("layers", "total_params")) or
                               'Use "layers" (one entry per layer) and "total_params".')
    return layers, total


def _entries(layers: Any, names: list[str]) -> list[tuple[int | None, Any]]:
    """(the layer an entry answers by its place, the entry): its position in a list (None when the entry
    says which layer it answers), the layer its key names in a dict."""
    if isinstance(layers, list):
        return [(None if isinstance(e, dict) and "layer" in e else i, e) for i, e in enumerate(layers)]
    if isinstance(layers, dict):
        return [(_layer_index(k, names), e) for k, e in layers.items()]
    raise AnswersError("'layers' must be a list (one entry per layer, in order) or an object keyed by "
                       "layer index or name.")


def _entry_index(position: int | None, entry: dict[str, Any], names: list[str], n_answers: int) -> int:
    """The layer an entry answers: the one it names ("layer", or "name" without a position), else its place."""
    index = position
    if "layer" in entry:
        index = _layer_index(entry["layer"], names)
    elif "name" in entry and position is None:
        index = _layer_index(entry["name"], names)
    if index is None or index >= len(names):
        raise AnswersError(f"There are answers for {n_answers} layers, but the network has "
                           f"{len(names)}.", "Give one entry per layer (null for a layer you skip).")
    return index


def _entry_cells(entry: dict[str, Any], index: int, names: list[str]) -> dict[str, Any]:
    """An entry's cells under their own names ("output_shape", "params"), whatever synonym it uses."""
    item: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _IGNORED_CELL_KEYS:
            continue
        if key in _SHAPE_KEYS:
            item["output_shape"] = value
        elif key in _PARAM_KEYS:
            item["params"] = value
        else:
            raise AnswersError(f"Layer {index} ({names[index]}): unknown answer '{key}'.",
                               did_you_mean(key, ("output_shape", "params"))
                               or 'Use "output_shape" and "params".')
    return item


def _layer_index(ref: Any, names: list[str]) -> int:
    """The index of the layer ``ref`` names: its index (0, "3") or its name ("conv2")."""
    if isinstance(ref, bool):
        ref = str(ref)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        index = int(ref)
        if 0 <= index < len(names):
            return index
        raise AnswersError(f"There is no layer {index}: the network has layers 0 to {len(names) - 1}.")
    if isinstance(ref, str) and ref.strip() in names:
        return names.index(ref.strip())
    hint = did_you_mean(str(ref), names) or f"Layers: {', '.join(names)}."
    raise AnswersError(f"There is no layer '{ref}' in this network.", hint)
