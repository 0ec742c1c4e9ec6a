"""Training runs on a Ray cluster: ``CNNEDU_EXECUTOR=ray`` (and ``RAY_ADDRESS=host:6379`` for a cluster).

Everything else stays as with the local executor: a run is queued in the run store, a worker process on
the app's machine takes it (``python -m cnnedu.runs.worker``) and records its events, checkpoints and
results (cnnedu/runs/store.py ``execute``). Only the training itself moves: ``train_on_ray`` is the
trainer ``execute`` calls, with the same arguments as ``cnnedu.training.train.train``. It sends the
config to a Ray task on some node (a GPU node when the run wants a GPU: ``num_gpus=1``), which trains
there and sends back, through a Ray queue, every event as it happens and the weights after every epoch;
the task returns the final result and its weights. So the curves stream into the store on the app's
machine, the weights are saved there, and export and prediction work as for any run.

Cancel: the worker's usual "was I asked to stop?" is passed to the task through a small Ray actor,
which the task reads at most twice a second. A node (or its worker process) lost mid-run ends the run
"interrupted", with the metrics and the last epoch's weights kept.

The nodes need Python with torch; cnnedu itself is shipped to them by Ray (``py_modules``). Without
``RAY_ADDRESS`` each run starts a local Ray instance of its own (a few seconds): fine for trying it,
start a head (``ray start --head``) for real use.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnedu.errors import CnnEduError

EXECUTORS = ("local", "ray")
_POLL_S = 0.5  # how often the task asks whether to stop, and the relay checks on the task
_CONNECT_S = 10  # a head that does not answer in this time is not there (ray.init itself would retry forever)


class Interrupted(Exception):
    """The machine (or the process) training the run was lost: the run ends "interrupted"."""


def executor() -> str:
    """Where runs train: ``$CNNEDU_EXECUTOR``, "local" (worker processes here; the default) or "ray"."""
    name = os.environ.get("CNNEDU_EXECUTOR", "local").strip().lower() or "local"
    if name not in EXECUTORS:
        raise CnnEduError(f"CNNEDU_EXECUTOR={name!r} is not an executor cnnedu knows.",
                          f"Use one of: {', '.join(EXECUTORS)} (or leave it unset: local).")
    return name


def _ray():
    try:
        import ray
    except ImportError:
        raise CnnEduError("CNNEDU_EXECUTOR=ray, but Ray is not installed.",
                          "Install it (pip install -r requirements.txt -c constraints.txt), or unset "
                          "CNNEDU_EXECUTOR to train here.") from None
    if not ray.is_initialized():
        package = str(Path(__file__).resolve().parents[1])
        address = os.environ.get("RAY_ADDRESS") or None
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False,
                     log_to_driver=False, runtime_env={"py_modules": [package]})
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise CnnEduError(f"Could not connect to the Ray cluster at {address!r}: {err}",
                              "Check RAY_ADDRESS (host:port of the head, e.g. 10.0.0.5:6379) and that "
                              "`ray status` works there.") from None
    return ray


def _check_reachable(address: str | None) -> None:
    """A clear error at once when RAY_ADDRESS names a host:port nobody answers on."""
    if not address or address in ("auto", "local"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CnnEduError(f"RAY_ADDRESS={address!r} is not host:port.",
                          "Set it to the head's address and port, e.g. 10.0.0.5:6379 (or unset it to start "
                          "a local Ray instance).")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_S).close()
    except OSError as err:
        raise CnnEduError(f"No Ray head answers at {address} ({err.strerror or err}).",
                          f"Start one there (ray start --head --port={port}), check RAY_ADDRESS, or "
                          "unset CNNEDU_EXECUTOR to train on this machine.") from None


def _portable(result) -> tuple[Any, dict[str, Any]]:
    """A TrainResult as it travels between machines: without its model, and its weights on the CPU."""
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    return dataclasses.replace(result, model=None), state


def _rebuilt(portable: tuple[Any, dict[str, Any]]):
    """The TrainResult back, with its model rebuilt here from the spec and loaded with its weights."""
    from cnnedu.arch.nets import build_model

    result, state = portable
    model = build_model(result.spec)
    model.load_state_dict(state)
    return dataclasses.replace(result, model=model)


def _train_task(config: dict[str, Any], events, control):
    """Runs on a Ray node: train, sending each event and each epoch's weights through ``events``."""
    import ray

    from cnnedu.training.train import train

    asked = {"at": 0.0, "stop": False}

    def should_stop() -> bool:
        now = time.monotonic()
        if now - asked["at"] > _POLL_S:
            asked["at"], asked["stop"] = now, ray.get(control.stopped.remote())
        return asked["stop"]

    result = train(config, on_event=lambda event: events.put(("event", event)), should_stop=should_stop,
                   on_epoch=lambda r: events.put(("checkpoint", _portable(r))))
    return _portable(result)


class _Control:
    """A Ray actor holding one flag: has the run been asked to stop?"""

    def __init__(self) -> None:
        self.stop = False

    def request_stop(self) -> None:
        self.stop = True

    def stopped(self) -> bool:
        return self.stop


def _wants_gpu(config, ray) -> bool:
    return config.device == "cuda" or (config.device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)


def train_on_ray(config, on_event: Callable[[dict[str, Any]], None], should_stop: Callable[[], bool],
                 on_epoch: Callable[[Any], None]):
    """``cnnedu.training.train.train``'s contract, with the training done by a Ray task (see above)."""
    ray = _ray()
    from ray.util.queue import Empty, Queue

    events, control = Queue(), ray.remote(num_cpus=0)(_Control).remote()
    gpus = 1 if _wants_gpu(config, ray) else 0
    task = ray.remote(_train_task).options(num_cpus=config.threads or 1, num_gpus=gpus, max_retries=0)
    ref = task.remote(config.to_dict(), events, control)
    finished = False

    def relay(wait: float) -> bool:
        """Pass on what the task sent; False when nothing came within ``wait`` seconds."""
        try:
            kind, item = events.get(timeout=wait) if wait else events.get_nowait()
        except (Empty, queue.Empty):
            return False
        (on_event if kind == "event" else lambda p: on_epoch(_rebuilt(p)))(item)
        return True

    try:
        stop_sent = False
        while not ray.wait([ref], timeout=0)[0]:
            relay(_POLL_S)
            if not stop_sent and should_stop():
                control.request_stop.remote()
                stop_sent = True
        while relay(0):
            pass
        finished = True
        return _rebuilt(_result(ray, ref))
    finally:
        if not finished:  # the worker itself is stopping (deleted run, Ctrl-C): the task goes too
            ray.cancel(ref, force=True)


def _result(ray, ref):
    """The task's return value; its own error raised again here; a lost node as ``Interrupted``."""
    from ray import exceptions as rx

    try:
        return ray.get(ref)
    except rx.RayTaskError as err:
        if isinstance(err.cause, CnnEduError):
            raise err.cause from None
        raise RuntimeError(f"{type(err.cause).__name__}: {err.cause} (on the Ray node)") from None
    except (rx.WorkerCrashedError, rx.NodeDiedError, rx.ActorDiedError, rx.ObjectLostError,
            rx.RaySystemError) as err:
        raise Interrupted(f"The Ray node (or its worker process) that was training this run was lost: "
                          f"{type(err).__name__}.") from None
