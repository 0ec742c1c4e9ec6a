"""Dataset statistics and splits: the per-channel mean/std used to normalize, and a validation split."""

from __future__ import annotations

import torch

from cnnedu.errors import DataError

_CHUNK = 4096  # images per step: float64 copies of a chunk, never of the whole dataset


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of images ``x`` [N, C, H, W], in 0..1 units.

    uint8 pixels are divided by 255 (float images are taken as already in 0..1). These are the numbers
    of ``transforms.Normalize(mean, std)``: a network then sees ``(pixel/255 - mean) / std``, which is
    about 0 on average with spread 1 — the scale its initial weights were chosen for. For uint8 images
    it counts how often each of the 256 values occurs per channel (exact, and no float copy of the
    dataset); float images are summed in float64, chunk by chunk.
    """
    if x.ndim != 4 or x.shape[0] == 0:
        raise DataError(f"channel statistics need a non-empty batch of images [N, C, H, W], got {list(x.shape)}")
    c = x.shape[1]
    count = x.shape[0] * x.shape[2] * x.shape[3]
    if x.dtype == torch.uint8:  # exact and fast: count how often each value 0..255 occurs
        scale = 255.0
        values = torch.arange(256, dtype=torch.float64)
        hist = torch.stack([torch.bincount(x[:, ch].reshape(-1), minlength=256) for ch in range(c)])
        hist = hist.to(torch.float64)
        mean = (hist * values).sum(1) / count
        squares = (hist * values.square()).sum(1)
    else:
        scale = 1.0
        total = torch.zeros(c, dtype=torch.float64)
        squares = torch.zeros(c, dtype=torch.float64)
        for start in range(0, x.shape[0], _CHUNK):
            chunk = x[start:start + _CHUNK].to(torch.float64)
            total += chunk.sum(dim=(0, 2, 3))
            squares += chunk.square().sum(dim=(0, 2, 3))
        mean = total / count
    var = (squares / count - mean.square()).clamp(min=0.0)
    return (mean / scale).tolist(), (var.sqrt() / scale).tolist()


def split_validation(x: torch.Tensor, y: torch.Tensor, fraction: float,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hold out ``fraction`` of the samples for validation: ``(train_x, train_y, val_x, val_y)``.

    Stratified: each class gives the same fraction (rounded; at least one sample per class with two or
    more when ``fraction > 0``), so a small class is not left out of validation by bad luck. The same seed
    gives the same split. ``fraction = 0`` gives an empty validation set.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"the validation fraction must be at least 0 and below 1, got {fraction}",
                        "for example 0.1 keeps 10% of the training images for validation")
    if len(x) != len(y):
        raise DataError(f"{len(x)} images but {len(y)} labels")
    if fraction == 0.0 or len(y) == 0:
        return x, y, x[:0], y[:0]
    g = torch.Generator().manual_seed(int(seed))
    val_parts = []
    for label in torch.unique(y, sorted=True):
        members = (y == label).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=g)]
        n_val = round(fraction * len(members))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val_parts.append(members[:n_val])
    is_val = torch.zeros(len(y), dtype=torch.bool)
    is_val[torch.cat(val_parts)] = True
    train_idx = (~is_val).nonzero().squeeze(1)
    val_idx = is_val.nonzero().squeeze(1)
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]
