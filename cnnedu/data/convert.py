"""Fitting a dataset to a network's input shape: grayscale ↔ RGB and resizing.

A network built for CIFAR-10 (3×32×32) can still train on Fashion-MNIST (1×28×28) once each image is
turned into three equal colour channels and enlarged to 32×32. ``shape_mismatch`` says in words what is
different and what will be done; ``fit_to_shape`` does it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnedu.data.dataset import Dataset, check_input_shape, shape_str
from cnnedu.errors import DataError

#: ITU-R BT.601 luma, the weights Pillow's convert("L") uses: green looks brightest to the eye.
LUMA = (0.299, 0.587, 0.114)
_CHUNK = 2048


def _steps(have: tuple[int, int, int], want: tuple[int, int, int]) -> list[str] | None:
    """The conversions from ``have`` to ``want`` in words; None if cnnedu cannot do it."""
    steps = []
    if have[0] != want[0]:
        if (have[0], want[0]) == (1, 3):
            steps.append("grayscale → RGB")
        elif (have[0], want[0]) == (3, 1):
            steps.append("RGB → grayscale")
        else:
            return None
    if have[1:] != want[1:]:
        steps.append(f"resize {have[1]}×{have[2]} → {want[1]}×{want[2]}")
    return steps


def shape_mismatch(ds: Dataset, input_shape: tuple[int, int, int], model: str | None = None) -> str | None:
    """None when the images already have ``input_shape``; else a sentence a student understands, e.g.
    "Fashion-MNIST images are 1×28×28 but lenet-cifar10 expects 3×32×32: cnnedu can convert them
    (grayscale → RGB, resize 28×28 → 32×32)". ``model`` names the network (default "the network").
    """
    want = check_input_shape(input_shape)
    have = ds.input_shape
    if have == want:
        return None
    who = model or "the network"
    head = f"{ds.title} images are {shape_str(have)} but {who} expects {shape_str(want)}"
    steps = _steps(have, want)
    if steps is None:
        return (f"{head}: cnnedu cannot convert {have[0]}-channel images to {want[0]} channels "
                f"(only grayscale ↔ RGB); choose another dataset or change the network's input")
    return f"{head}: cnnedu can convert them ({', '.join(steps)})"


def convert_images(x: torch.Tensor, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """uint8 images [N, C, H, W] converted to ``input_shape`` (channels, then bilinear antialiased resize)."""
    c, h, w = check_input_shape(input_shape)
    have = (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))
    steps = _steps(have, (c, h, w))
    if steps is None:
        raise DataError(f"cannot convert {have[0]}-channel images to {c} channels (only grayscale ↔ RGB)",
                        "choose a dataset whose images match the network, or change the network's input")
    if not steps:
        return x
    out = torch.empty(len(x), c, h, w, dtype=torch.uint8)
    luma = torch.tensor(LUMA, dtype=torch.float32).view(1, 3, 1, 1)
    for start in range(0, len(x), _CHUNK):
        chunk = x[start:start + _CHUNK]
        if (have[0], c) == (3, 1):
            chunk = (chunk.to(torch.float32) * luma).sum(dim=1, keepdim=True).round_().clamp_(0, 255)
            chunk = chunk.to(torch.uint8)
        if (h, w) != have[1:]:  # uint8 in, uint8 out: torch's fast path (the one torchvision uses)
            chunk = F.interpolate(chunk, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        out[start:start + _CHUNK] = chunk  # 1 → 3 channels: broadcast copies the gray plane three times
    return out


def fit_to_shape(ds: Dataset, input_shape: tuple[int, int, int]) -> Dataset:
    """``ds`` with every image converted to ``input_shape`` (the same Dataset if it already fits).

    Grayscale → RGB repeats the gray value in all three channels; RGB → grayscale uses the luma weights
    0.299, 0.587, 0.114; resizing is bilinear with antialiasing (smoothing first when shrinking, so fine
    stripes do not turn into moiré). The conversion is noted in ``warnings``.
    """
    want = check_input_shape(input_shape)
    if ds.input_shape == want:
        return ds
    steps = _steps(ds.input_shape, want)
    train_x = convert_images(ds.train_x, want)
    test_x = convert_images(ds.test_x, want)
    note = f"converted {shape_str(ds.input_shape)} → {shape_str(want)} ({', '.join(steps or [])})"
    return Dataset(ds.name, list(ds.classes), ds.source, train_x, ds.train_y, test_x, ds.test_y,
                   [*ds.warnings, note])
