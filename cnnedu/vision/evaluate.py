"""A trained network on its run's test images: the images again, its predictions, the confusion matrix.

The confusion matrix and a grid of test images with their predicted labels (002's ``plot_data``) show
what the network gets wrong.

    from cnnedu.vision import evaluate as ev
    data = ev.run_test_data("r0003-mnist-cnn-fashion-mnist")     # the run's own test images, uint8
    preds, probs = ev.evaluate_predictions(loaded.model, loaded.meta, data.x)
    cm = ev.confusion("r0003-mnist-cnn-fashion-mnist")           # from results.json
    tiles = ev.prediction_grid(loaded.model, loaded.meta, data.x, data.y, data.classes, n=24)

The images are normalised with :func:`cnnedu.vision.pixels.normalize` and the scores become
probabilities with :func:`cnnedu.onnx.scores.to_probs`, exactly as for an ONNX prediction; the matrix
is counted by the trainer's own ``confusion_matrix``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnedu.onnx.meta import ModelMeta
from cnnedu.onnx.scores import to_probs
from cnnedu.vision.grids import chw_to_image
from cnnedu.vision.pixels import normalize

SAVED = "saved"  # Confusion.source: read from the results the run saved when training ended


def evaluate_predictions(model: nn.Module, meta: ModelMeta | dict[str, Any], x_uint8: Any,
                         batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Run PyTorch on uint8 images (a tensor ``[N, C, H, W]``, or a Dataset: its test split) and return
    ``(predicted classes int64 [N], probabilities float32 [N, K])``."""
    if hasattr(x_uint8, "test_x"):
        x_uint8 = x_uint8.test_x
    m = ModelMeta.from_dict(meta)
    preds, probs = [], []
    for start in range(0, len(x_uint8), batch_size):
        x = normalize(np.asarray(x_uint8[start:start + batch_size]), m.mean, m.std)
        out = eval_forward(model, torch.from_numpy(x))
        probs.append(to_probs(out.numpy(), m.output))
        preds.append(out.argmax(1).numpy())
    if not probs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, m.num_classes), dtype=np.float32)
    return np.concatenate(preds).astype(np.int64), np.concatenate(probs).astype(np.float32)


def eval_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One forward pass in eval mode without gradients (the model's mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(x)
    finally:
        model.train(was_training)


@dataclass
class PredictionTile:
    """One test image with its true and predicted label (002's ``plot_data``)."""

    image: np.ndarray   # uint8 [H, W] gray or [H, W, 3] colour, as stored in the dataset
    true: str
    pred: str
    prob: float         # the probability the network gave its prediction
    correct: bool
    index: int          # position in the test set

    @property
    def caption(self) -> str:
        mark = "✓" if self.correct else "✗"
        return f"{mark} {self.pred} ({self.prob:.0%})" + ("" if self.correct else f" — true: {self.true}")


def prediction_grid(model: nn.Module, meta: ModelMeta | dict[str, Any], x_uint8: torch.Tensor,
                    y: torch.Tensor | Sequence[int], classes: Sequence[str], n: int = 24,
                    predictions: tuple[np.ndarray, np.ndarray] | None = None) -> list[PredictionTile]:
    """Up to ``n`` test images with true and predicted labels, **mistakes first**: the most confident
    mistakes lead (those are the instructive ones), then correctly classified images in test-set order.

    ``predictions`` = ``(preds, probs)`` from :func:`evaluate_predictions` skips running the network again.
    """
    preds, probs = predictions if predictions is not None else evaluate_predictions(model, meta, x_uint8)
    labels = np.asarray(y.numpy() if isinstance(y, torch.Tensor) else y, dtype=np.int64)
    confidence = probs[np.arange(len(preds)), preds] if len(preds) else np.zeros(0)
    wrong = np.flatnonzero(preds != labels)
    right = np.flatnonzero(preds == labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    order = np.concatenate([wrong, right])[:max(0, n)]
    return [PredictionTile(image=chw_to_image(x_uint8[i]), true=str(classes[labels[i]]),
                           pred=str(classes[preds[i]]), prob=float(confidence[i]),
                           correct=bool(preds[i] == labels[i]), index=int(i)) for i in order]


# ---------------------------------------------------------------------------------------- confusion


@dataclass
class Confusion:
    """The confusion matrix of a run's test set: ``matrix[true][predicted]`` counts, per-class accuracy
    (``None`` for a class without test images) and where the numbers came from."""

    classes: list[str]
    matrix: list[list[int]]
    per_class_acc: list[float | None]
    accuracy: float
    source: str  # SAVED (the results the run saved when training ended) or "recomputed"

    def most_confused(self, k: int = 3) -> list[tuple[str, str, int]]:
        """The ``k`` largest off-diagonal cells as (true class, predicted class, count)."""
        cells = [(self.classes[i], self.classes[j], n) for i, row in enumerate(self.matrix)
                 for j, n in enumerate(row) if i != j and n > 0]
        return sorted(cells, key=lambda c: -c[2])[:k]


def confusion_from_predictions(y: Sequence[int] | np.ndarray | torch.Tensor, preds: Sequence[int] | np.ndarray,
                               classes: Sequence[str], source: str = "recomputed") -> Confusion:
    """Count true/predicted pairs into a ``[K, K]`` matrix (rows: true class, columns: predicted class)."""
    from cnnedu.training.events import confusion_matrix

    labels = torch.as_tensor(np.asarray(y.numpy() if isinstance(y, torch.Tensor) else y, dtype=np.int64))
    predicted = torch.as_tensor(np.asarray(preds, dtype=np.int64))
    return _confusion(list(classes), confusion_matrix(labels, predicted, len(classes)).tolist(), source)


def _confusion(classes: list[str], matrix: list[list[int]], source: str) -> Confusion:
    m = np.asarray(matrix, dtype=np.int64)
    rows = m.sum(axis=1)
    per_class = [float(m[i, i] / rows[i]) if rows[i] else None for i in range(len(classes))]
    total = int(m.sum())
    accuracy = float(np.trace(m) / total) if total else 0.0
    return Confusion(classes=classes, matrix=m.tolist(), per_class_acc=per_class, accuracy=accuracy,
                     source=source)


def confusion(run_id: str) -> Confusion:
    """The run's test confusion matrix from its ``results.json``; when that has none (a cancelled run,
    an older run), it is computed again with the run's weights on the run's own test images."""
    from cnnedu.runs.folder import RunFolder

    results_file = RunFolder(run_id).results
    results = _read_json(results_file) if results_file.is_file() else None
    if results and results.get("confusion") and results.get("classes"):
        return _confusion(list(results["classes"]), results["confusion"], SAVED)
    from cnnedu.onnx.load import run_model

    loaded = run_model(run_id)
    data = run_test_data(run_id)
    preds, _ = evaluate_predictions(loaded.model, loaded.meta, data.x)
    return confusion_from_predictions(data.y, preds, data.classes)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# ----------------------------------------------------------------------------------------- a run's data


@dataclass
class RunData:
    """A run's test images exactly as it was evaluated on: uint8 ``x [N, C, H, W]``, labels ``y``."""

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    title: str
    warnings: list[str] = field(default_factory=list)


def run_test_data(run_id: str) -> RunData:
    """Load the run's test split again: the dataset, ``n_test`` and ``seed`` of its ``config.json``,
    drawn or read at the network's input size or converted to it the way the trainer did.

    (Only the test split matters here, so the training split is cut to one image: the test subset does
    not depend on it.)
    """
    from cnnedu.runs.folder import RunFolder
    from cnnedu.runs.store import get_run
    from cnnedu.training.checks import resolve_spec
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.run_data import load_data

    run = get_run(run_id, check=False)
    config = TrainConfig.from_dict(run.config)
    spec_file = RunFolder(run_id).spec
    spec = resolve_spec(json.loads(spec_file.read_text())) if spec_file.is_file() else resolve_spec(config.arch)
    ds = load_data(dataclasses.replace(config, n_train=1, convert_input=True), spec)
    return RunData(x=ds.test_x, y=ds.test_y, classes=list(ds.classes), title=ds.title,
                    warnings=list(ds.warnings))
