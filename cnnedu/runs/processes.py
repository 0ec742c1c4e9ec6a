"""The worker processes: starting one per background run, reaping them, and noticing the ones that vanished.

A run is trained by ``python -m cnnedu.runs.worker RUN_ID TOKEN``, started in its own session: closing the
browser tab or restarting the Streamlit server does not stop it. Every worker this process starts is reaped as
soon as it exits (no zombies under a long-lived server). A run whose process has gone (killed, crashed, the
computer restarted) or whose heartbeat stopped is marked "interrupted": its metrics and last checkpoint stay.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from cnnedu.paths import home
from cnnedu.runs.database import db, finish, insert_events, transaction
from cnnedu.runs.folder import RunFolder

STALE_S = 120.0  # a running run whose heartbeat is older than this is considered dead

_CHILDREN: dict[int, subprocess.Popen] = {}  # workers this process started (polled, so no zombies)


def spawn(run_id: str, token: str | None, threads: int) -> None:
    """Start ``python -m cnnedu.runs.worker RUN_ID TOKEN`` in its own session, its output going to worker.log.
    ``threads``: the CPU threads of the NumPy engine's BLAS (PyTorch's are set by the worker)."""
    folder = RunFolder(run_id)
    env = dict(os.environ)
    env["CNNEDU_HOME"] = str(home())
    # the NumPy engine's BLAS shares the cores as PyTorch does (threads_per_run); it reads this at start-up
    env.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        folder.path.mkdir(parents=True, exist_ok=True)
        with open(folder.log, "ab") as log:
            child = subprocess.Popen([sys.executable, "-m", "cnnedu.runs.worker", run_id, *([token] if token else [])],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=os.name != "nt")
    except OSError as err:
        finish(run_id, "failed", f"The training process could not be started: {err}")
        return
    _CHILDREN[child.pid] = child
    threading.Thread(target=_wait_for_child, args=(child,), name=f"reap-{child.pid}", daemon=True).start()
    with db() as con:
        con.execute("UPDATE runs SET pid = ? WHERE id = ? AND pid IS NULL", (child.pid, run_id))


def reap() -> None:
    """Collect the exit status of every finished worker this process started (a finished child that is not
    collected stays a zombie for as long as the server runs). ``spawn`` also starts a thread per worker
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


def alive(pid: int) -> bool:
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


def mark_vanished() -> list[str]:
    """Reap the workers that exited, mark runs whose process is gone as "interrupted" (metrics and last
    checkpoint kept) and cancel queued CLI runs whose command has stopped. Returns the ids marked interrupted."""
    reap()
    now = time.time()
    marked = []
    with db() as con:
        rows = con.execute("SELECT id, pid, heartbeat, epochs_done, weights_epoch FROM runs "
                           "WHERE status = 'running'").fetchall()
        for row in rows:
            beat = row["heartbeat"] or 0.0
            dead = (row["pid"] is not None and not alive(row["pid"])) or now - beat > STALE_S
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
            if row["pid"] is not None and alive(row["pid"]):
                continue
            message = "Cancelled before it started: the command that was waiting to train it stopped."
            _mark(con, row["id"], row["pid"], "queued", "cancelled", message, now)
    return marked


def _mark(con: sqlite3.Connection, run_id: str, pid: int | None, was: str, status: str, message: str,
          now: float) -> bool:
    """Set a run that is still ``was`` with process ``pid`` to ``status`` (and record the event); False when
    something else changed it first (another page reconciling at the same moment)."""
    with transaction(con):
        cur = con.execute("UPDATE runs SET status = ?, finished = ?, message = ? "
                          "WHERE id = ? AND status = ? AND pid IS ?", (status, now, message, run_id, was, pid))
        if cur.rowcount:
            insert_events(con, run_id, [{"kind": status, "message": message}])
    return bool(cur.rowcount)
