"""Which data an experiment's runs use on this machine, and the note that says so.

Fashion-MNIST comes from Debian's files (or a download). MNIST and CIFAR-10 are used when they are on disk
(cnnedu's data folder) or can be downloaded now; when neither works (offline), a synthetic stand-in of the
same shape and number of classes trains instead, and ``data_note`` says so wherever the result is shown.
Seed 003's eye images are the document's own recording: cnnedu's synthetic eye pairs always stand in.
"""

from __future__ import annotations

from functools import cache

from cnnedu.errors import DataError

#: The downloadable datasets an experiment may ask for.
DOWNLOADABLE = ("mnist", "fashion-mnist", "cifar10")


@cache
def available(name: str) -> bool:
    """Whether ``name`` can be loaded here: on disk, or downloaded now (once per process)."""
    from cnnedu import data

    if data.find_local(name) is not None:
        return True
    try:
        data.load_dataset(name, n_train=1, n_test=1)
    except DataError:
        return False
    return True


def dataset_to_use(name: str) -> str:
    """The dataset a run that asks for ``name`` trains on here: ``name``, or "synthetic" when it is a
    downloadable dataset that cannot be had."""
    if name in DOWNLOADABLE and not available(name):
        return "synthetic"
    return name


def data_note(wanted: str, used: str) -> str:
    """What the table should say about the data: "" when a run used the document's dataset."""
    from cnnedu.data import DATASETS

    if wanted == "gaze-synthetic":
        return ("The document's own eye images are not published: cnnedu's synthetic eye pairs (1×36×120, 4 "
                "gaze quadrants) stand in, so the numbers are not the document's task.")
    if used == wanted:
        return ""
    info = DATASETS.get(wanted)
    title = info.title if info else wanted
    shape = "×".join(map(str, info.shape)) if info and info.shape else "the same shape"
    return (f"{title} is not on this machine and could not be downloaded: synthetic {shape} images of "
            f"{info.num_classes if info else 10} classes stand in for it, so the numbers are not comparable "
            f"with the document's. Put {title} in cnnedu's data folder (or go online) and launch again.")
