"""A network with its metadata, ready to export or to look inside: a training run's, or a preset's.

    loaded = load_for_export("r0003-mnist-cnn-fashion-mnist")   # or a preset id: untrained weights
    loaded.model, loaded.spec, loaded.meta                       # nn.Module (CPU, eval), Spec, ModelMeta

A run's metadata is the ``meta.json`` beside its weights (read with :meth:`ModelMeta.from_dict`); a
preset gets its dataset's class names and a neutral normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from cnnedu.arch.spec import Spec
from cnnedu.errors import RunStoreError
from cnnedu.onnx.export import meta_for_spec
from cnnedu.onnx.meta import ModelMeta

#: Default mean and std for an untrained preset: maps pixels 0..1 to -1..1, a neutral, common choice.
DEFAULT_MEAN, DEFAULT_STD = 0.5, 0.5


@dataclass
class LoadedModel:
    """A network ready to inspect or export: the module (CPU, eval), its spec, its ONNX metadata, and
    where it came from (``source`` "run" or "preset"; ``notes`` say what was assumed)."""

    model: nn.Module
    spec: Spec
    meta: ModelMeta
    source: str
    name: str
    notes: list[str] = field(default_factory=list)
    weights_mtime: float | None = None


def run_model(run_id: str) -> LoadedModel:
    """A run's trained network and the metadata an ONNX file needs: a finished or cancelled run, or one
    interrupted (or failed) after an epoch's checkpoint; ``notes`` then say which epoch the weights are from."""
    from cnnedu.runs.folder import RunFolder
    from cnnedu.runs.store import get_run, load_model
    from cnnedu.runs.trained import weights_note

    model, spec, meta = load_model(run_id)
    weights = RunFolder(run_id).weights
    mtime = weights.stat().st_mtime if weights.is_file() else None
    note = weights_note(get_run(run_id, check=False))
    notes = [f"the run was {note} (not the finished network)"] if note else []
    return LoadedModel(model=model, spec=spec, meta=ModelMeta.from_dict(meta), source="run", name=run_id,
                       notes=notes, weights_mtime=mtime)


def preset_classes(preset_id: str, num_classes: int) -> tuple[list[str], str]:
    """Class names for an untrained preset: its dataset's names when the count fits, else "0".."k-1".
    Returns (names, where they came from)."""
    from cnnedu.arch.zoo import get_preset

    dataset = get_preset(preset_id).dataset
    names: list[str] | None = None
    if dataset == "fashion-mnist":
        from cnnedu.data.mnist import FASHION_CLASSES as names
    elif dataset == "mnist":
        from cnnedu.data.mnist import MNIST_CLASSES as names
    elif dataset == "cifar10":
        from cnnedu.data.cifar import CLASSES as names
    if names is not None and len(names) == num_classes:
        return list(names), f"the class names of {dataset}"
    return [str(i) for i in range(num_classes)], f'the class numbers "0".."{num_classes - 1}"'


def preset_model(preset_id: str, seed: int = 0) -> LoadedModel:
    """A coursework preset with fresh, *untrained* weights (``torch.manual_seed(seed)``) and default
    metadata: its dataset's class names (or "0".."k-1") and mean = std = 0.5 per channel, which maps
    pixels 0..1 to -1..1. Useful to try export and prediction; its predictions mean nothing."""
    from cnnedu.arch.nets import build_model
    from cnnedu.arch.zoo import preset_spec

    spec = preset_spec(preset_id)
    torch.manual_seed(seed)
    model = build_model(spec).eval()
    classes, where = preset_classes(preset_id, spec.num_classes)
    c = spec.input_shape[0]
    meta = meta_for_spec(spec, classes, mean=[DEFAULT_MEAN] * c, std=[DEFAULT_STD] * c, arch=preset_id,
                         training={"trained": False, "seed": seed})
    notes = [f"untrained weights (random, seed {seed}): the predictions mean nothing until it is trained",
             f"classes: {where}",
             f"normalization: mean {DEFAULT_MEAN}, std {DEFAULT_STD} per channel (pixels 0..1 → -1..1)"]
    return LoadedModel(model=model, spec=spec, meta=meta, source="preset", name=preset_id, notes=notes)


def load_for_export(name: str) -> LoadedModel:
    """A run id or a preset id → :class:`LoadedModel` (runs first, since a run id is never a preset id)."""
    from cnnedu.arch.zoo import PRESETS
    from cnnedu.runs.store import get_run

    if name in PRESETS:
        return preset_model(name)
    try:
        get_run(name, check=False)
    except RunStoreError as err:
        hint = err.fix if err.fix and err.fix.startswith("Did you mean") else \
            f"`python -m cnnedu runs` lists the runs; presets: {', '.join(PRESETS)}."
        raise RunStoreError(f"'{name}' is neither a run nor a preset.", hint) from None
    return run_model(name)
