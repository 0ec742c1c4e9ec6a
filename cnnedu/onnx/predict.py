"""Predict with an exported ONNX model in onnxruntime: load the file safely, prepare images, rank classes.

    model = OnnxModel.from_path("lenet.onnx")       # or OnnxModel.from_bytes(uploaded.getvalue())
    [p] = predict(model, "cat.jpg", top_k=3)
    p.label, p.prob                                  # "cat", 0.83
    p.prepared.notes                                 # ["converted RGB → gray (L)", "resized ..."]

An ONNX file is untrusted input like an image: :meth:`OnnxModel.from_bytes` refuses files over a size cap,
bytes that are not an ONNX model, models whose weights live in *external data* files (onnxruntime would
read those from disk paths named inside the model), and models whose input is not an image batch
``[N, C, H, W]``. A file without cnnedu's metadata still loads — ``needs_meta`` is then True and the
caller supplies the input shape and class names with :meth:`OnnxModel.with_meta`.

How scores become probabilities (softmax of logits, ...) is ``cnnedu.onnx.scores.to_probs``.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cnnedu.budgets import (
    MAX_CLASSES,
    MAX_GRAPH_NODES,
    MAX_INPUT_SIDE,
    MAX_INPUT_VALUES,
    MAX_LOOP_STEPS,
    MB,
    UPLOAD_LIMIT_MB,
)
from cnnedu.errors import PredictError
from cnnedu.onnx import sandbox
from cnnedu.onnx.meta import ModelMeta, has_cnnedu_props
from cnnedu.onnx.scores import to_probs
from cnnedu.vision.images import (
    Decoded,
    ImageSource,
    Prepared,
    decode_image,
    load_image,
    prepare,
    read_regular_file,
)
from cnnedu.vision.pixels import mode_for_channels

__all__ = ["Decoded", "Guess", "ModelMeta", "OnnxModel", "Prediction", "Prepared", "clear_session_cache",
           "decode_image", "load_image", "predict", "prepare", "to_probs"]

MAX_MODEL_BYTES = UPLOAD_LIMIT_MB * MB  # the upload limit: a model is uploaded like an image
RUN_CHUNK = 16  # images per call into the model's process: each call gets PREDICT_SECONDS

_ONNX_FIX = ("Upload a .onnx file exported by cnnedu (on the Predict page, choose \"A finished training run\" "
             "and press Download the .onnx; or run `python -m cnnedu export`) or by torch.onnx.export.")


@dataclass
class Guess:
    """One ranked class: its name, its index among the network's outputs, and its probability."""

    label: str
    index: int
    prob: float


@dataclass
class Prediction:
    """The network's answer for one image."""

    top: list[Guess]          # the top-k classes, most probable first
    probs: np.ndarray         # probability of every class, float32 [num_classes]
    raw: np.ndarray           # the network's raw output row (logits, probs or log-probs)
    prepared: Prepared        # the input as the network saw it, with notes on how it was made

    @property
    def label(self) -> str:
        return self.top[0].label

    @property
    def index(self) -> int:
        return self.top[0].index

    @property
    def prob(self) -> float:
        return self.top[0].prob


# --------------------------------------------------------------------------------------------- the model


class OnnxModel:
    """A checked ONNX model ready for onnxruntime, with its cnnedu metadata (or ``None``)."""

    def __init__(self, data: bytes, *, sha256: str, meta: ModelMeta | None, input_name: str, output_name: str,
                 input_dims: tuple[int | str | None, ...], output_dims: tuple[int | str | None, ...],
                 input_dtype: Any, opset: int, producer: str, props: dict[str, str], name: str | None):
        self.data = data
        self.sha256 = sha256
        self.meta = meta
        self.input_name = input_name
        self.output_name = output_name
        self.input_dims = input_dims      # e.g. ("batch", 1, 28, 28); a str or None is a dynamic dimension
        self.output_dims = output_dims
        self.input_dtype = input_dtype
        self.opset = opset
        self.producer = producer
        self.props = props
        self.name = name
        self.meta_problem: str | None = None  # why the file's cnnedu metadata could not be used, if it has some

    # --- loading

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = MAX_MODEL_BYTES, name: str | None = None) -> OnnxModel:
        """Check ``data`` and open an onnxruntime session for it; refuse anything unsafe or unusable."""
        data = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        proto = _checked_proto(data, max_bytes)
        inp, out, input_dims, dtype = _image_input(proto)
        props = {p.key: p.value for p in proto.metadata_props}
        meta, meta_problem = None, None
        if has_cnnedu_props(props):
            try:
                meta = ModelMeta.from_props(props)
            except PredictError as err:  # damaged metadata: load anyway and let the user describe it
                meta_problem = str(err)
        sha = hashlib.sha256(data).hexdigest()
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        model = cls(data, sha256=sha, meta=None, input_name=inp.name, output_name=out.name,
                    input_dims=input_dims, output_dims=_dims(out) or (), input_dtype=dtype, opset=opset,
                    producer=f"{proto.producer_name} {proto.producer_version}".strip(), props=props, name=name)
        model.meta_problem = meta_problem
        sandbox.model_process(sha, data)  # load it now: a model onnxruntime cannot load is refused here
        if meta is not None:
            try:
                return model.with_meta(meta)
            except PredictError as err:
                model.meta_problem = str(err)
        return model

    @classmethod
    def from_path(cls, path: str | os.PathLike, *, max_bytes: int = MAX_MODEL_BYTES) -> OnnxModel:
        """Read and check an ONNX file from disk (see :meth:`from_bytes`)."""
        path = Path(path)
        data = read_regular_file(path, max_bytes, what="model file",
                                 too_big_fix="Export a smaller network.", empty_fix=_ONNX_FIX)
        return cls.from_bytes(data, max_bytes=max_bytes, name=path.name)

    # --- metadata

    @property
    def needs_meta(self) -> bool:
        """True when the file has no usable cnnedu metadata: ask for the input shape and class names.

        ``meta_problem`` says why, when the file had cnnedu metadata that was damaged or did not fit.
        """
        return self.meta is None

    def with_meta(self, meta: ModelMeta) -> OnnxModel:
        """A copy of this model described by ``meta``, after checking it fits the graph's shapes."""
        problems = meta.problems()
        c, h, w = (tuple(meta.input_shape) + (None, None, None))[:3]
        if not problems:
            for axis, (want, have) in enumerate(zip((c, h, w), self.input_dims[1:], strict=True), start=1):
                if isinstance(have, int) and have != want:
                    problems.append(f"the model's input dimension {axis} is {have}, not {want} "
                                    f"(it expects {list(self.input_dims[1:])})")
            classes = self.output_dims[-1] if self.output_dims else None
            if isinstance(classes, int) and len(self.output_dims) == 2 and classes != meta.num_classes:
                problems.append(f"the model has {classes} outputs but {meta.num_classes} class names were given")
        if problems:
            raise PredictError("The model description does not fit this ONNX model: " + "; ".join(problems) + ".")
        copy = OnnxModel.__new__(OnnxModel)
        copy.__dict__.update(self.__dict__)
        copy.meta = replace(meta, input_shape=tuple(meta.input_shape))
        return copy

    def suggested_meta(self) -> ModelMeta:
        """A starting point for a form when ``needs_meta``: shapes from the graph, neutral normalization."""
        if self.meta is not None:
            return self.meta
        dims = [d if isinstance(d, int) else None for d in self.input_dims[1:]]
        c = dims[0] if dims[0] in (1, 3) else 3
        h, w = dims[1] or 224, dims[2] or 224
        classes = self.output_dims[-1] if self.output_dims and isinstance(self.output_dims[-1], int) else 10
        return ModelMeta(classes=[f"class {i}" for i in range(classes)], input_shape=(c, h, w),
                         channel_order=mode_for_channels(c), mean=[0.0] * c, std=[1.0] * c,
                         output="logits", arch=self.name or "uploaded model")

    # --- running

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run a prepared float batch [N, C, H, W] and return the raw output [N, K].

        The graph runs in a process of its own (cnnedu.onnx.sandbox), at most ``PREDICT_SECONDS`` per call of
        up to ``RUN_CHUNK`` images and within ``PREDICT_MEMORY_BYTES``; past a limit it is stopped and a
        PredictError says which limit."""
        batch = np.ascontiguousarray(batch, dtype=self.input_dtype)
        fixed_batch = self.input_dims[0]
        if isinstance(fixed_batch, int) and fixed_batch > 0 and fixed_batch != batch.shape[0]:
            # A model exported with a fixed batch size: feed it that many at a time.
            if batch.shape[0] % fixed_batch:
                raise PredictError(f"This model only takes batches of exactly {fixed_batch} images.",
                                   "Export it with a dynamic batch dimension.")
            chunk = fixed_batch
        else:
            chunk = fixed_batch if isinstance(fixed_batch, int) and fixed_batch > 0 else RUN_CHUNK
        proc = sandbox.model_process(self.sha256, self.data)
        parts = []
        for i in range(0, batch.shape[0], chunk):
            part = batch[i:i + chunk]
            out = proc.run(self.input_name, self.output_name, part, max_out_bytes=len(part) * MAX_CLASSES * 8)
            if out.ndim != 2 or out.shape[0] != part.shape[0]:
                raise PredictError(f"The model returned shape {list(out.shape)}; cnnedu expects [batch, classes].",
                                   "Export a network that ends with one score per class.")
            parts.append(out)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __repr__(self) -> str:
        what = self.meta.arch if self.meta else "no cnnedu metadata"
        return f"OnnxModel({self.name or self.sha256[:12]}, {list(self.input_dims)}, {what})"


# -------------------------------------------------------------------------------------------- predicting


def predict(model: OnnxModel, images: ImageSource | Decoded | Prepared | Sequence[ImageSource | Decoded | Prepared],
            top_k: int = 5, *, fit: str = "resize", background: str = "white",
            invert: bool = False) -> list[Prediction]:
    """Predict the top-k classes of each image (bytes, a path, a PIL image, or already ``Prepared``).

    All images go through onnxruntime in one batch. A bad image raises :class:`PredictError` saying
    which one (``image 2 of 3: ...``); the model stays loaded and usable.
    """
    meta = model.meta
    if meta is None and model.meta_problem:
        raise PredictError(model.meta_problem)  # it says what is wrong and how to fix it
    if meta is None:
        raise PredictError("This ONNX model has no cnnedu metadata, so cnnedu does not know its input size, "
                           "colours or class names.", "Enter them (OnnxModel.with_meta) and try again.")
    items = [images] if _is_single(images) else list(images)  # type: ignore[arg-type]
    if not items:
        return []
    prepared: list[Prepared] = []
    for i, item in enumerate(items, start=1):
        try:
            prepared.append(item if isinstance(item, Prepared)
                            else prepare(item, meta, fit=fit, background=background, invert=invert))
        except PredictError as err:
            if len(items) == 1:
                raise
            raise PredictError(f"Image {i} of {len(items)}: {err.message}", err.fix) from None
    raw = model.run(np.stack([p.array for p in prepared]))
    if raw.shape[1] != meta.num_classes:
        raise PredictError(f"The model returns {raw.shape[1]} scores but has {meta.num_classes} class names.",
                           "Give one class name per output.")
    if not np.isfinite(raw).all():
        nan = bool(np.isnan(raw).any())
        raise PredictError("The model's outputs are not numbers (NaN) — it may have diverged in training."
                           if nan else "The model's outputs are infinite — it may have diverged in training.",
                           "Train it again with a smaller learning rate (the Train page warns when a run "
                           "diverges), then export it again.")
    probs = to_probs(raw, meta.output)
    k = max(1, min(int(top_k), meta.num_classes))
    results = []
    for row_raw, row, prep in zip(raw, probs, prepared, strict=True):
        order = np.argsort(-row, kind="stable")[:k]
        top = [Guess(label=meta.classes[j], index=int(j), prob=float(row[j])) for j in order]
        results.append(Prediction(top=top, probs=row, raw=row_raw, prepared=prep))
    return results


def _is_single(images: Any) -> bool:
    from PIL import Image

    return isinstance(images, (bytes, bytearray, str, os.PathLike, Image.Image, Decoded, Prepared))


# -------------------------------------------------------------------------------------- model processes


def clear_session_cache() -> None:
    """Stop the processes that hold recently used models (frees their memory)."""
    sandbox.stop_all()


# ------------------------------------------------------------------------------------------------ helpers

_NUMPY_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}  # onnx.TensorProto FLOAT, FLOAT16, DOUBLE


def _checked_proto(data: bytes, max_bytes: int) -> Any:
    """The decoded ONNX model of ``data``, refused when too big, not ONNX, with external data or invalid."""
    import onnx

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PredictError(f"Expected the bytes of an ONNX file, got {type(data).__name__}.")
    if len(data) > max_bytes:
        raise PredictError(f"The model file is {len(data) / MB:.1f} MB; cnnedu loads models up to "
                           f"{max_bytes / MB:.0f} MB.", "Export a smaller network.")
    if not data:
        raise PredictError("The model file is empty.", _ONNX_FIX)
    try:
        proto = onnx.load_from_string(data)
    except Exception:
        raise PredictError("This file is not an ONNX model (it could not be decoded).", _ONNX_FIX) from None
    if not proto.graph.node and not proto.graph.output:
        raise PredictError("This file is not an ONNX model (it has no graph).", _ONNX_FIX)
    if _uses_external_data(proto.graph):
        raise PredictError("This ONNX model keeps its weights in separate external-data files, which "
                           "cnnedu does not read (they could point anywhere on the server's disk).",
                           "Export it as a single self-contained file (torch.onnx.export(..., "
                           "external_data=False)) or save it with onnx.save_model(..., "
                           "save_as_external_data=False).")
    try:
        onnx.checker.check_model(proto)
    except Exception as err:
        raise PredictError(f"This ONNX model is not valid: {_first_line(err)}", _ONNX_FIX) from None
    return proto


def _image_input(proto: Any) -> tuple[Any, Any, tuple[int | str | None, ...], Any]:
    """(input, output, input dims, numpy dtype) of a model taking one float image batch [N, C, H, W]."""
    initializers = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise PredictError(f"This ONNX model has {len(inputs)} inputs; cnnedu can feed one image batch.",
                           "Export a network that takes a single [N, C, H, W] image tensor.")
    if not proto.graph.output:
        raise PredictError("This ONNX model has no output.", _ONNX_FIX)
    inp, out = inputs[0], proto.graph.output[0]
    input_dims = _dims(inp)
    if input_dims is None or len(input_dims) != 4:
        shown = "unknown" if input_dims is None else f"{len(input_dims)}-D {list(input_dims)}"
        raise PredictError(f"This model's input is {shown}, not a 4-D image batch [N, C, H, W].",
                           "cnnedu predicts with image networks only.")
    _check_input_size(input_dims)
    _check_bounded(proto)
    dtype = _NUMPY_TYPES.get(inp.type.tensor_type.elem_type)
    if dtype is None:
        raise PredictError("This model's input is not a floating-point tensor.",
                           "cnnedu feeds float32 images; export the network in float32.")
    return inp, out, input_dims, dtype


def _dims(value_info: Any) -> tuple[int | str | None, ...] | None:
    tensor = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type") or not tensor.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)


def _check_input_size(dims: tuple[int | str | None, ...]) -> None:
    """Refuse an input whose fixed sizes are negative or beyond what cnnedu feeds (budgets)."""
    shown = "×".join(str(d) if d is not None else "?" for d in dims)
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise PredictError(f"This model's input has a negative size ({shown}).", _ONNX_FIX)
    c, h, w = dims[1:]
    if any(isinstance(d, int) and d > MAX_INPUT_SIDE for d in (h, w)):
        raise PredictError(f"This model's input is {shown}: larger than cnnedu's limit of {MAX_INPUT_SIDE} "
                           "pixels a side.", "Export a network for smaller images.")
    if all(isinstance(d, int) for d in (c, h, w)) and c * h * w > MAX_INPUT_VALUES:
        raise PredictError(f"This model's input is {shown}: {c * h * w:,} values per image, more than "
                           f"cnnedu's limit of {MAX_INPUT_VALUES:,}.", "Export a network for smaller images.")


_NO_LOOPS_FIX = ("An image classifier needs no loop: export the network with torch.onnx.export from a plain "
                 "PyTorch model (cnnedu's export does this).")


def _check_bounded(proto: Any) -> None:
    """Refuse a graph whose work cannot be bounded before it runs: a Loop or Scan whose number of steps
    is not a small constant (counted over nested loops), local functions that call themselves, or more
    than MAX_GRAPH_NODES nodes. The child process's time and memory limits are the backstop for the rest.
    """
    functions = {(f.domain, f.name): f for f in proto.functions}
    seen = 0

    def walk(nodes: Any, graph_tensors: Any, known: dict[str, Any], factor: int, calling: tuple) -> None:
        nonlocal seen
        known = {**known, **{t.name: t for t in graph_tensors}}
        for node in nodes:
            if node.op_type == "Constant" and node.output:
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        known[node.output[0]] = attr.t
                    elif attr.name == "value_int":
                        known[node.output[0]] = int(attr.i)
        for node in nodes:
            seen += 1
            if seen > MAX_GRAPH_NODES:
                raise PredictError(f"This model has more than {MAX_GRAPH_NODES:,} nodes; cnnedu runs graphs up "
                                   "to that size (ResNet-50 has about 180).", _ONNX_FIX)
            steps = 1
            if node.op_type in ("Loop", "Scan") and node.domain in ("", "ai.onnx"):
                steps = _loop_steps(node, known)
                if steps is None:
                    raise PredictError(f"This model contains a {node.op_type} whose number of steps is only "
                                       "known while it runs, so cnnedu cannot tell whether it ever ends.",
                                       _NO_LOOPS_FIX)
            total = factor * steps
            if total > MAX_LOOP_STEPS:
                raise PredictError(f"This model contains a {node.op_type} of {total:,} steps; cnnedu runs uploaded "
                                   f"models whose loops take at most {MAX_LOOP_STEPS:,} steps in all.",
                                   _NO_LOOPS_FIX)
            key = (node.domain, node.op_type)
            if key in functions:
                if key in calling:
                    raise PredictError(f"This model's function {node.op_type} calls itself, which would never "
                                       "end.", _ONNX_FIX)
                walk(functions[key].node, (), {}, total, calling + (key,))
            for attr in node.attribute:
                for graph in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    walk(graph.node, graph.initializer, known, total, calling)

    walk(proto.graph.node, proto.graph.initializer, {}, 1, ())


def _loop_steps(node: Any, known: dict[str, Any]) -> int | None:
    """How many times a Loop or Scan runs its body, when that is fixed in the file; None otherwise."""
    if node.op_type == "Loop":
        trip = node.input[0] if node.input else ""
        value = _constant_int(known.get(trip)) if trip else None
        return max(0, value) if value is not None else None
    attrs = {a.name: a for a in node.attribute}
    if "num_scan_inputs" not in attrs:
        return None
    count = int(attrs["num_scan_inputs"].i)
    axes = list(attrs["scan_input_axes"].ints) if "scan_input_axes" in attrs else [0] * count
    scanned = list(node.input)[-count:] if count > 0 else []
    lengths = []
    for name, axis in zip(scanned, axes + [0] * (len(scanned) - len(axes)), strict=True):
        tensor = known.get(name)
        dims = list(getattr(tensor, "dims", [])) if tensor is not None and not isinstance(tensor, int) else None
        if not dims or not -len(dims) <= axis < len(dims):
            return None
        lengths.append(int(dims[axis]))
    return max(lengths) if lengths else None


def _constant_int(tensor: Any) -> int | None:
    """The value of a one-element integer tensor (an initializer or a Constant's value), else None."""
    if isinstance(tensor, int):
        return tensor
    if tensor is None or math.prod(tensor.dims) != 1:
        return None
    from onnx import numpy_helper

    try:
        value = numpy_helper.to_array(tensor).reshape(-1)[0]
    except Exception:
        return None
    return int(value) if np.issubdtype(value.dtype, np.integer) else None


def _uses_external_data(graph: Any) -> bool:
    """Whether any tensor in the graph (or a subgraph, or a Constant node) points to an external file."""
    import onnx

    def external(t: Any) -> bool:
        return t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) > 0

    tensors = list(graph.initializer)
    for sparse in graph.sparse_initializer:
        tensors += [sparse.values, sparse.indices]
    if any(external(t) for t in tensors):
        return True
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t") and external(attr.t):
                return True
            if any(external(t) for t in attr.tensors):
                return True
            if attr.HasField("g") and _uses_external_data(attr.g):
                return True
            if any(_uses_external_data(g) for g in attr.graphs):
                return True
    return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= 300 else line[:297] + "..."
