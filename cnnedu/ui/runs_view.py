"""What the Train and Runs pages show about a run, computed from the run store: its curves, its settings in
a few readable columns, what differs between runs, and a status line.

Everything here reads a ``cnnedu.runs.store.Run`` and its events; nothing draws except ``show_status``. The
charts themselves live in ``cnnedu.ui.charts``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from cnnedu.runs import eta
from cnnedu.runs import store as runs
from cnnedu.runs.jobs import max_concurrent
from cnnedu.training.config import OPTIMIZER_NAMES, SCHEDULE_NAMES, SETTINGS, arch_label, learning_rate
from cnnedu.ui.text import plain

STATUS_ICONS = {"queued": "…", "running": "▶", "done": "✓", "cancelled": "■", "failed": "✗",
                "interrupted": "!"}  # plain symbols: table cells cannot show Material icons, emoji need a font



def _get(config: dict[str, Any], name: str) -> Any:
    """The value of a setting in a run's config dict, TrainConfig's default where it is missing (a run
    recorded before the setting existed)."""
    return config.get(name, SETTINGS[name].default)


# ------------------------------------------------------------------------------------------------ curves


@dataclass
class Curves:
    """A run's events, sorted into what the charts need.

    ``steps``: one row per "step" event (step, epoch, loss, lr): the training loss as it streams in.
    ``epochs``: one row per "epoch" event (epoch, step, train/val/test loss and accuracy, images_per_s, ...).
    ``start``: the "start" event (steps_per_epoch, epochs, batch_size, dataset, warnings) or None before it.
    ``end``: the last "done" / "cancelled" / "failed" / "interrupted" event, or None.
    """

    steps: pd.DataFrame
    epochs: pd.DataFrame
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    last_step: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def total_steps(self) -> int | None:
        if not self.start:
            return None
        return int(self.start.get("steps_per_epoch") or 0) * int(self.start.get("epochs") or 0) or None

    @property
    def step(self) -> int:
        """The last step reported (0 before the first)."""
        candidates = [0]
        if self.last_step:
            candidates.append(int(self.last_step.get("step") or 0))
        if len(self.epochs):
            candidates.append(int(self.epochs["step"].iloc[-1]))
        return max(candidates)

    @property
    def best_test_acc(self) -> float | None:
        if not len(self.epochs) or self.epochs["test_acc"].isna().all():
            return None
        return float(self.epochs["test_acc"].max())


STEP_COLUMNS = ["step", "epoch", "loss", "lr"]
EPOCH_COLUMNS = ["epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                 "lr", "images_per_s", "epoch_s", "elapsed_s", "eta_s"]


def curves_from_events(events: list[dict[str, Any]]) -> Curves:
    """Sort a run's events (``cnnedu.runs.store.events``) into step and epoch tables."""
    steps, epochs = [], []
    start = end = last_step = None
    warnings: list[str] = []
    for event in events:
        kind = event.get("kind")
        if kind == "step":
            steps.append({k: event.get(k) for k in STEP_COLUMNS})
            last_step = event
        elif kind == "epoch":
            epochs.append({k: event.get(k) for k in EPOCH_COLUMNS})
        elif kind == "start":
            start = event
            warnings.extend(event.get("warnings") or [])
        elif kind in ("done", "cancelled", "failed", "interrupted"):
            end = event
            warnings.extend(w for w in event.get("warnings") or [] if w not in warnings)
    steps_df = pd.DataFrame(steps, columns=STEP_COLUMNS)
    epochs_df = pd.DataFrame(epochs, columns=EPOCH_COLUMNS)
    for df in (steps_df, epochs_df):
        for col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return Curves(steps_df, epochs_df, start, end, last_step, warnings)


# ---------------------------------------------------------------------------------------------- settings


def _num(value: Any) -> str:
    """0.001 → "0.001", 1e-05 → "1e-05", 64 → "64"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def effective_lr(config: dict[str, Any]) -> float:
    """The learning rate a run used: its ``lr``, or the usual one for its optimizer."""
    return learning_rate(_get(config, "optimizer"), config.get("lr"))


def arch_name(config: dict[str, Any]) -> str:
    """The network's short name: the preset id, the spec file's stem or the spec's name."""
    return arch_label(config.get("arch"))


def augmentation_text(config: dict[str, Any]) -> str:
    parts = []
    if config.get("flip"):
        parts.append(f"flip {_num(float(config['flip']))}")
    if config.get("crop"):
        parts.append(f"crop ±{config['crop']} px")
    return ", ".join(parts) or "none"


def schedule_text(config: dict[str, Any]) -> str:
    kind = _get(config, "scheduler")
    if kind == "step":
        return f"step: ×{_num(float(_get(config, 'gamma')))} every {_get(config, 'step_size')} epoch(s)"
    return SCHEDULE_NAMES.get(kind, str(kind))


def optimizer_text(config: dict[str, Any]) -> str:
    opt = _get(config, "optimizer")
    text = OPTIMIZER_NAMES.get(opt, opt)
    if opt in ("sgd", "rmsprop") and config.get("momentum"):
        text += f" (momentum {_num(float(config['momentum']))}{', Nesterov' if config.get('nesterov') else ''})"
    if config.get("weight_decay"):
        text += f", wd {_num(float(config['weight_decay']))}"
    if config.get("engine") == "numpy":
        text += ", NumPy engine"
    return text


def comparable_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that change what a run learns, as short name → value, leaving out the ones that do not
    apply (momentum for Adam, step size without a step schedule) so they never show up as a "difference"."""
    opt = _get(config, "optimizer")
    out: dict[str, Any] = {"arch": arch_name(config), "dataset": config.get("dataset")}
    if config.get("data_dir"):
        out["data_dir"] = config["data_dir"]
    out.update({"n_train": config.get("n_train") or "all", "n_test": config.get("n_test") or "all",
                "epochs": config.get("epochs"), "batch": config.get("batch_size"), "optimizer": opt,
                "lr": effective_lr(config)})
    if opt in ("sgd", "rmsprop"):
        out["momentum"] = _get(config, "momentum")
    if opt == "sgd":
        out["nesterov"] = bool(config.get("nesterov"))
    out["weight_decay"] = _get(config, "weight_decay")
    out["schedule"] = _get(config, "scheduler")
    if out["schedule"] == "step":
        out["step_size"], out["gamma"] = _get(config, "step_size"), _get(config, "gamma")
    out.update({name: _get(config, name) for name in ("flip", "crop", "normalize", "val_split", "seed", "device",
                                                        "engine")})
    out["normalize"] = bool(out["normalize"])
    if out["normalize"]:
        out["norm_stats"] = _get(config, "norm_stats")
    out["loss"] = _get(config, "loss")
    out["subset"] = _get(config, "subset") or "all"
    if isinstance(config.get("arch"), dict):  # two custom builds with the same name may still differ
        import hashlib
        import json

        digest = hashlib.sha1(json.dumps(config["arch"], sort_keys=True).encode()).hexdigest()[:6]
        out["arch"] = f"{out['arch']} #{digest}"
    return out


def differing_settings(configs: list[dict[str, Any]]) -> list[str]:
    """The names of the settings whose values are not the same in all ``configs`` (in a fixed order).

    A setting that applies to some runs only (momentum when one run uses SGD and one Adam) counts as
    differing too: it is part of what makes them different."""
    settings = [comparable_settings(c) for c in configs]
    keys: list[str] = []
    for s in settings:
        keys.extend(k for k in s if k not in keys)
    missing = object()
    return [k for k in keys if len({repr(s.get(k, missing)) for s in settings}) > 1]


def difference_label(config: dict[str, Any], keys: list[str]) -> str:
    """"lr=0.1, optimizer=adam": the run's values of the differing settings (those that apply to it)."""
    settings = comparable_settings(config)
    return ", ".join(f"{k}={_num(settings[k])}" for k in keys if k in settings)


def run_labels(runs: list[Any]) -> tuple[dict[str, str], list[str]]:
    """(run id → legend label, the differing setting names). Labels show only what differs, e.g.
    "lr=0.1" vs "lr=0.01"; runs with the same settings (or a single run) are told apart by their id."""
    keys = differing_settings([r.config for r in runs]) if len(runs) > 1 else []
    labels = {r.id: difference_label(r.config, keys) or r.id for r in runs}
    if len(set(labels.values())) < len(labels):  # identical settings: add the id
        labels = {rid: (f"{label} ({rid.split('-', 1)[0]})" if label != rid else label)
                  for rid, label in labels.items()}
    return labels, keys


def settings_row(run: Any) -> dict[str, Any]:
    """The settings columns of the runs table."""
    c = run.config
    return {"arch": arch_name(c), "dataset": c.get("dataset"), "optimizer": optimizer_text(c),
            "lr": effective_lr(c), "batch": c.get("batch_size"), "epochs": f"{run.epochs_done}/{run.epochs}",
            "augmentation": augmentation_text(c), "normalize": bool(_get(c, "normalize")),
            "schedule": schedule_text(c), "seed": _get(c, "seed")}


# ------------------------------------------------------------------------------------------------ status


def percent_text(value: float | None) -> str:
    """0.873 → "87.3 %"; nothing measured (None, NaN) → "—", never "None" in a table."""
    if value is None or value != value:
        return "—"
    return f"{100 * value:.1f} %"


def human_seconds(seconds: float | None) -> str:
    """75 → "1 min 15 s", 8.2 → "8 s"."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short_seconds(seconds: float | None) -> str:
    """A duration short enough for a metric tile: "42 s", "7 min", "1.5 h"."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    if seconds < 100:
        return f"{round(seconds)} s"
    if seconds < 6000:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def queue_position(run: Any, all_runs: list[Any]) -> int:
    """1 for the next run to start, 2 for the one after it, ..."""
    return 1 + sum(1 for r in all_runs if r.status == "queued" and r.seq < run.seq)


def start_estimate(run: Any, all_runs: list[Any]) -> str:
    """ "Estimated start: in about 3 min." from the queue ahead of the run (cnnedu/runs/eta.py), or why not."""
    now, left = time.time(), {}
    for r in all_runs:
        if r.status == "running":
            start, step = runs.last_event(r.id, ("start",)), runs.last_event(r.id, ("step",))
            left[r.id] = eta.run_seconds_left(r, start, step, now, all_runs)
    wait = eta.seconds_until_start(run, all_runs, left, max_concurrent())
    if wait is None:
        return "Its start cannot be estimated yet (the runs ahead have not measured their speed)."
    return "Estimated start: in a few seconds." if wait < 5 else f"Estimated start: in about {human_seconds(wait)}."


def show_status(run: Any, all_runs: list[Any] | None = None) -> None:
    """One coloured line saying where the run stands (the failure's explanation for a failed run)."""
    if run.status == "queued":
        ahead = [r for r in (all_runs or []) if r.status == "running" and r.id != run.id]
        position = queue_position(run, all_runs or [run])
        busy = f" (now training: {', '.join(r.id for r in ahead)})" if ahead else ""
        slots = max_concurrent()
        at_once = "One run trains" if slots == 1 else f"{slots} runs train"
        st.info(f"Queued — number {position} in line{busy}. {start_estimate(run, all_runs or [run])} {at_once} "
                "at a time so that each gets its CPU cores; it starts by itself when the runs ahead of it "
                "finish.", icon=":material/hourglass_top:")
    elif run.status == "running":
        if run.cancel_requested:
            st.warning("Stopping… (the run stops before its next batch).", icon=":material/stop_circle:")
        else:
            st.info(f"Training {run.id}…", icon=":material/directions_run:")
    elif run.status == "done":
        acc = "" if run.test_acc is None else f" Test accuracy **{run.test_acc:.1%}**"
        st.success(f"Done.{acc} after {run.epochs_done} epoch(s) in {human_seconds(run.seconds)}.", icon=":material/check_circle:")
    elif run.status == "cancelled":
        st.info(f"Cancelled. {plain(run.message or '')}".strip(), icon=":material/stop_circle:")
    elif run.status == "failed":
        st.error(f"The run failed. {plain(run.message or '')}".strip(), icon=":material/cancel:")
    elif run.status == "interrupted":
        st.warning(f"Interrupted. {plain(run.message or '')}".strip(), icon=":material/warning:")
