"""The run store and the job runner: every training run, its settings, progress and results, in one place.

The store is a SQLite database, ``home()/runs.db``, plus one folder per run, ``home()/runs/<id>/``. It is
the single source of truth: the app's pages, a second browser tab, the CLI and the app after a restart all
read the same rows. SQLite runs in WAL mode, so readers (pages polling for new events) never block the
writer (the training process), and every connection is short-lived with a generous busy timeout.

A run is trained by a separate process, ``python -m cnnedu.worker RUN_ID``, started in its own session:
closing the browser tab or restarting the Streamlit server does not stop it. The worker writes the
trainer's events to the store, updates a heartbeat every few seconds, looks for a cancel request before
every batch, saves the weights and results in the run folder and marks the run done, cancelled or failed.
Then it starts the next queued run. ``reconcile()`` marks a run whose process has vanished as
"interrupted" (its metrics stay) and starts queued runs while there are free slots.

Statuses: queued → running → done | cancelled | failed; and interrupted, when the process died.

The run folder holds ``model.pt`` (the weights as a state_dict, loaded only with
``torch.load(weights_only=True)``: nothing is ever unpickled), ``spec.json``, ``config.json``,
``meta.json`` (classes, input shape, normalisation, output kind: what ONNX export needs),
``results.json`` (test accuracy, per-class accuracy, confusion matrix) and ``worker.log``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
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

from cnnedu.errors import CnnEduError, RunStoreError
from cnnedu.paths import home

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
    results TEXT
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
            _READY.add(str(path))
    except sqlite3.Error as err:
        raise RunStoreError(f"The run store {path} cannot be opened: {err}",
                            "Check that the folder is writable (CNNEDU_HOME sets where it lives).") from None
    return con


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
        from cnnedu.train import TrainConfig

        return TrainConfig.from_dict(self.config)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``python -m cnnedu runs --json`` and tables."""
        return {"id": self.id, "arch": self.arch, "dataset": self.dataset, "status": self.status,
                "message": self.message, "created": self.created, "started": self.started,
                "finished": self.finished, "seconds": self.seconds, "epochs_done": self.epochs_done,
                "epochs": self.epochs, "test_acc": self.test_acc, "pid": self.pid,
                "cancel_requested": self.cancel_requested, "config": self.config}

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> Run:
        return cls(row["id"], row["seq"], row["arch"], row["dataset"], json.loads(row["config"]), row["status"],
                   row["message"], row["created"], row["started"], row["finished"], row["pid"],
                   row["heartbeat"], bool(row["cancel_requested"]), row["epochs_done"], row["test_acc"],
                   json.loads(row["results"]) if row["results"] else None)


# ------------------------------------------------------------------------------------------- public API


def max_concurrent() -> int:
    """How many runs may train at once: ``$CNNEDU_MAX_RUNS``, default 1 (a lone run gets every core)."""
    try:
        return max(1, int(os.environ.get("CNNEDU_MAX_RUNS", "1")))
    except ValueError:
        return 1


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
        return max(1, int(os.environ["CNNEDU_THREADS"]))
    except (KeyError, ValueError):
        return max(1, (cpu_cores() - 1) // max_concurrent())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "run"


def create_run(config, *, status: str = "queued", pid: int | None = None) -> str:
    """Check ``config``, record it as a new run and make its folder; returns the run id (e.g.
    "r0007-lenet-cifar10-cifar10"). Raises the CnnEduError of a bad setting or network before recording."""
    from cnnedu.train import TrainConfig, resolve_spec

    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    config.validate()
    spec = resolve_spec(config.arch)  # a wrong preset id or spec file fails now, not in the worker
    data = config.to_dict()
    if isinstance(config.arch, str) and not _is_preset(config.arch):
        data["arch"] = str(Path(config.arch).resolve())  # the worker may run in another folder
    if config.data_dir:
        data["data_dir"] = str(Path(config.data_dir).expanduser().resolve())
    now = time.time()
    with _db() as con, _transaction(con):
        # AUTOINCREMENT never hands out a number twice, so a deleted run's id is never reused
        seq = con.execute("INSERT INTO run_numbers (created) VALUES (?)", (now,)).lastrowid
        run_id = f"r{seq:04d}-{_slug(config.arch_label)}-{_slug(config.dataset)}"
        started = now if status == "running" else None
        con.execute("INSERT INTO runs (id, seq, arch, dataset, config, status, created, started, pid, heartbeat) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, seq, config.arch_label, config.dataset, json.dumps(data), status, now, started,
                     pid, started))
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(data, indent=2))
    (folder / "spec.json").write_text(spec.to_json())
    return run_id


def _is_preset(arch: str) -> bool:
    from cnnedu.zoo import PRESETS

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
    """Whether the run saved a trained network: it finished, or it was cancelled after its weights were
    written (Look inside, Predict and export can open it)."""
    folder = run_dir(run.id)
    return run.status in ("done", "cancelled") and (folder / "model.pt").is_file() and (
        folder / "meta.json").is_file()


def trained_runs() -> list[Run]:
    """The runs with saved weights (finished or cancelled), newest first."""
    return [r for r in list_runs() if has_weights(r)]


def trained_label(run: Run) -> str:
    """How a run with weights is named in a picker: its id, test accuracy, and when it was cancelled."""
    acc = "" if run.test_acc is None else f" — test accuracy {run.test_acc:.1%}"
    cancelled = f" (cancelled after {run.epochs_done} of {run.epochs} epochs)" if run.status == "cancelled" else ""
    return f"{run.id}{acc}{cancelled}"


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

    from cnnedu.nets import build_model
    from cnnedu.spec import parse_spec

    run = get_run(run_id, check=False)
    folder = run_dir(run_id)
    weights, meta_file = folder / "model.pt", folder / "meta.json"
    if not weights.is_file() or not meta_file.is_file():
        raise RunStoreError(f"Run {run_id} has no saved model (its status is {run.status}).",
                            "Only runs that finished or were cancelled keep their weights.")
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
    """Mark runs whose process is gone as "interrupted" (metrics kept) and start queued runs while there are
    free slots. Cheap; called by ``list_runs``/``get_run`` and the pages' polling. Returns the ids it marked."""
    now = time.time()
    marked = []
    with _db() as con:
        rows = con.execute("SELECT id, pid, heartbeat, epochs_done FROM runs WHERE status = 'running'").fetchall()
        for row in rows:
            beat = row["heartbeat"] or 0.0
            dead = (row["pid"] is not None and not _alive(row["pid"])) or now - beat > STALE_S
            if not dead:
                continue
            message = (f"The training process stopped without finishing (killed, crashed, or the computer "
                       f"restarted) after {row['epochs_done']} epoch(s); the metrics measured until then "
                       "are kept.")
            with _transaction(con):
                cur = con.execute("UPDATE runs SET status = 'interrupted', finished = ?, message = ? "
                                  "WHERE id = ? AND status = 'running' AND pid IS ?",
                                  (now, message, row["id"], row["pid"]))
                if cur.rowcount:
                    _insert_events(con, row["id"], [{"kind": "interrupted", "message": message}])
                    marked.append(row["id"])
    _schedule()
    return marked


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
    """Start the oldest queued runs while fewer than ``max_concurrent()`` are running."""
    now = time.time()
    with _db() as con:
        if con.execute("SELECT 1 FROM runs WHERE status = 'queued' LIMIT 1").fetchone() is None:
            return []  # the usual case when a page polls: no write lock taken
    with _db() as con, _transaction(con):
        running = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
        free = max_concurrent() - running
        if free <= 0:
            return []
        ids = [r[0] for r in con.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY seq LIMIT ?",
                                         (free,))]
        for run_id in ids:  # claimed here, inside the lock, so two schedulers never start the same run
            con.execute("UPDATE runs SET status = 'running', started = ?, heartbeat = ?, pid = NULL "
                        "WHERE id = ?", (now, now, run_id))
    for run_id in ids:
        _spawn(run_id)
    return ids


def _spawn(run_id: str) -> None:
    """Start ``python -m cnnedu.worker RUN_ID`` in its own session, its output going to worker.log."""
    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CNNEDU_HOME"] = str(home())
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        with open(folder / "worker.log", "ab") as log:
            child = subprocess.Popen([sys.executable, "-m", "cnnedu.worker", run_id], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=os.name != "nt")
    except OSError as err:
        _finish(run_id, "failed", f"The training process could not be started: {err}")
        return
    _CHILDREN[child.pid] = child
    with _db() as con:
        con.execute("UPDATE runs SET pid = ? WHERE id = ? AND pid IS NULL", (child.pid, run_id))


def _finish(run_id: str, status: str, message: str, results: dict[str, Any] | None = None,
            event: bool = True) -> None:
    with _db() as con, _transaction(con):
        con.execute("UPDATE runs SET status = ?, message = ?, finished = ?, results = COALESCE(?, results), "
                    "test_acc = COALESCE(?, test_acc) WHERE id = ?",
                    (status, message, time.time(), _dumps(results) if results else None,
                     (results or {}).get("test_acc"), run_id))
        if event:
            _insert_events(con, run_id, [{"kind": status, "message": message}])


# ---------------------------------------------------------------------------------------- running a run


class _Recorder:
    """The worker's link to the store: buffers events, writes them in small transactions, answers
    "was I asked to stop?" with one indexed read, and keeps a heartbeat going in a thread."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.con = _connect()
        self.buffer: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        self.epochs_done = 0
        self.test_acc: float | None = None
        self.finished = False  # a "done"/"cancelled"/"failed" event was recorded
        self._beat_stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{run_id}", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        con = _connect()
        try:
            while not self._beat_stop.wait(HEARTBEAT_S):
                with contextlib.suppress(sqlite3.Error):
                    con.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), self.run_id))
        finally:
            con.close()

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
            _insert_events(self.con, self.run_id, self.buffer)
            self.con.execute("UPDATE runs SET heartbeat = ?, epochs_done = ?, test_acc = COALESCE(?, test_acc) "
                             "WHERE id = ?", (time.time(), self.epochs_done, self.test_acc, self.run_id))
        self.buffer.clear()

    def cancel_requested(self) -> bool:
        row = self.con.execute("SELECT cancel_requested FROM runs WHERE id = ?", (self.run_id,)).fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self._beat_stop.set()
        self._beat.join(timeout=5)
        with contextlib.suppress(sqlite3.Error):
            self.flush()
        self.con.close()


def execute(run_id: str, on_event: Callable[[dict[str, Any]], None] | None = None,
            should_stop: Callable[[], bool] | None = None, share_cores: bool = True):
    """Train run ``run_id`` in this process, recording everything in the store; returns the TrainResult
    (None when it failed before training). Used by the worker process and by ``python -m cnnedu train``
    (which passes ``share_cores=False``: a config without ``threads`` then uses PyTorch's default, all
    cores, instead of ``threads_per_run()``). Afterwards, starts the next queued run if a slot is free."""
    from cnnedu.train import TrainConfig, train

    run = get_run(run_id, check=False)
    if run.status != "running":
        raise RunStoreError(f"Run {run_id} is {run.status}: only a run that was started can be trained.",
                            "Start a new run instead.")
    now = time.time()
    with _db() as con:
        con.execute("UPDATE runs SET pid = ?, started = COALESCE(started, ?), heartbeat = ? WHERE id = ?",
                    (os.getpid(), now, now, run_id))
    recorder = _Recorder(run_id)

    def emit(event: dict[str, Any]) -> None:
        recorder.add(event)
        if on_event is not None:
            on_event(event)

    def stop() -> bool:
        return bool(should_stop and should_stop()) or recorder.cancel_requested()

    result = None
    status, message, results = "failed", "", None
    try:
        config = TrainConfig.from_dict(run.config)
        if config.threads is None and share_cores:
            config.threads = threads_per_run()
        result = train(config, on_event=emit, should_stop=stop)
        status, message = result.status, result.message
        results = result.summary()
        if result.status in ("done", "cancelled"):
            save_artifacts(run_id, result)
    except CnnEduError as err:
        message = str(err)
        if not recorder.finished:
            recorder.add({"kind": "failed", "message": message})
    except KeyboardInterrupt:
        status, message = "cancelled", "Stopped with Ctrl-C; the metrics measured so far are kept."
        recorder.add({"kind": "cancelled", "message": message})
        raise
    except Exception as err:  # a bug or an unexpected torch error: keep the traceback in worker.log
        traceback.print_exc()
        message = f"The run crashed: {type(err).__name__}: {err}"
        recorder.add({"kind": "failed", "message": message})
    finally:
        recorder.close()
        _finish(run_id, status, message, results, event=False)
        with contextlib.suppress(CnnEduError):
            _schedule()
    return result


def save_artifacts(run_id: str, result) -> None:
    """Write the weights (state_dict), spec, meta and results of a run into its folder."""
    import torch

    folder = run_dir(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    tmp = folder / "model.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, folder / "model.pt")
    summary = result.summary()
    channels = result.spec.input_shape[0]
    config = result.config
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
        "training": {"run_id": run_id, "dataset": config.dataset, "status": result.status,
                     "test_acc": result.test_acc, "epochs": result.epochs_done, "optimizer": config.optimizer,
                     "lr": config.learning_rate, "batch_size": config.batch_size, "normalize": config.normalize,
                     "flip": config.flip, "crop": config.crop, "seed": config.seed},
        "dataset": result.dataset,
        "status": result.status,
        "test_acc": result.test_acc,
    }
    (folder / "spec.json").write_text(result.spec.to_json())
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    (folder / "results.json").write_text(json.dumps(_finite(summary), indent=2, default=_jsonable))


def run_inline(config, on_event: Callable[[dict[str, Any]], None] | None = None,
               should_stop: Callable[[], bool] | None = None, share_cores: bool = True):
    """Record a run and train it in *this* process (no second Python start-up; the CLI does this).
    Returns ``(run_id, TrainResult or None)``. The run is listed and can be cancelled like any other."""
    run_id = create_run(config, status="running", pid=os.getpid())
    return run_id, execute(run_id, on_event=on_event, should_stop=should_stop, share_cores=share_cores)

