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

The network's last layer decides how scores become probabilities: logits go through softmax,
log-probabilities through exp, and probabilities are used as they are.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cnnedu.errors import PredictError
from cnnedu.images import (
    MB,
    UPLOAD_LIMIT_MB,
    Decoded,
    ImageSource,
    Prepared,
    decode_image,
    load_image,
    prepare,
)
from cnnedu.onnxmeta import ModelMeta, has_cnnedu_props

__all__ = ["Decoded", "Guess", "ModelMeta", "OnnxModel", "Prediction", "Prepared", "clear_session_cache",
           "decode_image", "load_image", "predict", "prepare", "to_probs"]

MAX_MODEL_BYTES = UPLOAD_LIMIT_MB * MB  # the upload limit: a model is uploaded like an image
SESSION_CACHE_SIZE = 4

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
        import onnx

        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise PredictError(f"Expected the bytes of an ONNX file, got {type(data).__name__}.")
        data = bytes(data)
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
        dtype = _NUMPY_TYPES.get(inp.type.tensor_type.elem_type)
        if dtype is None:
            raise PredictError("This model's input is not a floating-point tensor.",
                               "cnnedu feeds float32 images; export the network in float32.")
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
        _session(sha, data)  # open it now, so a model onnxruntime cannot run is refused at load time
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
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise PredictError(f"The model file is {size / MB:.1f} MB; cnnedu loads models up to "
                                   f"{max_bytes / MB:.0f} MB.", "Export a smaller network.")
            data = path.read_bytes()
        except OSError as err:
            raise PredictError(f"Cannot read the model file {path}: {err.strerror or err}.") from None
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
                         channel_order="L" if c == 1 else "RGB", mean=[0.0] * c, std=[1.0] * c,
                         output="logits", arch=self.name or "uploaded model")

    # --- running

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run a prepared float batch [N, C, H, W] and return the raw output [N, K]."""
        session = _session(self.sha256, self.data)
        batch = np.ascontiguousarray(batch, dtype=self.input_dtype)
        fixed_batch = self.input_dims[0]
        try:
            if isinstance(fixed_batch, int) and fixed_batch != batch.shape[0]:
                # A model exported with a fixed batch size: feed it that many at a time.
                if batch.shape[0] % fixed_batch:
                    raise PredictError(f"This model only takes batches of exactly {fixed_batch} images.",
                                       "Export it with a dynamic batch dimension.")
                parts = [session.run([self.output_name], {self.input_name: batch[i:i + fixed_batch]})[0]
                         for i in range(0, batch.shape[0], fixed_batch)]
                out = np.concatenate(parts)
            else:
                out = session.run([self.output_name], {self.input_name: batch})[0]
        except PredictError:
            raise
        except Exception as err:
            raise PredictError(f"onnxruntime could not run the model on this input: {_first_line(err)}",
                               "Check the input shape the model expects.") from None
        out = np.asarray(out)
        if out.ndim != 2 or out.shape[0] != batch.shape[0]:
            raise PredictError(f"The model returned shape {list(out.shape)}; cnnedu expects [batch, classes].",
                               "Export a network that ends with one score per class.")
        return out

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
    probs = to_probs(raw, meta.output)
    k = max(1, min(int(top_k), meta.num_classes))
    results = []
    for row_raw, row, prep in zip(raw, probs, prepared, strict=True):
        order = np.argsort(-row, kind="stable")[:k]
        top = [Guess(label=meta.classes[j], index=int(j), prob=float(row[j])) for j in order]
        results.append(Prediction(top=top, probs=row, raw=row_raw, prepared=prep))
    return results


def to_probs(raw: np.ndarray, output: str) -> np.ndarray:
    """Turn raw outputs [N, K] into probabilities: softmax for logits, exp for log-probs, as-is for probs."""
    raw = np.asarray(raw, dtype=np.float64)
    if output == "logits":
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
    elif output == "log_probs":
        probs = np.exp(raw)
    elif output == "probs":
        probs = raw
    else:
        raise PredictError(f"Unknown output kind {output!r}; expected logits, probs or log_probs.")
    return probs.astype(np.float32)


def _is_single(images: Any) -> bool:
    from PIL import Image

    return isinstance(images, (bytes, bytearray, str, os.PathLike, Image.Image, Decoded, Prepared))


# -------------------------------------------------------------------------------------- session cache

_sessions: OrderedDict[str, Any] = OrderedDict()
_sessions_lock = threading.Lock()


def _session(sha256: str, data: bytes) -> Any:
    """The onnxruntime session for these bytes, from a small LRU cache keyed by their SHA-256.

    ``InferenceSession.run`` is thread-safe, so Streamlit sessions can share one; creating one is slow
    (it optimizes the graph), which is why we keep the last few.
    """
    with _sessions_lock:
        session = _sessions.get(sha256)
        if session is not None:
            _sessions.move_to_end(sha256)
            return session
    # Built outside the lock, so a big model loading does not hold up predictions with cached ones.
    # Two threads may build the same session at once; the second simply replaces the first.
    session = _new_session(data)
    with _sessions_lock:
        _sessions[sha256] = session
        _sessions.move_to_end(sha256)
        while len(_sessions) > SESSION_CACHE_SIZE:
            _sessions.popitem(last=False)
    return session


def _new_session(data: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    # Idle worker threads sleep instead of spinning: on a 2-core server the app's training job and other
    # users need those cores more than a prediction needs its last 0.1 ms.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise PredictError(f"onnxruntime cannot load this model: {_first_line(err)}",
                           "Export it again with a recent PyTorch; cnnedu runs it on the CPU.") from None


def clear_session_cache() -> None:
    """Forget all cached onnxruntime sessions (frees their memory)."""
    with _sessions_lock:
        _sessions.clear()


# ------------------------------------------------------------------------------------------------ helpers

_NUMPY_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}  # onnx.TensorProto FLOAT, FLOAT16, DOUBLE


def _dims(value_info: Any) -> tuple[int | str | None, ...] | None:
    tensor = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type") or not tensor.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)


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
