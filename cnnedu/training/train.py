"""The trainer: one function, ``train(config)``, that a student can read top to bottom.

What happens, in order (each step in its own module):

1. ``TrainConfig`` (config.py) says everything about the run (network, data, optimizer, schedule,
   augmentation, seed, device). It round-trips through JSON, so the run store keeps it and the CLI and the
   app share it.
2. The network is built from its spec and the dataset is loaded as uint8 tensors (run_data.py). If the
   images do not have the shape the network expects, they are converted (with a warning) or the run stops
   with a clear message (checks.py): never a crash deep inside training.
3. The whole dataset is moved to the training device *once*; each step takes a shuffled slice of it and
   turns it into floats, flips, crops and normalises the whole batch at once (batches.py, loop.py).
4. Every few steps a ``"step"`` event reports the loss; after every epoch an ``"epoch"`` event reports
   train/validation/test loss and accuracy and the speed (events.py). A loss that turns into NaN stops the
   run with an explanation (advice.py); ``should_stop()`` returning True stops it within one batch,
   keeping what it measured.
5. At the end: the test accuracy of every class and the confusion matrix.

``TrainConfig(engine="numpy")`` trains a fully connected network with seed 003's NumPy network instead
(numpy_engine.py): the same data, batches, initial weights and events; ``train`` picks the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnedu.errors import CnnEduError
from cnnedu.training.config import TrainConfig
from cnnedu.training.events import OnEvent, TrainResult
from cnnedu.training.loop import train_torch


def train(config: TrainConfig | dict[str, Any], on_event: OnEvent | None = None,
          should_stop: Callable[[], bool] | None = None,
          on_epoch: Callable[[TrainResult], None] | None = None) -> TrainResult:
    """Train a network as ``config`` says and return what it learned and measured.

    ``on_event(event)`` receives the events (dicts with "kind", see cnnedu/training/events.py) as they
    happen; ``should_stop()`` is asked before every batch and stops the run when it returns True (status
    "cancelled", metrics kept). ``on_epoch(result)`` is called after every epoch's event, with the weights
    of that epoch in ``result.model`` (the run store saves a checkpoint there); an error it raises ends the
    run. A diverging loss ends the run with status "failed" and a message saying what to try. A setting,
    network or dataset that cannot be used raises a ``CnnEduError`` before training starts (after a
    "failed" event).
    """
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    try:
        if isinstance(config, dict):
            config = TrainConfig.from_dict(config)
        if config.engine == "numpy":  # the one place the engines part ways
            from cnnedu.training.numpy_engine import train_numpy

            return train_numpy(config, emit, stop, on_epoch)
        return train_torch(config, emit, stop, on_epoch)
    except CnnEduError as err:
        emit({"kind": "failed", "message": str(err)})
        raise
