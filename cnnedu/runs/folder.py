"""A run's folder, ``home()/runs/<id>/``, and the names of the files inside it: this module alone knows them.

What a run folder holds (each file written all-or-nothing by ``cnnedu.paths.write_files``, which stages it as
``<name>.tmp`` first):

- ``model.pt``: the trained weights as a state_dict (checkpointed after every epoch, read only with
  ``torch.load(weights_only=True)``: nothing is ever unpickled);
- ``meta.json``: classes, input shape, normalisation and output kind (what ONNX export and Predict need);
- ``spec.json`` and ``config.json``: the network and the training settings;
- ``results.json``: test accuracy, per-class accuracy and the confusion matrix of a finished run;
- ``token``: the run's random token (a worker only writes into a folder whose token it was given);
- ``worker.log``: the worker's output, and the traceback of a crash.
"""

from __future__ import annotations

import re
from pathlib import Path

from cnnedu.errors import RunStoreError
from cnnedu.paths import home


def _file(name: str, about: str) -> property:
    """A property of RunFolder: the path of the file ``name`` in the folder."""
    return property(lambda self: self.path / name, doc=f"{about}: ``{name}`` in the run's folder.")


class RunFolder:
    """The folder of run ``run_id`` and the paths of its files (``RunFolder(id).weights`` is its model.pt)."""

    WEIGHTS = "model.pt"
    META = "meta.json"
    SPEC = "spec.json"
    CONFIG = "config.json"
    RESULTS = "results.json"
    TOKEN = "token"
    LOG = "worker.log"
    STAGED = ".tmp"  # the ending of a file being written (cnnedu.paths.write_files); none is left after

    def __init__(self, run_id: str):
        if not re.fullmatch(r"[A-Za-z0-9._-]+", run_id) or run_id.startswith("."):
            raise RunStoreError(f"'{run_id}' is not a valid run id.")
        self.run_id = run_id
        self.path = home() / "runs" / run_id

    weights = _file(WEIGHTS, "The trained weights")
    meta = _file(META, "What a prediction needs to use the weights")
    spec = _file(SPEC, "The network")
    config = _file(CONFIG, "The training settings")
    results = _file(RESULTS, "The final results")
    token = _file(TOKEN, "The run's token")
    log = _file(LOG, "The worker's output and tracebacks")

    def has_weights(self) -> bool:
        """Whether both the weights and their meta.json are there."""
        return self.weights.is_file() and self.meta.is_file()

    def read_token(self) -> str | None:
        """The token written when the run was created; None when the file is gone or unreadable."""
        try:
            return self.token.read_text().strip()
        except OSError:
            return None

    def staged(self) -> list[Path]:
        """Files left half-written (``*.tmp``): none, after any write, finished or failed."""
        return sorted(self.path.glob(f"*{self.STAGED}"))


def run_dir(run_id: str) -> Path:
    """The artifact folder of a run: ``home()/runs/<id>/``."""
    return RunFolder(run_id).path
