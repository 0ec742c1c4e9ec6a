"""Launching an experiment's runs and reading its result table back from the run store.

``launch`` queues one run per value (and per seed) with ``cnnedu.runs.store.start_run``, like any run: the
Runs page lists them, a second tab or a reload finds them again by their tag (``TrainConfig.experiment``,
"ID@scale"). ``results`` reads the latest launch of an experiment at a scale into a ``Result``: one
``Row`` per value with its status, progress, our test accuracy (mean and spread over seeds) beside the
document's number and what differs in the set-up.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from cnnedu.errors import CnnEduError
from cnnedu.experiments.catalog import Experiment, get
from cnnedu.experiments.datasets import data_note, dataset_to_use
from cnnedu.runs import store

_FAILED = ("failed", "cancelled", "interrupted")
MAX_SEEDS = 10  # runs per value: enough for a spread, never a queue that holds the server for a day


@dataclass
class Row:
    """One value of the experiment: its runs (one per seed) and what they measured."""

    label: str
    value: Any
    run_ids: list[str]
    status: str  # "not started", "queued", "running", "done", "failed" or "mixed"
    progress: float  # 0..1 over its runs
    test_acc: float | None  # mean over seeds, %
    spread: float | None  # standard deviation over seeds, % (None with one seed)
    reported: float | None  # the document's test accuracy, %
    setup_difference: str
    data_note: str = ""
    params: int | None = None  # the network's trainable parameters
    norm: str = ""  # the normalisation used, and the measured mean/std of the training images


@dataclass
class Result:
    """An experiment's table at one scale (``rows`` in the order of its values)."""

    experiment: Experiment
    scale: str
    rows: list[Row]
    differs: str  # "Only lr differs: 0.1, 0.01, ...; shared: ..."
    data_note: str = ""
    seeds: list[int] = field(default_factory=list)

    def done(self) -> bool:
        """Every row has finished (done or failed) — nothing queued or running."""
        return bool(self.rows) and all(r.status in ("done", "failed") for r in self.rows)


def launch(exp_id: str, scale: str = "classroom", seeds: int = 1) -> list[str]:
    """Queue the experiment's runs (seeds 0 .. seeds-1, every value for each) and return their ids."""
    experiment = get(exp_id)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise CnnEduError(f"{seeds!r} seeds is not allowed: an experiment runs with 1 to {MAX_SEEDS} seeds.",
                          f"Use --seeds between 1 and {MAX_SEEDS} ({MAX_SEEDS} seeds already queue "
                          f"{MAX_SEEDS} runs per value).")
    ids = []
    for seed in range(seeds):
        for config in experiment.configs(scale, seed=seed):
            ids.append(store.start_run(replace(config, dataset=dataset_to_use(config.dataset))))
    return ids


def _value_index(experiment: Experiment, config: dict[str, Any]) -> int | None:
    for i, value in enumerate(experiment.values):
        if all(config.get(k) == v for k, v in experiment.overrides(value).items()):
            return i
    return None


def _latest_launch(experiment: Experiment, scale: str) -> list[tuple[int, store.Run]]:
    """(value index, run) of the newest launch. A launch creates its runs seed by seed, value by value, so
    read newest first their (seed, value) only goes down; the first run where it does not is older."""
    tag, previous, picked = experiment.tag(scale), None, []
    for run in store.list_runs():  # newest first
        i = _value_index(experiment, run.config) if run.config.get("experiment") == tag else None
        if i is None:
            continue
        key = (run.config.get("seed", 0), i)
        if previous is not None and key >= previous:
            break
        previous = key
        picked.append((i, run))
    return picked


def run_ids(exp_id: str, scale: str = "classroom") -> list[str]:
    """The ids of the latest launch's runs, oldest first."""
    return [run.id for _, run in reversed(_latest_launch(get(exp_id), scale))]


def _progress(run: store.Run) -> float:
    if not run.active:
        return 1.0
    if run.status == "queued":
        return 0.0
    step = store.last_event(run.id, ("step",))
    start = store.last_event(run.id, ("start",))
    total = (start or {}).get("steps_per_epoch", 0) * (start or {}).get("epochs", 0)
    if step and total:
        return min(1.0, step["step"] / total)
    return run.epochs_done / max(1, run.epochs)


def _status(runs: list[store.Run]) -> str:
    if not runs:
        return "not started"
    kinds = {"failed" if r.status in _FAILED else r.status for r in runs}
    if len(kinds) == 1:
        return kinds.pop()
    return "running" if kinds & {"queued", "running"} else "mixed"  # "mixed": some done, some failed


def _norm(run: store.Run) -> str:
    info = (run.results or {}) if not run.active else (store.last_event(run.id, ("start",)) or {})
    measured = (info.get("dataset") or {}).get("measured_mean"), (info.get("dataset") or {}).get("measured_std")
    if measured[0] is None:
        return ""
    fmt = lambda xs: "/".join(f"{x:.4f}" for x in xs)  # noqa: E731
    used = "off" if not run.config.get("normalize", True) else f"{fmt(info['mean'])} ± {fmt(info['std'])}"
    return f"used {used}; measured {fmt(measured[0])} ± {fmt(measured[1])}"


def _row(experiment: Experiment, i: int, runs: list[store.Run], scale: str) -> Row:
    runs = sorted(runs, key=lambda r: r.config.get("seed", 0))
    accs = [100.0 * r.test_acc for r in runs if r.status == "done" and r.test_acc is not None]
    wanted = {**experiment.base, **experiment.overrides(experiment.values[i])}.get("dataset", "synthetic")
    notes = sorted({data_note(wanted, r.dataset) for r in runs} - {""})
    setup = experiment.scale_note(scale)
    params = next((r.results.get("params") for r in runs if r.results), None)
    return Row(experiment.labels[i], experiment.values[i], [r.id for r in runs], _status(runs),
               sum(_progress(r) for r in runs) / len(runs) if runs else 0.0,
               statistics.fmean(accs) if accs else None, statistics.stdev(accs) if len(accs) > 1 else None,
               experiment.reported[i], setup, " ".join(notes), params, _norm(runs[0]) if runs else "")


def describe_differs(experiment: Experiment, scale: str, used: str | None = None) -> str:
    """Which setting differs between the runs, and the main settings they share (``used``: the dataset
    the runs trained on, when it stood in for the document's)."""
    first = experiment.configs(scale)[0]
    config = {**first.to_dict(), "arch": first.arch_label}
    if used and used != first.dataset:
        config["dataset"] = f"{used} (standing in for {first.dataset})"
    varied = experiment.varied_fields
    shared = [f"{k} {config[k]}" for k in ("dataset", "arch", "optimizer", "lr", "batch_size", "epochs",
                                           "n_train", "loss") if k not in varied and config.get(k) is not None]
    names = " and ".join(varied)
    return (f"Only {names} differ{'s' if len(varied) == 1 else ''}: {', '.join(experiment.labels)}. Shared by "
            f"every run: {', '.join(shared)}, the seed and every other setting.")


def results(exp_id: str, scale: str = "classroom") -> Result:
    """The result table of the latest launch of ``exp_id`` at ``scale`` (rows "not started" before one)."""
    experiment = get(exp_id)
    picked = _latest_launch(experiment, scale)
    rows = [_row(experiment, i, [run for j, run in picked if j == i], scale) for i in range(len(experiment.values))]
    notes = " ".join(dict.fromkeys(r.data_note for r in rows if r.data_note))
    seeds = sorted({run.config.get("seed", 0) for _, run in picked})
    used = next((run.dataset for _, run in picked), None)
    return Result(experiment, scale, rows, describe_differs(experiment, scale, used), notes, seeds)
