"""The run store's SQLite database, ``home()/runs.db``: its tables, short-lived connections and transactions.

SQLite runs in WAL mode, so readers (pages polling for new events) never block the writer (the training
process), and every connection is short-lived with a generous busy timeout. A read-then-write runs inside
``transaction`` (``BEGIN IMMEDIATE``), which takes the write lock up front. An older runs.db gets the columns it
lacks when it is opened. The modules of ``cnnedu.runs`` all reach the database through here.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cnnedu.errors import RunStoreError
from cnnedu.paths import home

STATUSES = ("queued", "running", "done", "cancelled", "failed", "interrupted")
FINISHED = ("done", "cancelled", "failed", "interrupted")

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


def db_path() -> Path:
    return home() / "runs.db"


def connect() -> sqlite3.Connection:
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
    with transaction(con):
        have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        for name, kind in _NEW_COLUMNS.items():
            if name not in have:
                con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


@contextlib.contextmanager
def db() -> Iterator[sqlite3.Connection]:
    """A connection for one ``with`` block, closed afterwards."""
    con = connect()
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front, so read-then-write is atomic."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def insert_events(con: sqlite3.Connection, run_id: str, events: list[dict[str, Any]]) -> None:
    now = time.time()
    con.executemany(
        "INSERT INTO events (run_id, kind, step, epoch, time, payload) VALUES (?, ?, ?, ?, ?, ?)",
        [(run_id, e["kind"], e.get("step"), e.get("epoch"), now, dumps(e)) for e in events])


def finish(run_id: str, status: str, message: str, results: dict[str, Any] | None = None,
           event: bool = True, token: str | None = None) -> bool:
    """Record the end of a run (only the run with ``token``, when given); False when it is not there."""
    with db() as con, transaction(con):
        cur = con.execute("UPDATE runs SET status = ?, message = ?, finished = ?, results = COALESCE(?, results), "
                          "test_acc = COALESCE(?, test_acc) WHERE id = ? AND (? IS NULL OR token = ?)",
                          (status, message, time.time(), dumps(results) if results else None,
                           (results or {}).get("test_acc"), run_id, token, token))
        if cur.rowcount and event:
            insert_events(con, run_id, [{"kind": status, "message": message}])
        return bool(cur.rowcount)


def request_cancel(run_id: str) -> None:
    """Ask run ``run_id`` to stop: a queued run is cancelled at once, a running one sees the request."""
    with db() as con, transaction(con):
        con.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status IN ('queued', 'running')",
                    (run_id,))
        cur = con.execute("UPDATE runs SET status = 'cancelled', finished = ?, message = ? "
                          "WHERE id = ? AND status = 'queued'",
                          (time.time(), "Cancelled before it started.", run_id))
        if cur.rowcount:
            insert_events(con, run_id, [{"kind": "cancelled", "message": "Cancelled before it started."}])


def dumps(value: Any) -> str:
    """Strict JSON (what a browser can parse): NaN and infinities become null."""
    return json.dumps(finite(value), default=jsonable, allow_nan=False)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities (in nested dicts and lists too) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)
