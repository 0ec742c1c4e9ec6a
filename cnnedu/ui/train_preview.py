"""The Train page's data notes and augmentation preview: what the network and the dataset are, how the
dataset's images reach the network's input (converted, resized, fewer classes), and eight training images
before and after one augmentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import torch

from cnnedu.arch.spec import Spec
from cnnedu.arch.zoo import PRESETS
from cnnedu.data import DATASETS, Dataset, find_local, load_dataset, preview, shape_mismatch
from cnnedu.data.convert import convert_images
from cnnedu.errors import CnnEduError
from cnnedu.ui.common import show_error
from cnnedu.ui.runs_view import augmentation_text
from cnnedu.vision.grids import chw_to_image, enlarge, to_rgb


def network_caption(picked: Any) -> str | None:
    """Where the picked network comes from and its input and outputs (None without a valid spec)."""
    spec = picked.spec
    if spec is None:
        return None
    shape = "×".join(map(str, spec.input_shape))
    if not picked.is_build:
        preset = PRESETS[picked.key]
        return f"{preset.source}, {preset.task}: input {shape}, {spec.num_classes} classes."
    return (f"The network you are building on the Build page (**{spec.name}**): input {shape}, "
            f"{spec.num_classes} classes.")


def folder_problem(data_dir: str | None) -> str | None:
    """What is wrong with the image folder typed for the folder dataset (None: it is a folder)."""
    if data_dir is None:
        return "Choose the image folder."
    if not Path(data_dir).expanduser().is_dir():
        return f"There is no folder {data_dir}."
    return None


def show_data_notes(dataset: str, spec: Spec | None) -> None:
    """Whether a dataset that is downloaded is on this computer already, and the size synthetic and folder
    images are drawn or read at."""
    info = DATASETS[dataset]
    if info.needs_network or dataset == "fashion-mnist":
        found = find_local(dataset)
        if found is not None:
            st.caption(f":material/check: Found on this computer: {found}")
        elif info.needs_network:
            st.info(f"{info.title} needs the internet the first time: about {info.download_mb:.0f} MB are "
                    "downloaded when the run starts. Without a connection the run fails and says so; "
                    "Synthetic shapes works offline.", icon=":material/language:")
    if spec is not None and dataset in ("synthetic", "folder"):
        shape = "×".join(map(str, spec.input_shape))
        st.caption(f"{'Drawn' if dataset == 'synthetic' else 'Read'} at the network's input size, {shape}"
                   + (f", {spec.num_classes} classes." if dataset == "synthetic" else "."))


def shape_note(dataset: str, spec: Spec, label: str) -> tuple[str | None, str | None]:
    """(a note about converting the images to the network's input, a blocking problem) for a dataset whose
    images have a fixed shape."""
    info = DATASETS[dataset]
    if info.shape is None:
        return None, None
    empty = torch.zeros((0, *info.shape), dtype=torch.uint8)
    stub = Dataset(dataset, [str(i) for i in range(info.num_classes or 1)], "", empty,
                   torch.zeros(0, dtype=torch.long), empty, torch.zeros(0, dtype=torch.long))
    note = shape_mismatch(stub, tuple(spec.input_shape), model=label)
    problem = None
    have, want = info.shape[0], spec.input_shape[0]
    if note and have != want and {have, want} != {1, 3}:  # only grayscale ↔ RGB can be converted
        problem, note = note + ".", None
    elif note:
        note += ". The conversion is automatic when the run starts; the trained model remembers it, so " \
                "Predict converts your images the same way."
    if info.num_classes and spec.num_classes > info.num_classes:
        problem = (f"The network has {spec.num_classes} outputs but {info.title} has only {info.num_classes} "
                   f"classes. Set num_classes to {info.num_classes} on the Build page, or choose another network.")
    elif info.num_classes and spec.num_classes < info.num_classes:
        extra = (f"The network has {spec.num_classes} outputs, so only the first {spec.num_classes} of the "
                 f"{info.num_classes} classes of {info.title} are used.")
        note = f"{note} {extra}" if note else extra
    return note, problem


@st.cache_data(max_entries=16, show_spinner=False)
def sample_images(dataset: str, shape: tuple[int, int, int], num_classes: int, data_dir: str | None,
                  seed: int) -> np.ndarray:
    """Eight training images at the network's input shape, uint8 [8, C, H, W] (never downloads)."""
    if dataset == "synthetic":
        ds = load_dataset("synthetic", input_shape=shape, num_classes=num_classes, seed=seed, n_train=8, n_test=1)
    else:
        ds = load_dataset(dataset, data_dir=data_dir or None, seed=seed, n_train=8, n_test=1, download=False,
                          input_shape=shape if dataset == "folder" else None)
    x = ds.train_x[:8]
    if tuple(x.shape[1:]) != tuple(shape):
        x = convert_images(x, shape)
    return x.numpy()


def strip(rows: list[np.ndarray], scale: int, gap: int = 4) -> np.ndarray:
    """Rows of uint8 images [N, C, H, W] as one RGB picture, each image enlarged ``scale`` times (square
    pixels) with white gaps: the originals above their augmented copies, easy to compare."""
    n, _, h, w = rows[0].shape
    th, tw = h * scale, w * scale
    out = np.full((len(rows) * (th + gap) - gap, n * (tw + gap) - gap, 3), 255, dtype=np.uint8)
    for r, batch in enumerate(rows):
        for i, img in enumerate(batch):
            tile = enlarge(to_rgb(chw_to_image(img)), scale)
            out[r * (th + gap):r * (th + gap) + th, i * (tw + gap):i * (tw + gap) + tw] = tile
    return out


def show_preview(dataset: str, spec: Spec, data_dir: str | None, flip: float, crop: int, seed: int) -> None:
    if DATASETS[dataset].needs_network or dataset == "fashion-mnist":
        if find_local(dataset, data_dir or None) is None:
            st.caption(f"{DATASETS[dataset].title} is not on this computer yet: the preview appears once a run "
                       "has downloaded it.")
            return
    if dataset == "folder" and not data_dir:
        st.caption("Choose an image folder to see a preview.")
        return
    try:
        x = sample_images(dataset, tuple(spec.input_shape), min(spec.num_classes, 10), data_dir, seed)
        augmented = preview(torch.from_numpy(x), n=8, flip_p=flip, crop_padding=crop, seed=seed).numpy()
    except CnnEduError as err:
        show_error(err, "No preview: ")
        return
    scale = max(1, 64 // max(x.shape[2:]))
    if flip == 0 and crop == 0:
        st.image(strip([x], scale), width="stretch",
                 caption="Eight training images as the network receives them. Augmentation is off: every "
                         "epoch shows the network exactly these pixels.")
        return
    st.image(strip([x, augmented], scale), width="stretch",
             caption=f"Top: eight training images as the network receives them. Bottom: the same images after "
                     f"one random augmentation ({augmentation_text({'flip': flip, 'crop': crop})}). Each epoch "
                     "draws new flips and shifts, so the network never sees quite the same image twice.")
