"""Seed 003's comparison on cnnedu's drawn eyes: the CNN with BatchNorm against the deep fully connected net.

On real MPIIFaceGaze the document measures 76.0 % test accuracy for its CNN with BatchNorm (Task 2.4) and
67.3 % for its best fully connected net, [100, 100, 100] (Task 1.10). Offline, cnnedu draws a stand-in,
"gaze-synthetic" (cnnedu/data/gaze.py). This trains the two zoo presets, gaze-cnn-bn and gaze-fc-deep,
through cnnedu's own trainer (``cnnedu.training.train.train``) on the CPU, on the same images, for the same epochs,
with the same seed and the document's optimizer: SGD with momentum 0.9, the learning rate multiplied
by 0.9 every 2 epochs (StepLR(step_size=2, gamma=0.9)), and each net's own learning rate from the document
(0.01 for the CNN, 0.001 for the fully connected net, Task 3.1). Batch 64, inputs normalized.

    .venv/bin/python benchmarks/bench_gaze.py                 # 8,000 train / 2,000 test images, 8 epochs
    .venv/bin/python benchmarks/bench_gaze.py --seed 1 --epochs 4 --threads 2

It prints both test accuracies, the time of each run and their ratio; nothing is asserted. The test people
are other people than the training people (another random stream), as in the document's split.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: The document's learning rate for each network (003 Task 3.1: "the learning rate of CNN is 0.01 while
#: the learning rate of FCN is 0.001"), and its reported test accuracy.
NETS = {"gaze-cnn-bn": (0.01, 0.760), "gaze-fc-deep": (0.001, 0.673)}


def run(arch: str, args: argparse.Namespace) -> dict:
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.train import train

    lr, _ = NETS[arch]
    config = TrainConfig(arch=arch, dataset="gaze-synthetic", n_train=args.n_train, n_test=args.n_test,
                         epochs=args.epochs, batch_size=64, optimizer="sgd", lr=lr, momentum=0.9,
                         scheduler="step", step_size=2, gamma=0.9, normalize=True, seed=args.seed,
                         device="cpu", threads=args.threads)
    start = time.perf_counter()
    result = train(config)
    final = result.history[-1]
    return {"test_acc": result.test_acc, "train_acc": final.get("train_acc"), "seconds": time.perf_counter() - start}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=8000)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads (1: steady on a busy machine)")
    args = p.parse_args()
    print(f"gaze-synthetic: {args.n_train} train + {args.n_test} test images, {args.epochs} epochs, seed "
          f"{args.seed}, {args.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    results = {}
    for arch in NETS:
        results[arch] = r = run(arch, args)
        print(f"  {arch:13s} test {r['test_acc']:.2%}  (train {r['train_acc']:.2%}, document on MPIIFaceGaze "
              f"{NETS[arch][1]:.1%}, lr {NETS[arch][0]:g})  {r['seconds']:.0f} s", flush=True)
    cnn, fc = results["gaze-cnn-bn"]["test_acc"], results["gaze-fc-deep"]["test_acc"]
    print(f"  CNN with BatchNorm / deep FC net: {cnn / fc:.2f}× the test accuracy, {100 * (cnn - fc):+.1f} points "
          f"(document: {NETS['gaze-cnn-bn'][1] / NETS['gaze-fc-deep'][1]:.2f}×, "
          f"{100 * (NETS['gaze-cnn-bn'][1] - NETS['gaze-fc-deep'][1]):+.1f} points)")


if __name__ == "__main__":
    main()
