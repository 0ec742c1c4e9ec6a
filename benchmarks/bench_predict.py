"""Single-image prediction latency: onnxruntime vs PyTorch eager, measured side by side in one process.

    .venv/bin/python benchmarks/bench_predict.py [--runs 50] [--threads 1 2]   # default: 1 thread

For each network (the coursework LeNet and ResNet for CIFAR-10, from cnnedu.arch.zoo) and each thread count,
both runtimes get the *same* thread count (torch.set_num_threads / SessionOptions.intra_op_num_threads,
inter-op 1, onnxruntime's spin-waiting off as in the app) and the same 1×3×32×32 input; PyTorch runs in eval mode under torch.no_grad(). After a
warm-up, we time ``--runs`` single-image calls of each, interleaved, and print the medians and the
ratio torch/ort (above 1: onnxruntime is faster). A last column times cnnedu's whole ``predict()`` on a
640×480 JPEG (decode, convert, resize, normalize, run, softmax) with the app's own session settings.
The export time of each network (including the parity check) is printed too; it runs first, so the
first one also pays for warming up the exporter.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from timing import median_ms  # noqa: E402  (benchmarks/timing.py, beside this script)

from cnnedu.arch.nets import build_model, count_params  # noqa: E402
from cnnedu.arch.zoo import preset_spec  # noqa: E402
from cnnedu.onnx.export import export_bytes, meta_for_spec  # noqa: E402
from cnnedu.onnx.predict import OnnxModel, predict  # noqa: E402

NETWORKS = ("lenet-cifar10", "resnet-cifar10")
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="thread counts to compare at (default 1; try 1 2 on an idle machine)")
    args = parser.parse_args()

    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {cores} CPU cores (load average "
          f"{load:.1f}); median of {args.runs} single-image runs after {args.warmup} warm-up runs")
    if load > cores / 2:
        print("note: other processes are using the CPU. PyTorch's multi-threaded (OpenMP) runs stall whenever "
              "one of their threads is descheduled, so rows with more than 1 thread measure that contention.")
    print()
    jpeg = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(jpeg, "JPEG")

    rows, exports = [], []
    for preset in NETWORKS:
        spec = preset_spec(preset)
        torch.manual_seed(0)
        model = build_model(spec).eval()
        meta = meta_for_spec(spec, CIFAR10, mean=[0.49, 0.48, 0.45], std=[0.25, 0.24, 0.26], arch=preset)
        data, report = export_bytes(model, meta)
        exports.append((preset, count_params(model)[0], report))
        x = torch.from_numpy(np.random.default_rng(1).standard_normal((1, *spec.input_shape), dtype=np.float32))
        feed = {"input": x.numpy()}
        onnx_model = OnnxModel.from_bytes(data)
        for threads in args.threads:
            torch.set_num_threads(threads)
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # no spinning: idle ORT workers would otherwise steal the cores PyTorch's next run needs
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

            def run_torch(model=model, x=x):
                with torch.no_grad():
                    model(x)

            def run_ort(session=session, feed=feed):
                session.run(["output"], feed)

            # interleave short rounds so that machine noise hits both runtimes alike
            t_ms, o_ms = [], []
            for _ in range(5):
                t_ms.append(median_ms(run_torch, max(1, args.runs // 5), args.warmup))
                o_ms.append(median_ms(run_ort, max(1, args.runs // 5), args.warmup))
            torch_ms, ort_ms = statistics.median(t_ms), statistics.median(o_ms)
            full_ms = median_ms(lambda m=onnx_model: predict(m, jpeg.getvalue()), max(1, args.runs // 5), 2)
            rows.append((preset, threads, torch_ms, ort_ms, torch_ms / ort_ms, full_ms))

    print(f"{'network':<16} {'params':>9} {'export s':>9} {'max |diff|':>11}  (export incl. parity check)")
    for preset, params, report in exports:
        print(f"{preset:<16} {params:>9,} {report.seconds:>9.2f} {report.max_abs_diff:>11.1e}")
    print()
    print(f"{'network':<16} {'threads':>7} {'torch ms':>9} {'ort ms':>8} {'torch/ort':>10} "
          f"{'predict() ms':>13}")
    for preset, threads, torch_ms, ort_ms, ratio, full_ms in rows:
        print(f"{preset:<16} {threads:>7} {torch_ms:>9.3f} {ort_ms:>8.3f} {ratio:>9.2f}x {full_ms:>13.2f}")
    print(f"\npredict() uses the app's session settings (intra-op {min(2, os.cpu_count() or 1)} threads), "
          "whatever the row's thread count.")


if __name__ == "__main__":
    main()
