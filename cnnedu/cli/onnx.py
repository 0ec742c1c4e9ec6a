"""Commands: export, predict (the ``COMMANDS`` table at the end; cnnedu/cli/main.py reads it).

    python -m cnnedu export r0003-mnist-cnn-fashion-mnist -o fashion.onnx
    python -m cnnedu export lenet-cifar10 -o lenet.onnx          # a preset: untrained weights
    python -m cnnedu predict fashion.onnx shoe.png shirt.jpg --top-k 3
    python -m cnnedu predict fashion.onnx *.png --json            # one JSON entry per image
    python -m cnnedu predict other.onnx cat.png --input-shape 3,32,32 --classes cat,dog

``export`` takes a finished run (its trained weights and the metadata it was trained with) or a preset id
(fresh untrained weights, seed 0, the preset's dataset's class names or "0".."k-1", mean = std = 0.5 per
channel) and prints how closely onnxruntime reproduces PyTorch. ``predict`` reads images safely (see
``cnnedu.vision.images``); a bad image is reported on its own line and the others are still predicted; the exit
status is then 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cnnedu.cli.common import Command, print_json
from cnnedu.errors import PredictError

FITS = ("resize", "letterbox", "crop")
BATCH = 256  # images per onnxruntime call


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_ID|PRESET_ID",
                   help="a finished run (see `python -m cnnedu runs`) or a preset id (untrained weights)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--seed", type=int, default=0, help="seed of a preset's untrained weights (default 0)")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")


def export_command(args: argparse.Namespace) -> int:
    from cnnedu.arch.zoo import PRESETS
    from cnnedu.onnx.export import export_onnx
    from cnnedu.onnx.load import load_for_export, preset_model

    loaded = preset_model(args.source, seed=args.seed) if args.source in PRESETS else load_for_export(args.source)
    report = export_onnx(loaded.model, loaded.meta, args.output)
    summary = {"source": loaded.source, "name": loaded.name, "path": str(report.path),
               "size_bytes": report.size_bytes, "max_abs_diff": report.max_abs_diff,
               "tolerance": report.tolerance, "batch_sizes_checked": list(report.batch_sizes_checked),
               "opset": report.opset, "seconds": round(report.seconds, 3), "classes": loaded.meta.classes,
               "input_shape": list(loaded.meta.input_shape), "mean": loaded.meta.mean, "std": loaded.meta.std,
               "output": loaded.meta.output, "notes": loaded.notes + report.notes}
    if args.json:
        print_json(summary)
        return 0
    what = "run" if loaded.source == "run" else "preset (untrained)"
    print(f"wrote {report.path} ({_size(report.size_bytes)}, opset {report.opset}) from {what} {loaded.name} "
          f"in {report.seconds:.1f} s")
    print(f"parity: largest difference between PyTorch and onnxruntime {report.max_abs_diff:.2g} on random "
          f"batches of {', '.join(map(str, report.batch_sizes_checked))} images "
          f"(allowed {report.tolerance:g} × the output's scale): passed")
    for note in report.notes[1:]:  # the first says what the line above says
        print(f"note: {note}")
    shape = "×".join(map(str, loaded.meta.input_shape))
    print(f"input {shape} {loaded.meta.channel_order}, mean {_floats(loaded.meta.mean)}, std "
          f"{_floats(loaded.meta.std)}; output {loaded.meta.output}; classes {', '.join(loaded.meta.classes)}")
    for note in loaded.notes:
        print(f"note: {note}")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _floats(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


# --------------------------------------------------------------------------------------------- predict


def _predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="an .onnx file (exported by cnnedu, or any image classifier with --input-shape "
                                 "and --classes)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, GIF, BMP, WebP, TIFF)")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to list per image (default 3)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON list: per image its file, top-k [{label, index, prob}] and notes")
    p.add_argument("--fit", choices=FITS, default="resize",
                   help="resize: stretch to the network's size (default); letterbox: keep the aspect ratio and "
                        "pad; crop: keep the aspect ratio and cut the centre")
    p.add_argument("--invert", action="store_true",
                   help="swap dark and light: for dark drawings on white paper fed to an MNIST-style model "
                        "(trained on light objects on black)")
    p.add_argument("--background", choices=("white", "black"), default="white",
                   help="colour for transparent areas and letterbox padding (default white; black for "
                        "MNIST-style models)")
    p.add_argument("--input-shape", metavar="C,H,W",
                   help="for a model without cnnedu metadata: its input, e.g. 1,28,28 or 3,32,32")
    p.add_argument("--classes", metavar="A,B,C", help="for a model without cnnedu metadata: the class names")
    p.add_argument("--mean", metavar="M[,M,M]", help="with --input-shape: per-channel mean in 0..1 (default 0)")
    p.add_argument("--std", metavar="S[,S,S]", help="with --input-shape: per-channel std in 0..1 (default 1)")
    p.add_argument("--output-kind", choices=("logits", "probs", "log_probs"),
                   help="with --input-shape: what the model outputs (default logits)")


def predict_command(args: argparse.Namespace) -> int:
    from cnnedu.onnx.predict import OnnxModel, predict
    from cnnedu.vision.images import prepare

    if args.top_k < 1:
        raise PredictError(f"--top-k must be at least 1, got {args.top_k}.")
    model = OnnxModel.from_path(args.model)
    model = _describe(model, args)
    meta = model.meta
    entries: list[dict[str, Any]] = []
    ready: list[tuple[int, Any]] = []
    for path in args.images:
        entry: dict[str, Any] = {"file": path}
        entries.append(entry)
        try:
            ready.append((len(entries) - 1, prepare(Path(path), meta, fit=args.fit, background=args.background,
                                                    invert=args.invert)))
        except PredictError as err:
            entry["error"] = str(err)
    for start in range(0, len(ready), BATCH):
        chunk = ready[start:start + BATCH]
        results = predict(model, [prepared for _, prepared in chunk], top_k=args.top_k)
        for (i, prepared), result in zip(chunk, results, strict=True):
            entries[i]["top"] = [{"label": g.label, "index": g.index, "prob": round(g.prob, 6)} for g in result.top]
            entries[i]["notes"] = list(prepared.notes)
    failed = [e for e in entries if "error" in e]
    if args.json:
        print_json(entries)
    else:
        for entry in entries:
            if "error" in entry:
                continue
            guesses = "  ".join(f"{g['label']} {g['prob']:.1%}" for g in entry["top"])
            print(f"{entry['file']}: {guesses}")
            for note in entry["notes"]:
                print(f"    {note}")
    for entry in failed:
        print(f"error: {entry['file']}: {entry['error']}", file=sys.stderr)
    return 2 if failed else 0


def _describe(model, args: argparse.Namespace):
    """The model with metadata: its own, or the one given with --input-shape/--classes (which win)."""
    from cnnedu.onnx.meta import ModelMeta
    from cnnedu.vision.pixels import mode_for_channels

    given = args.input_shape or args.classes
    if not given:
        if model.needs_meta:
            why = f" ({model.meta_problem})" if model.meta_problem else ""
            raise PredictError(f"{args.model} has no usable cnnedu metadata{why}, so cnnedu does not know its "
                               "input size or class names.",
                               "Give them: --input-shape C,H,W --classes a,b,c (and --mean, --std if it was "
                               "trained on normalized images).")
        return model
    base = model.meta or model.suggested_meta()
    shape = _ints(args.input_shape, "--input-shape") if args.input_shape else list(base.input_shape)
    if len(shape) != 3:
        raise PredictError(f"--input-shape needs three numbers C,H,W, got {args.input_shape!r}.",
                           "For example --input-shape 1,28,28.")
    c = shape[0]
    classes = [name.strip() for name in args.classes.split(",")] if args.classes else list(base.classes)
    same_channels = c == base.input_shape[0]
    mean = _floats_arg(args.mean, "--mean", c) if args.mean else (base.mean if same_channels else [0.0] * c)
    std = _floats_arg(args.std, "--std", c) if args.std else (base.std if same_channels else [1.0] * c)
    meta = ModelMeta(classes=classes, input_shape=tuple(shape), channel_order=mode_for_channels(c),
                     mean=mean, std=std, output=args.output_kind or base.output, arch=base.arch)
    return model.with_meta(meta)


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(v) for v in text.replace("x", ",").replace("×", ",").split(",") if v.strip()]
    except ValueError:
        raise PredictError(f"{flag} needs whole numbers separated by commas, got {text!r}.") from None


def _floats_arg(text: str, flag: str, channels: int) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise PredictError(f"{flag} needs numbers separated by commas, got {text!r}.") from None
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise PredictError(f"{flag} needs 1 or {channels} values (one per channel), got {len(values)}.")
    return values


COMMANDS = (
    Command("export", "export a run or a preset to ONNX, with cnnedu's metadata, checked against PyTorch",
            _export_arguments, export_command),
    Command("predict", "predict the classes of images with an ONNX model (onnxruntime)", _predict_arguments,
            predict_command),
)
