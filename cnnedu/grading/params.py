"""Grading one layer's parameter count, and the likely mistake behind a wrong one: a bias left out or
added, the wrong input channels or features (the student's own earlier answer first), groups ignored, a
kernel not squared, BatchNorm's γ and β forgotten or its buffers counted, a block's part left out."""

from __future__ import annotations

import math
from typing import Any

from cnnedu.arch.spec import pair
from cnnedu.arch.spec import params as layer_params
from cnnedu.grading.parts import components, find_components
from cnnedu.grading.report import Verdict
from cnnedu.grading.sheet import Mistake, Sheet, students_input
from cnnedu.grading.text import shape_text

_NO_PARAMS = {"MaxPool2d": "it only picks the largest value of each window",
              "AvgPool2d": "it only averages each window", "Flatten": "it only reshapes",
              "Dropout": "it only zeroes random values", "Dropout2d": "it only zeroes random channels"}


def grade_params(sheet: Sheet, i: int, raw: Any) -> Verdict:
    row, claim = sheet.rows[i], sheet.counts[i]
    ok = claim == row.params
    verdict = Verdict(i, "params", raw, row.params, ok, row.params_formula, name=sheet.names[i])
    if not ok:
        mistake = _params_mistake(sheet, i, claim)
        verdict.mistakes = [mistake.tag]
        verdict.hint = mistake.hint
    return verdict


def _params_mistake(sheet: Sheet, i: int, claim: int) -> Mistake:
    row, name, layer = sheet.rows[i], sheet.names[i], sheet.spec.layers[i]
    t = layer["type"]
    if row.params == 0:
        if t.startswith("BatchNorm"):
            return Mistake("bn_affine", f"{name} has affine=false: no learned γ and β, so 0 parameters "
                           "(its running mean and variance are buffers, not parameters).")
        return Mistake("no_params", f"{t} has no learned parameters: {_NO_PARAMS.get(t, 'it is a fixed function')}.")
    if t == "Conv2d":
        return _conv_mistake(sheet, i, claim)
    if t == "Linear":
        return _linear_mistake(sheet, i, claim)
    if t.startswith("BatchNorm"):
        return _bn_mistake(name, row.input_shape[0], claim)
    found = find_components(claim, row.params, components([r for r in sheet.analysis.rows
                                                           if r.index == i and r.depth == 1]))
    if found:
        return found
    return Mistake("count", f"{name}'s parameters add up as {row.params_formula}.")


def _bn_mistake(name: str, c: int, claim: int) -> Mistake:
    """A BatchNorm layer's count (2 per channel, γ and β) gone wrong."""
    if claim == 4 * c:
        return Mistake("bn_stats", f"You counted BatchNorm's running mean and variance: they are buffers, "
                       f"not learned. {name} learns γ and β, one each per channel: 2·{c} = {2 * c}.")
    if claim == 0:
        return Mistake("bn_forgotten", f"BatchNorm learns a scale γ and a shift β per channel: "
                       f"2·{c} = {2 * c} parameters in {name}.")
    if claim == c:
        return Mistake("bn_half", f"BatchNorm learns two values per channel, γ (scale) and β (shift): "
                       f"2·{c} = {2 * c}.")
    return Mistake("bn", f"BatchNorm learns γ and β per channel: 2·{c} = {2 * c}.")


def _conv_mistake(sheet: Sheet, i: int, claim: int) -> Mistake:
    row, name = sheet.rows[i], sheet.names[i]
    p = layer_params(sheet.spec.layers[i])
    kh, kw = pair(p["kernel_size"])
    c_in, c_out, groups = row.input_shape[0], row.output_shape[0], p["groups"]
    bias = c_out if p["bias"] else 0
    weights = kh * kw * (c_in // groups) * c_out
    if bias and claim == weights:
        return Mistake("missing_bias", f"You left out the biases: each of the {c_out} filters also has one "
                       f"bias, {weights:,} + {c_out} = {row.params:,}.")
    if not bias and claim == weights + c_out:
        return Mistake("extra_bias", f"{name} has bias=false: only the {weights:,} weights count.")
    if bias and claim == weights + 1:
        return Mistake("bias_count", f"The bias is one per filter ({c_out}), not one per layer.")
    if bias and c_in != c_out and claim == weights + c_in:
        return Mistake("bias_count", f"The bias is one per filter, i.e. per output channel ({c_out}), not per "
                       f"input channel ({c_in}).")
    wrong_channels = _conv_wrong_channels(sheet, i, claim)
    if wrong_channels:
        return wrong_channels
    if groups > 1 and claim in (kh * kw * c_in * c_out + bias, kh * kw * c_in * c_out):
        return Mistake("groups_ignored", f"{name} has groups = {groups}: each filter sees only "
                       f"{c_in} / {groups} = {c_in // groups} input channel(s), not all {c_in}.")
    if kh == kw and claim in (kh * (c_in // groups) * c_out + bias, kh * (c_in // groups) * c_out):
        return Mistake("kernel_not_squared", f"A {kh}×{kw} filter has {kh}·{kw} = {kh * kw} weights per "
                       f"input channel, not {kh}.")
    per_channel = kh * kw * c_out
    for b in (bias, 0):
        if claim > b and (claim - b) % per_channel == 0:
            implied = (claim - b) // per_channel
            return Mistake("wrong_in_channels", f"Your count means {implied} input channels; {name}'s input "
                           f"channels are {c_in} ({_input_source(sheet, i)}).")
    return Mistake("count", f"Count k·k·C_in·C_out weights plus one bias per filter: {row.params_formula}.")


def _conv_wrong_channels(sheet: Sheet, i: int, claim: int) -> Mistake | None:
    """A conv's count with another layer's channels as its input channels (the biases kept or not)."""
    row, name = sheet.rows[i], sheet.names[i]
    p = layer_params(sheet.spec.layers[i])
    kh, kw = pair(p["kernel_size"])
    c_in, c_out, groups = row.input_shape[0], row.output_shape[0], p["groups"]
    bias = c_out if p["bias"] else 0
    source = _input_source(sheet, i)
    for channels, where in _channel_candidates(sheet, i):
        if channels == c_in:
            continue
        wrong = kh * kw * (channels // groups if channels % groups == 0 else channels) * c_out
        for b, extra in ((bias, ""), (0, " and left out the biases")):
            if (b or extra == "") and claim == wrong + b:
                tag = "wrong_in_channels" + ("+missing_bias" if extra else "")
                plural = "" if channels == 1 else "s"
                return Mistake(tag, f"You used {channels} input channel{plural} ({where}){extra}: {name}'s "
                               f"input channels are {c_in}, {source}. Each filter is {kh}×{kw}×{c_in // groups}: "
                               f"{row.params_formula}.")
    return None


def _linear_mistake(sheet: Sheet, i: int, claim: int) -> Mistake:
    row, name = sheet.rows[i], sheet.names[i]
    p = layer_params(sheet.spec.layers[i])
    f_in, f_out = row.input_shape[0], row.output_shape[0]
    bias = f_out if p["bias"] else 0
    weights = f_in * f_out
    if bias and claim == weights:
        return Mistake("missing_bias", f"You left out the biases: each of the {f_out} outputs also has one "
                       f"bias, {weights:,} + {f_out} = {row.params:,}.")
    if not bias and claim == weights + f_out:
        return Mistake("extra_bias", f"{name} has bias=false: only the {weights:,} weights count.")
    source = _input_source(sheet, i)
    for features, where, text in _feature_candidates(sheet, i):
        if features == f_in:
            continue
        for b, extra in ((bias, ""), (0, " and leaves out the biases")):
            if (b or extra == "") and claim == features * f_out + b:
                tag = "wrong_in_features" + ("+missing_bias" if extra else "")
                size = f"{features}" if text == str(features) else f"{text} = {features}"
                return Mistake(tag, f"Your count uses an input of {size} features ({where}){extra}; "
                               f"{source}, so in_features = {f_in}: {row.params_formula}.")
    for b in (bias, 0):
        if claim > b and (claim - b) % f_out == 0:
            implied = (claim - b) // f_out
            return Mistake("wrong_in_features", f"Your count means in_features = {implied}; {source}, so "
                           f"in_features = {f_in}: {row.params_formula}.")
    if claim > bias and (claim - bias) % f_in == 0:
        return Mistake("wrong_out_features", f"Your count means {(claim - bias) // f_in} outputs; {name} has "
                       f"out_features = {f_out}.")
    return Mistake("count", f"Count in_features·out_features weights plus one bias per output: "
                   f"{row.params_formula}.")


def _input_source(sheet: Sheet, i: int) -> str:
    """'the layer before outputs 16×13×13 = 2704' / 'the output of pool1 (6×30×30)'."""
    if i == 0:
        return f"the network's input ({shape_text(sheet.spec.input_shape)})"
    prev = sheet.rows[i - 1]
    if prev.type == "Flatten" and len(prev.input_shape) > 1:
        return (f"the layer before outputs {shape_text(prev.input_shape)} = {prev.output_shape[0]} "
                f"(flattened by {sheet.names[i - 1]})")
    return f"the output of {sheet.names[i - 1]} ({shape_text(prev.output_shape)})"


def _channel_candidates(sheet: Sheet, i: int) -> list[tuple[int, str]]:
    """Channel counts a student might wrongly take as a conv's input: their own answer first."""
    out = []
    own = students_input(sheet, i)
    if own is not None and len(own[0]) == 3:
        out.append((own[0][0], f"from your answer for {own[1]}, carried forward"))
    out.append((sheet.spec.input_shape[0], "the network's input"))
    for m in range(i - 1, -1, -1):
        shape = sheet.rows[m].output_shape
        if len(shape) == 3:
            out.append((shape[0], f"the output of {sheet.names[m]}"))
    out.append((1, "one channel"))
    return out


def _feature_candidates(sheet: Sheet, i: int) -> list[tuple[int, str, str]]:
    """(features, where from, how written) a student might wrongly feed a Linear layer."""
    out = []
    own = students_input(sheet, i)
    if own is not None:
        shape, name, written = own
        out.append((math.prod(shape), f"your size for {name}, carried forward", shape_text(written)))
    for m in range(i - 1, -2, -1):
        shape = sheet.rows[m].output_shape if m >= 0 else sheet.spec.input_shape
        where = f"the output of {sheet.names[m]}" if m >= 0 else "the network's input"
        out.append((math.prod(shape), where, shape_text(shape)))
    return out
