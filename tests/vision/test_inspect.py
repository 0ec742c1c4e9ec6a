"""Looking inside a network: filter grids, feature maps, the confusion matrix and the mistakes-first grid.

Real torch modules, a real (tiny) training run in a real run store; no mocks.
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from cnnedu.errors import CnnEduError, RunStoreError
from cnnedu.vision import inspect_model as im


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
    assert tuple(grid.image[0, 0]) == im.SEPARATOR


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


# ------------------------------------------------------------------------------------------- predictions


def test_prediction_grid_puts_the_most_confident_mistakes_first():
    x = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 2, 2).contiguous()
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    preds = np.array([0, 2, 2, 1, 1, 0])
    probs = np.full((6, 3), 0.1, dtype=np.float32)
    probs[np.arange(6), preds] = [0.8, 0.6, 0.7, 0.95, 0.9, 0.5]
    tiles = im.prediction_grid(None, None, x, y, ["a", "b", "c"], n=5, predictions=(preds, probs))
    assert [t.index for t in tiles] == [3, 1, 5, 0, 2]  # mistakes by confidence, then right ones in order
    assert [t.correct for t in tiles] == [False, False, False, True, True]
    assert tiles[0].true == "a" and tiles[0].pred == "b" and tiles[0].prob == pytest.approx(0.95)
    assert tiles[0].caption.startswith("✗ b (95%)") and "true: a" in tiles[0].caption
    assert tiles[3].caption == "✓ a (80%)"
    assert tiles[0].image.shape == (2, 2) and tiles[0].image[0, 0] == 3


def test_evaluate_predictions_normalizes_with_the_runs_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    meta = {"classes": ["a", "b", "c"], "input_shape": [1, 2, 2], "mean": [0.25], "std": [0.5],
            "output": "logits"}
    x = torch.randint(0, 256, (7, 1, 2, 2), dtype=torch.uint8)
    preds, probs = im.evaluate_predictions(model, meta, x, batch_size=3)
    with torch.no_grad():
        expected = torch.softmax(model((x.float() / 255 - 0.25) / 0.5), 1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5)
    assert list(preds) == list(expected.argmax(1))


# ------------------------------------------------------------------------------------------- a real run


def test_run_test_data_is_the_test_set_the_run_was_scored_on(finished_run):
    loaded = im.run_model(finished_run)
    data = im.run_test_data(finished_run)
    assert data.x.shape == (120, 1, 16, 16) and data.x.dtype == torch.uint8 and len(data.classes) == 4
    preds, _ = im.evaluate_predictions(loaded.model, loaded.meta, data.x)
    results = json.loads((im._run_folder(finished_run) / "results.json").read_text())
    assert float((preds == data.y.numpy()).mean()) == pytest.approx(results["test_acc"])


def test_confusion_from_results_json_and_recomputed_agree(finished_run):
    saved = im.confusion(finished_run)
    assert saved.source == "results.json"
    assert sum(map(sum, saved.matrix)) == 120 and len(saved.matrix) == 4
    results_file = im._run_folder(finished_run) / "results.json"
    original = results_file.read_text()
    try:
        results_file.write_text(json.dumps({k: v for k, v in json.loads(original).items() if k != "confusion"}))
        again = im.confusion(finished_run)
    finally:
        results_file.write_text(original)
    assert again.source == "recomputed" and again.matrix == saved.matrix
    assert again.per_class_acc == pytest.approx(saved.per_class_acc)
    assert saved.accuracy == pytest.approx(json.loads(original)["test_acc"])
    total_wrong = sum(n for _, _, n in saved.most_confused(100))
    assert total_wrong == 120 - sum(saved.matrix[i][i] for i in range(4))


def test_loading_for_export_takes_a_run_or_a_preset(finished_run):
    run = im.load_for_export(finished_run)
    assert run.source == "run" and run.meta.classes == ["ring", "cross", "horizontal bar", "vertical bar"]
    assert run.meta.input_shape == (1, 16, 16) and run.weights_mtime is not None
    preset = im.load_for_export("lenet-cifar10")
    assert preset.source == "preset" and preset.meta.classes[0] == "airplane"
    assert preset.meta.mean == [0.5, 0.5, 0.5] and any("untrained" in n for n in preset.notes)
    gaze = im.preset_model("gaze-cnn")
    assert gaze.meta.classes == ["0", "1", "2", "3"]
    with pytest.raises(RunStoreError, match="neither a run nor a preset"):
        im.load_for_export("r9999-nothing")
