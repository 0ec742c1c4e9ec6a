"""Training a run: ``execute`` trains one run of the run store in this process, recording everything there.

It is used two ways. ``python -m cnnedu.runs.worker RUN_ID TOKEN`` is the background worker process that the
queue starts (``cnnedu.runs.processes``), in its own session, its output going to the run folder's
``worker.log``, so the run survives a closed browser tab or a restart of the app. ``run_inline`` trains a run
in the calling process (``python -m cnnedu train`` does this) once a slot is free.

TOKEN is the run's random token: if the run with that id is gone or is another run now (the store was deleted
and re-created while the worker was starting), it exits without writing anything. The weights are
checkpointed after every epoch; when the run ends the next queued run starts.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnedu.errors import CnnEduError, RunStoreError, StorageError
from cnnedu.runs.database import db, finish
from cnnedu.runs.jobs import run_time_limit, schedule, threads_per_run, wait_for_slot
from cnnedu.runs.ray_executor import Interrupted
from cnnedu.runs.recorder import Orphaned, Recorder, owned_folder
from cnnedu.runs.store import Run, create_run, get_run
from cnnedu.runs.trained import kept, save


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
    run = get_run(run_id, check=False)
    if token is None:
        token = run.token
    elif run.token != token:
        return None  # a worker started for a run of a store that was deleted: not ours
    if run.status != "running":
        raise RunStoreError(f"Run {run_id} is {run.status}: only a run that was started can be trained.",
                            "Start a new run instead.")
    now = time.time()
    with db() as con:
        con.execute("UPDATE runs SET pid = ?, started = COALESCE(started, ?), heartbeat = ? "
                    "WHERE id = ? AND token IS ?", (os.getpid(), now, now, run_id, token))
    training = _Training(run, token, on_event, should_stop)
    try:
        training.train(share_cores)
    except Orphaned:
        training.recorder.orphaned = True
    except Interrupted as err:  # the machine training it was lost (the Ray executor)
        training.interrupted(str(err))
    except CnnEduError as err:
        training.failed(str(err))
    except KeyboardInterrupt:
        training.end("cancelled", "Stopped with Ctrl-C; the metrics measured so far are kept.")
        raise
    except Exception as err:  # a bug or an unexpected torch error: the traceback goes to worker.log
        training.crashed(err)
    finally:
        training.close()
    return None if training.recorder.orphaned else training.result


class _Training:
    """One run being trained here: the trainer's callbacks, and what the store is told when it ends."""

    def __init__(self, run: Run, token: str | None, on_event: Callable[[dict[str, Any]], None] | None,
                 should_stop: Callable[[], bool] | None):
        self.run, self.token = run, token
        self.on_event, self.should_stop = on_event, should_stop
        self.recorder = Recorder(run.id, token)
        self.held: list[dict[str, Any]] = []  # the trainer's "done"/"cancelled" event, recorded once saved
        self.measured = None  # the TrainResult of the last finished epoch
        self.result = None
        self.status, self.message, self.results = "failed", "", None
        self.limit, self.began, self.limit_hit = run_time_limit(), time.monotonic(), False

    def emit(self, event: dict[str, Any]) -> None:
        if event["kind"] in ("done", "cancelled"):
            self.held.append(event)
        else:
            self.recorder.add(event)
        if self.on_event is not None:
            self.on_event(event)

    def stop(self) -> bool:
        if self.limit is not None and time.monotonic() - self.began > self.limit:
            self.limit_hit = True
            return True
        return bool(self.should_stop and self.should_stop()) or self.recorder.cancel_requested()

    def checkpoint(self, result) -> None:
        self.measured = result
        if result.epochs_done >= result.config.epochs:
            return  # the last epoch's weights are saved with the results, in ``train``
        self.recorder.flush()
        save(self.run.id, self.token, result, checkpoint=True)

    def train(self, share_cores: bool) -> None:
        """Train, save the final weights and results, and record the trainer's last event."""
        from cnnedu.runs.ray_executor import executor, train_on_ray
        from cnnedu.training.config import TrainConfig
        from cnnedu.training.train import train

        if self.run.damaged:
            raise RunStoreError(f"Run {self.run.id} cannot be trained: its record in the run store is damaged.",
                                "Start a new run.")
        config = TrainConfig.from_dict(self.run.config)
        if config.threads is None and share_cores:
            config.threads = threads_per_run()
        trainer = train_on_ray if executor() == "ray" else train  # where the training itself happens
        result = self.result = trainer(config, on_event=self.emit, should_stop=self.stop, on_epoch=self.checkpoint)
        if self.limit_hit and result.status == "cancelled":
            result.message = (f"Stopped at this server's time limit of {self.limit / 60:g} min per run after "
                              f"{result.epochs_done} epoch(s); the metrics and the weights are kept.")
            self.held[:] = [{**self.held[0], "message": result.message}] if self.held else []
        self.status, self.message, self.results = result.status, result.message, result.summary()
        if result.status in ("done", "cancelled"):
            self.recorder.check()  # (never touch a folder that is no longer this run's)
            try:
                save(self.run.id, self.token, result, checkpoint=False)
            except StorageError as err:  # never a "done" run without its weights
                self.status, self.message = "failed", f"{err.message} {err.fix}"
                self.results = {**self.results, "status": "failed", "message": self.message}
                result.status, result.message = self.status, self.message
                self.held[:] = [{**(self.held[0] if self.held else {}), "kind": "failed", "message": self.message}]
        if self.held:
            self.recorder.add(self.held[0])

    def failed(self, message: str) -> None:
        """A CnnEduError stopped the run: record it (keeping what a failed checkpoint had measured)."""
        self.message = message
        if self.measured is not None:
            self.results = {**self.measured.summary(), "status": "failed", "message": message}
        if not self.recorder.finished:
            self._record("failed", message)

    def interrupted(self, message: str) -> None:
        """The machine training the run was lost: "interrupted", with what it measured and its last weights."""
        self.status = "interrupted"
        self.message = f"{message} The metrics measured until then are kept.{kept(self.run.id, self.token)}"
        if self.measured is not None:
            self.results = {**self.measured.summary(), "status": self.status, "message": self.message}
        self._record("interrupted", self.message)

    def crashed(self, err: Exception) -> None:
        """A bug or an unexpected torch error: a plain message, the traceback in worker.log."""
        log = _log_traceback(self.run.id, self.token)
        message = f"The run crashed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        self.message = message + (f" (the details are in {log})" if log else "")
        self._record("failed", self.message)

    def end(self, status: str, message: str) -> None:
        self.status, self.message = status, message
        self._record(status, message)

    def _record(self, kind: str, message: str) -> None:
        with contextlib.suppress(Orphaned):
            self.recorder.add({"kind": kind, "message": message})

    def close(self) -> None:
        """Write the run's row for the last time (unless it is no longer ours) and start the next queued run."""
        self.recorder.close()
        if not self.recorder.orphaned:
            finish(self.run.id, self.status, self.message, self.results, event=False, token=self.token)
            with contextlib.suppress(CnnEduError):
                schedule()


def _log_traceback(run_id: str, token: str | None) -> Path | None:
    """Append the current exception's traceback to the run's worker.log (never to a user's terminal)."""
    try:
        log = owned_folder(run_id, token).log
        with open(log, "a") as f:
            traceback.print_exc(file=f)
        return log
    except (OSError, CnnEduError, Orphaned):
        return None


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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m cnnedu.runs.worker RUN_ID [TOKEN]", file=sys.stderr)
        return 2
    try:
        result = execute(args[0], token=args[1] if len(args) == 2 else None)
    except CnnEduError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args[0]}: {result.status if result else 'failed, or no longer in the run store'}", flush=True)
    return 0 if result is not None and result.status != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
