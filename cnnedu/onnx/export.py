"""Export a trained network to ONNX, with cnnedu's metadata inside and a parity check against PyTorch.

ONNX is a file format for a network's graph and weights that runs without PyTorch — in onnxruntime,
in a browser, on a phone. Exporting is a translation, and translations can go wrong, so
``export_onnx`` does not trust it: after writing the file it runs the same random inputs through
PyTorch and through onnxruntime and reports the largest difference between their outputs. A check is
only worth something if the outputs differ from input to input: an untrained deep network (MobileNet
straight from its initialisation) gives the same scores for every image, and a file that ignored its
input would pass. When PyTorch's outputs barely vary across the test inputs, the same network with
perturbed weights (a seeded copy) is exported and checked too, and the report says so.

    report = export_onnx(model, meta, "lenet.onnx")
    print(report.max_abs_diff)          # e.g. 2.4e-07: the two runtimes agree

What the file looks like:
- one input named ``input``, float32 ``[N, C, H, W]``, where N (the batch) may be any size;
- one output named ``output``, ``[N, num_classes]``;
- the ``cnnedu.*`` metadata from :mod:`cnnedu.onnx.meta` (classes, normalization, ...);
- one self-contained file: the weights are inside, not in a side file.

We use PyTorch's current exporter (``torch.onnx.export(..., dynamo=True)``): it captures the graph with
``torch.export`` and translates each operation with onnxscript. When it cannot, we say which layer of
your network was the problem.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnedu.errors import ExportError
from cnnedu.onnx.meta import ModelMeta
from cnnedu.vision.pixels import mode_for_channels

INPUT_NAME = "input"
OUTPUT_NAME = "output"
#: An exporter slower than this gets a note in the report (typical: LeNet ~0.7 s, ResNet ~1.5 s on 2 cores).
SLOW_EXPORT_SECONDS = 20.0
#: protobuf cannot serialize a single message above 2 GiB; cnnedu files are one message.
MAX_ONNX_BYTES = 2 * 1024**3 - 1
#: PyTorch's outputs must vary across the test inputs by more than this many times the allowed difference
#: for the parity check to mean something; otherwise a copy with perturbed weights is checked as well.
MIN_SPREAD_FACTOR = 10.0
#: How long the search for the layer that broke the export may take at most.
CULPRIT_SEARCH_SECONDS = 60.0

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    """What happened during an export: where the file is, how big, how faithful, how long it took."""

    path: Path | None
    size_bytes: int
    max_abs_diff: float
    opset: int
    seconds: float
    tolerance: float
    batch_sizes_checked: tuple[int, ...]
    notes: list[str]
    output_spread: float = 0.0  # how much PyTorch's outputs vary across the test inputs (max − min)
    perturbed_max_abs_diff: float | None = None  # the check on a copy with perturbed weights, when it ran
    perturbed_note: str = ""  # why that check ran and what it found ("" when it did not run)


def export_onnx(model: nn.Module, meta: ModelMeta, path: str | Path, *, tolerance: float = 1e-4,
                seed: int = 0) -> ExportReport:
    """Export ``model`` to the ONNX file ``path`` with ``meta`` inside, and check it against PyTorch.

    The model is copied to the CPU in float32 and eval mode first (your model is left as it was).
    The check feeds seeded random batches of 1, 3 and 4 images to PyTorch and to onnxruntime;
    the largest absolute difference of the outputs must be at most ``tolerance`` × max(1, largest
    |output|) — a relative allowance, so that a trained network with logits near 30 is judged as fairly
    as one with logits near 1. Raises :class:`ExportError` when the export or the check fails.
    """
    data, report = _export(model, meta, tolerance=tolerance, seed=seed)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as err:
        raise ExportError(f"Could not write the ONNX file {path}: {err.strerror or err}.",
                          "Choose a folder you can write to.") from None
    report.path = path
    return report


def export_bytes(model: nn.Module, meta: ModelMeta, *, tolerance: float = 1e-4,
                 seed: int = 0) -> tuple[bytes, ExportReport]:
    """Like :func:`export_onnx`, but return the file's bytes (for a download button) instead of writing."""
    return _export(model, meta, tolerance=tolerance, seed=seed)


# ----------------------------------------------------------------------------------------------- export


def _export(model: nn.Module, meta: ModelMeta, *, tolerance: float, seed: int) -> tuple[bytes, ExportReport]:
    problems = meta.problems()
    if problems:
        raise ExportError("The export metadata is not usable: " + "; ".join(problems) + ".")
    start = time.perf_counter()
    model = _cpu_eval_copy(model)
    example = _random_batch(meta.input_shape, 2, seed)  # batch 2: torch.export treats sizes 0 and 1 as fixed
    with torch.no_grad():
        try:
            out = model(example)
        except Exception as err:  # the network cannot even run on this input shape
            raise ExportError(f"The network does not run on an input of shape {list(example.shape)}: "
                              f"{_first_line(err)}", "Check that the metadata's input_shape matches the "
                              "network.") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ExportError(f"The network's output should be [batch, classes], got {shape}.",
                          "End the network with Flatten and Linear layers.")
    if out.shape[1] != meta.num_classes:
        raise ExportError(f"The network has {out.shape[1]} outputs but the metadata names "
                          f"{meta.num_classes} classes.", "Give one class name per output.")

    proto = _to_onnx(model, example, meta)
    data = proto.SerializeToString()
    max_diff, scale, sizes, spread = _parity(model, data, meta.input_shape, seed)
    notes = [f"batch sizes {', '.join(map(str, sizes))} checked against PyTorch: largest difference "
             f"{max_diff:.2g}"]
    _check_parity(max_diff, tolerance * scale, "")
    perturbed, note = None, ""
    if spread <= MIN_SPREAD_FACTOR * tolerance * scale:  # the check above cannot tell a wrong file apart
        perturbed, note = _perturbed_parity(model, example, meta, tolerance, seed, spread)
        notes.append(note)
    seconds = time.perf_counter() - start
    if seconds > SLOW_EXPORT_SECONDS:
        notes.append(f"the export took {seconds:.0f} s; the dynamo exporter is slow on large graphs")
        log.warning("ONNX export took %.1f s", seconds)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    report = ExportReport(path=None, size_bytes=len(data), max_abs_diff=max_diff, opset=opset,
                          seconds=seconds, tolerance=tolerance, batch_sizes_checked=sizes, notes=notes,
                          output_spread=spread, perturbed_max_abs_diff=perturbed, perturbed_note=note)
    return data, report


def _to_onnx(model: nn.Module, example: torch.Tensor, meta: ModelMeta) -> Any:
    """The network as a checked ONNX ModelProto with ``meta`` inside."""
    import onnx

    try:
        with _quiet():
            program = torch.onnx.export(
                model, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, external_data=False,
                verbose=False)
    except Exception as err:
        raise _explain_failure(model, example, err) from None
    proto = program.model_proto
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, meta.to_props())
    proto.doc_string = f"{meta.arch or 'network'} exported by cnnedu; see the cnnedu.* metadata."
    if proto.ByteSize() > MAX_ONNX_BYTES:
        raise ExportError("The network is too large for a single ONNX file (over 2 GB).",
                          "Use a smaller network.")
    try:
        onnx.checker.check_model(onnx.load_from_string(proto.SerializeToString()))
    except Exception as err:
        raise ExportError(f"The exporter wrote an invalid ONNX model: {_first_line(err)}") from None
    return proto


def _check_parity(max_diff: float, allowed: float, which: str) -> None:
    if max_diff > allowed:
        raise ExportError(
            f"The ONNX model's outputs{which} differ from PyTorch's by up to {max_diff:.3g} (allowed: "
            f"{allowed:.3g}); the exported file would not predict like your network.",
            "Report this network to the cnnedu maintainers; a looser tolerance hides real errors.")


def _perturbed_parity(model: nn.Module, example: torch.Tensor, meta: ModelMeta, tolerance: float, seed: int,
                      spread: float) -> tuple[float, str]:
    """The parity check again, on a copy of the network with perturbed weights (whose outputs do vary):
    the same graph, so a translation that ignored the input or mixed up layers would show here."""
    probe = _perturbed_copy(model, seed)
    max_diff, scale, _, probe_spread = _parity(probe, _to_onnx(probe, example, meta).SerializeToString(),
                                               meta.input_shape, seed)
    _check_parity(max_diff, tolerance * scale, " (with perturbed weights)")
    note = (f"PyTorch gives (almost) the same output for every test input (it varies by {spread:.2g}; an "
            f"untrained network?), so that check alone proves little: the same network with perturbed weights "
            f"(outputs varying by {probe_spread:.2g}) was exported and checked too, largest difference "
            f"{max_diff:.2g}")
    if probe_spread <= MIN_SPREAD_FACTOR * tolerance * scale:
        note += "; its outputs still do not depend on the input, so the check cannot tell much"
    return max_diff, note + "."


def _perturbed_copy(model: nn.Module, seed: int) -> nn.Module:
    """A copy with seeded new values: He-normal weights (each layer keeps its signal's size), small
    biases, BatchNorm scales near 1 and running statistics near (0, 1)."""
    probe = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, value in [*probe.named_parameters(), *probe.named_buffers()]:
            if not value.is_floating_point():
                continue
            noise = torch.randn(value.shape, generator=generator)
            if value.dim() >= 2:
                value.copy_(noise * (2.0 / max(1, value[0].numel())) ** 0.5)
            elif name.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=generator) + 0.5)
            elif name.endswith("weight"):
                value.copy_(1.0 + 0.1 * noise)
            else:
                value.copy_(0.1 * noise)
    return probe.eval()


def _cpu_eval_copy(model: nn.Module) -> nn.Module:
    """A float32 CPU copy in eval mode, so exporting never changes the caller's (maybe training) model."""
    try:
        copied = copy.deepcopy(model)
    except Exception as err:
        raise ExportError(f"The network could not be copied for export: {_first_line(err)}") from None
    return copied.to(device="cpu", dtype=torch.float32).eval()


def _random_batch(input_shape: tuple[int, int, int], n: int, seed: int) -> torch.Tensor:
    """Seeded standard-normal images: what normalized inputs look like to the network."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, *input_shape), generator=generator)


def _parity(model: nn.Module, data: bytes, input_shape: tuple[int, int, int],
            seed: int) -> tuple[float, float, tuple[int, ...], float]:
    """Run batches of 1, 3 and 4 through PyTorch and onnxruntime; return (max |diff|, scale, sizes, spread):
    the spread is how much PyTorch's outputs vary across all the test images (largest max − min)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as err:
        raise ExportError(f"onnxruntime cannot load the exported model: {_first_line(err)}") from None
    sizes = (1, 3, 4)
    worst, scale = 0.0, 1.0
    outputs = []
    for i, n in enumerate(sizes):
        x = _random_batch(input_shape, n, seed + 1 + i)
        with torch.no_grad():
            expected = model(x).numpy()
        try:
            got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        except Exception as err:
            raise ExportError(f"The exported model fails on a batch of {n} image(s) in onnxruntime: "
                              f"{_first_line(err)}",
                              "The network probably fixes the batch size somewhere (e.g. view(2, -1)); "
                              "use Flatten instead.") from None
        if got.shape != expected.shape:
            raise ExportError(f"For a batch of {n}, the exported model returns shape {list(got.shape)} "
                              f"but PyTorch returns {list(expected.shape)}.",
                              "The network probably fixes the batch size somewhere; use Flatten.")
        if not np.all(np.isfinite(expected)):
            raise ExportError("The network outputs NaN or infinity on random inputs.",
                              "Train it again with a smaller learning rate.")
        worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - expected))))
        scale = max(scale, float(np.max(np.abs(expected))))
        outputs.append(expected.astype(np.float64))
    every = np.concatenate(outputs)
    return worst, scale, sizes, float(np.max(every.max(axis=0) - every.min(axis=0)))


# --------------------------------------------------------------------------------- naming the culprit


def _explain_failure(model: nn.Module, example: torch.Tensor, err: BaseException) -> ExportError:
    """Turn an exporter exception into an ExportError that names the layer that could not be exported."""
    reason = _root_reason(err)
    culprit = _find_culprit(model, example)
    if culprit is None:
        return ExportError(f"The network could not be exported to ONNX: {reason}",
                           "Use only the layer types cnnedu offers, or simplify the custom layer.")
    name, kind = culprit
    return ExportError(f"Layer '{name}' ({kind}) cannot be exported to ONNX: {reason}",
                       f"Replace or remove the {kind} layer; ONNX needs a forward pass made of tensor "
                       "operations, without Python decisions on tensor values or NumPy conversions.")


def _find_culprit(model: nn.Module, example: torch.Tensor) -> tuple[str, str] | None:
    """Export the network's parts one by one, in call order, and return the innermost that fails.

    Each module's real input is recorded with a forward pre-hook during one eager run, so every part is
    exported with exactly the tensors it sees inside the whole network.
    """
    inputs: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    order: list[str] = []
    handles = []

    def recorder(name: str):
        def hook(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if name not in inputs:
                inputs[name] = (_detached(args), _detached(kwargs))
                order.append(name)
        return hook

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(recorder(name), with_kwargs=True))
    try:
        with torch.no_grad():
            model(example)
    except Exception:
        return None
    finally:
        for handle in handles:
            handle.remove()

    deadline = time.perf_counter() + CULPRIT_SEARCH_SECONDS

    def search(prefix: str, parent: nn.Module) -> tuple[str, str] | None:
        children = [(f"{prefix}{name}", child) for name, child in parent.named_children()]
        children = sorted((c for c in children if c[0] in inputs), key=lambda c: order.index(c[0]))
        for name, child in children:
            if time.perf_counter() > deadline:
                return None
            if not _exports(child, *inputs[name]):
                return search(f"{name}.", child) or (name, type(child).__name__)
        return None

    return search("", model)


def _exports(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``module`` alone exports to ONNX with these inputs (batch dimension dynamic, as above)."""
    batch = torch.export.Dim("batch")
    shapes = tuple({0: batch} if isinstance(a, torch.Tensor) and a.dim() > 0 and a.shape[0] > 1 else None
                   for a in args)
    try:
        with _quiet():
            torch.onnx.export(module, args, kwargs=kwargs or None, dynamo=True, optimize=False,
                              verbose=False, dynamic_shapes=None if kwargs else shapes)
    except Exception:
        return False
    return True


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_detached(v) for v in value)
    if isinstance(value, list):
        return [_detached(v) for v in value]
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    return value


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The exporter's own wrapper messages say which step failed but not why; the reason is in a cause.
_WRAPPER_PREFIXES = ("Failed to export the model", "Failed to convert the exported program",
                     "Failed to decompose", "Error when translating node", "Error when calling function")


def _first_line(err: BaseException) -> str:
    text = _ANSI.sub("", str(err)).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(err).__name__)
    return line if len(line) <= 300 else line[:297] + "..."


def _root_reason(err: BaseException) -> str:
    """The most specific first line along the exception's cause chain."""
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    lines = [_first_line(e) for e in chain]
    specific = [ln for ln in lines if not ln.startswith(_WRAPPER_PREFIXES)]
    return specific[-1] if specific else lines[0]


_NOISY_LOGGERS = ("torch.export", "torch._export", "torch._dynamo", "torch.fx.experimental.symbolic_shapes",
                  "torch.onnx", "onnxscript")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's warnings, log chatter and the graphs it prints to stderr when it fails.

    Failures still arrive as exceptions. (Redirecting stderr is process-wide, so another thread's stderr
    output during an export is lost; cnnedu's other work does not write to stderr.)
    """
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def meta_for_spec(spec: Any, classes: list[str], *, mean: list[float], std: list[float],
                  arch: str | None = None, training: dict[str, Any] | None = None) -> ModelMeta:
    """The metadata for a network built from a cnnedu spec (a ``Spec``, dict or JSON string).

    The input shape, colour order and output kind (logits / probs / log_probs) come from the spec;
    ``mean``/``std`` are the training data's per-channel statistics in 0..1 units.
    """
    from cnnedu.arch.nets import output_kind
    from cnnedu.arch.spec import parse_spec

    spec = parse_spec(spec)
    shape = tuple(int(v) for v in spec.input_shape)
    return ModelMeta(classes=list(classes), input_shape=shape,  # type: ignore[arg-type]
                     channel_order=mode_for_channels(shape[0]), mean=list(mean), std=list(std),
                     output=output_kind(spec), arch=arch or spec.name, spec=spec.to_dict(), training=training)
