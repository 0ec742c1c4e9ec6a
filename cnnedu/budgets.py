"""Every limit cnnedu puts on what a user can make it do, in one place.

A classroom server is shared by 40 students: one student's huge number, hostile file or runaway network
must get a clear message, never take the memory, the cores or the disk away from everyone else. Each
limit here is far above what the coursework needs (the largest coursework net, ResNet-50 on 224×224
images, is noted beside each) and is shown to the user in the message that enforces it.

Limits a server owner may want to change read an environment variable (given in the comment).
"""

from __future__ import annotations

import os

MB = 1024 * 1024
GB = 1024 * MB


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ[name])
    except (KeyError, ValueError):
        return default
    return value if 0 < value < float("inf") else default  # "abc", 0, -3, nan, inf, 1e400: the default


# ------------------------------------------------------------------------------------- what is typed in

#: A layer's whole numbers (channels, kernel, stride, padding, features): ResNet-50 needs 2,048.
MAX_WHOLE = 1_000_000
#: One side of an input image: the coursework's largest is 224.
MAX_INPUT_SIDE = 4096
#: Values in one input image (channels × height × width): 3×224×224 is 150,528.
MAX_INPUT_VALUES = 3 * 2048 * 2048
#: Layers in one network: ResNet-50 written out layer by layer has about 180.
MAX_LAYERS = 2000
#: Characters in a layer's name.
MAX_NAME = 64
#: How deeply JSON (a spec, answers, a config) may nest: a spec needs 4 levels.
MAX_JSON_DEPTH = 32
#: Characters in a JSON document typed or uploaded (a spec, answers, a config).
MAX_JSON_CHARS = 2 * MB
#: Digits in one JSON number: Python refuses over 4,300 with a traceback; no field needs over 20.
MAX_JSON_DIGITS = 30

# ------------------------------------------------------------------------------------------ files

#: The largest upload, in MB as Streamlit counts them: the same number as ``maxUploadSize`` in
#: .streamlit/config.toml, so the uploader, its help text and the error agree.
UPLOAD_LIMIT_MB = 50
MAX_FILE_BYTES = UPLOAD_LIMIT_MB * MB
#: Pixels an image may claim before it is decoded (a decompression bomb claims billions).
MAX_PIXELS = 40_000_000

# -------------------------------------------------------------------------------- running a model

#: Seconds one prediction on an uploaded ONNX model may take (ResNet-50 on one image: ~0.1 s).
#: ``$CNNEDU_PREDICT_SECONDS``.
PREDICT_SECONDS = _env_number("CNNEDU_PREDICT_SECONDS", 20.0)
#: Memory the process running an uploaded ONNX model may use (ResNet-50: ~0.5 GB).
#: ``$CNNEDU_PREDICT_MEMORY_MB``.
PREDICT_MEMORY_BYTES = int(_env_number("CNNEDU_PREDICT_MEMORY_MB", 2048) * MB)
#: onnxruntime threads one uploaded model may use, so that one upload cannot take every core.
PREDICT_THREADS = 1
#: Model processes kept alive between predictions (one per recently used model; busy ones are never
#: stopped to make room): each idle one holds its model's weights, ~50 MB plus the file.
PREDICT_PROCESSES = 4
#: Steps of a Loop an uploaded graph may take (the product over nested loops). An image classifier
#: exported by torch.onnx has no loop at all; a Loop must have a constant trip count up to this.
MAX_LOOP_STEPS = 10_000
#: Nodes in an uploaded graph, subgraphs included (ResNet-50 exported by torch.onnx: ~180).
MAX_GRAPH_NODES = 100_000

# ------------------------------------------------------------------------- a model's cnnedu metadata

#: Class names one model may have (ImageNet: 1,000).
MAX_CLASSES = 10_000
#: Characters in one class name, and in the other short metadata strings (arch, channel order, output).
MAX_NAME_CHARS = 200
#: A normalization mean, in 0..1 units, lies within ±this (a typical one is 0.1 to 0.5).
MAX_NORM_MEAN = 10.0
#: A normalization std, in 0..1 units, lies in this range (a typical one is 0.2 to 0.35).
NORM_STD_RANGE = (1e-3, 100.0)

# ------------------------------------------------------------------------------------------ training

#: Memory one training run may use for its network: weights, gradients, optimizer state and the
#: activations of one batch (ResNet-50 on CIFAR-10 at batch 128: ~2.5 GB). ``$CNNEDU_RUN_MEMORY_MB``.
RUN_MEMORY_BYTES = int(_env_number("CNNEDU_RUN_MEMORY_MB", 4096) * MB)
#: Images a run may take from a dataset (n_train, n_test): MNIST has 60,000, CIFAR-10 50,000.
MAX_IMAGES = 1_000_000
#: Above this share of the budget a run starts with a warning.
RUN_MEMORY_WARN = 0.5

# ------------------------------------------------------------------ the NumPy network from scratch (003)

#: The side (features, or height and width) of a gradient check's small input: the centred difference
#: runs the layer twice per input value, in Python loops (16: conv_im2col on x 2×2×16×16, ~1 s; batch 8, ~4 s).
SCRATCH_MAX_SIZE = 16
#: Examples in a gradient check's batch.
SCRATCH_MAX_BATCH = 8
#: Values in the data a NumPy-vs-torch training comparison may take (examples × features; 5,000,000
#: float64 values are 40 MB: 1,000 eye images of 1×36×120).
SCRATCH_MAX_VALUES = 5_000_000
#: Eye images (1×36×120) the From-scratch page trains its comparison on.
SCRATCH_MAX_IMAGES = 1_000
#: Units in one hidden layer, and hidden layers, of that comparison's network.
SCRATCH_MAX_HIDDEN = 1024
SCRATCH_MAX_LAYERS = 8
#: Epochs of that comparison.
SCRATCH_MAX_EPOCHS = 50
#: Steps (batches) the From-scratch page trains in one go, so that it answers within seconds: both networks
#: take one step of a 4,320-100-100-4 net on 50 images in about 2 ms.
SCRATCH_MAX_STEPS = 2_000
