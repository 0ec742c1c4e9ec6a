"""Looking inside a trained network: its first-layer filters, its feature maps, its mistakes.

A CNN's first convolution looks straight at the pixels, so its weights can be drawn as little images
(003 Task 2.4, "visualize the first-layer convolutional filters"): a trained network's filters look like
edges, blobs and colour contrasts; an untrained one's look like noise. Deeper layers' *weights* mean little
to the eye, but their *outputs* — the feature maps — show what each channel responds to in one image.
The confusion matrix and a grid of test images with their predicted labels (002's ``plot_data``) show
what the network gets wrong.

    from cnnedu.vision import inspect_model as im
    loaded = im.run_model("r0003-mnist-cnn-fashion-mnist")      # weights + metadata of a finished run
    filters = im.first_conv_filters(loaded.model)                # .image: uint8 grid, .weights: raw tensor
    data = im.run_test_data("r0003-mnist-cnn-fashion-mnist")     # the run's own test images, uint8
    maps = im.feature_maps(loaded.model, loaded.spec, im.normalize(data.x[0], loaded.meta), "conv2")
    cm = im.confusion("r0003-mnist-cnn-fashion-mnist")           # from results.json
    tiles = im.prediction_grid(loaded.model, loaded.meta, data.x, data.y, data.classes, n=24)

Every image this module returns is a numpy ``uint8`` array, ``[H, W, 3]``, ready for ``st.image`` or
Pillow. Tiles are separated by a thin blue-gray line so that a black tile and the gap between tiles look
different. Nothing here draws with Streamlit; the pages do.

This module also loads a run (or an untrained preset) as a model plus :class:`ModelMeta`, the pair that
ONNX export and the Predict page need.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnedu.arch.spec import Spec
from cnnedu.errors import CnnEduError, RunStoreError
from cnnedu.onnx.meta import ModelMeta

#: The colour of the lines between tiles (RGB): distinct from black, white and every gray.
SEPARATOR = (90, 110, 150)
#: At most this many feature maps are drawn for one layer (ResNet stages have 256 channels).
MAX_MAPS = 64
#: Default mean and std for an untrained preset: maps pixels 0..1 to -1..1, a neutral, common choice.
DEFAULT_MEAN, DEFAULT_STD = 0.5, 0.5


# ------------------------------------------------------------------------------------------------ grids


def to_uint8(values: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Stretch ``values`` linearly so that ``lo`` → 0 and ``hi`` → 255 (defaults: their min and max).

    A constant array (a dead filter, a channel that never fires) becomes all 0, not a division by zero.
    """
    values = np.asarray(values, dtype=np.float64)
    lo = float(values.min()) if lo is None else lo
    hi = float(values.max()) if hi is None else hi
    if not math.isfinite(lo) or not math.isfinite(hi) or hi - lo < 1e-12:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.clip(np.rint((values - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def tile_grid(tiles: Sequence[np.ndarray], columns: int | None = None, padding: int = 1, scale: int = 1,
              separator: tuple[int, int, int] = SEPARATOR) -> np.ndarray:
    """Arrange equally sized uint8 tiles (``[h, w]`` gray or ``[h, w, 3]`` colour) in a grid.

    ``columns`` defaults to a near-square layout (like cs231n's ``visualize_grid``); ``padding`` is the
    gap between tiles and around them in tile pixels; ``scale`` enlarges everything by whole pixels
    (nearest neighbour: a 5×5 filter stays 25 sharp squares instead of a blur). Returns ``[H, W, 3]``.
    """
    if not tiles:
        raise ValueError("tile_grid needs at least one tile")
    rgb = [t if t.ndim == 3 else np.repeat(t[:, :, None], 3, axis=2) for t in tiles]
    h, w = rgb[0].shape[:2]
    n = len(rgb)
    cols = columns or math.ceil(math.sqrt(n))
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    grid = np.empty((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), dtype=np.uint8)
    grid[:] = np.asarray(separator, dtype=np.uint8)
    for i, tile in enumerate(rgb):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y:y + h, x:x + w] = tile
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Enlarge a uint8 image by a whole factor with nearest neighbour (pixels stay sharp squares)."""
    if scale <= 1:
        return image
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def chw_to_image(x_uint8: torch.Tensor | np.ndarray) -> np.ndarray:
    """One uint8 image ``[C, H, W]`` (C = 1 or 3) as ``[H, W]`` (gray) or ``[H, W, 3]`` for display."""
    a = x_uint8.numpy() if isinstance(x_uint8, torch.Tensor) else np.asarray(x_uint8)
    a = a.astype(np.uint8)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


# ------------------------------------------------------------------------------------ first-layer filters


@dataclass
class FilterGrid:
    """The first convolution's filters drawn as a grid of small images.

    ``weights`` is the raw weight tensor ``[out_channels, in_channels/groups, kh, kw]`` as numpy;
    ``image`` the grid (``[H, W, 3]`` uint8), one tile per output channel, each normalized to its own
    min..max (so a filter's *pattern* shows, not its size). ``colour`` says whether the tiles are RGB
    filters (3 input channels) or gray.
    """

    layer: str
    weights: np.ndarray
    image: np.ndarray
    colour: bool
    kernel: tuple[int, int]
    count: int
    note: str = ""


def conv_layer_names(model: nn.Module) -> list[str]:
    """The qualified names of every ``Conv2d`` in the network, in definition order (e.g. ``conv1``,
    ``stage1.0.conv1``, ``stage1.0.shortcut``)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def first_conv_filters(model: nn.Module, scale: int = 1, columns: int | None = None) -> FilterGrid:
    """The weights of the network's first ``Conv2d`` as an image grid (003 Task 2.4).

    Each filter is normalized on its own to 0..255 (as cs231n's ``visualize_grid`` does). Filters that
    look at 3 input channels are drawn in colour (R, G, B = the weights for the red, green and blue
    inputs); 1-channel filters in gray. Any other channel count (a first conv after a layer that changed
    it) is drawn as the mean over input channels, with a note. Raises :class:`CnnEduError` when the
    network has no convolution.
    """
    names = conv_layer_names(model)
    if not names:
        raise CnnEduError("This network has no convolutional layer, so there are no filters to draw.",
                          "Pick a CNN (for example mnist-cnn or lenet-cifar10).")
    name = names[0]
    conv = model.get_submodule(name)
    weights = conv.weight.detach().to("cpu", torch.float32).numpy().copy()
    out_c, in_c, kh, kw = weights.shape
    note = ""
    if in_c == 3:
        tiles = [to_uint8(w).transpose(1, 2, 0) for w in weights]
        colour = True
    elif in_c == 1:
        tiles = [to_uint8(w[0]) for w in weights]
        colour = False
    else:
        tiles = [to_uint8(w.mean(axis=0)) for w in weights]
        colour = False
        note = f"each filter looks at {in_c} input channels; drawn here is their mean"
    image = tile_grid(tiles, columns=columns, scale=scale)
    return FilterGrid(layer=name, weights=weights, image=image, colour=colour, kernel=(kh, kw),
                      count=out_c, note=note)


# ------------------------------------------------------------------------------------------ feature maps


@dataclass
class FeatureMaps:
    """What one layer outputs for one image: the channels as a grid of gray tiles.

    ``activations`` is the layer's output for the image, ``[C, h, w]`` float32; ``image`` shows the first
    ``shown`` channels. With ``shared_scale=False`` every map is stretched to its own min..max (its
    pattern shows); with ``shared_scale=True`` all use the layer's min..max (strong channels stand out,
    quiet ones stay dark). ``dead`` counts channels that are the same everywhere (all zero after a ReLU,
    typically): they carry no information about this image.
    """

    layer: str
    activations: np.ndarray
    image: np.ndarray
    shown: int
    channels: int
    size: tuple[int, int]
    dead: int
    shared_scale: bool


def feature_map_layers(model: nn.Module, spec: Spec | dict[str, Any] | None = None,
                       input_shape: Sequence[int] | None = None) -> list[str]:
    """Names of the layers whose output is a stack of maps ``[N, C, h, w]`` — every top-level layer
    before the Flatten (conv, ReLU, pool, BatchNorm, blocks) and every convolution inside a block — in
    the order their outputs are computed (a block after the convolutions inside it). Measured with one
    forward pass of a zero image.
    """
    shape = _input_shape(spec, input_shape)
    wanted = {name for name, _ in model.named_children()} | set(conv_layer_names(model))
    seen: list[str] = []
    handles = []

    def hook(name: str):
        def record(_m: nn.Module, _args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and name not in seen:
                seen.append(name)
        return record

    for name, module in model.named_modules():
        if name in wanted:
            handles.append(module.register_forward_hook(hook(name)))
    try:
        _forward(model, torch.zeros((1, *shape)))
    finally:
        for h in handles:
            h.remove()
    return seen


def feature_maps(model: nn.Module, spec: Spec | dict[str, Any] | None, image: torch.Tensor | np.ndarray,
                 layer_name: str, *, shared_scale: bool = False, max_maps: int = MAX_MAPS, scale: int = 1,
                 columns: int | None = None) -> FeatureMaps:
    """The output of layer ``layer_name`` for one normalized image ``[C, H, W]`` (or ``[1, C, H, W]``),
    caught with a forward hook, drawn as a grid of its channels.

    ``layer_name`` is any name from :func:`feature_map_layers` (a qualified module name). A layer whose
    output is not 4-D (after Flatten) raises :class:`CnnEduError`.
    """
    x = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image)
    x = x.to(torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise CnnEduError(f"feature_maps takes one image [C, H, W], got shape {list(x.shape)}.")
    shape = _input_shape(spec, None) if spec is not None else tuple(x.shape[1:])
    if tuple(x.shape[1:]) != tuple(shape):
        raise CnnEduError(f"The image has shape {list(x.shape[1:])} but the network expects {list(shape)}.")
    try:
        module = model.get_submodule(layer_name)
    except AttributeError:
        options = ", ".join(feature_map_layers(model, spec, tuple(x.shape[1:])))
        raise CnnEduError(f"The network has no layer '{layer_name}'.", f"Layers with feature maps: {options}.") \
            from None
    caught: list[torch.Tensor] = []

    def record(_m: nn.Module, _args: Any, output: Any) -> None:
        if not caught and isinstance(output, torch.Tensor):
            caught.append(output.detach())

    handle = module.register_forward_hook(record)
    try:
        _forward(model, x)
    finally:
        handle.remove()
    if not caught:
        raise CnnEduError(f"Layer '{layer_name}' is not used in the forward pass.")
    out = caught[0]
    if out.dim() != 4:
        raise CnnEduError(f"Layer '{layer_name}' outputs {list(out.shape[1:])}, not maps [C, h, w]: it comes "
                          "after the Flatten.", "Choose a convolution, ReLU or pooling layer.")
    acts = out[0].to("cpu", torch.float32).numpy()
    channels, h, w = acts.shape
    spread = acts.reshape(channels, -1)
    dead = int(np.sum(spread.max(axis=1) - spread.min(axis=1) < 1e-12))
    shown = min(channels, max_maps)
    if shared_scale:
        lo, hi = float(acts[:shown].min()), float(acts[:shown].max())
        tiles = [to_uint8(a, lo, hi) for a in acts[:shown]]
    else:
        tiles = [to_uint8(a) for a in acts[:shown]]
    image_grid = tile_grid(tiles, columns=columns, scale=scale)
    return FeatureMaps(layer=layer_name, activations=acts, image=image_grid, shown=shown, channels=channels,
                       size=(h, w), dead=dead, shared_scale=shared_scale)


def _input_shape(spec: Spec | dict[str, Any] | None, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    if input_shape is not None:
        return tuple(int(v) for v in input_shape)
    if spec is None:
        raise CnnEduError("feature_map_layers needs the spec or the input shape.")
    shape = spec.input_shape if isinstance(spec, Spec) else spec["input_shape"]
    return tuple(int(v) for v in shape)


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One forward pass in eval mode without gradients (the model's mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(x)
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------------- predictions


def normalize(x_uint8: torch.Tensor | np.ndarray, meta: ModelMeta | dict[str, Any]) -> torch.Tensor:
    """uint8 images ``[N, C, H, W]`` (or one ``[C, H, W]``) → the float input the network was trained on:
    ``(pixel / 255 - mean) / std`` per channel, with the run's own mean and std."""
    m = as_meta(meta)
    x = torch.as_tensor(np.asarray(x_uint8) if not isinstance(x_uint8, torch.Tensor) else x_uint8)
    c = x.shape[-3]
    mean = torch.tensor(m.mean, dtype=torch.float32).view(c, 1, 1)
    std = torch.tensor(m.std, dtype=torch.float32).view(c, 1, 1)
    return (x.to(torch.float32) / 255.0 - mean) / std


def to_probs(output: torch.Tensor, kind: str) -> torch.Tensor:
    """The network's output as probabilities: softmax of logits, exp of log-probs, probs as they are."""
    if kind == "log_probs":
        return output.exp()
    if kind == "probs":
        return output
    return torch.softmax(output, dim=1)


def evaluate_predictions(model: nn.Module, meta: ModelMeta | dict[str, Any], x_uint8: Any,
                         batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Run PyTorch on uint8 images (a tensor ``[N, C, H, W]``, or a Dataset: its test split) and return
    ``(predicted classes int64 [N], probabilities float32 [N, K])``."""
    if hasattr(x_uint8, "test_x"):
        x_uint8 = x_uint8.test_x
    m = as_meta(meta)
    preds, probs = [], []
    for start in range(0, len(x_uint8), batch_size):
        out = _forward(model, normalize(x_uint8[start:start + batch_size], m))
        p = to_probs(out, m.output)
        probs.append(p)
        preds.append(out.argmax(1))
    if not probs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, m.num_classes), dtype=np.float32)
    return torch.cat(preds).numpy().astype(np.int64), torch.cat(probs).numpy().astype(np.float32)


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
    source: str  # "results.json" or "recomputed"

    def most_confused(self, k: int = 3) -> list[tuple[str, str, int]]:
        """The ``k`` largest off-diagonal cells as (true class, predicted class, count)."""
        cells = [(self.classes[i], self.classes[j], n) for i, row in enumerate(self.matrix)
                 for j, n in enumerate(row) if i != j and n > 0]
        return sorted(cells, key=lambda c: -c[2])[:k]


def confusion_from_predictions(y: Sequence[int] | np.ndarray | torch.Tensor, preds: Sequence[int] | np.ndarray,
                               classes: Sequence[str], source: str = "recomputed") -> Confusion:
    """Count true/predicted pairs into a ``[K, K]`` matrix (rows: true class, columns: predicted class)."""
    labels = np.asarray(y.numpy() if isinstance(y, torch.Tensor) else y, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    k = len(classes)
    matrix = np.bincount(labels * k + preds, minlength=k * k).reshape(k, k)
    return _confusion(list(classes), matrix.tolist(), source)


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
    from cnnedu.runs.store import run_dir

    results_file = run_dir(run_id) / "results.json"
    results = _read_json(results_file) if results_file.is_file() else None
    if results and results.get("confusion") and results.get("classes"):
        return _confusion(list(results["classes"]), results["confusion"], "results.json")
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
    from cnnedu.runs.store import get_run
    from cnnedu.training.checks import resolve_spec
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.run_data import load_data

    run = get_run(run_id, check=False)
    config = TrainConfig.from_dict(run.config)
    spec_file = _run_folder(run_id) / "spec.json"
    spec = resolve_spec(json.loads(spec_file.read_text())) if spec_file.is_file() else resolve_spec(config.arch)
    ds = load_data(dataclasses.replace(config, n_train=1, convert_input=True), spec)
    return RunData(x=ds.test_x, y=ds.test_y, classes=list(ds.classes), title=ds.title,
                    warnings=list(ds.warnings))


def _run_folder(run_id: str) -> Path:
    from cnnedu.runs.store import run_dir

    return run_dir(run_id)


# ------------------------------------------------------------------------------ a model with its metadata


@dataclass
class LoadedModel:
    """A network ready to inspect or export: the module (CPU, eval), its spec, its ONNX metadata, and
    where it came from (``source`` "run" or "preset"; ``notes`` say what was assumed)."""

    model: nn.Module
    spec: Spec
    meta: ModelMeta
    source: str
    name: str
    notes: list[str] = field(default_factory=list)
    weights_mtime: float | None = None


def as_meta(meta: ModelMeta | dict[str, Any]) -> ModelMeta:
    """A run's ``meta.json`` dict (or a ModelMeta) as a :class:`ModelMeta`."""
    if isinstance(meta, ModelMeta):
        return meta
    try:
        return ModelMeta(classes=list(meta["classes"]), input_shape=tuple(int(v) for v in meta["input_shape"]),
                         channel_order=meta.get("channel_order") or ("L" if meta["input_shape"][0] == 1 else "RGB"),
                         mean=[float(v) for v in meta["mean"]], std=[float(v) for v in meta["std"]],
                         output=meta.get("output", "logits"), arch=str(meta.get("arch", "")),
                         spec=meta.get("spec"), training=meta.get("training"))
    except (KeyError, TypeError, ValueError) as err:
        raise RunStoreError(f"The run's meta.json is incomplete or damaged ({err}).",
                            "Train the run again.") from None


def run_model(run_id: str) -> LoadedModel:
    """A run's trained network and the metadata an ONNX file needs: a finished or cancelled run, or one
    interrupted (or failed) after an epoch's checkpoint; ``notes`` then say which epoch the weights are from."""
    from cnnedu.runs.store import get_run, load_model, run_dir, weights_note

    model, spec, meta = load_model(run_id)
    weights = run_dir(run_id) / "model.pt"
    mtime = weights.stat().st_mtime if weights.is_file() else None
    note = weights_note(get_run(run_id, check=False))
    notes = [f"the run was {note} (not the finished network)"] if note else []
    return LoadedModel(model=model, spec=spec, meta=as_meta(meta), source="run", name=run_id,
                       notes=notes, weights_mtime=mtime)


def preset_classes(preset_id: str, num_classes: int) -> tuple[list[str], str]:
    """Class names for an untrained preset: its dataset's names when the count fits, else "0".."k-1".
    Returns (names, where they came from)."""
    from cnnedu.arch.zoo import get_preset

    dataset = get_preset(preset_id).dataset
    names: list[str] | None = None
    if dataset == "fashion-mnist":
        from cnnedu.data.mnist import FASHION_CLASSES as names
    elif dataset == "mnist":
        from cnnedu.data.mnist import MNIST_CLASSES as names
    elif dataset == "cifar10":
        from cnnedu.data.cifar import CLASSES as names
    if names is not None and len(names) == num_classes:
        return list(names), f"the class names of {dataset}"
    return [str(i) for i in range(num_classes)], f'the class numbers "0".."{num_classes - 1}"'


def preset_model(preset_id: str, seed: int = 0) -> LoadedModel:
    """A coursework preset with fresh, *untrained* weights (``torch.manual_seed(seed)``) and default
    metadata: its dataset's class names (or "0".."k-1") and mean = std = 0.5 per channel, which maps
    pixels 0..1 to -1..1. Useful to try export and prediction; its predictions mean nothing."""
    from cnnedu.arch.nets import build_model
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec(preset_id)
    torch.manual_seed(seed)
    model = build_model(spec).eval()
    classes, where = preset_classes(preset_id, spec.num_classes)
    c = spec.input_shape[0]
    from cnnedu.onnx.export import meta_for_spec

    meta = meta_for_spec(spec, classes, mean=[DEFAULT_MEAN] * c, std=[DEFAULT_STD] * c, arch=preset_id,
                         training={"trained": False, "seed": seed})
    notes = [f"untrained weights (random, seed {seed}): the predictions mean nothing until it is trained",
             f"classes: {where}",
             f"normalization: mean {DEFAULT_MEAN}, std {DEFAULT_STD} per channel (pixels 0..1 → -1..1)"]
    return LoadedModel(model=model, spec=spec, meta=meta, source="preset", name=preset_id, notes=notes)


def load_for_export(name: str) -> LoadedModel:
    """A run id or a preset id → :class:`LoadedModel` (runs first, since a run id is never a preset id)."""
    from cnnedu.arch.zoo import PRESETS
    from cnnedu.runs.store import get_run

    if name in PRESETS:
        return preset_model(name)
    try:
        get_run(name, check=False)
    except RunStoreError as err:
        hint = err.fix if err.fix and err.fix.startswith("Did you mean") else \
            f"`python -m cnnedu runs` lists the runs; presets: {', '.join(PRESETS)}."
        raise RunStoreError(f"'{name}' is neither a run nor a preset.", hint) from None
    return run_model(name)
