"""The run store: every training run, its settings, progress and results, in one place.

The store is a SQLite database, ``home()/runs.db`` (``cnnedu.runs.database``), plus one folder per run,
``home()/runs/<id>/`` (``cnnedu.runs.folder``). It is the single source of truth: the app's pages, a second
browser tab, the CLI and the app after a restart all read the same rows.

A run is queued here, started by the queue (``cnnedu.runs.jobs``) in a worker process of its own
(``cnnedu.runs.processes``) and trained by ``cnnedu.runs.worker``, which records its events, heartbeat and
weights (``cnnedu.runs.recorder``, ``cnnedu.runs.trained``). Listing or reading runs first reconciles: a run
whose process has vanished is marked "interrupted" (its metrics stay) and queued runs start while there are
free slots.

Statuses: queued → running → done | cancelled | failed; and interrupted, when the process died.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnedu.errors import RunStoreError, StorageError
from cnnedu.paths import disk_error, write_files
from cnnedu.runs.database import db, request_cancel, transaction
from cnnedu.runs.folder import RunFolder
from cnnedu.runs.jobs import reconcile, schedule
from cnnedu.runs.trained import has_weights, load


@dataclass
class Run:
    """One row of the run store. ``config`` is the TrainConfig as a dict; ``results`` the final summary."""

    id: str
    seq: int
    arch: str
    dataset: str
    config: dict[str, Any]
    status: str
    message: str
    created: float
    started: float | None
    finished: float | None
    pid: int | None
    heartbeat: float | None
    cancel_requested: bool
    epochs_done: int
    test_acc: float | None  # the latest measured (after every epoch), the final one when finished
    results: dict[str, Any] | None
    token: str | None = None  # random, per run: a worker only writes to the run whose token it was given
    weights_epoch: int | None = None  # the epoch of the weights in model.pt (None: none saved yet)
    inline: bool = False  # trained by the process that created it (the CLI), not by a background worker
    damaged: str = ""  # what of the row could not be read ("config", "results"): shown, never a crash

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ("queued", "running")

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))

    @property
    def seconds(self) -> float | None:
        """Wall-clock time from start to finish (or to now, while running)."""
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started

    @property
    def folder(self) -> Path:
        return RunFolder(self.id).path

    def train_config(self):
        """The configuration as a ``TrainConfig``."""
        from cnnedu.training.config import TrainConfig

        return TrainConfig.from_dict(self.config)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``python -m cnnedu runs --json`` and tables."""
        return {"id": self.id, "arch": self.arch, "dataset": self.dataset, "status": self.status,
                "message": self.message, "created": self.created, "started": self.started,
                "finished": self.finished, "seconds": self.seconds, "epochs_done": self.epochs_done,
                "epochs": self.epochs, "test_acc": self.test_acc, "pid": self.pid,
                "cancel_requested": self.cancel_requested, "weights_epoch": self.weights_epoch,
                "damaged": self.damaged, "config": self.config}

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> Run:
        """A row as a Run; a column of damaged JSON (a hand-edited or half-written store) is left empty and
        named in ``damaged``, so one bad row never breaks the listing of the others."""
        damaged = []
        config = _loads_object(row["config"])
        if config is None:
            config, damaged = {}, ["config"]
        results = _loads_object(row["results"]) if row["results"] else None
        if row["results"] and results is None:
            damaged.append("results")
        message = row["message"] or ""
        if damaged:
            message = (f"This run's record in the run store is damaged (its {' and '.join(damaged)} cannot be "
                       f"read). {message}").strip()
        keys = row.keys()
        return cls(row["id"], row["seq"], str(row["arch"]), str(row["dataset"]), config, str(row["status"]),
                   message, row["created"], row["started"], row["finished"], row["pid"],
                   row["heartbeat"], bool(row["cancel_requested"]), row["epochs_done"] or 0,
                   row["test_acc"] if isinstance(row["test_acc"], int | float) else None, results,
                   row["token"] if "token" in keys else None,
                   row["weights_epoch"] if "weights_epoch" in keys else None,
                   bool(row["inline"]) if "inline" in keys else False, " and ".join(damaged))


def _loads_object(text: Any) -> dict[str, Any] | None:
    """``text`` as a JSON object, or None when it is not one."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "run"


def create_run(config, *, inline: bool = False) -> str:
    """Check ``config``, record it as a new queued run and make its folder; returns the run id (e.g.
    "r0007-lenet-cifar10-cifar10"). Raises the CnnEduError of a bad setting or network before recording
    (a network with no weights, or one too big for ``budgets.RUN_MEMORY_BYTES``, too).

    ``inline=True``: this process will train it (``wait_for_slot`` then ``execute``; the CLI does this), so
    the scheduler never starts a worker for it; it still waits its turn in the queue."""
    from cnnedu.training.checks import check_data, check_network, resolve_spec
    from cnnedu.training.config import TrainConfig

    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    config.validate()
    folder = check_data(config)  # a relative data_dir is inside the data folder
    spec = resolve_spec(config.arch)  # a wrong preset id or spec file fails now, not in the worker
    check_network(spec, config)
    data = config.to_dict()
    if isinstance(config.arch, str) and not _is_preset(config.arch):
        data["arch"] = str(Path(config.arch).resolve())  # the worker may run in another folder
    if folder is not None:
        data["data_dir"] = str(folder)
    now = time.time()
    token = secrets.token_hex(8)
    with db() as con, transaction(con):
        # AUTOINCREMENT never hands out a number twice, so a deleted run's id is never reused
        seq = con.execute("INSERT INTO run_numbers (created) VALUES (?)", (now,)).lastrowid
        run_id = f"r{seq:04d}-{_slug(config.arch_label)}-{_slug(config.dataset)}"
        # a folder left by a store that was deleted meanwhile belongs to no one: start afresh
        shutil.rmtree(RunFolder(run_id).path, ignore_errors=True)
        con.execute("INSERT INTO runs (id, seq, arch, dataset, config, status, created, pid, token, inline) "
                    "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (run_id, seq, config.arch_label, config.dataset, json.dumps(data), now,
                     os.getpid() if inline else None, token, int(inline)))
    folder = RunFolder(run_id)
    try:
        folder.path.mkdir(parents=True, exist_ok=True)
        write_files(folder.path, {folder.TOKEN: token, folder.CONFIG: json.dumps(data, indent=2),
                                  folder.SPEC: spec.to_json()}, "the run's settings")
    except (OSError, StorageError) as err:
        with db() as con, transaction(con):
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(folder.path, ignore_errors=True)
        if isinstance(err, OSError):
            raise disk_error(err, "the run's settings", folder.path) from None
        raise
    return run_id


def _is_preset(arch: str) -> bool:
    from cnnedu.arch.zoo import PRESETS

    return arch in PRESETS


def start_run(config) -> str:
    """Queue a run and start it in a background process as soon as a slot is free; returns its id."""
    run_id = create_run(config)
    schedule()
    return run_id


def list_runs() -> list[Run]:
    """Every run, newest first (after ``reconcile()``)."""
    reconcile()
    with db() as con:
        return [Run._from_row(r) for r in con.execute("SELECT * FROM runs ORDER BY seq DESC")]


def trained_runs() -> list[Run]:
    """The runs with saved weights (finished, cancelled, or stopped after a checkpoint), newest first."""
    return [r for r in list_runs() if has_weights(r)]


def get_run(run_id: str, *, check: bool = True) -> Run:
    """One run by id; ``RunStoreError`` (with the closest ids) when there is none."""
    if check:
        reconcile()
    with db() as con:
        row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            ids = [r[0] for r in con.execute("SELECT id FROM runs")]
    if row is None:
        close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.5)
        hint = f"Did you mean {', '.join(close)}?" if close else "`python -m cnnedu runs` lists the runs."
        raise RunStoreError(f"There is no run '{run_id}'.", hint)
    return Run._from_row(row)


def events(run_id: str, since: int = 0, kinds: tuple[str, ...] | list[str] | None = None,
           limit: int | None = None) -> list[dict[str, Any]]:
    """The run's events with an id above ``since``, oldest first: the trainer's dicts plus "id" (poll with
    the last id you saw), optionally only some ``kinds`` ("step", "epoch", ...)."""
    sql = "SELECT id, payload FROM events WHERE run_id = ? AND id > ?"
    args: list[Any] = [run_id, since]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        args.extend(kinds)
    sql += " ORDER BY id"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    with db() as con:
        return [{**json.loads(payload), "id": eid} for eid, payload in con.execute(sql, args)]


def last_event(run_id: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The run's newest event of one of ``kinds`` (with its "id"), or None: a run's progress without
    reading all its events."""
    sql = (f"SELECT id, payload FROM events WHERE run_id = ? AND kind IN ({', '.join('?' * len(kinds))}) "
           "ORDER BY id DESC LIMIT 1")
    with db() as con:
        row = con.execute(sql, [run_id, *kinds]).fetchone()
    return None if row is None else {**json.loads(row[1]), "id": row[0]}


def cancel(run_id: str) -> Run:
    """Ask a run to stop. A queued run is cancelled at once; a running one stops within one batch and keeps
    its metrics (and its weights so far). Cancelling a finished run changes nothing."""
    get_run(run_id, check=False)  # an unknown id is a RunStoreError
    request_cancel(run_id)
    return get_run(run_id, check=False)  # a running worker sees the request before its next batch


def delete(run_id: str, timeout: float = 30.0) -> None:
    """Remove a run, its events and its folder. A running run is cancelled first (and waited for)."""
    run = get_run(run_id)
    if run.active:
        cancel(run_id)
        run = wait(run_id, timeout=timeout, missing_ok=True) or run
        if run.active:
            raise RunStoreError(f"Run {run_id} is still running and did not stop within {timeout:g} s.",
                                "Try again in a moment.")
    with db() as con, transaction(con):
        con.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    shutil.rmtree(RunFolder(run_id).path, ignore_errors=True)


def wait(run_id: str, timeout: float = 600.0, poll: float = 0.2, missing_ok: bool = False) -> Run | None:
    """Block until the run has finished (done, cancelled, failed or interrupted) and return it;
    ``RunStoreError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            run = get_run(run_id)
        except RunStoreError:
            if missing_ok:
                return None
            raise
        if not run.active:
            return run
        if time.monotonic() > deadline:
            raise RunStoreError(f"Run {run_id} is still {run.status} after {timeout:g} s.")
        time.sleep(poll)


def load_model(run_id: str):
    """``(model, spec, meta)`` of a run with saved weights (``cnnedu.runs.trained.load``); ``RunStoreError``
    when it has none."""
    return load(get_run(run_id, check=False))
