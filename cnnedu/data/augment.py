"""Data augmentation on whole batches, on the training device (the way KellerJordan/airbench does it).

torchvision's ``RandomHorizontalFlip`` and ``RandomCrop`` work on one PIL image at a time inside a
DataLoader worker. Here a batch is one tensor ``[N, C, H, W]`` that already sits on the GPU (or CPU), and
each function draws one random decision per image and applies all of them with a few tensor operations —
no Python loop over the images.

Pass a ``torch.Generator`` to make the randomness repeatable: the same seed gives the same flips and
crops. (The generator may live on the CPU while the batch is on the GPU; the few random numbers are moved.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from cnnedu.errors import DataError


def _device_of(generator: torch.Generator | None, x: torch.Tensor) -> torch.device:
    return generator.device if generator is not None else x.device


def to_float(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 pixels 0..255 → floats 0..1 (a float tensor is returned unchanged, as ``dtype``)."""
    if x.dtype == torch.uint8:
        return x.to(dtype).div_(255.0)
    return x.to(dtype)


def normalize(x: torch.Tensor, mean: Sequence[float] | torch.Tensor,
              std: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` per channel, for a float batch [N, C, H, W] in 0..1 (like ``transforms.Normalize``)."""
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(-1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(-1)
    if len(mean_t) != x.shape[1] or len(std_t) != x.shape[1]:
        raise DataError(f"normalization has {len(mean_t)} mean(s) and {len(std_t)} std(s) for images with "
                        f"{x.shape[1]} channel(s)", "give one mean and one std per channel")
    if bool((std_t <= 0).any()):
        raise DataError(f"normalization std must be positive, got {std_t.tolist()}")
    return (x - mean_t.view(1, -1, 1, 1)) / std_t.view(1, -1, 1, 1)


def random_flip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left ↔ right with probability ``p`` (each image decides on its own)."""
    if not 0.0 <= p <= 1.0:
        raise DataError(f"the flip probability must be between 0 and 1, got {p}")
    if p == 0.0 or len(x) == 0:
        return x
    flip = torch.rand(len(x), generator=generator, device=_device_of(generator, x)).to(x.device) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None,
                mode: str = "reflect") -> torch.Tensor:
    """Pad each image by ``padding`` pixels, then cut an H×W window at a random place in it.

    The effect: each image moves by up to ``padding`` pixels in x and y, so the network cannot rely on
    exact positions. ``mode`` fills the border: "reflect" (mirror the edge, as airbench does) or "zeros".
    Vectorised with two ``gather`` calls: each image's rows ``dy .. dy+H`` and columns ``dx .. dx+W``.
    """
    if padding < 0:
        raise DataError(f"crop padding must be 0 or more, got {padding}")
    if mode not in ("reflect", "zeros"):
        raise DataError(f"crop padding mode must be 'reflect' or 'zeros', got {mode!r}")
    if padding == 0 or len(x) == 0:
        return x
    n, c, h, w = x.shape
    if mode == "reflect" and padding >= min(h, w):
        raise DataError(f"crop padding {padding} is too large for {h}×{w} images with reflection",
                        f"use a padding below {min(h, w)} (2 to 4 is usual for 28-32 pixel images)")
    work = x if x.is_floating_point() else x.to(torch.float32)  # reflection padding needs floats
    padded = F.pad(work, (padding,) * 4, mode="reflect" if mode == "reflect" else "constant")
    device = _device_of(generator, x)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=device).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=device).to(x.device)
    rows = dy.view(n, 1, 1, 1) + torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = dx.view(n, 1, 1, 1) + torch.arange(w, device=x.device).view(1, 1, 1, w)
    out = padded.gather(2, rows.expand(n, c, h, padded.shape[3]))
    out = out.gather(3, cols.expand(n, c, h, w))
    return out if x.is_floating_point() else out.to(x.dtype)


def augment(x: torch.Tensor, flip_p: float = 0.0, crop_padding: int = 0,
            generator: torch.Generator | None = None, crop_mode: str = "reflect") -> torch.Tensor:
    """Crop, then flip: the standard CIFAR-10 augmentation in one call (no-op with the defaults)."""
    return random_flip(random_crop(x, crop_padding, generator, crop_mode), flip_p, generator)


def preview(x_uint8: torch.Tensor, n: int = 8, flip_p: float = 0.5, crop_padding: int = 4,
            seed: int = 0, crop_mode: str = "reflect") -> torch.Tensor:
    """``n`` augmented copies for the UI, uint8 [n, C, H, W]: image ``i`` is an augmented ``x_uint8[i % N]``.

    Pass a single image to see ``n`` different augmentations of it; pass a batch to see one of each.
    """
    if len(x_uint8) == 0 or n < 1:
        raise DataError("the augmentation preview needs at least one image and n ≥ 1")
    picked = x_uint8[torch.arange(n) % len(x_uint8)]
    g = torch.Generator().manual_seed(int(seed))
    out = augment(picked.to(torch.float32), flip_p, crop_padding, g, crop_mode)
    return out.round().clamp(0, 255).to(torch.uint8)
