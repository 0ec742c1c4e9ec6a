"""Command: experiment list | run ID — the coursework's controlled comparisons (cnnedu/experiments/),
their runs queued in the run store like any other, the result table beside the document's numbers (the
``COMMANDS`` table at the end; cnnedu/cli/main.py reads it)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from cnnedu.cli.common import Command, print_json
from cnnedu.experiments.experiment import SCALES


def _arguments(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = subs.add_parser("list", help="every experiment with its source document and task")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a list")
    run = subs.add_parser("run", help="launch an experiment, follow its runs and print the result table")
    run.add_argument("id", metavar="ID", help="an experiment id from `experiment list`, e.g. 000-learning-rate")
    run.add_argument("--scale", choices=SCALES, default="classroom",
                     help="quick: 1 epoch on 400 images, under a minute (to see it run); classroom (default): a "
                          "few minutes on a CPU; document: the document's epochs and data")
    run.add_argument("--seeds", type=int, default=1, help="runs per value, seeds 0..N-1 (default 1)")
    run.add_argument("--timeout", type=float, default=None, help="stop waiting after this many seconds")
    run.add_argument("--json", action="store_true", help="print one JSON document at the end")


def experiment_to_dict(e) -> dict:
    """An experiment as JSON (its values as written, its base and classroom settings)."""
    return {"id": e.id, "seed": e.seed, "document": e.document, "task": e.task, "title": e.title,
            "question": e.question, "vary": e.vary, "values": list(e.values), "labels": list(e.labels),
            "reported": list(e.reported), "document_concluded": e.document_concluded, "known_true": e.known_true,
            "classroom_note": e.classroom_note}


def result_to_dict(result) -> dict:
    return {"experiment": result.experiment.id, "scale": result.scale, "done": result.done(),
            "differs": result.differs, "data_note": result.data_note, "seeds": result.seeds,
            "rows": [asdict(row) for row in result.rows]}


def _list(args: argparse.Namespace) -> int:
    from cnnedu.experiments.catalog import EXPERIMENTS, by_document

    if args.json:
        print_json([experiment_to_dict(e) for e in EXPERIMENTS.values()])
        return 0
    for document, experiments in by_document().items():
        print(document)
        for e in experiments:
            print(f"  {e.id:24} {e.task:20} {e.title} (varies {e.vary})")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def print_table(result, out=sys.stdout) -> None:
    """The result table: per value, our test accuracy (± spread over seeds) beside the document's."""
    e = result.experiment
    print(f"\n{e.id} — {e.title} ({e.document}, {e.task}), {result.scale} scale", file=out)
    width = max(len(r.label) for r in result.rows) + 2
    print(f"  {'value':{width}}{'ours':>16}  {'document':>9}  status", file=out)
    for r in result.rows:
        ours = _pct(r.test_acc) + (f" ± {r.spread:.2f}" if r.spread is not None else "")
        extra = f"  {r.params:,} params" if r.params and e.vary == "arch" else ""
        print(f"  {r.label:{width}}{ours:>16}  {_pct(r.reported):>9}  {r.status}{extra}", file=out)
        if r.norm and "norm_stats" in e.varied_fields + ("normalize",):
            print(f"  {'':{width}}normalisation {r.norm}", file=out)
    print(f"\n{result.differs}", file=out)
    print(f"Set-up: {result.rows[0].setup_difference}.", file=out)
    if result.data_note:
        print(f"Data: {result.data_note}", file=out)
    print(f"The document concluded: {e.document_concluded}\nWhat is known: {e.known_true}", file=out)


def _follow(exp_id: str, scale: str, ids: list[str], timeout: float | None, out) -> object:
    """Wait for the runs, printing a line whenever a run's status or progress (in 10% steps) changes."""
    from cnnedu.experiments.runner import results

    deadline, shown = (time.monotonic() + timeout) if timeout else None, {}
    while True:
        result = results(exp_id, scale)
        for row in result.rows:
            state = (row.status, int(row.progress * 10))
            if shown.get(row.label) != state:
                shown[row.label] = state
                acc = f", test accuracy {_pct(row.test_acc)}" if row.status == "done" else ""
                print(f"  {row.label}: {row.status}, {row.progress:.0%}{acc}", file=out, flush=True)
        if result.done() or (deadline and time.monotonic() > deadline):
            return result
        time.sleep(0.5)


def _run(args: argparse.Namespace) -> int:
    from cnnedu.experiments.catalog import get
    from cnnedu.experiments.runner import launch

    experiment = get(args.id)  # an unknown id: a CnnEduError, exit 2
    ids = launch(experiment.id, args.scale, args.seeds)
    out = sys.stderr if args.json else sys.stdout
    print(f"{experiment.id}: {len(ids)} runs queued ({', '.join(ids)})", file=out, flush=True)
    result = _follow(experiment.id, args.scale, ids, args.timeout, out)
    if args.json:
        print_json(result_to_dict(result))
    else:
        print_table(result)
    return 0 if result.done() and all(r.status == "done" for r in result.rows) else 1


def experiment(args: argparse.Namespace) -> int:
    return _list(args) if args.action == "list" else _run(args)


COMMANDS = (
    Command("experiment", "the coursework's experiments: `experiment list`, `experiment run ID` (one setting "
            "varies; our accuracy beside the document's)", _arguments, experiment),
)
