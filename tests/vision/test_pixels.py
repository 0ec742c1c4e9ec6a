"""Pixels for a network: the colour mode of a channel count, normalisation by hand-computed numbers, and
whole-factor enlarging that keeps pixels square."""

import numpy as np

from cnnedu.vision.grids import enlarge, enlarge_to, framed
from cnnedu.vision.pixels import mode_for_channels, normalize


def test_one_channel_is_gray_and_three_are_rgb():
    assert mode_for_channels(1) == "L" and mode_for_channels(3) == "RGB"


def test_normalize_is_pixel_over_255_minus_mean_over_std_per_channel():
    x = np.array([[[[0, 255]]], [[[51, 102]]]], dtype=np.uint8)        # [2, 1, 1, 2]
    out = normalize(x, [0.2], [0.5])
    np.testing.assert_allclose(out[:, 0, 0], [[-0.4, 1.6], [0.0, 0.4]], atol=1e-6)
    assert out.dtype == np.float32 and out.shape == x.shape
    rgb = np.full((3, 1, 1), 255, dtype=np.uint8)
    np.testing.assert_allclose(normalize(rgb, [0.0, 0.5, 1.0], [1.0, 0.5, 0.25]).ravel(), [1.0, 1.0, 0.0])


def test_enlarging_repeats_each_pixel_into_a_square():
    img = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    assert enlarge(img, 2).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert enlarge(img, 1) is not None and enlarge(img, 1).tolist() == img.tolist()
    assert enlarge_to(np.zeros((28, 14), dtype=np.uint8), 160).shape == (140, 70)  # 160 // 28 = 5
    out = framed(img, (255, 0, 0), scale=2, width=1)
    assert out.shape == (6, 6, 3) and tuple(out[0, 0]) == (255, 0, 0) and tuple(out[1, 1]) == (1, 1, 1)
