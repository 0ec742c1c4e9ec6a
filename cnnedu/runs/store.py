"""The run store and the job runner: every training run, its settings, progress and results, in one place.

The store is a SQLite database, ``home()/runs.db``, plus one folder per run, ``home()/runs/<id>/``. It is
the single source of truth: the app's pages, a second browser tab, the CLI and the app after a restart all
read the same rows. SQLite runs in WAL mode, so readers (pages polling for new events) never block the
writer (the training process), and every connection is short-lived with a generous busy timeout.

A run is trained by a separate process, ``python -m cnnedu.runs.worker RUN_ID TOKEN``, started in its own session:
closing the browser tab or restarting the Streamlit server does not stop it. The worker writes the
trainer's events to the store, updates a heartbeat every few seconds, looks for a cancel request before
every batch, saves the weights and results in the run folder and marks the run done, cancelled or failed.
Then it starts the next queued run. ``reconcile()`` marks a run whose process has vanished as
"interrupted" (its metrics stay) and starts queued runs while there are free slots.

Statuses: queued → running → done | cancelled | failed; and interrupted, when the process died.

The run folder holds ``model.pt`` (the weights as a state_dict, loaded only with
``torch.load(weights_only=True)``: nothing is ever unpickled), ``spec.json``, ``config.json``,
``meta.json`` (classes, input shape, normalisation, output kind: what ONNX export needs),
``results.json`` (test accuracy, per-class accuracy, confusion matrix), ``token`` and ``worker.log``.

Durability (a classroom server has full disks, killed processes and students who delete folders):

- The weights and meta.json are checkpointed after every epoch (``weights_epoch`` in the row says which),
  all files written all-or-nothing (``cnnedu.paths.write_files``: .tmp, fsync, ``os.replace``). A killed
  run keeps its last epoch's weights: it can be exported, looked inside and predicted with. A write that
  fails (a full disk, a quota, a read-only disk) marks the run failed with a plain message; a run is never
  "done" without its weights.
- Every run has a random ``token`` (in its row, its folder and the worker's command line). A worker whose
  run is gone or was re-created under the same id (the store was deleted meanwhile) stops without writing
  anything: no events, no weights, no status.
- The limit on runs at once holds across processes: a slot is claimed inside ``BEGIN IMMEDIATE``, by the
  scheduler for background runs and by ``wait_for_slot`` for a run the CLI trains in its own process.
- Every worker this process starts is reaped as soon as it exits (no zombies under a long-lived server).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnedu.errors import CnnEduError, RunStoreError, StorageError
from cnnedu.paths import disk_error, home, write_files

STATUSES = ("queued", "running", "done", "cancelled", "failed", "interrupted")
FINISHED = ("done", "cancelled", "failed", "interrupted")
HEARTBEAT_S = 2.0  # how often a worker says "still alive"
STALE_S = 120.0  # a running run whose heartbeat is older than this is considered dead
EVENT_FLUSH_S = 0.5  # "step" events are written in small batches at most this far apart

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    arch TEXT NOT NULL,
    dataset TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    heartbeat REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    test_acc REAL,
    results TEXT,
    token TEXT,
    weights_epoch INTEGER,
    inline INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    step INTEGER,
    epoch INTEGER,
    time REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, id);
CREATE TABLE IF NOT EXISTS run_numbers (seq INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL);
"""

# columns added after the first release: an older runs.db gets them when it is opened
_NEW_COLUMNS = {"token": "TEXT", "weights_epoch": "INTEGER", "inline": "INTEGER NOT NULL DEFAULT 0"}

_READY: set[str] = set()  # databases whose schema this process has already made sure of
_CHILDREN: dict[int, subprocess.Popen] = {}  # workers this process started (polled, so no zombies)


# --------------------------------------------------------------------------------------------- database


def db_path() -> Path:
    return home() / "runs.db"


def run_dir(run_id: str) -> Path:
    """The artifact folder of a run: ``home()/runs/<id>/``."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", run_id) or run_id.startswith("."):
        raise RunStoreError(f"'{run_id}' is not a valid run id.")
    return home() / "runs" / run_id


def _connect() -> sqlite3.Connection:
    """A new connection in autocommit mode (transactions are explicit), WAL, 30 s busy timeout."""
    path = db_path()
    if str(path) in _READY and not path.exists():
        _READY.discard(str(path))
    try:
        con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA synchronous=NORMAL")
        if str(path) not in _READY:  # first use in this process (or the file was deleted)
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            _migrate(con)
            _READY.add(str(path))
    except sqlite3.Error as err:
        raise RunStoreError(f"The run store {path} cannot be opened: {err}",
                            "Check that the folder is writable (CNNEDU_HOME sets where it lives).") from None
    return con


def _migrate(con: sqlite3.Connection) -> None:
    """Add the columns an older store lacks (inside the write lock: two processes may open it at once)."""
    if _NEW_COLUMNS.keys() <= {r[1] for r in con.execute("PRAGMA table_info(runs)")}:
        return
    with _transaction(con):
        have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        for name, kind in _NEW_COLUMNS.items():
            if name not in have:
                con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


@contextlib.contextmanager
def _db() -> Iterator[sqlite3.Connection]:
    con = _connect()
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front, so read-then-write is atomic."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _insert_events(con: sqlite3.Connection, run_id: str, events: list[dict[str, Any]]) -> None:
    now = time.time()
    con.executemany(
        "INSERT INTO events (run_id, kind, step, epoch, time, payload) VALUES (?, ?, ?, ?, ?, ?)",
        [(run_id, e["kind"], e.get("step"), e.get("epoch"), now, _dumps(e)) for e in events])


def _dumps(value: Any) -> str:
    """Strict JSON (what a browser can parse): NaN and infinities become null."""
    return json.dumps(_finite(value), default=_jsonable, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


# ------------------------------------------------------------------------------------------------ a run


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
        return run_dir(self.id)

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


# ------------------------------------------------------------------------------------------- public API


def max_concurrent() -> int:
    """How many runs may train at once: ``$CNNEDU_MAX_RUNS``, default 1 (a lone run gets every core)."""
    try:
        return max(1, int(os.environ.get("CNNEDU_MAX_RUNS", "1")))
    except ValueError:
        return 1


def run_time_limit() -> float | None:
    """The longest a run may train, in seconds: ``$CNNEDU_RUN_LIMIT_MIN`` minutes (a classroom server sets it,
    so that one student's long run cannot hold the queue), else no limit. A run that reaches it stops as
    if cancelled, its metrics and weights kept."""
    try:
        minutes = float(os.environ.get("CNNEDU_RUN_LIMIT_MIN", ""))
    except ValueError:
        return None
    return minutes * 60 if math.isfinite(minutes) and minutes > 0 else None


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_run() -> int:
    """CPU threads each background run gets: ``$CNNEDU_THREADS``, else the cores but one (left to the app
    server, the browser and the system) shared between the runs allowed at once, at least 1.

    Why leave a core free: PyTorch's threads wait for each other many times per batch, so when another
    program takes one of their cores they all stall. Measured on 2 cores with one other busy process,
    mnist-cnn trained at 1,700 images/s with 2 threads and 7,100 with 1 (11,000 with 2 on an idle machine).
    """
    try:
        return min(1024, max(1, int(os.environ["CNNEDU_THREADS"])))  # TrainConfig's own limit
    except (KeyError, ValueError):
        return max(1, (cpu_cores() - 1) // max_concurrent())


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
    with _db() as con, _transaction(con):
        # AUTOINCREMENT never hands out a number twice, so a deleted run's id is never reused
        seq = con.execute("INSERT INTO run_numbers (created) VALUES (?)", (now,)).lastrowid
        run_id = f"r{seq:04d}-{_slug(config.arch_label)}-{_slug(config.dataset)}"
        # a folder left by a store that was deleted meanwhile belongs to no one: start afresh
        shutil.rmtree(run_dir(run_id), ignore_errors=True)
        con.execute("INSERT INTO runs (id, seq, arch, dataset, config, status, created, pid, token, inline) "
                    "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (run_id, seq, config.arch_label, config.dataset, json.dumps(data), now,
                     os.getpid() if inline else None, token, int(inline)))
    folder = run_dir(run_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_files(folder, {"token": token, "config.json": json.dumps(data, indent=2),
                             "spec.json": spec.to_json()}, "the run's settings")
    except (OSError, StorageError) as err:
        with _db() as con, _transaction(con):
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(err, OSError):
            raise disk_error(err, "the run's settings", folder) from None
        raise
    return run_id


def _is_preset(arch: str) -> bool:
    from cnnedu.arch.zoo import PRESETS

    return arch in PRESETS


def start_run(config) -> str:
    """Queue a run and start it in a background process as soon as a slot is free; returns its id."""
    run_id = create_run(config)
    _schedule()
    return run_id


def list_runs() -> list[Run]:
    """Every run, newest first (after ``reconcile()``)."""
    reconcile()
    with _db() as con:
        return [Run._from_row(r) for r in con.execute("SELECT * FROM runs ORDER BY seq DESC")]


def has_weights(run: Run) -> bool:
    """Whether the run saved a trained network that Look inside, Predict and export can open: it finished,
    it was cancelled (its weights are saved when it stops), or it was interrupted or failed after an
    epoch's checkpoint (``weights_epoch`` says which epoch). A run still training is not offered."""
    if run.active or "config" in run.damaged:  # (Look inside needs the settings to show the test images)
        return False
    if run.status in ("interrupted", "failed") and not run.weights_epoch:
        return False
    folder = run_dir(run.id)
    return (folder / "model.pt").is_file() and (folder / "meta.json").is_file()


def trained_runs() -> list[Run]:
    """The runs with saved weights (finished, cancelled, or stopped after a checkpoint), newest first."""
    return [r for r in list_runs() if has_weights(r)]


def weights_note(run: Run) -> str:
    """Which weights a run kept, when they are not its finished ones: "" for a done run."""
    if run.status == "cancelled":
        return f"cancelled after {run.epochs_done} of {run.epochs} epochs"
    if run.status in ("interrupted", "failed") and run.weights_epoch:
        return f"{run.status}: the weights of epoch {run.weights_epoch} of {run.epochs}"
    return ""


def trained_label(run: Run) -> str:
    """How a run with weights is named in a picker: its id, test accuracy, and which weights it kept."""
    acc = "" if run.test_acc is None else f" — test accuracy {run.test_acc:.1%}"
    note = weights_note(run)
    return f"{run.id}{acc}{f' ({note})' if note else ''}"


def get_run(run_id: str, *, check: bool = True) -> Run:
    """One run by id; ``RunStoreError`` (with the closest ids) when there is none."""
    if check:
        reconcile()
    with _db() as con:
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
    with _db() as con:
        return [{**json.loads(payload), "id": eid} for eid, payload in con.execute(sql, args)]


def last_event(run_id: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The run's newest event of one of ``kinds`` (with its "id"), or None: a run's progress without
    reading all its events."""
    sql = (f"SELECT id, payload FROM events WHERE run_id = ? AND kind IN ({', '.join('?' * len(kinds))}) "
           "ORDER BY id DESC LIMIT 1")
    with _db() as con:
        row = con.execute(sql, [run_id, *kinds]).fetchone()
    return None if row is None else {**json.loads(row[1]), "id": row[0]}


def cancel(run_id: str) -> Run:
    """Ask a run to stop. A queued run is cancelled at once; a running one stops within one batch and keeps
    its metrics (and its weights so far). Cancelling a finished run changes nothing."""
    get_run(run_id, check=False)  # an unknown id is a RunStoreError
    with _db() as con, _transaction(con):
        con.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status IN ('queued', 'running')",
                    (run_id,))
        cur = con.execute("UPDATE runs SET status = 'cancelled', finished = ?, message = ? "
                          "WHERE id = ? AND status = 'queued'",
                          (time.time(), "Cancelled before it started.", run_id))
        if cur.rowcount:
            _insert_events(con, run_id, [{"kind": "cancelled", "message": "Cancelled before it started."}])
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
    with _db() as con, _transaction(con):
        con.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
        con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    shutil.rmtree(run_dir(run_id), ignore_errors=True)


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
    """``(model, spec, meta)`` of a finished run: the network in eval mode on the CPU with its trained
    weights, its Spec, and the metadata dict (classes, input_shape, channel_order, mean, std, output, arch,
    spec, training, ...). The weights are read with ``torch.load(weights_only=True)``: tensors only."""
    import torch

    from cnnedu.arch.nets import build_model
    from cnnedu.arch.spec import parse_spec

    run = get_run(run_id, check=False)
    folder = run_dir(run_id)
    weights, meta_file = folder / "model.pt", folder / "meta.json"
    if not weights.is_file() or not meta_file.is_file() or (
            run.status in ("interrupted", "failed") and not run.weights_epoch):
        raise RunStoreError(f"Run {run_id} has no saved model (its status is {run.status}).",
                            "Runs keep their weights when they finish or are cancelled, and after every "
                            "finished epoch; this one has none.")
    try:
        meta = json.loads(meta_file.read_text())
        spec = parse_spec(meta["spec"])
        model = build_model(spec, device="cpu")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except CnnEduError:
        raise
    except Exception as err:  # a damaged or foreign file
        raise RunStoreError(f"The saved model of run {run_id} cannot be loaded: {err}") from None
    model.eval()
    return model, spec, meta


# ------------------------------------------------------------------------------------------- scheduling


def reconcile() -> list[str]:
    """Reap the workers this process started that have exited, mark runs whose process is gone as
    "interrupted" (metrics and last checkpoint kept), cancel queued CLI runs whose command has stopped, and
    start queued runs while there are free slots. Cheap; called by ``list_runs``/``get_run`` and the pages'
    polling. Returns the ids it marked interrupted."""
    _reap()
    now = time.time()
    marked = []
    with _db() as con:
        rows = con.execute("SELECT id, pid, heartbeat, epochs_done, weights_epoch FROM runs "
                           "WHERE status = 'running'").fetchall()
        for row in rows:
            beat = row["heartbeat"] or 0.0
            dead = (row["pid"] is not None and not _alive(row["pid"])) or now - beat > STALE_S
            if not dead:
                continue
            kept = (f" The weights of epoch {row['weights_epoch']} are saved: the run can be exported, looked "
                    "inside and predicted with." if row["weights_epoch"] else "")
            message = (f"The training process stopped without finishing (killed, crashed, or the computer "
                       f"restarted) after {row['epochs_done']} epoch(s); the metrics measured until then "
                       f"are kept.{kept}")
            if _mark(con, row["id"], row["pid"], "running", "interrupted", message, now):
                marked.append(row["id"])
        waiting = con.execute("SELECT id, pid FROM runs WHERE status = 'queued' AND inline = 1").fetchall()
        for row in waiting:  # a CLI run waiting for a slot whose command was killed would block the queue
            if row["pid"] is not None and _alive(row["pid"]):
                continue
            message = "Cancelled before it started: the command that was waiting to train it stopped."
            _mark(con, row["id"], row["pid"], "queued", "cancelled", message, now)
    _schedule()
    return marked


def _mark(con: sqlite3.Connection, run_id: str, pid: int | None, was: str, status: str, message: str,
          now: float) -> bool:
    """Set a run that is still ``was`` with process ``pid`` to ``status`` (and record the event); False when
    something else changed it first (another page reconciling at the same moment)."""
    with _transaction(con):
        cur = con.execute("UPDATE runs SET status = ?, finished = ?, message = ? "
                          "WHERE id = ? AND status = ? AND pid IS ?", (status, now, message, run_id, was, pid))
        if cur.rowcount:
            _insert_events(con, run_id, [{"kind": status, "message": message}])
    return bool(cur.rowcount)


def _reap() -> None:
    """Collect the exit status of every finished worker this process started (a finished child that is not
    collected stays a zombie for as long as the server runs). ``_spawn`` also starts a thread per worker
    that waits for it; this catches any it missed."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)


def _wait_for_child(child: subprocess.Popen) -> None:
    """The reaper thread of one worker: blocks in waitpid on that process only (never on "any child", so
    ``subprocess`` keeps working elsewhere in the server), then forgets it."""
    with contextlib.suppress(Exception):
        child.wait()
    _CHILDREN.pop(child.pid, None)


def _alive(pid: int) -> bool:
    """Is process ``pid`` still running (not gone, not a zombie)?"""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:  # poll() also reaps it once it has exited: no zombie is left
            return True
        _CHILDREN.pop(pid, None)  # (pages may reconcile from several threads at once)
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # no cheap check there: rely on the heartbeat
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) still answers kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _schedule() -> list[str]:
    """Start the oldest queued runs while fewer than ``max_concurrent()`` are running. A queued CLI run
    (``inline``) keeps its place in the line but is started by its own process (``wait_for_slot``)."""
    now = time.time()
    with _db() as con:
        if con.execute("SELECT 1 FROM runs WHERE status = 'queued' LIMIT 1").fetchone() is None:
            return []  # the usual case when a page polls: no write lock taken
    with _db() as con, _transaction(con):
        running = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
        free = max_concurrent() - running
        if free <= 0:
            return []
        rows = con.execute("SELECT id, token, inline FROM runs WHERE status = 'queued' ORDER BY seq LIMIT ?",
                           (free,)).fetchall()
        claimed = [(r["id"], r["token"]) for r in rows if not r["inline"]]
        for run_id, _ in claimed:  # claimed here, inside the lock, so two schedulers never start the same run
            con.execute("UPDATE runs SET status = 'running', started = ?, heartbeat = ?, pid = NULL "
                        "WHERE id = ?", (now, now, run_id))
    for run_id, token in claimed:
        _spawn(run_id, token)
    return [run_id for run_id, _ in claimed]


def _spawn(run_id: str, token: str | None) -> None:
    """Start ``python -m cnnedu.runs.worker RUN_ID TOKEN`` in its own session, its output going to worker.log."""
    folder = run_dir(run_id)
    env = dict(os.environ)
    env["CNNEDU_HOME"] = str(home())
    # the NumPy engine's BLAS shares the cores as PyTorch does (threads_per_run); it reads this at start-up
    env.setdefault("OPENBLAS_NUM_THREADS", str(threads_per_run()))
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "worker.log", "ab") as log:
            child = subprocess.Popen([sys.executable, "-m", "cnnedu.runs.worker", run_id, *([token] if token else [])],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=os.name != "nt")
    except OSError as err:
        _finish(run_id, "failed", f"The training process could not be started: {err}")
        return
    _CHILDREN[child.pid] = child
    threading.Thread(target=_wait_for_child, args=(child,), name=f"reap-{child.pid}", daemon=True).start()
    with _db() as con:
        con.execute("UPDATE runs SET pid = ? WHERE id = ? AND pid IS NULL", (child.pid, run_id))


def _finish(run_id: str, status: str, message: str, results: dict[str, Any] | None = None,
            event: bool = True, token: str | None = None) -> bool:
    """Record the end of a run (only the run with ``token``, when given); False when it is not there."""
    with _db() as con, _transaction(con):
        cur = con.execute("UPDATE runs SET status = ?, message = ?, finished = ?, results = COALESCE(?, results), "
                          "test_acc = COALESCE(?, test_acc) WHERE id = ? AND (? IS NULL OR token = ?)",
                          (status, message, time.time(), _dumps(results) if results else None,
                           (results or {}).get("test_acc"), run_id, token, token))
        if cur.rowcount and event:
            _insert_events(con, run_id, [{"kind": status, "message": message}])
        return bool(cur.rowcount)


def wait_for_slot(run_id: str, should_stop: Callable[[], bool] | None = None,
                  on_wait: Callable[[list[str]], None] | None = None, poll: float = 0.5) -> bool:
    """Wait until run ``run_id`` (created with ``inline=True`` by this process) may train, and claim its
    slot: no more than ``max_concurrent()`` runs train at once, whichever process started them, and runs
    queued before it go first. ``on_wait(ids of the runs training)`` is called when it has to wait (and
    whenever those change). Returns False when it was cancelled meanwhile (``should_stop()``, Ctrl-C, or
    ``cancel``), True when the run is now "running" and this process must train it (``execute``)."""
    told: list[str] | None = None
    try:
        while True:
            reconcile()
            with _db() as con, _transaction(con):
                row = con.execute("SELECT status, seq FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is None or row["status"] != "queued":
                    return False
                running = [r[0] for r in con.execute("SELECT id FROM runs WHERE status = 'running' ORDER BY seq")]
                ahead = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'queued' AND seq < ?",
                                    (row["seq"],)).fetchone()[0]
                if len(running) + ahead < max_concurrent():
                    now = time.time()
                    con.execute("UPDATE runs SET status = 'running', started = ?, heartbeat = ?, pid = ? "
                                "WHERE id = ?", (now, now, os.getpid(), run_id))
                    return True
            if on_wait is not None and running != told:
                on_wait(running)
                told = running
            if should_stop is not None and should_stop():
                cancel(run_id)
                return False
            time.sleep(poll)
    except BaseException:  # Ctrl-C while waiting: the run does not stay queued for ever
        with contextlib.suppress(CnnEduError, sqlite3.Error):
            cancel(run_id)
        raise


# ---------------------------------------------------------------------------------------- running a run


class _Orphaned(Exception):
    """This worker's run is gone, or is another run now (the store was deleted and re-created): it must
    stop without writing anything."""


class _Recorder:
    """The worker's link to the store: buffers events, writes them in small transactions, answers
    "was I asked to stop?" with one indexed read, and keeps a heartbeat going in a thread. Every read and
    write checks that the run is still this worker's (same store file, same token): if not, ``_Orphaned``."""

    def __init__(self, run_id: str, token: str | None):
        self.run_id = run_id
        self.token = token
        self.db = db_path()
        self.con = _connect()
        self.identity = _identity(self.db)
        self.buffer: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        self.epochs_done = 0
        self.test_acc: float | None = None
        self.finished = False  # a "done"/"cancelled"/"failed" event was recorded
        self.orphaned = False
        self._beat_stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{run_id}", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        con = _connect()
        try:
            while not self._beat_stop.wait(HEARTBEAT_S):
                if _identity(self.db) != self.identity:
                    break
                with contextlib.suppress(sqlite3.Error):
                    con.execute("UPDATE runs SET heartbeat = ? WHERE id = ? AND token IS ?",
                                (time.time(), self.run_id, self.token))
        finally:
            con.close()

    def check(self, cancel_flag: bool = False) -> bool:
        """Raise ``_Orphaned`` unless the run is still this worker's; returns its cancel request."""
        row = None
        if not self.orphaned and _identity(self.db) == self.identity:
            row = self.con.execute("SELECT cancel_requested, token FROM runs WHERE id = ?",
                                   (self.run_id,)).fetchone()
        if row is None or row["token"] != self.token:
            self.orphaned = True
            raise _Orphaned(self.run_id)
        return bool(row["cancel_requested"])

    def add(self, event: dict[str, Any]) -> None:
        if event["kind"] == "epoch":
            self.epochs_done, self.test_acc = event["epoch"], event.get("test_acc")
        self.finished = self.finished or event["kind"] in FINISHED
        self.buffer.append(event)
        if event["kind"] != "step" or time.monotonic() - self.last_flush > EVENT_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buffer:
            return
        with _transaction(self.con):
            self.check()
            _insert_events(self.con, self.run_id, self.buffer)
            self.con.execute("UPDATE runs SET heartbeat = ?, epochs_done = ?, test_acc = COALESCE(?, test_acc) "
                             "WHERE id = ?", (time.time(), self.epochs_done, self.test_acc, self.run_id))
        self.buffer.clear()

    def cancel_requested(self) -> bool:
        return self.check()

    def close(self) -> None:
        self._beat_stop.set()
        self._beat.join(timeout=5)
        if not self.orphaned:
            with contextlib.suppress(sqlite3.Error, _Orphaned):
                self.flush()
        self.con.close()


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` is now (device, inode); None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _owned_folder(run_id: str, token: str | None) -> Path:
    """The run's folder, after checking (with a fresh connection and the folder's ``token`` file) that the
    run is still this worker's; ``_Orphaned`` if not. Never creates the folder."""
    folder = run_dir(run_id)
    with _db() as con:
        row = con.execute("SELECT token FROM runs WHERE id = ?", (run_id,)).fetchone()
    try:
        on_disk = (folder / "token").read_text().strip()
    except OSError:
        on_disk = None
    if row is None or row["token"] != token or (token is not None and on_disk != token):
        raise _Orphaned(run_id)
    return folder


def execute(run_id: str, on_event: Callable[[dict[str, Any]], None] | None = None,
            should_stop: Callable[[], bool] | None = None, share_cores: bool = True,
            token: str | None = None):
    """Train run ``run_id`` in this process, recording everything in the store; returns the TrainResult
    (None when it failed before training, or when the run was deleted or re-created meanwhile: then
    nothing at all is written). ``token``: the run's token (the worker gets it on its command line; else it
    is read from the row now). Used by the worker process and by ``python -m cnnedu train`` (which passes
    ``share_cores=False``: a config without ``threads`` then uses PyTorch's default, all cores, instead of
    ``threads_per_run()``). The weights are checkpointed after every epoch. Afterwards, starts the next
    queued run if a slot is free."""
    from cnnedu.runs.ray_executor import Interrupted, executor, train_on_ray
    from cnnedu.training.config import TrainConfig
    from cnnedu.training.train import train

    run = get_run(run_id, check=False)
    if token is None:
        token = run.token
    elif run.token != token:
        return None  # a worker started for a run of a store that was deleted: not ours
    if run.status != "running":
        raise RunStoreError(f"Run {run_id} is {run.status}: only a run that was started can be trained.",
                            "Start a new run instead.")
    now = time.time()
    with _db() as con:
        con.execute("UPDATE runs SET pid = ?, started = COALESCE(started, ?), heartbeat = ? "
                    "WHERE id = ? AND token IS ?", (os.getpid(), now, now, run_id, token))
    recorder = _Recorder(run_id, token)
    held: list[dict[str, Any]] = []  # the trainer's "done"/"cancelled" event, recorded once the weights are saved
    progress: dict[str, Any] = {}

    def emit(event: dict[str, Any]) -> None:
        if event["kind"] in ("done", "cancelled"):
            held.append(event)
        else:
            recorder.add(event)
        if on_event is not None:
            on_event(event)

    limit, began = run_time_limit(), time.monotonic()

    def stop() -> bool:
        if limit is not None and time.monotonic() - began > limit:
            progress["limit"] = True
            return True
        return bool(should_stop and should_stop()) or recorder.cancel_requested()

    def checkpoint(result) -> None:
        progress["result"] = result
        if result.epochs_done >= result.config.epochs:
            return  # the last epoch's weights are saved with the results, below
        recorder.flush()
        try:
            _save(run_id, token, result, checkpoint=True)
        except StorageError as err:
            raise StorageError(f"{err.message}{_kept(run_id, token)}", err.fix) from None

    result = None
    status, message, results = "failed", "", None
    try:
        if run.damaged:
            raise RunStoreError(f"Run {run_id} cannot be trained: its record in the run store is damaged.",
                                "Start a new run.")
        config = TrainConfig.from_dict(run.config)
        if config.threads is None and share_cores:
            config.threads = threads_per_run()
        trainer = train_on_ray if executor() == "ray" else train  # where the training itself happens
        result = trainer(config, on_event=emit, should_stop=stop, on_epoch=checkpoint)
        if progress.get("limit") and result.status == "cancelled":
            result.message = (f"Stopped at this server's time limit of {limit / 60:g} min per run after "
                              f"{result.epochs_done} epoch(s); the metrics and the weights are kept.")
            held[:] = [{**held[0], "message": result.message}] if held else held
        status, message = result.status, result.message
        results = result.summary()
        if result.status in ("done", "cancelled"):
            recorder.check()  # (never touch a folder that is no longer this run's)
            try:
                _save(run_id, token, result, checkpoint=False)
            except StorageError as err:  # never a "done" run without its weights
                status, message = "failed", f"{err.message}{_kept(run_id, token)} {err.fix}"
                results = {**results, "status": "failed", "message": message}
                result.status, result.message = status, message
                held[:] = [{**(held[0] if held else {}), "kind": "failed", "message": message}]
        if held:
            recorder.add(held[0])
    except _Orphaned:
        recorder.orphaned = True
    except Interrupted as err:  # the machine training it was lost (the Ray executor)
        status, message = "interrupted", f"{err} The metrics measured until then are kept.{_kept(run_id, token)}"
        if "result" in progress:
            results = {**progress["result"].summary(), "status": status, "message": message}
        with contextlib.suppress(_Orphaned):
            recorder.add({"kind": "interrupted", "message": message})
    except CnnEduError as err:
        message = str(err)
        if "result" in progress:  # stopped by a failed checkpoint: keep what it measured
            results = {**progress["result"].summary(), "status": "failed", "message": message}
        if not recorder.finished:
            with contextlib.suppress(_Orphaned):
                recorder.add({"kind": "failed", "message": message})
    except KeyboardInterrupt:
        status, message = "cancelled", "Stopped with Ctrl-C; the metrics measured so far are kept."
        with contextlib.suppress(_Orphaned):
            recorder.add({"kind": "cancelled", "message": message})
        raise
    except Exception as err:  # a bug or an unexpected torch error: the traceback goes to worker.log
        log = _log_traceback(run_id, token)
        message = f"The run crashed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        message += f" (the details are in {log})" if log else ""
        with contextlib.suppress(_Orphaned):
            recorder.add({"kind": "failed", "message": message})
    finally:
        recorder.close()
        if not recorder.orphaned:
            _finish(run_id, status, message, results, event=False, token=token)
            with contextlib.suppress(CnnEduError):
                _schedule()
    return None if recorder.orphaned else result


def _kept(run_id: str, token: str | None) -> str:
    """" The run keeps the weights of epoch 2." when an earlier checkpoint is saved, else ""."""
    with _db() as con:
        row = con.execute("SELECT weights_epoch FROM runs WHERE id = ? AND token IS ?", (run_id, token)).fetchone()
    if row is None or not row[0]:
        return ""
    return f" The run keeps the weights of epoch {row[0]}."


def _log_traceback(run_id: str, token: str | None) -> Path | None:
    """Append the current exception's traceback to the run's worker.log (never to a user's terminal)."""
    try:
        log = _owned_folder(run_id, token) / "worker.log"
        with open(log, "a") as f:
            traceback.print_exc(file=f)
        return log
    except (OSError, CnnEduError, _Orphaned):
        return None


def save_artifacts(run_id: str, result, token: str | None = None) -> None:
    """Write the weights (state_dict), spec, meta and results of a run into its folder, all-or-nothing."""
    if token is None:
        token = get_run(run_id, check=False).token
    _save(run_id, token, result, checkpoint=False)


def _save(run_id: str, token: str | None, result, checkpoint: bool) -> None:
    """Save the weights and meta.json (``checkpoint``: after an epoch), or everything at the end, into the
    run's folder if it is still this worker's run; then record the weights' epoch in the row. A failed
    write is a ``StorageError`` ("The disk is full: the weights of epoch 3 could not be saved. ...")."""
    import io

    import torch

    folder = _owned_folder(run_id, token)
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    epoch = result.epochs_done
    config = result.config
    channels = result.spec.input_shape[0]
    status = "checkpoint" if checkpoint else result.status
    meta = {
        "run_id": run_id,
        "classes": result.classes,
        "input_shape": list(result.spec.input_shape),
        "channel_order": "L" if channels == 1 else "RGB",
        "mean": result.mean,
        "std": result.std,
        "output": result.output,
        "arch": config.arch_label,
        "spec": result.spec.to_dict(),
        "training": {"run_id": run_id, "dataset": config.dataset, "status": status,
                     "test_acc": result.test_acc, "epochs": epoch, "epochs_planned": config.epochs,
                     "optimizer": config.optimizer, "lr": config.learning_rate, "batch_size": config.batch_size,
                     "normalize": config.normalize, "flip": config.flip, "crop": config.crop, "seed": config.seed,
                     "engine": config.engine},
        "dataset": result.dataset,
        "status": status,
        "test_acc": result.test_acc,
        "weights_epoch": epoch,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    files: dict[str, Any] = {"model.pt": buffer.getvalue(), "meta.json": json.dumps(meta, indent=2)}
    if not checkpoint:
        files["spec.json"] = result.spec.to_json()
        files["results.json"] = json.dumps(_finite(result.summary()), indent=2, default=_jsonable)
    what = f"the weights of epoch {epoch}" if epoch else "the weights"
    write_files(folder, files, what)
    with _db() as con:
        con.execute("UPDATE runs SET weights_epoch = ? WHERE id = ? AND token IS ?", (epoch, run_id, token))


def create_inline(config) -> str:
    """Record a run that this process will train (see ``run_inline``); returns its id."""
    return create_run(config, inline=True)


def run_inline(config, on_event: Callable[[dict[str, Any]], None] | None = None,
               should_stop: Callable[[], bool] | None = None, share_cores: bool = True,
               on_wait: Callable[[list[str]], None] | None = None):
    """Record a run and train it in *this* process (no second Python start-up; the CLI does this), once a
    slot is free (``wait_for_slot``: the limit on runs at once holds across processes). Returns
    ``(run_id, TrainResult or None)``. The run is listed and can be cancelled like any other."""
    run_id = create_inline(config)
    if not wait_for_slot(run_id, should_stop=should_stop, on_wait=on_wait):
        return run_id, None
    return run_id, execute(run_id, on_event=on_event, should_stop=should_stop, share_cores=share_cores)
