"""Seed 003's fully connected net trained by the NumPy engine (cnnedu/training/numpy_engine.py) and by PyTorch, same run.

Both engines train the zoo's gaze-fc2 and gaze-fc-deep on the same gaze-synthetic images, with the same
settings, seed and batches (plain SGD, so the two start from the same weights and should end with the same
test accuracy), one after the other in this process. It prints each run's training throughput (images/s,
the median over epochs of the run's own epoch timings), wall time and test accuracy, and the NumPy/PyTorch throughput ratio.
Nothing is asserted.

    .venv/bin/python benchmarks/bench_engines.py            # 4,000 train / 1,000 test images, 3 epochs
    .venv/bin/python benchmarks/bench_engines.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run(arch: str, engine: str, args: argparse.Namespace) -> dict:
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.train import train

    config = TrainConfig(arch=arch, dataset="gaze-synthetic", n_train=args.n_train, n_test=args.n_test,
                         epochs=args.epochs, batch_size=64, optimizer="sgd", lr=0.01, momentum=0.0,
                         normalize=True, seed=0, device="cpu", threads=args.threads, engine=engine)
    start = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - start
    rates = sorted(e["images_per_s"] for e in result.history)  # each epoch's training images per second
    return {"images_s": rates[len(rates) // 2], "seconds": seconds, "test_acc": result.test_acc}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=4000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="PyTorch and BLAS threads (1: steady on a busy machine)")
    args = p.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    print(f"gaze-synthetic: {args.n_train} train + {args.n_test} test images, {args.epochs} epochs, "
          f"{args.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    for arch in ("gaze-fc2", "gaze-fc-deep"):
        r = {engine: run(arch, engine, args) for engine in ("torch", "numpy")}
        for engine, v in r.items():
            print(f"  {arch:13s} {engine:5s}: {v['images_s']:8,.0f} images/s, {v['seconds']:5.1f} s, "
                  f"test accuracy {v['test_acc']:.1%}")
        print(f"  {arch:13s} NumPy / PyTorch throughput: {r['numpy']['images_s'] / r['torch']['images_s']:.2f}×")


if __name__ == "__main__":
    main()
