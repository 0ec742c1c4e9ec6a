"""The worker's side of the run store: recording a run's events and heartbeat, and noticing it is no longer ours.

Every run has a random token (in its row, its folder's ``token`` file and the worker's command line). A worker
whose run is gone or was re-created under the same id (the store was deleted meanwhile) gets ``Orphaned`` and
stops without writing anything: no events, no weights, no status.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from cnnedu.runs.database import FINISHED, connect, db, db_path, insert_events, transaction
from cnnedu.runs.folder import RunFolder

HEARTBEAT_S = 2.0  # how often a worker says "still alive"
EVENT_FLUSH_S = 0.5  # "step" events are written in small batches at most this far apart


class Orphaned(Exception):
    """This worker's run is gone, or is another run now (the store was deleted and re-created): it must
    stop without writing anything."""


class Recorder:
    """The worker's link to the store: buffers events, writes them in small transactions, answers
    "was I asked to stop?" with one indexed read, and keeps a heartbeat going in a thread. Every read and
    write checks that the run is still this worker's (same store file, same token): if not, ``Orphaned``."""

    def __init__(self, run_id: str, token: str | None):
        self.run_id = run_id
        self.token = token
        self.db = db_path()
        self.con = connect()
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
        con = connect()
        try:
            while not self._beat_stop.wait(HEARTBEAT_S):
                if _identity(self.db) != self.identity:
                    break
                with contextlib.suppress(sqlite3.Error):
                    con.execute("UPDATE runs SET heartbeat = ? WHERE id = ? AND token IS ?",
                                (time.time(), self.run_id, self.token))
        finally:
            con.close()

    def check(self) -> bool:
        """Raise ``Orphaned`` unless the run is still this worker's; returns its cancel request."""
        row = None
        if not self.orphaned and _identity(self.db) == self.identity:
            row = self.con.execute("SELECT cancel_requested, token FROM runs WHERE id = ?",
                                   (self.run_id,)).fetchone()
        if row is None or row["token"] != self.token:
            self.orphaned = True
            raise Orphaned(self.run_id)
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
        with transaction(self.con):
            self.check()
            insert_events(self.con, self.run_id, self.buffer)
            self.con.execute("UPDATE runs SET heartbeat = ?, epochs_done = ?, test_acc = COALESCE(?, test_acc) "
                             "WHERE id = ?", (time.time(), self.epochs_done, self.test_acc, self.run_id))
        self.buffer.clear()

    def cancel_requested(self) -> bool:
        return self.check()

    def close(self) -> None:
        self._beat_stop.set()
        self._beat.join(timeout=5)
        if not self.orphaned:
            with contextlib.suppress(sqlite3.Error, Orphaned):
                self.flush()
        self.con.close()


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` is now (device, inode); None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def owned_folder(run_id: str, token: str | None) -> RunFolder:
    """The run's folder, after checking (with a fresh connection and the folder's ``token`` file) that the
    run is still this worker's; ``Orphaned`` if not. Never creates the folder."""
    folder = RunFolder(run_id)
    with db() as con:
        row = con.execute("SELECT token FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None or row["token"] != token or (token is not None and folder.read_token() != token):
        raise Orphaned(run_id)
    return folder
