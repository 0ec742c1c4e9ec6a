"""The layer calculator against sources that do not use it, on a few hundred random specs.

- Which pixels a conv or pooling layer never reads: a one-hot image on every pixel, run through a plain
  ``torch.nn`` layer built from the same settings (all-ones weights, no bias): a pixel is seen exactly when
  its image gives some non-zero output (max-pool: the 1 wins every window it is in; zero padding is no
  pixel at all).
- Parameters, every layer's output shape and torchinfo's multiply-adds: ``torchinfo.summary``.
- Multiply-adds as the papers count them (products only): PyTorch's own FLOP counter, halved.
"""

from __future__ import annotations

import random
import re
from typing import Any

import torch
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnedu.arch.analysis import analyze
from cnnedu.arch.nets import trace, unseen_pixels

SPECS = 240
PADDINGS = (0, 0, 1, 2, 3, [0, 2], "same", "valid")


def _pick_pair(rng: random.Random, low: int, high: int) -> int | list[int]:
    a = rng.randint(low, high)
    return a if rng.random() < 0.7 else [a, rng.randint(low, high)]


def random_window_layer(rng: random.Random, channels: int) -> dict[str, Any]:
    """A conv or pooling layer with any mix of kernel, stride, padding, dilation, groups and ceil_mode."""
    kind = rng.choice(("Conv2d", "Conv2d", "MaxPool2d", "AvgPool2d"))
    kernel = _pick_pair(rng, 1, 5)
    if kind == "Conv2d":
        groups = rng.choice([g for g in (1, 2, 3, 4) if channels % g == 0])
        padding = rng.choice(PADDINGS)
        stride = 1 if padding == "same" else _pick_pair(rng, 1, 3)
        return {"type": kind, "out_channels": groups * rng.randint(1, 2), "kernel_size": kernel, "stride": stride,
                "padding": padding, "dilation": _pick_pair(rng, 1, 3), "groups": groups, "bias": rng.random() < 0.7}
    k = kernel if isinstance(kernel, list) else [kernel, kernel]
    layer = {"type": kind, "kernel_size": kernel, "padding": [rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2)],
             "ceil_mode": rng.random() < 0.5}
    if rng.random() < 0.6:
        layer["stride"] = _pick_pair(rng, 1, 3)  # otherwise the kernel size (PyTorch's default too)
    if kind == "MaxPool2d":
        layer["dilation"] = _pick_pair(rng, 1, 2)
    return layer


def plain_layer(layer: dict[str, Any], channels: int) -> nn.Module:
    """The same layer written directly in torch.nn, weights all ones (every tap adds what it sees)."""
    if layer["type"] == "Conv2d":
        conv = nn.Conv2d(channels, layer["out_channels"], layer["kernel_size"], layer["stride"], layer["padding"],
                         layer["dilation"], layer["groups"], bias=False)
        nn.init.ones_(conv.weight)
        return conv
    if layer["type"] == "MaxPool2d":
        return nn.MaxPool2d(layer["kernel_size"], layer.get("stride"), layer["padding"], layer["dilation"],
                            ceil_mode=layer["ceil_mode"])
    return nn.AvgPool2d(layer["kernel_size"], layer.get("stride"), layer["padding"], ceil_mode=layer["ceil_mode"])


def never_reached(module: nn.Module, shape: tuple[int, int, int]) -> set[tuple[int, int]]:
    """The pixels (row, column) whose one-hot image gives an all-zero output."""
    c, h, w = shape
    images = torch.zeros(h * w, c, h, w)
    images[torch.arange(h * w), 0, torch.arange(h * w) // w, torch.arange(h * w) % w] = 1.0
    with torch.no_grad():
        reached = module(images).flatten(1).abs().sum(1) > 0
    return {(n // w, n % w) for n in range(h * w) if not reached[n]}


def test_the_never_seen_warning_agrees_with_one_hot_inputs_on_random_layers():
    rng = random.Random(9)
    checked, with_unseen, problems = 0, 0, []
    while checked < SPECS:
        shape = (rng.choice((1, 2, 3, 4, 6)), rng.randint(3, 12), rng.randint(3, 12))
        layer = random_window_layer(rng, shape[0])
        spec = {"input_shape": list(shape), "num_classes": 2, "layers": [layer]}
        try:
            result = trace(spec)
        except Exception:  # the spec language refuses this combination (e.g. a pool's padding)
            continue
        if not result.modules:  # the kernel does not fit this input
            continue
        checked += 1
        truth = never_reached(plain_layer(layer, shape[0]), shape)
        lost = unseen_pixels(result.modules[0], shape)
        ours = {(r, c) for r in range(shape[1]) for c in range(shape[2]) if r in lost.rows or c in lost.columns}
        warning = next((m for _, m in result.warnings if "never seen" in m), None)
        rows = {r for r in range(shape[1]) if all((r, c) in truth for c in range(shape[2]))}
        cols = {c for c in range(shape[2]) if all((r, c) in truth for r in range(shape[1]))}
        said = {unit: sum(int(n) for n, u in re.findall(r"(\d+) (row|column)s?", warning or "") if u == unit)
                for unit in ("row", "column")}
        with_unseen += bool(truth)
        if ours != truth or (warning is not None) != bool(truth) or said != {"row": len(rows), "column": len(cols)}:
            problems.append((shape, layer, sorted(truth)[:6], warning))
    assert not problems, f"{len(problems)} of {checked} layers disagree, e.g. {problems[:3]}"
    assert 30 < with_unseen < checked - 30  # both kinds of layer were tried, many times


def test_a_torchvision_stem_reads_every_pixel():
    """7×7/2 conv with padding 3 and 3×3/2 max-pool with padding 1 on 224×224: only zero padding is
    skipped, so no warning (every torchvision ResNet starts like this)."""
    spec = {"input_shape": [3, 224, 224], "num_classes": 2, "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 7, "stride": 2, "padding": 3},
        {"type": "MaxPool2d", "kernel_size": 3, "stride": 2, "padding": 1}]}
    assert not [m for _, m in trace(spec).warnings if "never seen" in m]
    # valid padding on 224 with a 7×7/2: (224 − 7) = 217 is odd, so the last row and column are lost
    spec["layers"][0]["padding"] = "valid"
    (message,) = [m for _, m in trace(spec).warnings if "never seen" in m]
    assert "the last 1 row and the last 1 column of the 224×224 input" in message


# ------------------------------------------------------------------------------------- torchinfo


def random_network(rng: random.Random) -> dict[str, Any]:
    """A small valid-looking spec: window layers, BatchNorm, activations, sometimes a block, a head."""
    shape = [rng.choice((1, 2, 3, 4)), rng.randint(6, 14), rng.randint(6, 14)]
    layers: list[dict[str, Any]] = []
    channels = shape[0]
    for _ in range(rng.randint(1, 3)):
        layer = random_window_layer(rng, channels)
        layers.append(layer)
        channels = layer.get("out_channels", channels)
        extra = rng.random()
        if extra < 0.3:
            layers.append({"type": "BatchNorm2d", "affine": rng.random() < 0.8})
        elif extra < 0.5:
            layers.append({"type": rng.choice(("ReLU", "GELU", "Dropout2d"))})
    if rng.random() < 0.35:
        block = rng.choice(("DepthwiseSeparable", "BasicBlock", "Bottleneck"))
        layers.append({"type": block, "out_channels": rng.choice((4, 8)), "stride": rng.randint(1, 2)}
                      | ({"preact": rng.random() < 0.5} if block != "DepthwiseSeparable" else {}))
    layers.append({"type": "Flatten"})
    if rng.random() < 0.3:
        layers.append({"type": "BatchNorm1d"})
    layers += [{"type": "Linear", "out_features": 3, "bias": rng.random() < 0.8}]
    return {"input_shape": shape, "num_classes": 3, "layers": layers}


def test_params_shapes_and_both_macs_agree_with_torchinfo_and_torchs_flop_counter():
    rng = random.Random(4)
    checked, blocks, problems = 0, 0, []
    while checked < 200:
        spec = random_network(rng)
        try:
            result = analyze(spec)
        except Exception:
            continue
        if not result.ok:
            continue
        checked += 1
        blocks += any(r.depth == 1 for r in result.rows)
        model = trace(spec).model().eval()  # on the meta device: shapes and counts, no arithmetic
        info = torchinfo.summary(model, input_size=(1, *spec["input_shape"]), verbose=0, depth=8, device="meta")
        leaves = [layer for layer in info.summary_list if layer.is_leaf_layer]
        with FlopCounterMode(display=False) as flops, torch.no_grad():
            model(torch.zeros(1, *spec["input_shape"], device="meta"))
        ours = result.leaf_rows()
        t = result.totals
        found = {
            "params": (t.params, info.total_params), "trainable": (t.trainable_params, info.trainable_params),
            "macs_torchinfo": (t.macs_torchinfo, info.total_mult_adds),
            "macs": (t.macs, flops.get_total_flops() // 2),
            "shapes": ([r.output_shape for r in ours], [tuple(layer.output_size[1:]) for layer in leaves]),
            "row macs_torchinfo": ([r.macs_torchinfo for r in ours], [layer.macs for layer in leaves]),
        }
        wrong = {k: v for k, v in found.items() if v[0] != v[1]}
        if wrong:
            problems.append((spec, wrong))
    assert not problems, f"{len(problems)} of {checked} specs disagree, e.g. {problems[:2]}"
    assert blocks > 20  # blocks (whose ReLU runs twice) were among them
