"""A parameter count as a sum of parts (the biases, BatchNorm's γ and β, whole layers, a grouped conv's
saving, BatchNorm's buffers counted by mistake) and the smallest set of parts whose leaving out (or adding)
turns the right count into the student's: the mistakes of a total, or of one block's count."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cnnedu.arch.analysis import Row
from cnnedu.grading.sheet import Mistake
from cnnedu.grading.text import and_join


@dataclass
class Component:
    tag: str
    label: str  # what is left out / added, in words
    delta: int  # what it changes in the count (negative: left out)
    rows: tuple[str, ...] = ()


def components(leaves: list[Row], layers: list[Row] | None = None) -> list[Component]:
    """The parts of a count a student may leave out (or add), for the total or for one block."""
    conv = [(r.name, r.biases) for r in leaves if r.type == "Conv2d"]
    linear = [(r.name, r.biases) for r in leaves if r.type == "Linear"]
    bn = [(r.name, r.params) for r in leaves if r.type.startswith("BatchNorm")]
    stats = [(r.name, r.buffers) for r in leaves if r.type.startswith("BatchNorm")]
    candidates = [
        _part("missing_bias", "the biases", conv + linear, -1),
        _part("missing_conv_bias", "the biases", conv, -1),
        _part("missing_linear_bias", "the biases", linear, -1),
        _part("bn_forgotten", "the BatchNorm parameters γ and β", bn, -1),
        _part("bn_stats", "the BatchNorm running mean and variance (buffers, not learned parameters)", stats, 1),
    ]
    candidates.append(_groups_ignored(leaves))
    for r in layers if layers is not None else leaves:
        if r.params:
            what = "the projection shortcut" if r.name.endswith(".shortcut") else "all of"
            candidates.append(Component("missing_layer", f"{what} {r.name} ({r.params:,})", -r.params, (r.name,)))
    seen: set[int] = set()
    unique = []
    for c in candidates:  # "all the biases" and "the biases of the Linear layers" may be the same thing
        if c is not None and (c.tag.startswith("missing_layer") or c.delta not in seen):
            seen.add(c.delta)
            unique.append(c)
    return unique


def _part(tag: str, what: str, picked: list[tuple[str, int]], sign: int) -> Component | None:
    """The part made of the (layer name, value) pairs ``picked`` (those with a value), or None."""
    picked = [(n, v) for n, v in picked if v]
    if not picked:
        return None
    value = sum(v for _, v in picked)
    names = [n for n, _ in picked]
    if len(picked) == 1:
        label = f"{what} of {names[0]} ({value:,})"
    elif len(picked) <= 5:
        label = f"{what} of {and_join(names)} ({' + '.join(f'{v:,}' for _, v in picked)} = {value:,})"
    else:
        label = f"{what} of {len(picked)} layers ({value:,} in all)"
    return Component(tag, label, sign * value, tuple(names))


def _groups_ignored(leaves: list[Row]) -> Component | None:
    """A grouped (depthwise) conv counted as if each filter saw every input channel."""
    grouped = [r for r in leaves if r.type == "Conv2d" and r.groups > 1]
    if not grouped:
        return None
    extra = sum(r.weights * (r.groups - 1) for r in grouped)
    if len(grouped) == 1:
        r = grouped[0]
        c = r.input_shape[0]
        label = (f"weights for all {c} input channels in each filter of {r.name} ({r.weights * r.groups:,} "
                 f"instead of {r.weights:,}: it has groups = {r.groups}, so each filter sees {c // r.groups} "
                 f"channel{'' if c // r.groups == 1 else 's'})")
    else:
        label = (f"weights for all input channels in each filter of the {len(grouped)} grouped (depthwise) "
                 f"convs ({extra:,} too many: a conv with groups = g gives each filter 1/g of the channels)")
    return Component("groups_ignored", label, extra, tuple(r.name for r in grouped))


def find_components(claim: int, correct: int, parts: list[Component]) -> Mistake | None:
    """The smallest set of left-out (or added) parts that turns the correct count into the claim."""
    for size in (1, 2, 3):
        for combo in itertools.combinations(parts, size):
            names = [n for c in combo for n in c.rows]
            if len(names) != len(set(names)) and size > 1:
                continue  # the same layer in two parts: not a plausible story
            if correct + sum(c.delta for c in combo) != claim:
                continue
            missing = [c.label for c in combo if c.delta < 0]
            added = [c.label for c in combo if c.delta > 0]
            text = []
            if missing:
                text.append(f"Your count leaves out {and_join(missing)}.")
            if added:
                text.append(f"{'It also counts' if missing else 'Your count includes'} {and_join(added)}.")
            return Mistake("+".join(c.tag for c in combo), " ".join(text))
    return None
