"""A trained network on test images: predictions normalised with the run's statistics, mistakes first,
the confusion matrix saved by training and the one computed again agree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cnnedu.onnx.load import run_model
from cnnedu.runs.folder import RunFolder
from cnnedu.vision import evaluate as ev
from cnnedu.vision.evaluate import SAVED

# ------------------------------------------------------------------------------------------- predictions


def test_prediction_grid_puts_the_most_confident_mistakes_first():
    x = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 2, 2).contiguous()
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    preds = np.array([0, 2, 2, 1, 1, 0])
    probs = np.full((6, 3), 0.1, dtype=np.float32)
    probs[np.arange(6), preds] = [0.8, 0.6, 0.7, 0.95, 0.9, 0.5]
    tiles = ev.prediction_grid(None, None, x, y, ["a", "b", "c"], n=5, predictions=(preds, probs))
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
    preds, probs = ev.evaluate_predictions(model, meta, x, batch_size=3)
    with torch.no_grad():
        expected = torch.softmax(model((x.float() / 255 - 0.25) / 0.5), 1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5)
    assert list(preds) == list(expected.argmax(1))


# ------------------------------------------------------------------------------------------- a real run


def test_run_test_data_is_the_test_set_the_run_was_scored_on(finished_run):
    loaded = run_model(finished_run)
    data = ev.run_test_data(finished_run)
    assert data.x.shape == (120, 1, 16, 16) and data.x.dtype == torch.uint8 and len(data.classes) == 4
    preds, _ = ev.evaluate_predictions(loaded.model, loaded.meta, data.x)
    results = json.loads(RunFolder(finished_run).results.read_text())
    assert float((preds == data.y.numpy()).mean()) == pytest.approx(results["test_acc"])


def test_confusion_from_results_json_and_recomputed_agree(finished_run):
    saved = ev.confusion(finished_run)
    assert saved.source == SAVED
    assert sum(map(sum, saved.matrix)) == 120 and len(saved.matrix) == 4
    results_file = RunFolder(finished_run).results
    original = results_file.read_text()
    try:
        results_file.write_text(json.dumps({k: v for k, v in json.loads(original).items() if k != "confusion"}))
        again = ev.confusion(finished_run)
    finally:
        results_file.write_text(original)
    assert again.source == "recomputed" and again.matrix == saved.matrix
    assert again.per_class_acc == pytest.approx(saved.per_class_acc)
    assert saved.accuracy == pytest.approx(json.loads(original)["test_acc"])
    total_wrong = sum(n for _, _, n in saved.most_confused(100))
    assert total_wrong == 120 - sum(saved.matrix[i][i] for i in range(4))
