"""What cnnedu writes into an exported ONNX file so that a predictor can use it without guessing.

An ONNX file holds the graph and the weights, but not what a prediction needs around them: the class
names, the input size, whether the image is gray or colour, the normalization the network was trained
with, and whether the last layer gives logits, probabilities or log-probabilities. cnnedu stores these as
``metadata_props`` — string key/value pairs inside the model — under the ``cnnedu.*`` keys below.
Structured values are JSON. This module is the only place that knows the key names. A training run keeps
the same fields in the ``meta.json`` beside its weights (:meth:`ModelMeta.to_dict` / :meth:`ModelMeta.from_dict`).

    meta = ModelMeta(classes=["cat", "dog"], input_shape=(3, 32, 32), channel_order="RGB",
                     mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25], output="logits", arch="lenet-cifar10")
    props = meta.to_props()            # {"cnnedu.classes": '["cat", "dog"]', ...}
    ModelMeta.from_props(props) == meta
    meta.to_dict()                     # the same fields for a run's meta.json, read back by from_dict

Pixels are normalized as ``x = (pixel / 255 - mean) / std``, per channel, with mean and std in 0..1 units.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from cnnedu.budgets import (
    MAX_CLASSES,
    MAX_INPUT_SIDE,
    MAX_INPUT_VALUES,
    MAX_JSON_CHARS,
    MAX_JSON_DEPTH,
    MAX_NAME_CHARS,
    MAX_NORM_MEAN,
    NORM_STD_RANGE,
)
from cnnedu.errors import PredictError, RunStoreError
from cnnedu.vision.pixels import mode_for_channels

PREFIX = "cnnedu."
KEY_CLASSES = "cnnedu.classes"
KEY_INPUT_SHAPE = "cnnedu.input_shape"
KEY_CHANNEL_ORDER = "cnnedu.channel_order"
KEY_MEAN = "cnnedu.mean"
KEY_STD = "cnnedu.std"
KEY_OUTPUT = "cnnedu.output"
KEY_ARCH = "cnnedu.arch"
KEY_SPEC = "cnnedu.spec"
KEY_TRAINING = "cnnedu.training"

#: Keys a predictor cannot work without; ``spec`` and ``training`` are optional extras.
REQUIRED_KEYS = (KEY_CLASSES, KEY_INPUT_SHAPE, KEY_CHANNEL_ORDER, KEY_MEAN, KEY_STD, KEY_OUTPUT, KEY_ARCH)
ALL_KEYS = REQUIRED_KEYS + (KEY_SPEC, KEY_TRAINING)

CHANNEL_ORDERS = ("L", "RGB")
OUTPUT_KINDS = ("logits", "probs", "log_probs")


@dataclass
class ModelMeta:
    """Everything a predictor needs to know about an exported network besides its weights.

    ``input_shape`` is (channels, height, width) of one image; ``channel_order`` is "L" (one gray channel)
    or "RGB"; ``mean``/``std`` have one value per channel; ``output`` says what the last layer returns.
    """

    classes: list[str]
    input_shape: tuple[int, int, int]
    channel_order: str
    mean: list[float]
    std: list[float]
    output: str = "logits"
    arch: str = ""
    spec: dict[str, Any] | None = None
    training: dict[str, Any] | None = None

    @property
    def channels(self) -> int:
        return self.input_shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def problems(self) -> list[str]:
        """What is inconsistent in this metadata, as sentences; an empty list means it is usable.

        Every value is bounded by cnnedu.budgets: a file's metadata is untrusted, and a predictor resizes
        every image to ``input_shape`` and keeps one score per class."""
        out: list[str] = []
        shape = tuple(self.input_shape) if isinstance(self.input_shape, (list, tuple)) else (self.input_shape,)
        if len(shape) != 3 or not all(_is_whole(v) and v > 0 for v in shape):
            out.append(f"input_shape must be three positive integers [channels, height, width], got {_short(shape)}")
            return out
        c, h, w = shape
        if h > MAX_INPUT_SIDE or w > MAX_INPUT_SIDE:
            out.append(f"input_shape {_short(shape)} is larger than cnnedu's limit of {MAX_INPUT_SIDE} pixels a side")
            return out
        if c * h * w > MAX_INPUT_VALUES:
            out.append(f"input_shape {_short(shape)} has {c * h * w:,} values; cnnedu feeds at most "
                       f"{MAX_INPUT_VALUES:,} per image")
            return out
        for label, value in (("channel_order", self.channel_order), ("output", self.output), ("arch", self.arch)):
            if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
                out.append(f"{label} must be a text of at most {MAX_NAME_CHARS} characters, got {_short(value)}")
        if out:
            return out
        if self.channel_order not in CHANNEL_ORDERS:
            out.append(f"channel_order must be 'L' or 'RGB', got {_short(self.channel_order)}")
        elif (self.channel_order == "L") != (c == 1) or c not in (1, 3):
            out.append(f"channel_order {self.channel_order!r} does not match {c} input channel(s) "
                       "(gray images have 1 channel and use 'L', colour images have 3 and use 'RGB')")
        if self.output not in OUTPUT_KINDS:
            out.append(f"output must be one of {', '.join(OUTPUT_KINDS)}, got {_short(self.output)}")
        if not isinstance(self.classes, (list, tuple)) or not self.classes:
            out.append("classes is empty: give one name per network output")
        elif len(self.classes) > MAX_CLASSES:
            out.append(f"there are {len(self.classes):,} class names; cnnedu takes at most {MAX_CLASSES:,}")
        elif not all(isinstance(name, str) for name in self.classes):
            out.append("every class name must be a string")
        else:
            long = next((name for name in self.classes if len(name) > MAX_NAME_CHARS), None)
            if long is not None:
                out.append(f"a class name has {len(long):,} characters; cnnedu takes at most {MAX_NAME_CHARS} "
                           f"(it begins {long[:20]!r})")
        lo, hi = NORM_STD_RANGE
        for label, values, ok, need in (
                ("mean", self.mean, lambda v: abs(v) <= MAX_NORM_MEAN, f"finite numbers between "
                 f"-{MAX_NORM_MEAN:g} and {MAX_NORM_MEAN:g} (in 0..1 units: pixel/255)"),
                ("std", self.std, lambda v: lo <= v <= hi, f"numbers between {lo:g} and {hi:g} (in 0..1 units: "
                 "pixel/255; a std of 0 would divide by zero)")):
            if not isinstance(values, (list, tuple)) or len(values) != c:
                out.append(f"{label} must have one value per channel ({c}), got {_short(values)}")
            elif not all(_is_number(v) and ok(v) for v in values):
                out.append(f"{label} must hold {need}, got {_short(values)}")
        return out

    def to_props(self) -> dict[str, str]:
        """The metadata as ONNX ``metadata_props``: string keys, string (JSON where structured) values."""
        props = {
            KEY_CLASSES: json.dumps(list(self.classes)),
            KEY_INPUT_SHAPE: json.dumps([int(v) for v in self.input_shape]),
            KEY_CHANNEL_ORDER: self.channel_order,
            KEY_MEAN: json.dumps([float(v) for v in self.mean]),
            KEY_STD: json.dumps([float(v) for v in self.std]),
            KEY_OUTPUT: self.output,
            KEY_ARCH: self.arch,
        }
        if self.spec is not None:
            props[KEY_SPEC] = json.dumps(self.spec)
        if self.training is not None:
            props[KEY_TRAINING] = json.dumps(self.training)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMeta:
        """Read the metadata back; a missing key or a bad value raises PredictError naming it."""
        missing = [key for key in REQUIRED_KEYS if key not in props]
        if missing:
            raise PredictError(f"The model's cnnedu metadata is incomplete: {', '.join(missing)} missing.",
                               "Export the model again with cnnedu, or enter the input shape and class "
                               "names by hand.")
        meta = cls(
            classes=_json(props, KEY_CLASSES, list),
            input_shape=tuple(_json(props, KEY_INPUT_SHAPE, list)),  # type: ignore[arg-type]
            channel_order=props[KEY_CHANNEL_ORDER],
            mean=_json(props, KEY_MEAN, list),
            std=_json(props, KEY_STD, list),
            output=props[KEY_OUTPUT],
            arch=props[KEY_ARCH],
            spec=_json(props, KEY_SPEC, dict) if KEY_SPEC in props else None,
            training=_json(props, KEY_TRAINING, dict) if KEY_TRAINING in props else None,
        )
        problems = meta.problems()
        if problems:
            raise PredictError("The model's cnnedu metadata has a bad value: " + "; ".join(problems) + ".",
                               "Export the model again with cnnedu, or enter the values by hand.")
        return meta


    def to_dict(self) -> dict[str, Any]:
        """The metadata as the JSON object of a run's ``meta.json`` (the run adds its own keys beside it)."""
        return {"classes": list(self.classes), "input_shape": [int(v) for v in self.input_shape],
                "channel_order": self.channel_order, "mean": list(self.mean), "std": list(self.std),
                "output": self.output, "arch": self.arch, "spec": self.spec, "training": self.training}

    @classmethod
    def from_dict(cls, meta: ModelMeta | dict[str, Any]) -> ModelMeta:
        """A run's ``meta.json`` object (or a ModelMeta, returned as it is) as a ModelMeta.

        Keys other than the fields (``run_id``, ``status``, ...) are the run's and are ignored; a missing
        ``channel_order`` follows from the channel count, a missing ``output`` is "logits". A file missing
        a field raises RunStoreError."""
        if isinstance(meta, ModelMeta):
            return meta
        try:
            shape = tuple(int(v) for v in meta["input_shape"])
            return cls(classes=list(meta["classes"]), input_shape=shape,  # type: ignore[arg-type]
                       channel_order=meta.get("channel_order") or mode_for_channels(shape[0]),
                       mean=[float(v) for v in meta["mean"]], std=[float(v) for v in meta["std"]],
                       output=meta.get("output", "logits"), arch=str(meta.get("arch", "")),
                       spec=meta.get("spec"), training=meta.get("training"))
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise RunStoreError(f"The run's meta.json is incomplete or damaged ({err}).",
                                "Train the run again.") from None


def has_cnnedu_props(props: dict[str, str]) -> bool:
    """Whether any ``cnnedu.*`` key is present (a file exported by cnnedu, possibly damaged)."""
    return any(key.startswith(PREFIX) for key in props)


def _json(props: dict[str, str], key: str, kind: type) -> Any:
    text = props[key]
    fix = "Export the model again with cnnedu."
    if not isinstance(text, str) or len(text) > MAX_JSON_CHARS:
        size = f"{len(text):,} characters" if isinstance(text, str) else type(text).__name__
        raise PredictError(f"The model's metadata {key} is too long ({size}; cnnedu reads up to "
                           f"{MAX_JSON_CHARS:,}).", fix)
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
    except (TypeError, ValueError):
        raise PredictError(f"The model's metadata {key} is not valid JSON: {text!r:.80}.", fix) from None
    if value is None or _depth(value) > MAX_JSON_DEPTH:
        raise PredictError(f"The model's metadata {key} nests more than {MAX_JSON_DEPTH} levels deep.", fix)
    if not isinstance(value, kind):
        raise PredictError(f"The model's metadata {key} should be a JSON {kind.__name__}, got {_short(value)}.", fix)
    return value


def _depth(value: Any, level: int = 1) -> int:
    """How deeply lists and dicts nest in a parsed JSON value (json.loads allows ~1000 levels)."""
    if level > MAX_JSON_DEPTH:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(v, level + 1) for v in children), default=level)


def _short(value: Any, limit: int = 80) -> str:
    """A value as it appears in a message, cut to ``limit`` characters (metadata can be megabytes)."""
    if isinstance(value, tuple):
        value = list(value)
    text = repr(value) if not isinstance(value, (list, dict)) else _short_json(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short_json(value: Any) -> str:
    try:
        return json.dumps(value if not isinstance(value, list) else value[:20])
    except (TypeError, ValueError):
        return repr(value)[:200]


def _is_whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
