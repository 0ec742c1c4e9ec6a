"""Looking inside a network: filter grids and feature maps, on real torch modules (no mocks).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from cnnedu.errors import CnnEduError
from cnnedu.vision import inspect_model as im
from cnnedu.vision.grids import SEPARATOR


def rgb_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 4, 3), relu=nn.ReLU(), conv2=nn.Conv2d(4, 5, 3),
                                     flatten=nn.Flatten(), fc=nn.Linear(5 * 4 * 4, 3)))


# ----------------------------------------------------------------------------------------------- filters


def test_rgb_filters_become_a_colour_grid_each_stretched_to_its_own_range():
    model = rgb_net()
    grid = im.first_conv_filters(model)
    assert grid.layer == "conv1" and grid.colour and grid.count == 4 and grid.kernel == (3, 3)
    np.testing.assert_array_equal(grid.weights, model.conv1.weight.detach().numpy())
    # 4 filters → 2×2 tiles of 3×3 with a 1-pixel separator around each: 2·(3+1)+1 = 9
    assert grid.image.shape == (9, 9, 3) and grid.image.dtype == np.uint8
    tile = grid.image[1:4, 5:8]  # the second filter
    w = model.conv1.weight.detach().numpy()[1]  # [3, 3, 3] = [in (R, G, B), kh, kw]
    expected = np.rint((w - w.min()) / (w.max() - w.min()) * 255).transpose(1, 2, 0)
    np.testing.assert_array_equal(tile, expected.astype(np.uint8))
    assert tile.min() == 0 and tile.max() == 255
    assert tuple(grid.image[0, 0]) == SEPARATOR


def test_gray_filters_are_gray_and_scale_keeps_pixels_square():
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten())
    grid = im.first_conv_filters(model, scale=3)
    assert not grid.colour and grid.layer == "0"
    assert grid.image.shape == (3 * (2 * 6 + 1), 3 * (3 * 6 + 1), 3)  # 6 tiles → 2 rows × 3 columns
    tiles = grid.image[3:18, 3:18]  # first tile, 5×5 weights × 3
    assert np.array_equal(tiles[..., 0], tiles[..., 1]) and np.array_equal(tiles[..., 1], tiles[..., 2])
    assert np.array_equal(tiles[0:3, 0:3], np.broadcast_to(tiles[0, 0], (3, 3, 3)))  # one weight = 3×3 px


def test_a_constant_filter_is_black_not_a_division_by_zero():
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    with torch.no_grad():
        model[0].weight[0].fill_(0.7)
    grid = im.first_conv_filters(model)
    assert grid.image[1:4, 1:4].max() == 0


def test_a_network_without_convolutions_says_so():
    with pytest.raises(CnnEduError, match="no convolutional layer"):
        im.first_conv_filters(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


# ------------------------------------------------------------------------------------------ feature maps


def test_feature_maps_are_the_layers_real_output():
    model = rgb_net()
    spec = {"input_shape": [3, 8, 8]}
    x = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(1))
    maps = im.feature_maps(model, spec, x, "conv2")
    with torch.no_grad():
        expected = model.conv2(model.relu(model.conv1(x[None])))[0].numpy()
    np.testing.assert_allclose(maps.activations, expected, rtol=1e-6, atol=1e-6)
    assert maps.channels == 5 and maps.size == (4, 4) and maps.shown == 5
    assert maps.image.shape == (2 * 5 + 1, 3 * 5 + 1, 3)  # 5 maps → 2 rows × 3 columns of 4×4
    assert model.training  # the caller's mode is left as it was
    assert not model.conv2._forward_hooks  # the hook is removed


def test_dead_relu_maps_are_counted_and_shared_scale_keeps_them_dark():
    model = rgb_net()
    with torch.no_grad():
        model.conv1.bias[:2] = -100.0  # channels 0 and 1 never fire after the ReLU
    x = torch.rand(3, 8, 8)
    maps = im.feature_maps(model, {"input_shape": [3, 8, 8]}, x, "relu", shared_scale=True)
    assert maps.dead >= 2 and maps.shared_scale
    assert maps.image[1:7, 1:7].max() == 0  # the first dead map


def test_feature_map_layers_cover_blocks_and_stop_at_flatten():
    from cnnedu.arch.nets import build_model
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec("resnet-cifar10", blocks=1)
    model = build_model(spec)
    names = im.feature_map_layers(model, spec)
    assert names[0] == "conv1" and "stack1_block0.shortcut" in names and "stack0_block0" in names
    assert not any(n.startswith(("flatten", "fc")) for n in names)
    maps = im.feature_maps(model, spec, torch.zeros(3, 32, 32), "stack1_block0.conv1", max_maps=16)
    assert maps.channels == 128 and maps.shown == 16
    with pytest.raises(CnnEduError, match="not maps"):
        im.feature_maps(rgb_net(), {"input_shape": [3, 8, 8]}, torch.zeros(3, 8, 8), "flatten")
    with pytest.raises(CnnEduError, match="no layer 'conv9'"):
        im.feature_maps(model, spec, torch.zeros(3, 32, 32), "conv9")
    with pytest.raises(CnnEduError, match="expects"):
        im.feature_maps(model, spec, torch.zeros(1, 28, 28), "conv1")
