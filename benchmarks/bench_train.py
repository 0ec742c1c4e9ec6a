"""How fast cnnedu trains on a CPU, measured side by side in one process run.

(a) The coursework's pipeline against cnnedu's trainer, one Fashion-MNIST epoch each, same network
    (mnist-cnn, 002's CNN), same optimizer (SGD 0.01, momentum 0.9) and batch size (64), same threads:
    the seeds use a torchvision dataset that turns every image into a PIL image, then ToTensor and
    Normalize one at a time, and a DataLoader that collates batches of 64 in Python. cnnedu keeps the
    dataset as one uint8 tensor and prepares each batch with a few tensor operations.
(b) Wall-clock time of a cold ``python -m cnnedu train`` (a new process: Python start-up, imports,
    reading Fashion-MNIST, training, testing) to at least 90% Fashion-MNIST test accuracy, with the
    fastest settings found for a small CNN (benchmarks/fast_fashion.json).

    .venv/bin/python benchmarks/bench_train.py            # both
    .venv/bin/python benchmarks/bench_train.py --part a   # or b; --threads N (default: torch's default)

Timings on a shared machine move with whatever else runs: run it on a quiet machine, and look at the
ratios. Nothing here is asserted; the README quotes what it prints.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FASHION = Path("/usr/share/datasets/fashion-mnist")
FAST_SPEC = REPO / "benchmarks" / "fast_fashion.json"
FAST_ARGS = ["--arch", str(FAST_SPEC), "--dataset", "fashion-mnist", "--epochs", "2", "--batch-size", "128",
             "--optimizer", "adam", "--lr", "0.006", "--scheduler", "onecycle", "--normalize"]


def fashion_root(tmp: Path) -> Path:
    """A torchvision root with FashionMNIST/raw/ holding the decompressed idx files (what it reads)."""
    from cnnedu.data import find_local

    source = find_local("fashion-mnist") or FASHION
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        gz, plain = source / f"{name}.gz", source / name
        with (gzip.open(gz) if gz.exists() else open(plain, "rb")) as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return tmp


def seed_style_epoch(root: Path, batch_size: int = 64) -> dict:
    """One epoch the way the coursework does it (002's mnist.py): torchvision dataset, per-sample
    ToTensor + Normalize, DataLoader(shuffle=True), the usual loop, then the usual test loop."""
    import torch
    import torch.nn.functional as F
    from torchvision import datasets, transforms

    from cnnedu.arch.nets import build_model
    from cnnedu.arch.zoo import preset_spec

    torch.manual_seed(0)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_data = datasets.FashionMNIST(str(root), train=True, download=False, transform=transform)
    test_data = datasets.FashionMNIST(str(root), train=False, download=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_data, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_data, batch_size=1000, shuffle=False)
    model = build_model(preset_spec("mnist-cnn"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    t0 = time.perf_counter()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 20 == 0:  # log_interval = 20, as in the seed
            loss.item()
    seconds = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            correct += (model(data).argmax(1) == target).sum().item()
    return {"images_per_s": len(train_data) / seconds, "seconds": seconds, "test_acc": correct / len(test_data)}


def cnnedu_epoch(batch_size: int = 64) -> dict:
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.train import train

    config = TrainConfig(arch="mnist-cnn", dataset="fashion-mnist", epochs=1, batch_size=batch_size,
                         optimizer="sgd", lr=0.01, momentum=0.9, normalize=True, seed=0)
    result = train(config)
    epoch = result.history[-1]
    return {"images_per_s": epoch["images_per_s"], "seconds": epoch["epoch_s"], "test_acc": result.test_acc}


def part_a(repeat: int) -> None:
    import torch

    print(f"(a) one Fashion-MNIST epoch, mnist-cnn, SGD 0.01 momentum 0.9, batch 64, "
          f"{torch.get_num_threads()} thread(s)")
    cnnedu_epoch()  # reads Fashion-MNIST into cnnedu's cache; warms up both code paths' kernels
    with tempfile.TemporaryDirectory() as tmp:
        root = fashion_root(Path(tmp))
        ratios = []
        for i in range(repeat):
            seed = seed_style_epoch(root)
            ours = cnnedu_epoch()
            ratio = ours["images_per_s"] / seed["images_per_s"]
            ratios.append(ratio)
            print(f"  [{i + 1}] seed-style pipeline: {seed['images_per_s']:8,.0f} images/s "
                  f"({seed['seconds']:.1f} s, test acc {seed['test_acc']:.2%})")
            print(f"      cnnedu trainer:      {ours['images_per_s']:8,.0f} images/s "
                  f"({ours['seconds']:.1f} s, test acc {ours['test_acc']:.2%})")
            print(f"      ratio: {ratio:.2f}×")
        ratios.sort()
        print(f"  median ratio over {repeat} run(s): {ratios[len(ratios) // 2]:.2f}× (target ≥ 1.8×)")


def part_b(threads: int | None) -> None:
    command = [sys.executable, "-m", "cnnedu", "train", *FAST_ARGS, "--json"]
    if threads:
        command += ["--threads", str(threads)]
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CNNEDU_HOME=home)
        t0 = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr)
        raise SystemExit(f"the training command failed ({proc.returncode})")
    out = json.loads(proc.stdout)
    shown = " ".join(a if " " not in a else repr(a) for a in command[1:]).replace(str(REPO) + "/", "")
    print(f"(b) cold start to ≥ 90% Fashion-MNIST test accuracy (target ≤ 20 s):\n    python {shown}")
    for epoch in out["history"]:
        print(f"    epoch {epoch['epoch']}: test acc {epoch['test_acc']:.2%}, {epoch['images_per_s']:,.0f} "
              f"images/s, {epoch['elapsed_s']:.1f} s of training so far")
    print(f"    wall clock {seconds:.1f} s (process start to exit), test accuracy {out['test_acc']:.2%}"
          f"{'' if out['test_acc'] >= 0.9 else '  (BELOW 90%)'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("a", "b", "all"), default="all")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of epochs to time in (a)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's default)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    if args.part in ("a", "all"):
        part_a(args.repeat)
    if args.part in ("b", "all"):
        part_b(args.threads)


if __name__ == "__main__":
    main()
