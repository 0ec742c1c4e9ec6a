"""Grading an output shape: reading the claim in either channel order (C×H×W or H×W×C), and the likely
mistake behind a wrong one (wrong channels, a size kept or changed, an image flattened too early, the
student's own wrong answer carried forward; sliding-window sizes in cnnedu/grading/windows.py)."""

from __future__ import annotations

import math
from typing import Any

from cnnedu.arch.layers.registry import layer_types
from cnnedu.arch.spec import params as layer_params
from cnnedu.grading.report import Verdict
from cnnedu.grading.sheet import Mistake, Sheet, earlier_wrong_shape, propagate
from cnnedu.grading.text import hw_text, shape_text
from cnnedu.grading.windows import window_mistake

_TYPES = layer_types()
_BLOCK_TYPES = tuple(name for name, t in _TYPES.items() if t.block)
_WINDOW_TYPES = tuple(name for name, t in _TYPES.items()  # a window slides over the image: conv and pools
                      if not t.block and any(f.name == "kernel_size" for f in t.fields))


def writes_channels_last(sheet: Sheet, raw: dict[int, tuple[int, ...]]) -> bool:
    """Does the student write H×W×C? Decided by the 3-number claims that read unambiguously one way."""
    chw = hwc = 0
    for i, claim in raw.items():
        correct = sheet.rows[i].output_shape
        if len(claim) == 3 and len(correct) == 3 and correct[0] != correct[1]:
            chw += claim[0] == correct[0] or (claim[1] == claim[2] and claim[0] != claim[1])
            hwc += claim[2] == correct[0] or (claim[0] == claim[1] and claim[2] != claim[0])
    return hwc > chw


def judge_shape(sheet: Sheet, i: int, claim: tuple[int, ...]) -> tuple[bool, str, tuple[int, ...]]:
    """(right?, a note on a right answer, the claim in PyTorch's C×H×W order)."""
    correct = sheet.rows[i].output_shape
    c = claim[1:] if len(claim) == 4 and claim[0] == 1 else claim  # a batch dimension of 1
    if len(correct) == 3:
        return _judge_image(sheet, claim, c, correct)
    stripped = tuple(v for v in c if v != 1) or (1,)
    if stripped == correct:
        return True, "", correct
    if math.prod(c) == correct[0]:
        return True, f"That is one vector of {correct[0]} features.", correct
    return False, "", stripped if len(stripped) == 1 else (math.prod(c),)


def _judge_image(sheet: Sheet, claim: tuple[int, ...], c: tuple[int, ...],
                 correct: tuple[int, ...]) -> tuple[bool, str, tuple[int, ...]]:
    """``judge_shape`` for a layer that outputs an image; ``c`` is the claim without a batch dimension."""
    hwc = (c[2], c[0], c[1]) if len(c) == 3 else c
    if c == correct:
        return True, "", c
    if hwc == correct:
        return True, (f"PyTorch orders the dimensions C×H×W: {shape_text(correct)} "
                      f"(you wrote H×W×C, {shape_text(claim)})."), correct
    if len(c) == 2 and c == correct[1:]:
        return True, f"The full output is {shape_text(correct)} (C×H×W): {correct[0]} channels.", correct
    if len(c) == 1 and c[0] == math.prod(correct):
        return True, f"As an image that is {shape_text(correct)} (C×H×W).", correct
    if len(c) == 3:
        if c[0] == correct[0]:
            return False, "", c
        if c[2] == correct[0] or (c[0] == c[1] != c[2]):
            return False, "", hwc
        return False, "", hwc if sheet.channels_last and c[1] != c[2] else c
    if len(c) == 2:
        return False, "", (correct[0], *c)
    return False, "", c


def grade_shape(sheet: Sheet, i: int, raw: Any) -> Verdict:
    row = sheet.rows[i]
    ok, note, claim = judge_shape(sheet, i, sheet.written[i])
    verdict = Verdict(i, "output_shape", raw, list(row.output_shape), ok, row.formula, name=sheet.names[i],
                      note=note)
    if not ok:
        mistakes = _shape_mistakes(sheet, i, claim)
        verdict.mistakes = [m.tag for m in mistakes]
        verdict.hint = " ".join(m.hint for m in mistakes) or (
            f"{sheet.names[i]} outputs {shape_text(row.output_shape)}; work it through with the formula.")
    return verdict


def _shape_mistakes(sheet: Sheet, i: int, claim: tuple[int, ...]) -> list[Mistake]:
    carried = _carried_shape(sheet, i, claim)
    if carried:
        return [carried]
    row, name = sheet.rows[i], sheet.names[i]
    correct = row.output_shape
    if len(correct) == 1:
        return [_vector_mistake(sheet, i, claim[0] if len(claim) == 1 else math.prod(claim))]
    if len(claim) != 3:
        return [Mistake("not_an_image", f"{name} still outputs an image, C×H×W = {shape_text(correct)}; "
                        "only Flatten turns it into one vector.")]
    found = []
    if claim[0] != correct[0]:
        found.append(_channel_mistake(sheet, i, claim[0]))
    if claim[1:] != correct[1:]:
        found.extend(_size_mistake(sheet, i, claim[1:]))
    return found


def _size_mistake(sheet: Sheet, i: int, claim_hw: tuple[int, ...]) -> list[Mistake]:
    """Why an image's height and width are wrong, by the kind of layer."""
    row, name = sheet.rows[i], sheet.names[i]
    correct = row.output_shape
    t = sheet.spec.layers[i]["type"]
    if t in _WINDOW_TYPES:
        return window_mistake(sheet, i, claim_hw)
    if t in _BLOCK_TYPES:
        stride = layer_params(sheet.spec.layers[i])["stride"]
        if stride > 1 and claim_hw == row.input_shape[1:]:
            return [Mistake("stride_ignored", f"The block has stride {stride}: its first conv "
                            f"steps {stride} pixels, so {hw_text(row.input_shape)} becomes "
                            f"{hw_text(correct)}.")]
        return [Mistake("size", f"{name} keeps the size with 3×3 convs and padding 1, and divides "
                        f"it by its stride {stride}: {hw_text(row.input_shape)} → {hw_text(correct)}.")]
    if t == "AdaptiveAvgPool2d":
        return [Mistake("adaptive_pool", f"An adaptive pool always outputs its output_size, "
                        f"{hw_text(correct)}, whatever size comes in.")]
    return [Mistake("shape_kept", f"{t} does not change the size: {name} outputs what it "
                    f"receives, {shape_text(row.input_shape)}.")]


def _carried_shape(sheet: Sheet, i: int, claim: tuple[int, ...]) -> Mistake | None:
    """The student's own (wrong) earlier answer, carried through the layers in between, gives this one."""
    j = earlier_wrong_shape(sheet, i)
    if j is None:
        return None
    out = propagate(sheet.spec, sheet.shapes[j], j + 1, i)
    if out is None or out != claim:
        return None
    return Mistake("carried_forward", f"This follows from your answer for {sheet.names[j]} "
                   f"({shape_text(sheet.written[j])}), which is wrong; from there your step is right. "
                   f"Fix {sheet.names[j]} and this one follows.")


def _channel_mistake(sheet: Sheet, i: int, channels: int) -> Mistake:
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    c_in, c_out = row.input_shape[0], row.output_shape[0]
    if layer["type"] == "Conv2d":
        if channels == c_in:
            return Mistake("channels", f"A convolution outputs one channel per filter: {name} has "
                           f"out_channels = {c_out} filters, so {c_out} channels, not its {c_in} input channels.")
        return Mistake("channels", f"{name} has {c_out} filters, so it outputs {c_out} channels.")
    if layer["type"] in _BLOCK_TYPES:
        return Mistake("channels", f"The block outputs out_channels = {c_out} channels.")
    return Mistake("channels", f"{layer['type']} keeps the number of channels: {c_in} in, {c_out} out.")


def _vector_mistake(sheet: Sheet, i: int, features: int) -> Mistake:
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    t = layer["type"]
    correct = row.output_shape[0]
    if t == "Linear":
        last_linear = max(k for k, lay in enumerate(sheet.spec.layers) if lay["type"] == "Linear")
        if i == last_linear and correct == sheet.spec.num_classes:
            return Mistake("wrong_classes", f"The last layer gives one score per class: this network has "
                           f"{sheet.spec.num_classes} classes, so {name} outputs {correct}, not {features}.")
        if features == row.input_shape[0]:
            return Mistake("linear_output", f"{features} is what {name} receives; a Linear layer outputs "
                           f"out_features = {correct} values.")
        return Mistake("linear_output", f"A Linear layer outputs out_features values: {name} has {correct}.")
    if t == "Flatten":
        for m in range(i - 1, -1, -1):
            shape = sheet.rows[m].output_shape
            if math.prod(shape) == features and shape != row.input_shape:
                return Mistake("wrong_input", f"You flattened {shape_text(shape)}, the output of "
                               f"{sheet.names[m]}; {name} receives {shape_text(row.input_shape)} = {correct}.")
        return Mistake("flatten", f"Flatten multiplies C·H·W: {shape_text(row.input_shape, '·')} = {correct}.")
    return Mistake("shape_kept", f"{t} does not change the shape: {name} outputs the {row.input_shape[0]} "
                   "features it receives.")
