"""Checks made before anything trains (the run store calls them before it records a run, so the Train page
and the CLI say so at once): the device, the data settings, the network's spec, weights and memory."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch

from cnnedu.arch.spec import Spec, parse_spec
from cnnedu.errors import TrainError
from cnnedu.training.config import TrainConfig


def pick_device(name: str) -> torch.device:
    """"auto" → the best there is (CUDA, then Apple's MPS, then CPU); a named one must exist."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise TrainError("There is no CUDA GPU that PyTorch can use on this computer "
                         "(torch.cuda.is_available() is False).",
                         'Choose device "cpu", or "auto" to use the best device there is.')
    if name == "mps" and not mps:
        raise TrainError("Apple's MPS GPU is not available on this computer.",
                         'Choose device "cpu", or "auto" to use the best device there is.')
    return torch.device(name)


def check_data(config: TrainConfig) -> Path | None:
    """Refuse, before a run is recorded, data settings that could only fail later in the worker: an unknown
    dataset, an image folder that is missing or outside the allowed folders, a device that is not there.
    Returns the data folder as an absolute path inside the allowed folders (None when none is given)."""
    from cnnedu.data import DATASETS
    from cnnedu.paths import allowed_folder

    name = config.dataset.strip().lower()
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=1)
        raise TrainError(f"There is no dataset '{config.dataset[:40]}'.",
                         f"Did you mean '{close[0]}'?" if close else f"Choose one of: {', '.join(DATASETS)}.")
    if name == "folder" and not (config.data_dir or "").strip():
        raise TrainError("The image-folder dataset needs a folder (data_dir).",
                         "Give the path of a folder with one sub-folder of images per class.")
    pick_device(config.device)
    return allowed_folder(config.data_dir) if config.data_dir and str(config.data_dir).strip() else None


def resolve_spec(arch: str | dict[str, Any] | Spec) -> Spec:
    """The network's spec from a preset id, a spec file path or a spec dict."""
    if isinstance(arch, Spec | dict):
        return parse_spec(arch)
    from cnnedu.arch.zoo import resolve_arch

    return resolve_arch(arch)


def check_network(spec: Spec, config: TrainConfig, batch_size: int | None = None) -> list[str]:
    """Refuse a network that training cannot use, before anything is trained (``create_run`` calls this, so
    the Train page and the CLI say so at once): one with no weights to learn, or one whose estimated memory
    (``cnnedu.arch.analysis.training_memory``) is above ``budgets.RUN_MEMORY_BYTES``. Returns the warnings
    (a run above ``RUN_MEMORY_WARN`` of the budget), shown with the run like the Softmax warning."""
    from cnnedu import budgets
    from cnnedu.arch.analysis import analyze, human_bytes, training_memory

    a = analyze(spec)
    if a.error is not None:
        raise a.error  # the layers do not fit together: say so now, with the layer, not in the worker
    if config.engine == "numpy":
        from cnnedu.training.numpy_engine import numpy_layout

        numpy_layout(spec)  # a layer the NumPy network cannot express is refused now, by name
    if a.totals.trainable_params == 0:
        kinds = ", ".join(dict.fromkeys(str(layer.get("type")) for layer in spec.layers)) or "none"
        raise TrainError(f"The network has no weights to learn: its layers ({kinds}) have no parameters, so "
                         "training could not change anything (PyTorch refuses: \"optimizer got an empty "
                         "parameter list\").",
                         "Add a layer with weights: a Conv2d, or after the Flatten a Linear layer with "
                         f"out_features = {spec.num_classes} (the number of classes).")
    batch = batch_size or config.batch_size
    est = training_memory(spec, batch, config.optimizer, config.momentum, analysis=a)
    budget = budgets.RUN_MEMORY_BYTES
    leaves = a.leaf_rows()
    big = max(leaves, key=lambda r: r.activation_bytes, default=None)
    where = (f"; the largest output is {big.name}'s, {human_bytes(big.activation_bytes)} per image"
             if big is not None else "")
    if est.total > budget:
        fixed = est.params + est.grads + est.optimizer
        fits = (budget - fixed) // max(1, est.per_image)
        if fits >= 1:
            fix = (f"Use a smaller batch size (at most {fits} fits; now {batch}), or fewer channels in the "
                   f"largest layers{where}.")
        else:
            fix = (f"Even one image does not fit: use fewer channels or features (the weights, their "
                   f"gradients and the optimizer state alone need {human_bytes(fixed)}){where}.")
        raise TrainError(f"Training this network at batch size {batch} would need about {est.describe()}: "
                         f"more than the {human_bytes(budget)} one run may use on this computer "
                         "(CNNEDU_RUN_MEMORY_MB sets it).", fix)
    if est.total > budgets.RUN_MEMORY_WARN * budget:
        return [f"This run needs about {human_bytes(est.total)} of memory, {est.total / budget:.0%} of the "
                f"{human_bytes(budget)} one run may use{where}. A smaller batch size or fewer channels makes "
                "it lighter (and faster)."]
    return []



def crop_problem(spec: Spec, crop: int | None) -> str | None:
    """Why a crop padding cannot be used on the network's images (it must be smaller than their sides)."""
    if crop is None or crop < min(spec.input_shape[1:]):
        return None
    return (f"A crop padding of {crop} px is too large for {spec.input_shape[1]}×{spec.input_shape[2]} images: "
            f"use less than {min(spec.input_shape[1:])}.")
