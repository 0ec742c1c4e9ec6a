"""The coursework model zoo: every network of the five coursework documents, as a spec.

Each ``Preset`` says where it comes from (the seed document and the task in it), which data it was
trained on, and what is worth noticing about it. ``preset.spec()`` gives the network as a ``Spec``
(see cnnedu/arch/spec.py) that cnnedu/arch/nets.py turns into a PyTorch model; a few presets take parameters,
such as the number of residual blocks per stage::

    from cnnedu.arch.zoo import preset_spec
    spec = preset_spec("resnet-cifar10", blocks=2)

Layers carry the names the documents give them (conv1, pool1, fc1, ...) so that the Build and Check
pages can be read side by side with the coursework. Where a document hard-codes the number of
features that reach the first fully connected layer (``nn.Linear(16 * 5 * 5, 120)``), the spec states
it too (``in_features``), so changing the input size shows the same error PyTorch would.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnedu.arch.spec import Spec, load_spec_file, parse_spec
from cnnedu.errors import SpecError

# ------------------------------------------------------------------------------------------- helpers


def _layer(type_: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """One layer of a spec: ``_layer("Conv2d", "conv1", out_channels=6, kernel_size=5)``."""
    layer: dict[str, Any] = {"type": type_}
    if name:
        layer["name"] = name
    layer.update(fields)
    return layer


def _conv(name: str, out_channels: int, kernel_size: int, **fields: Any) -> dict[str, Any]:
    return _layer("Conv2d", name, out_channels=out_channels, kernel_size=kernel_size, **fields)


def _fc(name: str, out_features: int, **fields: Any) -> dict[str, Any]:
    return _layer("Linear", name, out_features=out_features, **fields)


def _relu() -> dict[str, Any]:
    return _layer("ReLU")


def _flatten() -> dict[str, Any]:
    return _layer("Flatten")


# --------------------------------------------------------------------- 000: LeNet and MobileNet (CIFAR-10)


def _lenet(input_shape: tuple[int, int, int], bn: bool = False, fc1_in: int | None = None) -> dict:
    """000 Task 1.1: [conv 5×5 → (BN) → ReLU → max-pool 2] × 2, then FC 120 → 84 → 10."""
    layers = [_conv("conv1", 6, 5)]
    layers += [_layer("BatchNorm2d", "bn1")] if bn else []
    layers += [_relu(), _layer("MaxPool2d", "pool1", kernel_size=2, stride=2)]
    layers += [_conv("conv2", 16, 5)]
    layers += [_layer("BatchNorm2d", "bn2")] if bn else []
    layers += [_relu(), _layer("MaxPool2d", "pool2", kernel_size=2, stride=2)]
    fc1 = _fc("fc1", 120, in_features=fc1_in) if fc1_in else _fc("fc1", 120)
    layers += [_flatten(), fc1, _relu(), _fc("fc2", 84), _relu(), _fc("fc3", 10)]
    return {"input_shape": list(input_shape), "num_classes": 10, "layers": layers}


MOBILENET_CFG: list[int | tuple[int, int]] = [
    64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512, (1024, 2), 1024]
"""000 Task 1.7: output channels of the 13 blocks; (128, 2) means 128 channels with stride 2."""


def _mobilenet() -> dict:
    """000 Task 1.7: MobileNet v1 for 32×32 images."""
    layers = [_conv("conv1", 32, 3, padding=1, bias=False), _layer("BatchNorm2d", "bn1"), _relu()]
    for entry in MOBILENET_CFG:
        out_channels, stride = (entry, 1) if isinstance(entry, int) else entry
        layers.append(_layer("DepthwiseSeparable", out_channels=out_channels, stride=stride))
    layers += [_layer("AvgPool2d", "avg_pool", kernel_size=2), _flatten(),
               _fc("linear", 10, in_features=1024)]
    return {"input_shape": [3, 32, 32], "num_classes": 10, "layers": layers}


# ------------------------------------------------------------------------------- 001: LeNet5 (CIFAR-10)


def _lenet5(dropout: float | None = None) -> dict:
    """001: C1, S1, C2, C3, S2 (feature extractor), F6, F7, F8 (classifier), then softmax.

    With ``dropout``, a Dropout layer follows each of the two hidden FC+ReLU pairs (Exercise 2).
    """
    drop1 = [_layer("Dropout", "drop1", p=dropout)] if dropout is not None else []
    drop2 = [_layer("Dropout", "drop2", p=dropout)] if dropout is not None else []
    layers = [
        _conv("C1", 6, 5), _relu(), _layer("MaxPool2d", "S1", kernel_size=2, stride=2),
        _conv("C2", 16, 5), _relu(),
        _conv("C3", 120, 5), _relu(), _layer("MaxPool2d", "S2", kernel_size=6, stride=1),
        _flatten(),
        _fc("F6", 84, in_features=120), _relu(), *drop1,
        _fc("F7", 42), _relu(), *drop2,
        _fc("F8", 10),
        _layer("Softmax", "softmax"),
    ]
    return {"input_shape": [3, 32, 32], "num_classes": 10, "layers": layers}


# ------------------------------------------------------------------ 002: CNNs for MNIST / Fashion-MNIST


def _mnist_cnn() -> dict:
    """002 part a: the default CNN of mnist.py."""
    layers = [
        _conv("conv1", 16, 5), _relu(), _layer("MaxPool2d", "pool1", kernel_size=2),
        _conv("conv2", 32, 3), _relu(), _layer("MaxPool2d", "pool2", kernel_size=2),
        _flatten(), _fc("fc1", 128, in_features=800), _relu(), _fc("fc2", 10),
        _layer("LogSoftmax", "log_softmax"),
    ]
    return {"input_shape": [1, 28, 28], "num_classes": 10, "layers": layers}


def _mnist_cnn2() -> dict:
    """002 part b: the corrected CNN2 (padding 2 keeps each 5×5 conv's output the size of its input)."""
    layers = [
        _conv("conv1", 32, 5, padding=2), _relu(), _layer("MaxPool2d", "pool1", kernel_size=2),
        _conv("conv2", 64, 5, padding=2), _relu(), _layer("MaxPool2d", "pool2", kernel_size=2),
        _flatten(), _fc("fc1", 256, in_features=3136), _relu(), _fc("fc2", 10),
        _layer("LogSoftmax", "log_softmax"),
    ]
    return {"input_shape": [1, 28, 28], "num_classes": 10, "layers": layers}


def _fashion_cnn3(dropout: float) -> dict:
    """002 part d: CNN3, four 5×5 'same' convs with BatchNorm, two pools, dropout, one FC layer."""
    layers = [
        _conv("conv1", 16, 5, padding=2), _layer("BatchNorm2d", "bn1"), _relu(),
        _conv("conv2", 32, 5, padding=2), _layer("BatchNorm2d", "bn2"), _relu(),
        _conv("conv3", 64, 5, padding=2), _layer("BatchNorm2d", "bn3"), _relu(),
        _layer("MaxPool2d", "pool1", kernel_size=2),
        _conv("conv4", 128, 5, padding=2), _layer("BatchNorm2d", "bn4"), _relu(),
        _layer("MaxPool2d", "pool2", kernel_size=3, stride=1),
        _flatten(), _layer("Dropout", "dropout", p=dropout), _fc("fc1", 10, in_features=18432),
        _layer("LogSoftmax", "log_softmax"),
    ]
    return {"input_shape": [1, 28, 28], "num_classes": 10, "layers": layers}


# ------------------------------------------------------------------ 003: eye gaze, 1×36×120, 4 quadrants

GAZE_SHAPE = [1, 36, 120]


def _gaze_fc(hidden: int | list[int]) -> dict:
    """003 Tasks 1.6 / 1.10: fully connected layers with ReLU between them, on the flattened image.

    The document's weights W1, W2, ... become layers fc1, fc2, ...; ``hidden`` is one size or a list.
    """
    sizes = [hidden] if isinstance(hidden, int) else list(hidden)
    layers = [_flatten(), _fc("fc1", sizes[0], in_features=36 * 120), _relu()]
    for i, units in enumerate(sizes[1:], start=2):
        layers += [_fc(f"fc{i}", units), _relu()]
    layers.append(_fc(f"fc{len(sizes) + 1}", 4))
    return {"input_shape": GAZE_SHAPE, "num_classes": 4, "layers": layers}


def _gaze_cnn(bn: bool = False) -> dict:
    """003 Task 2.1 (2.3 with ``bn``): conv 3×3 and conv 5×5, each followed by ReLU and a max-pool
    (and, in Task 2.3, BatchNorm *after* the pool, as the document's forward does), then two FC layers."""
    layers = [_conv("conv1", 6, 3), _relu(), _layer("MaxPool2d", "pool1", kernel_size=2, stride=2)]
    layers += [_layer("BatchNorm2d", "bn1")] if bn else []
    layers += [_conv("conv2", 16, 5), _relu(), _layer("MaxPool2d", "pool2", kernel_size=2, stride=2)]
    layers += [_layer("BatchNorm2d", "bn2")] if bn else []
    layers += [_flatten(), _fc("fc1", 256, in_features=16 * 6 * 27), _relu(), _fc("fc2", 4)]
    return {"input_shape": GAZE_SHAPE, "num_classes": 4, "layers": layers}


# ------------------------------------------------------------------------------- 004: ResNets (CIFAR-10)

RESNET_STAGES = [64, 128, 256]
"""004: output channels of the three stacks; the first block of stacks 2 and 3 has stride 2."""


def _resnet(block: str, blocks: int, preact: bool) -> dict:
    """004: a 7×7 stem conv, three stacks of ``blocks`` residual blocks, global average pool, FC.

    Post-activation (``preact=False``): BN + ReLU right after the stem. Pre-activation: each block
    normalises its own input, so the stem is a bare conv and one BN + ReLU comes before the pool.
    Blocks are named after the document's print: stack_layers (0) → std_blocks (0) = stack0_block0.
    """
    layers = [_conv("conv1", 64, 7, padding=3, bias=False)]
    if not preact:
        layers += [_layer("BatchNorm2d", "start_bn"), _layer("ReLU", "start_relu")]
    for stack, out_channels in enumerate(RESNET_STAGES):
        for i in range(blocks):
            stride = 2 if stack > 0 and i == 0 else 1
            layers.append(_layer(block, f"stack{stack}_block{i}", out_channels=out_channels,
                                 stride=stride, preact=preact))
    if preact:
        layers += [_layer("BatchNorm2d", "output_bn"), _layer("ReLU", "output_relu")]
    layers += [_layer("AdaptiveAvgPool2d", "avg_pool", output_size=1), _flatten(),
               _fc("fc_layer", 10, in_features=RESNET_STAGES[-1])]
    return {"input_shape": [3, 32, 32], "num_classes": 10, "layers": layers}


# ----------------------------------------------------------------------------------------- the presets


@dataclass(frozen=True)
class Preset:
    """One coursework network and where it comes from.

    ``params`` maps each tunable setting to its default (``param_help`` says what it does);
    ``spec(**params)`` builds the network's spec with those settings.
    """

    id: str
    title: str
    source: str  # seed document, e.g. "000_73ac177a9b0566b3.txt"
    task: str  # where in that document, e.g. "Task 1.1"
    dataset: str  # what the document trained it on: "cifar10", "mnist", "fashion-mnist", "gaze (folder)"
    # (MPIIFaceGaze; offline, cnnedu's "gaze-synthetic" dataset draws a stand-in)
    description: str  # 1-3 sentences a student reads
    build: Callable[..., dict] = field(repr=False, compare=False)
    params: dict[str, Any] = field(default_factory=dict)
    param_help: dict[str, str] = field(default_factory=dict)

    def spec(self, **params: Any) -> Spec:
        """The network as a validated ``Spec``; ``params`` override the defaults in ``self.params``."""
        settings = {**self.params, **self._check_params(params)}
        spec_dict = self.build(**settings)
        spec_dict["name"] = self.title
        spec_dict["description"] = self.description
        return parse_spec(spec_dict)

    def _check_params(self, given: dict[str, Any]) -> dict[str, Any]:
        for key, value in given.items():
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise SpecError(f"Preset '{self.id}' has no setting '{key}'.",
                                f"Its settings: {known}.", field=key)
            _check_param(self.id, key, value)
        return given


def _check_param(preset_id: str, key: str, value: Any) -> None:
    """The few kinds of preset settings: block counts, hidden layer sizes and dropout rates."""
    where = f"Preset '{preset_id}': {key}"

    def whole(v: Any, low: int, high: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    if key == "blocks" and not whole(value, 1, 30):
        raise SpecError(f"{where} must be a whole number from 1 to 30, got {value!r}.", field=key)
    if key == "hidden":
        sizes = value if isinstance(value, (list, tuple)) else [value]
        if not 1 <= len(sizes) <= 20 or not all(whole(v, 1, 65536) for v in sizes):
            raise SpecError(f"{where} must be a whole number of hidden units, or a list of them "
                            f"(1 to 65536 each), got {value!r}.", field=key)
    if key == "dropout":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise SpecError(f"{where} must be a probability in [0, 1), got {value!r}.", field=key)


_DROPOUT_HELP = "probability that Dropout zeroes a feature while training"
_BLOCKS_HELP = "residual blocks per stack (the document's 'resnet size')"

_PRESET_LIST = [
    # ---- 000: LeNet, the network every later one is compared with
    Preset(
        "lenet-cifar10", "LeNet (CIFAR-10)", "000_73ac177a9b0566b3.txt", "Task 1.1", "cifar10",
        "The baseline CNN: two conv–ReLU–max-pool stages and three fully connected layers "
        "(400 → 120 → 84 → 10). The document reports 58.14% test accuracy after 10 epochs of SGD "
        "(learning rate 0.001, momentum 0.9, batch size 16).",
        lambda: _lenet((3, 32, 32), fc1_in=16 * 5 * 5),
    ),
    Preset(
        "lenet-64x64-gray", "LeNet on 64×64 grayscale", "000_73ac177a9b0566b3.txt", "Task 1.2",
        "fashion-mnist",
        "The Task 1.1 layers on a 1×64×64 input: fc1's input size is left for you to work out (the spec "
        "infers it). The document's hand calculation of the output sizes and parameters for this "
        "network has mistakes; try it on the Check page. The document trains nothing here; "
        "Fashion-MNIST resized to 64×64 is a ready grayscale stand-in.",
        lambda: _lenet((1, 64, 64)),
    ),
    Preset(
        "lenet-cifar10-bn", "LeNet + BatchNorm (CIFAR-10)", "000_73ac177a9b0566b3.txt", "Task 1.6",
        "cifar10",
        "Task 1.1's LeNet with a BatchNorm2d between each conv and its ReLU. The document measured "
        "56.33% against the baseline's 58.14%, a little worse after 10 epochs.",
        lambda: _lenet((3, 32, 32), bn=True, fc1_in=16 * 5 * 5),
    ),
    # ---- 002: CNNs on MNIST and Fashion-MNIST
    Preset(
        "mnist-cnn", "CNN (MNIST)", "002_5dc57961bc4d70d9.txt", "Part 1a", "mnist",
        "The default CNN of mnist.py: conv 5×5 (16) and conv 3×3 (32), each with ReLU and a 2×2 "
        "max-pool, leaving 32×5×5 = 800 features for FC 128 and FC 10. It ends in LogSoftmax, so it "
        "is trained with the negative log-likelihood loss (F.nll_loss).",
        _mnist_cnn,
    ),
    Preset(
        "mnist-cnn2", "CNN2, corrected (MNIST)", "002_5dc57961bc4d70d9.txt", "Part 1b", "mnist",
        "The corrected CNN2: padding 2 keeps each 5×5 conv's output the size of its input, so two 2×2 "
        "pools leave 64×7×7 = 3136 features for the 256-unit FC layer. Ends in LogSoftmax.",
        _mnist_cnn2,
    ),
    Preset(
        "fashion-cnn3", "CNN3 with BatchNorm and dropout (Fashion-MNIST)", "002_5dc57961bc4d70d9.txt",
        "Part 1d", "fashion-mnist",
        "Four 5×5 'same' convs with BatchNorm, a 2×2 max-pool and a 3×3 max-pool with stride 1 "
        "(14 → 12), then Dropout(0.05) and one Linear 128×12×12 = 18432 → 10. The document reports 87% "
        "after one epoch; note that it normalises Fashion-MNIST with MNIST's mean and std "
        "(0.1307, 0.3081) although part c asks to estimate them.",
        _fashion_cnn3, {"dropout": 0.05}, {"dropout": _DROPOUT_HELP},
    ),
    # ---- 001: LeNet5 with softmax output
    Preset(
        "lenet5-cifar10", "LeNet5 (CIFAR-10)", "001_abc7ab9de4061813.txt", "Architecture on CIFAR10",
        "cifar10",
        "LeNet-5 for 32×32 colour images: convs C1, C2, C3, pools S1, S2 and FC layers F6, F7, F8 "
        "(120 → 84 → 42 → 10). It ends in Softmax because the document's forward returns softmax "
        "probabilities next to the logits; a loss such as cross-entropy belongs on the logits (the "
        "text says L1Loss, but its logged losses start at ln 10 ≈ 2.30, a cross-entropy value).",
        _lenet5,
    ),
    Preset(
        "lenet5-cifar10-dropout", "LeNet5 + dropout (CIFAR-10)", "001_abc7ab9de4061813.txt",
        "Exercise 2", "cifar10",
        "Exercise 2: LeNet5 with two dropout layers at 25%. The document does not show where they go; "
        "here one follows each hidden FC + ReLU pair (after F6 and after F7), the usual place.",
        _lenet5, {"dropout": 0.25}, {"dropout": _DROPOUT_HELP},
    ),
    # ---- 003: eye-gaze quadrants — fully connected nets, then CNNs
    Preset(
        "gaze-fc2", "TwoLayerNet (eye gaze)", "003_21cfcb5578ce8830.txt", "Task 1.6", "gaze (folder)",
        "FC – ReLU – FC on the flattened 36×120 image of both eyes (4320 inputs), 128 hidden units, "
        "4 outputs: the quadrant the person looks at. The document writes it in NumPy, forward and "
        "backward passes by hand.",
        _gaze_fc,
        {"hidden": 128}, {"hidden": "units in the hidden layer"},
    ),
    Preset(
        "gaze-fc-deep", "FullyConnectedNet [100, 100, 100] (eye gaze)", "003_21cfcb5578ce8830.txt",
        "Task 1.10", "gaze (folder)",
        "Three hidden layers of 100 units, the document's best fully connected model (67.3% on its "
        "test split). Its parameter count in Task 3.1 has a mistake; try it on the Check page.",
        _gaze_fc,
        {"hidden": [100, 100, 100]}, {"hidden": "units in each hidden layer"},
    ),
    Preset(
        "gaze-cnn", "CNN without BatchNorm (eye gaze)", "003_21cfcb5578ce8830.txt", "Task 2.1",
        "gaze (folder)",
        "Conv 3×3 (6) and conv 5×5 (16), each with ReLU and a 2×2 max-pool, leaving 16×6×27 = 2592 "
        "features for FC 256 and FC 4; 61.0% test accuracy in the document. Its parameter count in "
        "Task 3.1 has a mistake; try it on the Check page.",
        _gaze_cnn,
    ),
    Preset(
        "gaze-cnn-bn", "CNN with BatchNorm (eye gaze)", "003_21cfcb5578ce8830.txt", "Task 2.3",
        "gaze (folder)",
        "Task 2.1's CNN with BatchNorm2d after each pooling layer (where the document's forward puts "
        "it, rather than between conv and ReLU); 76.0% test accuracy against 61.0% without. The "
        "document gives it the same parameter count as the CNN without BatchNorm; check that on the "
        "Check page.",
        lambda: _gaze_cnn(bn=True),
    ),
    # ---- 000 Task 1.7 and 004: deeper CIFAR-10 networks
    Preset(
        "mobilenet-cifar10", "MobileNet v1 (CIFAR-10)", "000_73ac177a9b0566b3.txt", "Task 1.7", "cifar10",
        "A 3×3 stem conv and 13 depthwise-separable blocks (a 3×3 conv per channel, then a 1×1 conv "
        "mixing channels), four of them with stride 2, then a 2×2 average pool and one Linear layer. "
        "Far fewer multiply-adds than ordinary 3×3 convs of the same width; the document ran out of "
        "computing power and reports no accuracy.",
        _mobilenet,
    ),
    Preset(
        "resnet-cifar10", "ResNet, standard blocks (CIFAR-10)", "004_9bd9eec40f530ee5.txt",
        "6.c (standard residual block)", "cifar10",
        "Post-activation basic blocks (conv-BN-ReLU-conv-BN, add, ReLU), 'resnet size' = blocks per "
        "stack, at 64, 128 and 256 channels; a 1×1 projection shortcut appears only where the shape "
        "changes. The document's print also lists a proj_shortcut per stack, beside the blocks' own, that "
        "its forward does not use (the first, Conv2d(32, 64), could not even take the 64-channel input), "
        "so they are left out. Its stem BatchNorm has momentum=0.997, a TensorFlow-style value that in "
        "PyTorch makes the running statistics almost those of the last batch; this preset keeps 0.1.",
        lambda blocks: _resnet("BasicBlock", blocks, preact=False),
        {"blocks": 3}, {"blocks": _BLOCKS_HELP},
    ),
    Preset(
        "resnet-cifar10-preact", "ResNet, pre-activation blocks (CIFAR-10)", "004_9bd9eec40f530ee5.txt",
        "6.c (full pre-activation)", "cifar10",
        "Full pre-activation basic blocks (BN-ReLU-conv, twice, then add), which the document names "
        "but does not print: the stem is a bare conv and one BN + ReLU comes before the pool. It has "
        "exactly as many parameters as the standard version — the BatchNorms only move.",
        lambda blocks: _resnet("BasicBlock", blocks, preact=True),
        {"blocks": 3}, {"blocks": _BLOCKS_HELP},
    ),
    Preset(
        "resnet-cifar10-bottleneck", "ResNet, pre-activation bottleneck (CIFAR-10)",
        "004_9bd9eec40f530ee5.txt", "6.c (second print, resnet size 2)", "cifar10",
        "The document's second print (titled 'Full pre-activation residual block'): pre-activation "
        "bottleneck blocks that squeeze to a quarter of the channels (1×1), convolve (3×3) and expand "
        "again (1×1), with the stride on the first 1×1 conv as printed. Working mostly on a quarter of "
        "the channels, it has far fewer parameters than the standard version.",
        lambda blocks: _resnet("Bottleneck", blocks, preact=True),
        {"blocks": 2}, {"blocks": _BLOCKS_HELP},
    ),
]

PRESETS: dict[str, Preset] = {preset.id: preset for preset in _PRESET_LIST}
"""Every coursework preset by id, in teaching order (LeNet first, ResNets last)."""


# The documents' own hand calculations, mistakes included, in the answers format of cnnedu/grading/read.py:
# the Check page offers them ("what did the student get wrong?") and the tests grade them.
DOCUMENT_ANSWERS: dict[str, dict[str, Any]] = {
    # 000 Task 1.2, as written (H×W×C, "120×1" for vectors): conv1 relu1 pool1 conv2 relu2 pool2 flatten1
    # fc1 relu3 fc2 relu4 fc3.
    "lenet-64x64-gray": {"layers": [
        {"output_shape": "60 x 60 x 6", "params": 156},  # 64 − 5 + 1 = 60; 5²×1×6 + 6
        None,
        {"output_shape": "30 x 30 x 6"},  # (60 − 2)/2 + 1 = 30
        {"output_shape": "26 x 26 x 16", "params": 416},  # 30 − 5 + 1 = 26; 5²×1×16 + 16
        None,
        {"output_shape": "15 x 15 x 16"},  # (30 − 2)/2 + 1 = 15
        None,
        {"output_shape": "120×1", "params": "432120"},  # 15²×16×120 + 120
        None,
        {"output_shape": "84×1", "params": 10164},
        None,
        {"output_shape": "20×1", "params": 850},
    ], "total_params": "443706"},  # 156 + 416 + 432120 + 10164 + 850
    # 003 Task 3.1: "(1*3*3*6+6)+0+(6*5*5*16+16)+0+(16*6*27*256)+256*4 = 667,052", for both CNNs,
    # and "36*120*100 + 100*100 + 100*100 + 100*4 = 452,400" for the fully connected net.
    "gaze-cnn": {"total_params": "667,052"},
    "gaze-cnn-bn": {"total_params": "667,052"},
    "gaze-fc-deep": {"total_params": "452,400"},
}


def get_preset(preset_id: str) -> Preset:
    """The preset with this id; a ``SpecError`` listing the valid ids if there is none."""
    if preset_id in PRESETS:
        return PRESETS[preset_id]
    raise SpecError(f"There is no preset '{preset_id}'.", _valid_ids_hint(preset_id))


def preset_spec(preset_id: str, **params: Any) -> Spec:
    """The spec of a preset, e.g. ``preset_spec("resnet-cifar10", blocks=2)``."""
    return get_preset(preset_id).spec(**params)


def resolve_arch(arch: str) -> Spec:
    """A spec from what a user typed: a preset id, or the path of a .json spec file."""
    arch = str(arch).strip()
    if arch in PRESETS:
        return preset_spec(arch)
    if arch.lower().endswith(".json") or Path(arch).is_file():
        return load_spec_file(arch)
    raise SpecError(f"'{arch}' is neither a preset nor a .json spec file.", _valid_ids_hint(arch))


def _valid_ids_hint(word: str) -> str:
    close = difflib.get_close_matches(word, list(PRESETS), n=1, cutoff=0.6)
    guess = f"Did you mean '{close[0]}'? " if close else ""
    return f"{guess}Presets: {', '.join(PRESETS)}; or give the path of a .json spec file."
