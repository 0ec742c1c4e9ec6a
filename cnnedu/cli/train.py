"""Commands: train, runs (the ``COMMANDS`` table at the end; cnnedu/cli/main.py reads it).

``python -m cnnedu train`` trains in this process (no second Python start-up) but records the run in the
run store like the app does, so ``python -m cnnedu runs`` and the app list it. It waits its turn like any
run: with ``CNNEDU_MAX_RUNS`` runs already training (from the app or another shell) it says so and waits for
a free slot. Ctrl-C stops it cleanly
after the current batch (status "cancelled", the metrics so far kept); a second Ctrl-C stops at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from cnnedu.cli.common import Command, print_json
from cnnedu.errors import TrainError


def _train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``train``: one per setting that has a ``cli`` help (cnnedu.training.config), in the
    order of TrainConfig's fields; flip and crop are given together as --augment."""
    from cnnedu.training.config import SETTINGS

    for s in SETTINGS.values():
        if s.name == "flip":
            p.add_argument("--augment", default="",
                           help="comma-separated: flip (p=0.5), crop (padding 4); or flip=P, crop=PIXELS")
        if s.cli is None:
            continue
        if s.kind == "flag":
            action = {"on": "store_true", "off": "store_false", "both": argparse.BooleanOptionalAction}[s.flag]
            p.add_argument(s.cli_option, dest=s.name, action=action, default=None, help=s.cli_help)
        elif s.kind == "choice":
            p.add_argument(s.cli_option, choices=s.choices, help=s.cli_help)
        else:
            kind = {"whole": int, "number": float}.get(s.kind)
            p.add_argument(s.cli_option, type=kind, required=s.cli_required, help=s.cli_help)
    p.add_argument("--json", action="store_true", help="print one JSON document at the end")


def parse_augment(text: str) -> dict[str, Any]:
    """"flip,crop" → {"flip": 0.5, "crop": 4}; "flip=0.3,crop=2" sets the probability and padding."""
    out: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name = name.strip().lower()
        try:
            if name == "flip":
                out["flip"] = float(value) if value else 0.5
            elif name == "crop":
                out["crop"] = int(value) if value else 4
            else:
                raise TrainError(f"Unknown augmentation '{name}'.", "Use flip and/or crop, e.g. --augment flip,crop.")
        except ValueError:
            raise TrainError(f"--augment {item}: the value after '=' must be a number.") from None
    return out


def config_from_args(args: argparse.Namespace):
    """The TrainConfig the options describe; options not given keep TrainConfig's defaults."""
    from cnnedu.training.config import SETTINGS, TrainConfig

    given = {name: getattr(args, name) for name in SETTINGS if getattr(args, name, None) is not None}
    return TrainConfig(**given, **parse_augment(args.augment))


def _pct(value: float | None) -> str:
    return "  -   " if value is None else f"{value:6.2%}"


class _Printer:
    """Prints the trainer's events: a header, a progress line for steps on a terminal, a line per epoch."""

    def __init__(self, out, run_id_ref: list[str]):
        self.out = out
        self.tty = out.isatty()
        self.run_id_ref = run_id_ref
        self.epochs = 0
        self.val_split = 0.0
        self.warned: set[str] = set()

    def warn(self, warnings: list[str]) -> None:
        for warning in warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                self.line(f"warning: {warning}")

    def line(self, text: str) -> None:
        if self.tty:
            text = "\r\033[K" + text
        print(text, file=self.out, flush=True)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["kind"]
        if kind == "start":
            ds = event["dataset"]
            self.epochs = event["epochs"]
            self.val_split = float(event["config"].get("val_split") or 0.0)
            shape = "×".join(map(str, ds["input_shape"]))
            engine = " (NumPy engine)" if event["config"].get("engine") == "numpy" else ""
            self.line(f"{self.run_id_ref[0]}: {ds['title']}, {ds['n_train']} train"
                      f"{' + ' + str(ds['n_val']) + ' val' if ds['n_val'] else ''} + {ds['n_test']} test images "
                      f"of {shape}; {event['params']:,} parameters; {event['device']}{engine}, {event['threads']} "
                      f"thread(s); {event['steps_per_epoch']} steps of {event['batch_size']} per epoch")
            self.warn(event["warnings"])
        elif kind == "step" and self.tty:
            print(f"\r\033[Kepoch {event['epoch']}/{self.epochs}  step {event['batch']}/{event['batches']}  "
                  f"loss {event['loss']:.4f}  lr {event['lr']:.3g}", end="", file=self.out, flush=True)
        elif kind == "epoch":
            val = ""
            if event["val_acc"] is not None:
                val = f"  val loss {event['val_loss']:.4f} acc {_pct(event['val_acc'])}"
            elif self.val_split:
                val = "  val: no validation images"
            self.line(f"epoch {event['epoch']}/{self.epochs}  train loss {event['train_loss']:.4f} acc "
                      f"{_pct(event['train_acc'])}{val}  test loss {event['test_loss']:.4f} acc "
                      f"{_pct(event['test_acc'])}  {event['images_per_s']:,.0f} img/s  "
                      f"{event['elapsed_s']:.1f} s")
        elif kind in ("done", "cancelled", "failed"):
            self.warn(event.get("warnings") or [])


def train_command(args: argparse.Namespace) -> int:
    from cnnedu.runs import store as runs
    from cnnedu.runs.jobs import max_concurrent, wait_for_slot
    from cnnedu.runs.worker import create_inline, execute

    t0 = time.perf_counter()
    config = config_from_args(args)
    config.validate()
    out = sys.stderr if args.json else sys.stdout
    run_id_ref = ["training"]
    printer = _Printer(out, run_id_ref)
    stop_requested = []

    def on_sigint(signum, frame):  # first Ctrl-C: stop after this batch; the second: at once
        stop_requested.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nstopping after this batch (Ctrl-C again to stop at once)...", file=sys.stderr, flush=True)

    def on_event(event: dict[str, Any]) -> None:
        printer(event)

    def on_wait(training: list[str]) -> None:
        if training:
            n = len(training)
            print(f"{run_id_ref[0]}: waiting for a free slot: {n} run{' is' if n == 1 else 's are'} training "
                  f"({', '.join(training)}); CNNEDU_MAX_RUNS={max_concurrent()} at once. Ctrl-C gives up.",
                  file=out, flush=True)
        else:
            print(f"{run_id_ref[0]}: waiting for a free slot: runs queued earlier go first.", file=out, flush=True)

    def should_stop() -> bool:
        return bool(stop_requested)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        run_id = create_inline(config)
        run_id_ref[0] = run_id
        result = None
        if wait_for_slot(run_id, should_stop=should_stop, on_wait=on_wait):
            result = execute(run_id, on_event=on_event, should_stop=should_stop, share_cores=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    run = runs.get_run(run_id, check=False)
    seconds = time.perf_counter() - t0
    summary = {"run_id": run_id, "status": run.status, "message": run.message, "test_acc": run.test_acc,
               "test_loss": result.test_loss if result else None, "seconds": round(seconds, 3),
               "train_seconds": round(result.seconds, 3) if result else None,
               "epochs": config.epochs, "epochs_done": run.epochs_done,
               "classes": result.classes if result else None,
               "per_class_acc": result.per_class_acc if result else None,
               "warnings": result.warnings if result else [], "history": result.history if result else []}
    if args.json:
        print_json(summary)
    if run.status == "done":
        if not args.json:
            print(f"{run_id}: test accuracy {run.test_acc:.2%} after {config.epochs} epoch(s), "
                  f"{seconds:.1f} s in all")
        return 0
    print(f"{run_id}: {run.status}. {run.message}", file=sys.stderr)
    return 130 if run.status == "cancelled" else 1


def _runs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    p.add_argument("--cancel", metavar="RUN_ID", help="ask a queued or running run to stop")
    p.add_argument("--delete", metavar="RUN_ID", help="delete a run and its files")


def runs_command(args: argparse.Namespace) -> int:
    from cnnedu.runs import store as runs

    if args.cancel:
        run = runs.cancel(args.cancel)
        print(f"{run.id}: {run.status}{' (stop requested)' if run.active else ''}", file=sys.stderr)
    if args.delete:
        runs.delete(args.delete)
        print(f"{args.delete}: deleted", file=sys.stderr)
    listed = runs.list_runs()
    if args.json:
        print_json([run.to_dict() for run in listed])
        return 0
    if not listed:
        print("No runs yet. Start one with: python -m cnnedu train --arch mnist-cnn --dataset synthetic")
        return 0
    rows = [("RUN", "STATUS", "ARCH", "DATASET", "EPOCHS", "TEST ACC", "TIME", "STARTED")]
    for run in listed:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else "-"
        rows.append((run.id, run.status + (" (damaged record)" if run.damaged else ""), run.arch, run.dataset, f"{run.epochs_done}/{run.epochs}",
                     "-" if run.test_acc is None else f"{run.test_acc:.2%}",
                     "-" if run.seconds is None else f"{run.seconds:.0f} s", started))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


COMMANDS = (
    Command("train", "train a network and record the run (Ctrl-C stops it, keeping the metrics)", _train_arguments,
            train_command),
    Command("runs", "list the training runs (from the app and the CLI), newest first", _runs_arguments, runs_command),
)
