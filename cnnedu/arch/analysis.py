"""Layer-by-layer analysis: shapes, the size formula with the student's numbers, parameters, multiply-adds.

Shapes come from PyTorch itself (``nets.trace`` runs every layer on the ``meta`` device, which costs
nothing). The formulas come from each layer type's record in cnnedu/arch/layers/, found by the class of
the module built (so a block's sub-layers get theirs too); they are computed separately and the tests check that they agree with those
measured shapes, for every preset and for random specs.

Multiply-adds (MACs) for one image, under two conventions, both reported:

- ``macs``: the papers' convention (MobileNet's 569 M, ResNet-18's 1.8 G): the products of convolutions
  (output values × in_channels/groups × kh × kw) and linear layers (in × out) only. Pooling, BatchNorm,
  activations and biases count 0.
- ``macs_torchinfo``: torchinfo's convention (its "Total mult-adds"): ``macs`` plus one per bias value
  and output position (a conv's bias: out_channels × H_out × W_out; a linear layer's: out_features) and,
  for BatchNorm, its γ and β once (2 × channels, not per pixel).

Activation memory is the fp32 output of a layer for one image; a training step keeps every layer's
output for the backward pass, so "per training image" adds them all up — every call of a module (a
block's ReLU runs twice, and both outputs are kept).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from cnnedu.arch.layers.registry import LayerType, for_module
from cnnedu.arch.nets import trace
from cnnedu.arch.spec import Spec, parse_spec
from cnnedu.errors import ArchitectureError

BYTES_PER_VALUE = 4  # fp32


@dataclass
class Row:
    """One layer (depth 0) or one sub-layer inside a block (depth 1)."""

    index: int  # the top-level layer it belongs to
    name: str  # "conv1", or "block2.conv1" inside a block
    type: str
    depth: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    formula: str  # how the output size follows from the input, with the numbers in it
    params_formula: str  # how the parameter count follows, with the numbers in it
    weights: int
    biases: int
    params: int
    trainable_params: int
    buffers: int  # values stored but not learned (BatchNorm's running mean and variance)
    macs: int  # multiply-adds, the papers' convention (products only; see the module docstring)
    activation_bytes: int
    macs_torchinfo: int = 0  # multiply-adds as torchinfo counts them (adds bias and BatchNorm terms)
    kernel: str = ""
    note: str = ""
    groups: int = 1  # a conv's groups (each filter sees in_channels / groups channels)


@dataclass
class Totals:
    params: int
    trainable_params: int
    non_trainable_params: int
    buffers: int
    param_bytes: int  # fp32 size of the parameters
    macs: int  # multiply-adds for one image, the papers' convention (products only)
    activation_bytes: int  # fp32 outputs of every layer for one image (what training keeps)
    input_bytes: int
    macs_torchinfo: int = 0  # multiply-adds for one image as torchinfo counts them (adds biases, BatchNorm)


@dataclass
class Analysis:
    spec: Spec
    rows: list[Row]
    totals: Totals
    warnings: list[tuple[int, str]] = field(default_factory=list)
    error: ArchitectureError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def top_rows(self) -> list[Row]:
        return [r for r in self.rows if r.depth == 0]

    def leaf_rows(self) -> list[Row]:
        """The rows of the layers that compute (a block's sub-layers instead of the block), one per call."""
        return _leaves(self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints: ``layers`` (top-level), their ``sublayers``, ``totals``, problems."""
        layers = []
        for row in self.top_rows():
            item = _row_dict(row)
            item["sublayers"] = [_row_dict(r) for r in self.rows if r.depth == 1 and r.index == row.index]
            layers.append(item)
        error = None
        if self.error is not None:
            error = {"layer": self.error.layer, "message": self.error.message, "fix": self.error.fix,
                     "received": self.error.received, "needed": self.error.needed}
        return {"name": self.spec.name, "input_shape": list(self.spec.input_shape),
                "num_classes": self.spec.num_classes, "layers": layers, "totals": asdict(self.totals),
                "warnings": [{"layer": i, "message": m} for i, m in self.warnings], "error": error}


def _row_dict(row: Row) -> dict[str, Any]:
    d = asdict(row)
    d["input_shape"] = list(row.input_shape)
    d["output_shape"] = list(row.output_shape)
    return d


def analyze(spec: Spec | dict[str, Any] | str) -> Analysis:
    """Analyse every layer of a spec. A layer that does not fit ends the table; ``error`` says why."""
    spec = parse_spec(spec)
    with _record_calls() as calls:  # the shapes inside blocks, measured during the same walk
        t = trace(spec)
    rows: list[Row] = []
    for index, module in enumerate(t.modules):
        name, in_shape, out_shape = t.names[index], t.in_shapes[index], t.out_shapes[index]
        subs = _sub_rows(index, name, module, in_shape, calls)
        if subs:
            rows.append(_block_row(index, name, spec.layers[index]["type"], module, in_shape, out_shape, subs))
            rows.extend(subs)
        else:
            rows.append(_leaf_row(index, name, spec.layers[index]["type"], module, in_shape, out_shape))
    leaves = _leaves(rows)
    params = sum(r.params for r in rows if r.depth == 0)
    trainable = sum(r.trainable_params for r in rows if r.depth == 0)
    totals = Totals(
        params=params, trainable_params=trainable, non_trainable_params=params - trainable,
        buffers=sum(r.buffers for r in rows if r.depth == 0), param_bytes=params * BYTES_PER_VALUE,
        macs=sum(r.macs for r in rows if r.depth == 0),
        activation_bytes=sum(r.activation_bytes for r in leaves),
        input_bytes=math.prod(spec.input_shape) * BYTES_PER_VALUE,
        macs_torchinfo=sum(r.macs_torchinfo for r in rows if r.depth == 0))
    return Analysis(spec, rows, totals, t.warnings, t.error)


def _leaves(rows: list[Row]) -> list[Row]:
    blocks = {r.index for r in rows if r.depth == 1}
    return [r for r in rows if r.depth == 1 or r.index not in blocks]


# -------------------------------------------------------------------------------------------- one row


def _leaf_row(index: int, name: str, type_name: str, module: nn.Module, in_shape: tuple[int, ...],
              out_shape: tuple[int, ...], depth: int = 0, again: bool = False) -> Row:
    """One layer's row. ``again``: a second call of a module already in the table (a block's ReLU): its
    output and multiply-adds count again, its parameters do not."""
    kind = for_module(module) or _UNKNOWN
    weights = sum(p.numel() for n, p in module.named_parameters() if not n.endswith("bias"))
    biases = sum(p.numel() for n, p in module.named_parameters() if n.endswith("bias"))
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    buffers = sum(b.numel() for n, b in module.named_buffers() if not n.endswith("num_batches_tracked"))
    note = kind.note(module)
    macs = kind.macs(module, out_shape)
    if again:
        note = "the same module again: its output is kept too, its parameters are counted once"
        weights = biases = trainable = buffers = 0
    return Row(index=index, name=name, type=type_name, depth=depth, input_shape=in_shape,
               output_shape=out_shape, formula=kind.size_text(module, in_shape, out_shape),
               params_formula="0 (counted above)" if again else kind.params_text(module), weights=weights,
               biases=biases, params=weights + biases, trainable_params=trainable, buffers=buffers,
               macs=macs, activation_bytes=math.prod(out_shape) * BYTES_PER_VALUE,
               macs_torchinfo=macs + kind.torchinfo_extra(module, out_shape), kernel=kind.kernel_text(module),
               note=note, groups=getattr(module, "groups", 1) if isinstance(module, nn.Conv2d) else 1)


_UNKNOWN = LayerType("?", "?")  # a module no layer type builds: the defaults (same shape, no parameters)


Call = tuple[nn.Module, tuple[int, ...], tuple[int, ...]]


@contextmanager
def _record_calls() -> Iterator[list[Call]]:
    """Record (module, input shape, output shape) of every module this thread runs, in call order.

    ``trace`` already runs each block once; recording its sub-layers during that run (instead of running
    the block a second time with hooks) halves the cost of analysing a ResNet or MobileNet. The hook is
    global in PyTorch, so it ignores calls made by other threads (a training run, another page).
    """
    calls: list[Call] = []
    me = threading.get_ident()

    def hook(module: nn.Module, args: tuple, out: Any) -> None:
        if threading.get_ident() == me and args and isinstance(args[0], torch.Tensor) \
                and isinstance(out, torch.Tensor):
            calls.append((module, tuple(args[0].shape[1:]), tuple(out.shape[1:])))

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


def _sub_rows(index: int, name: str, module: nn.Module, in_shape: tuple[int, ...],
              calls: list[Call] | None = None) -> list[Row]:
    """Rows for the layers inside a block, with the shapes measured when the block ran (see ``_record_calls``)."""
    kind = for_module(module)
    if kind is None or not kind.block:
        return []
    child_names = {id(child): child_name for child_name, child in module.named_children()}
    if calls is None or not any(id(m) in child_names for m, _, _ in calls):
        calls = []
        with _record_calls() as calls, torch.no_grad():
            module(torch.zeros((2, *in_shape), device="meta"))
    rows, done = [], set()
    for mod, i, o in calls:  # every call: a module used twice (a block's ReLU) keeps two outputs
        if id(mod) in child_names:
            rows.append(_leaf_row(index, f"{name}.{child_names[id(mod)]}", type(mod).__name__, mod, i, o,
                                  depth=1, again=id(mod) in done))
            done.add(id(mod))
    return rows


def _block_row(index: int, name: str, type_name: str, module: nn.Module, in_shape: tuple[int, ...],
               out_shape: tuple[int, ...], subs: list[Row]) -> Row:
    note = for_module(module).note(module)
    convs = [r for r in subs if r.type == "Conv2d"]
    strided = next((r for r in convs if r.output_shape[1:] != r.input_shape[1:]), convs[0])
    size = strided.formula.split("; channels")[0]
    sub_params = " + ".join(f"{r.params:,}" for r in subs if r.params)
    return Row(index=index, name=name, type=type_name, depth=0, input_shape=in_shape, output_shape=out_shape,
               formula=f"{size} ({strided.name.split('.')[-1]}); channels = {out_shape[0]}",
               params_formula=f"{sub_params} = {sum(r.params for r in subs):,}",
               weights=sum(r.weights for r in subs), biases=sum(r.biases for r in subs),
               params=sum(r.params for r in subs), trainable_params=sum(r.trainable_params for r in subs),
               buffers=sum(r.buffers for r in subs), macs=sum(r.macs for r in subs),
               activation_bytes=math.prod(out_shape) * BYTES_PER_VALUE,
               macs_torchinfo=sum(r.macs_torchinfo for r in subs), note=note)


# ------------------------------------------------------------------------------------------- numbers


def human_bytes(n: int) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def human_count(n: int) -> str:
    """12345678 → '12.3 M'."""
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


# ------------------------------------------------------------------------------------ training memory

#: Optimizer state per parameter, in copies of the weights: SGD keeps a momentum buffer (when momentum is
#: on), Adam/AdamW two moving averages, RMSprop a square average (and a momentum buffer).
OPTIMIZER_STATE = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
#: A training step keeps every layer's output for the backward pass (what "per training image" adds up),
#: plus what layers save on the side (max pooling's int64 indices, BatchNorm's normalised input) and the
#: gradients flowing back through them: measured on CPU at 1.0-1.9× the sum of the outputs
#: (tests/test_faults.py checks the estimate against a measurement).
BACKWARD_FACTOR = 3.0


@dataclass
class MemoryEstimate:
    """What one training run of a network needs in memory (bytes), by part."""

    params: int  # the weights
    grads: int  # one gradient per weight
    optimizer: int  # the optimizer's state
    activations: int  # one training batch: every layer's output, kept for the backward pass
    per_image: int  # activations of one training image (× batch_size gives ``activations``)
    batch_size: int

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer + self.activations

    def describe(self) -> str:
        """'1.2 GiB (weights 4.0 MiB, gradients ..., a batch of 64 images 1.1 GiB = 18.0 MiB per image)'."""
        return (f"{human_bytes(self.total)} (weights {human_bytes(self.params)}, gradients "
                f"{human_bytes(self.grads)}, optimizer state {human_bytes(self.optimizer)}, a batch of "
                f"{self.batch_size} images {human_bytes(self.activations)} = {human_bytes(self.per_image)} "
                "per image)")


def training_memory(spec: Spec | dict[str, Any] | str, batch_size: int, optimizer: str = "sgd",
                    momentum: float = 0.9, analysis: Analysis | None = None) -> MemoryEstimate:
    """A conservative estimate of the memory a training step of ``spec`` takes at ``batch_size`` (fp32):
    weights + gradients + optimizer state + (the per-image activations of the layer table, plus the
    batch's float input, × ``BACKWARD_FACTOR``) × batch. Evaluation runs without gradients, in batches the
    trainer keeps within the same amount (``eval_batch_limit``)."""
    a = analysis or analyze(spec)
    params = a.totals.params * BYTES_PER_VALUE
    copies = OPTIMIZER_STATE.get(optimizer, 2)
    if optimizer == "sgd" and momentum <= 0:
        copies = 0
    if optimizer == "rmsprop" and momentum <= 0:
        copies = 1
    per_image = int((a.totals.activation_bytes + a.totals.input_bytes) * BACKWARD_FACTOR)
    return MemoryEstimate(params=params, grads=a.totals.trainable_params * BYTES_PER_VALUE,
                          optimizer=a.totals.trainable_params * BYTES_PER_VALUE * copies,
                          activations=per_image * batch_size, per_image=per_image, batch_size=batch_size)


def eval_batch_limit(analysis: Analysis, estimate: MemoryEstimate) -> int:
    """The largest evaluation batch that needs no more memory than the training batch: without gradients
    only a layer's input and output are alive at once (3× the largest pair, to be safe)."""
    leaves = analysis.leaf_rows()
    peak = max((math.prod(r.input_shape) * BYTES_PER_VALUE + r.activation_bytes for r in leaves),
               default=analysis.totals.input_bytes)
    return max(1, estimate.activations // max(1, 3 * peak))
