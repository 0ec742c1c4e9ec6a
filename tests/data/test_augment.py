"""Batch augmentation: flips and crops that do what they say, the same for the same seed."""

from __future__ import annotations

import pytest
import torch

from cnnedu.data import channel_stats
from cnnedu.data.augment import augment, normalize, preview, random_crop, random_flip, to_float
from cnnedu.errors import DataError


def _batch(n: int = 64, c: int = 3, h: int = 8, w: int = 10) -> torch.Tensor:
    return torch.randint(0, 256, (n, c, h, w), generator=torch.Generator().manual_seed(0)).to(torch.uint8)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_flip_with_p1_mirrors_every_image_and_p0_none():
    x = _batch()
    assert torch.equal(random_flip(x, 1.0, _gen(0)), torch.flip(x, dims=[3]))
    assert torch.equal(random_flip(x, 0.0, _gen(0)), x)


def test_flip_decides_per_image_and_is_repeatable():
    x = to_float(_batch(n=2000, c=1, h=4, w=5))
    out = random_flip(x, 0.5, _gen(1))
    flipped = (out == torch.flip(x, dims=[3])).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert bool((flipped | same).all())  # each image is either untouched or mirrored
    assert 0.4 < flipped.float().mean().item() < 0.6
    assert torch.equal(random_flip(x, 0.5, _gen(1)), out)
    assert not torch.equal(random_flip(x, 0.5, _gen(2)), out)
    with pytest.raises(DataError, match="between 0 and 1"):
        random_flip(x, 1.5)


def test_crop_with_no_padding_changes_nothing():
    x = to_float(_batch())
    assert torch.equal(random_crop(x, 0, _gen(0)), x)


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
def test_crop_is_a_shifted_window_of_the_padded_image(mode):
    x = to_float(_batch(n=200))
    pad = 2
    out = random_crop(x, pad, _gen(3), mode=mode)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (pad,) * 4, mode="reflect" if mode == "reflect" else "constant")
    shifts = set()
    h, w = x.shape[2:]
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if torch.equal(out[i], padded[i, :, dy:dy + h, dx:dx + w])]
        assert matches, f"image {i} is not a window of its padded image"
        shifts.add(matches[0])
    assert len(shifts) == (2 * pad + 1) ** 2  # every shift happens
    assert torch.equal(random_crop(x, pad, _gen(3), mode=mode), out)
    assert not torch.equal(random_crop(x, pad, _gen(4), mode=mode), out)


def test_crop_keeps_uint8_and_refuses_impossible_padding():
    x = _batch(h=6, w=6)
    out = random_crop(x, 3, _gen(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    assert set(out.unique().tolist()) <= set(x.unique().tolist())  # reflection copies pixels, never invents
    with pytest.raises(DataError, match="too large"):
        random_crop(x, 6, _gen(0))
    assert random_crop(x, 6, _gen(0), mode="zeros").shape == x.shape


def test_to_float_and_normalize():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    assert to_float(x).flatten().tolist() == pytest.approx([0.0, 0.2, 1.0])
    batch = _batch(n=500)
    mean, std = channel_stats(batch)
    z = normalize(to_float(batch), mean, std)
    assert z.mean(dim=(0, 2, 3)).abs().max().item() < 1e-4
    assert (z.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max().item() < 1e-3
    with pytest.raises(DataError, match="per channel"):
        normalize(to_float(batch), [0.5], [0.2])


def test_augment_and_preview_are_repeatable_and_show_variety():
    x = _batch(n=1, c=3, h=12, w=12)
    shown = preview(x, n=8, flip_p=0.5, crop_padding=3, seed=7)
    assert shown.shape == (8, 3, 12, 12) and shown.dtype == torch.uint8
    assert torch.equal(preview(x, n=8, flip_p=0.5, crop_padding=3, seed=7), shown)
    assert len({bytes(img.numpy()) for img in shown}) > 4  # different augmentations of one image
    assert torch.equal(preview(x, n=3, flip_p=0.0, crop_padding=0), x.expand(3, -1, -1, -1))
    many = _batch(n=5)
    out = augment(to_float(many), flip_p=1.0, crop_padding=0, generator=_gen(0))
    assert torch.equal(out, torch.flip(to_float(many), dims=[3]))
