"""Looking inside a trained network: its first-layer filters and its feature maps.

A CNN's first convolution looks straight at the pixels, so its weights can be drawn as little images
(003 Task 2.4, "visualize the first-layer convolutional filters"): a trained network's filters look like
edges, blobs and colour contrasts; an untrained one's look like noise. Deeper layers' *weights* mean little
to the eye, but their *outputs* — the feature maps — show what each channel responds to in one image.

    from cnnedu.onnx.load import run_model
    from cnnedu.vision import inspect_model as im
    loaded = run_model("r0003-mnist-cnn-fashion-mnist")          # weights + metadata of a finished run
    filters = im.first_conv_filters(loaded.model)                # .image: uint8 grid, .weights: raw tensor
    maps = im.feature_maps(loaded.model, loaded.spec, normalized_image, "conv2")

The pictures are drawn with :mod:`cnnedu.vision.grids`; a run's test images, predictions and confusion
matrix are in :mod:`cnnedu.vision.evaluate`. Nothing here draws with Streamlit; the pages do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnedu.arch.spec import Spec
from cnnedu.errors import CnnEduError
from cnnedu.vision.evaluate import eval_forward
from cnnedu.vision.grids import tile_grid, to_uint8

#: At most this many feature maps are drawn for one layer (ResNet stages have 256 channels).
MAX_MAPS = 64


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
        eval_forward(model, torch.zeros((1, *shape)))
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
        eval_forward(model, x)
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
