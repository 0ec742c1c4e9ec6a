"""Prediction latency of an uploaded model in its sandbox process vs onnxruntime in-process, side by side.

    .venv/bin/python benchmarks/bench_sandbox.py [--runs 200]

A small cnnedu-exported network (the coursework LeNet for CIFAR-10, untrained) is run on one 1×3×32×32
image: (a) in this process with the same session settings the sandbox uses (1 thread, no spinning), and
(b) through cnnedu.onnx.sandbox (a long-lived child process per model, with its memory cap, over a pipe).
Rounds of both are interleaved; the medians and the ratio sandbox/in-process are printed, plus the
one-off cost of starting a model's process (spawn, import onnxruntime, load the model) and cnnedu's whole
``predict()`` on a PNG.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from timing import median_ms  # noqa: E402  (benchmarks/timing.py, beside this script)

from cnnedu import budgets  # noqa: E402
from cnnedu.arch.nets import build_model  # noqa: E402
from cnnedu.arch.zoo import preset_spec  # noqa: E402
from cnnedu.onnx import sandbox
from cnnedu.onnx.export import export_bytes, meta_for_spec  # noqa: E402
from cnnedu.onnx.predict import OnnxModel, predict  # noqa: E402
from cnnedu.onnx.sandbox_child import new_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    spec = preset_spec("lenet-cifar10")
    torch.manual_seed(0)
    model = build_model(spec).eval()
    meta = meta_for_spec(spec, [str(i) for i in range(10)], mean=[0.5] * 3, std=[0.25] * 3, arch="lenet-cifar10")
    data, _ = export_bytes(model, meta)
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32), dtype=np.float32)

    session = new_session(data, budgets.PREDICT_THREADS)
    starts = []
    for _ in range(3):
        sandbox.stop_all()
        t = time.perf_counter()
        onnx_model = OnnxModel.from_bytes(data)  # checks the file and starts its process
        starts.append((time.perf_counter() - t) * 1000)
    proc = sandbox.model_process(onnx_model.sha256, data)

    def in_process():
        session.run([onnx_model.output_name], {onnx_model.input_name: x})

    def sandboxed():
        proc.run(onnx_model.input_name, onnx_model.output_name, x, max_out_bytes=10 * 8)

    a, b = [], []
    for _ in range(5):
        a.append(median_ms(in_process, max(1, args.runs // 5), 10))
        b.append(median_ms(sandboxed, max(1, args.runs // 5), 10))
    direct, boxed = statistics.median(a), statistics.median(b)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    full = median_ms(lambda: predict(onnx_model, buf.getvalue()), max(1, args.runs // 5), 3)
    print(f"lenet-cifar10, 1 image, {budgets.PREDICT_THREADS} onnxruntime thread(s); median of {args.runs} runs")
    print(f"{'in-process ms':>14} {'sandboxed ms':>13} {'sandboxed/in-process':>21} {'predict() ms':>13} "
          f"{'process start + load ms':>24}")
    print(f"{direct:>14.3f} {boxed:>13.3f} {boxed / direct:>20.2f}x {full:>13.2f} {statistics.median(starts):>24.0f}")
    sandbox.stop_all()


if __name__ == "__main__":
    main()
