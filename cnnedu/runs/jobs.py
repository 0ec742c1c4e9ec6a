"""The queue: how many runs train at once, how many CPU threads each gets, and which queued run starts next.

The limit on runs at once (``$CNNEDU_MAX_RUNS``) holds across processes: a slot is claimed inside
``BEGIN IMMEDIATE``, by ``schedule`` for background runs (each then gets a worker process) and by
``wait_for_slot`` for a run the CLI trains in its own process. Runs queued earlier go first.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Callable

from cnnedu.errors import CnnEduError
from cnnedu.runs.database import db, request_cancel, transaction
from cnnedu.runs.processes import mark_vanished, spawn


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


def reconcile() -> list[str]:
    """Reap the workers this process started that have exited, mark runs whose process is gone as
    "interrupted" (metrics and last checkpoint kept), cancel queued CLI runs whose command has stopped, and
    start queued runs while there are free slots. Cheap; called by ``list_runs``/``get_run`` and the pages'
    polling. Returns the ids it marked interrupted."""
    marked = mark_vanished()
    schedule()
    return marked


def schedule() -> list[str]:
    """Start the oldest queued runs while fewer than ``max_concurrent()`` are running. A queued CLI run
    (``inline``) keeps its place in the line but is started by its own process (``wait_for_slot``)."""
    now = time.time()
    with db() as con:
        if con.execute("SELECT 1 FROM runs WHERE status = 'queued' LIMIT 1").fetchone() is None:
            return []  # the usual case when a page polls: no write lock taken
    with db() as con, transaction(con):
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
        spawn(run_id, token, threads_per_run())
    return [run_id for run_id, _ in claimed]


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
            with db() as con, transaction(con):
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
                request_cancel(run_id)
                return False
            time.sleep(poll)
    except BaseException:  # Ctrl-C while waiting: the run does not stay queued for ever
        with contextlib.suppress(CnnEduError, sqlite3.Error):
            request_cancel(run_id)
        raise
