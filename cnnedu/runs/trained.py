"""A run's trained network: saving its weights and meta.json, telling which runs have them, loading them back.

The weights and meta.json are checkpointed after every epoch (``weights_epoch`` in the row says which), all
files written all-or-nothing (``cnnedu.paths.write_files``). A killed run keeps its last epoch's weights: it can
be exported, looked inside and predicted with. A write that fails (a full disk, a quota, a read-only disk) is a
``StorageError`` with a plain message; a run is never "done" without its weights.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from cnnedu.errors import CnnEduError, RunStoreError, StorageError
from cnnedu.paths import write_files
from cnnedu.runs.database import db, finite, jsonable
from cnnedu.runs.folder import RunFolder
from cnnedu.runs.recorder import owned_folder

if TYPE_CHECKING:
    from cnnedu.runs.store import Run


def has_weights(run: Run) -> bool:
    """Whether the run saved a trained network that Look inside, Predict and export can open: it finished,
    it was cancelled (its weights are saved when it stops), or it was interrupted or failed after an
    epoch's checkpoint (``weights_epoch`` says which epoch). A run still training is not offered."""
    if run.active or "config" in run.damaged:  # (Look inside needs the settings to show the test images)
        return False
    if run.status in ("interrupted", "failed") and not run.weights_epoch:
        return False
    return RunFolder(run.id).has_weights()


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


def load(run: Run):
    """``(model, spec, meta)`` of a run with weights: the network in eval mode on the CPU with its trained
    weights, its Spec, and the metadata dict (classes, input_shape, channel_order, mean, std, output, arch,
    spec, training, ...). The weights are read with ``torch.load(weights_only=True)``: tensors only."""
    import torch

    from cnnedu.arch.nets import build_model
    from cnnedu.arch.spec import parse_spec

    folder = RunFolder(run.id)
    if not folder.has_weights() or (run.status in ("interrupted", "failed") and not run.weights_epoch):
        raise RunStoreError(f"Run {run.id} has no saved model (its status is {run.status}).",
                            "Runs keep their weights when they finish or are cancelled, and after every "
                            "finished epoch; this one has none.")
    try:
        meta = json.loads(folder.meta.read_text())
        spec = parse_spec(meta["spec"])
        model = build_model(spec, device="cpu")
        state = torch.load(folder.weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except CnnEduError:
        raise
    except Exception as err:  # a damaged or foreign file
        raise RunStoreError(f"The saved model of run {run.id} cannot be loaded: {err}") from None
    model.eval()
    return model, spec, meta


def save(run_id: str, token: str | None, result, checkpoint: bool) -> None:
    """Save the weights and meta.json (``checkpoint``: after an epoch), or everything at the end, into the
    run's folder if it is still this worker's run (``recorder.Orphaned`` if not); then record the weights'
    epoch in the row. A failed write is a ``StorageError`` ("The disk is full: the weights of epoch 3 could
    not be saved. ... The run keeps the weights of epoch 2.")."""
    import torch

    folder = owned_folder(run_id, token)
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    epoch = result.epochs_done
    files: dict[str, Any] = {folder.WEIGHTS: buffer.getvalue(),
                             folder.META: json.dumps(_meta(run_id, result, checkpoint), indent=2)}
    if not checkpoint:
        files[folder.SPEC] = result.spec.to_json()
        files[folder.RESULTS] = json.dumps(finite(result.summary()), indent=2, default=jsonable)
    try:
        write_files(folder.path, files, f"the weights of epoch {epoch}" if epoch else "the weights")
    except StorageError as err:
        raise StorageError(f"{err.message}{kept(run_id, token)}", err.fix) from None
    with db() as con:
        con.execute("UPDATE runs SET weights_epoch = ? WHERE id = ? AND token IS ?", (epoch, run_id, token))


def _meta(run_id: str, result, checkpoint: bool) -> dict[str, Any]:
    """meta.json: the run's ``ModelMeta`` (what ONNX export, Predict and Look inside need to use the weights
    without the run store) and, beside it, the run's own keys."""
    from cnnedu.onnx.meta import ModelMeta
    from cnnedu.vision.pixels import mode_for_channels

    config = result.config
    status = "checkpoint" if checkpoint else result.status
    shape = tuple(result.spec.input_shape)
    meta = ModelMeta(
        classes=list(result.classes), input_shape=shape, channel_order=mode_for_channels(shape[0]),
        mean=list(result.mean), std=list(result.std), output=result.output, arch=config.arch_label,
        spec=result.spec.to_dict(),
        training={"run_id": run_id, "dataset": config.dataset, "status": status,
                  "test_acc": result.test_acc, "epochs": result.epochs_done, "epochs_planned": config.epochs,
                  "optimizer": config.optimizer, "lr": config.learning_rate, "batch_size": config.batch_size,
                  "normalize": config.normalize, "flip": config.flip, "crop": config.crop, "seed": config.seed,
                  "engine": config.engine})
    return {"run_id": run_id, **meta.to_dict(), "dataset": result.dataset, "status": status,
            "test_acc": result.test_acc, "weights_epoch": result.epochs_done}


def kept(run_id: str, token: str | None) -> str:
    """" The run keeps the weights of epoch 2." when an earlier checkpoint is saved, else ""."""
    with db() as con:
        row = con.execute("SELECT weights_epoch FROM runs WHERE id = ? AND token IS ?", (run_id, token)).fetchone()
    if row is None or not row[0]:
        return ""
    return f" The run keeps the weights of epoch {row[0]}."

