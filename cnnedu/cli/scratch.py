"""Command: gradcheck — seed 003's NumPy layers checked against centred differences and torch autograd
(the ``COMMANDS`` table at the end; cnnedu/cli/main.py reads it)."""

from __future__ import annotations

import argparse

from cnnedu.cli.common import Command, print_json
from cnnedu.scratch.check import LAYERS, LayerCheck, check_layer


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("layer", nargs="?", metavar="LAYER", help=f"one of {', '.join(LAYERS)} (default: all)")
    parser.add_argument("--h", type=float, default=1e-5, help="step of the centred differences (default 1e-5)")
    parser.add_argument("--size", type=int, default=4, help="features, or height and width, of the input (default 4)")
    parser.add_argument("--batch", type=int, default=None, help="examples in the input (default 2; batchnorm 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def to_dict(result: LayerCheck) -> dict:
    """A layer's check as JSON: every gradient's two relative errors and the verdict (no arrays)."""
    return {"layer": result.layer, "description": LAYERS[result.layer], "h": result.h, "ok": result.ok,
            "inputs": {k: list(v.shape) for k, v in result.inputs.items()},
            "grads": [{"name": g.name, "shape": list(g.shape), "error_numeric": g.error_numeric,
                       "error_torch": g.error_torch, "ok": g.ok, "verdict": g.verdict} for g in result.grads]}


def gradcheck(args: argparse.Namespace) -> int:
    names = [args.layer] if args.layer else list(LAYERS)
    results = [check_layer(name, batch=args.batch, size=args.size, h=args.h, seed=args.seed) for name in names]
    if args.json:
        print_json([to_dict(r) for r in results])
    else:
        for r in results:
            shapes = ", ".join(f"{k} {'×'.join(map(str, v.shape))}" for k, v in r.inputs.items())
            print(f"{r.layer} — {LAYERS[r.layer]}\n  inputs: {shapes}; h = {r.h:g}")
            for g in r.grads:
                mark = "✓" if g.ok else "✗"
                print(f"  {mark} d{g.name:6} vs numeric {g.error_numeric:8.1e}   vs torch {g.error_torch:8.1e}   "
                      f"{g.verdict}")
        bad = [r.layer for r in results if not r.ok]
        print("all gradients agree." if not bad else f"disagreements in: {', '.join(bad)}.")
    return 0 if all(r.ok for r in results) else 1


COMMANDS = (
    Command("gradcheck", "check seed 003's NumPy layers: backward pass vs centred differences vs torch autograd",
            _arguments, gradcheck),
)
