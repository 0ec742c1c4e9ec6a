"""Eye gaze data (seed 003): the drawn "gaze-synthetic" eyes and a real MPIIFaceGaze folder (Image/ + Label/)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from cnnedu.cli.main import main as cli_main
from cnnedu.data import DATASETS, load_dataset
from cnnedu.data.gaze import GAZE_CLASSES, generate_gaze
from cnnedu.data.gazefolder import load_gaze_folder
from cnnedu.errors import DataError, TrainError
from cnnedu.training.checks import check_data
from cnnedu.training.config import TrainConfig

# ------------------------------------------------------------------------------------------ gaze-synthetic


def test_the_same_seed_draws_the_same_eyes_and_classes_are_balanced():
    a_x, a_y = generate_gaze(203, seed=3)
    b_x, b_y = generate_gaze(203, seed=3)
    c_x, _ = generate_gaze(203, seed=4)
    assert torch.equal(a_x, b_x) and torch.equal(a_y, b_y)
    assert not torch.equal(a_x, c_x)
    assert a_x.shape == (203, 1, 36, 120) and a_x.dtype == torch.uint8 and a_y.dtype == torch.int64
    counts = torch.bincount(a_y, minlength=4)
    assert len(counts) == 4 and int(counts.max() - counts.min()) <= 1  # 51, 51, 51, 50
    assert 40 < float(a_x.float().mean()) < 215 and float(a_x.float().std()) > 15  # neither blank nor flat


def test_the_dataset_is_registered_with_its_shape_classes_and_other_people_in_test():
    info = DATASETS["gaze-synthetic"]
    assert info.shape == (1, 36, 120) and info.num_classes == 4 and not info.needs_network
    ds = load_dataset("gaze-synthetic", n_train=40, n_test=12, seed=1)
    assert ds.classes == ["up-left", "up-right", "down-right", "down-left"] == GAZE_CLASSES
    assert ds.input_shape == (1, 36, 120) and len(ds.train_y) == 40 and len(ds.test_y) == 12
    assert not torch.equal(ds.test_x, ds.train_x[:12])
    again = load_dataset("gaze-synthetic", n_train=80, n_test=12, seed=1)
    assert torch.equal(again.test_x, ds.test_x)  # more training images never change the test set


def test_the_class_is_where_the_pupils_are():
    """On the pixels: in the mean image of each class, the darkest spot of each eye crop (the pupils and
    irises, averaged) sits up and left of the crop's centre for up-left, down and right for down-right."""
    x, y = generate_gaze(400, seed=5)
    x, y = x.float().numpy()[:, 0], y.numpy()
    centre_row, centre_col = 18, 30  # the middle of a 36×60 eye crop
    for k, name in enumerate(GAZE_CLASSES):
        mean = x[y == k].mean(axis=0)
        vertical, horizontal = name.split("-")
        for crop in (mean[:, :60], mean[:, 60:]):
            row, col = np.unravel_index(crop.argmin(), crop.shape)
            assert (row < centre_row - 1) if vertical == "up" else (row >= centre_row - 1), (name, row)
            assert (col < centre_col - 2) if horizontal == "left" else (col > centre_col + 1), (name, col)


def test_a_small_cnn_learns_the_gaze_quadrant_well_above_chance():
    ds = load_dataset("gaze-synthetic", n_train=1200, n_test=400, seed=0)
    x, xt = ds.train_x.float() / 255 - 0.5, ds.test_x.float() / 255 - 0.5
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 5, stride=2, padding=2), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(16 * 3 * 10, 4))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        g = torch.Generator().manual_seed(0)
        for _ in range(4):
            order = torch.randperm(len(ds.train_y), generator=g)
            for i in range(0, len(order), 50):
                idx = order[i:i + 50]
                loss = F.cross_entropy(net(x[idx]), ds.train_y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net(xt).argmax(1) == ds.test_y).float().mean().item()
    finally:
        torch.set_num_threads(threads)
    print(f"\ngaze-synthetic, small CNN, 1200 images × 4 epochs: {acc:.1%} (chance 25%), "
          f"{time.perf_counter() - start:.1f} s")
    assert acc > 0.45


def test_training_settings_and_the_cli_accept_the_dataset(capsys):
    assert check_data(TrainConfig(arch="gaze-cnn-bn", dataset="gaze-synthetic")) is None
    with pytest.raises(TrainError, match="Did you mean 'gaze-synthetic'"):
        check_data(TrainConfig(arch="gaze-cnn-bn", dataset="gaze-synthtic"))
    code = cli_main(["train", "--arch", "gaze-fc2", "--dataset", "gaze-synthetic", "--n-train", "64",
                     "--n-test", "16", "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--threads", "1",
                     "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    doc = json.loads(out[out.index("{"):])
    text = json.dumps(doc)
    assert "up-left" in text and "gaze-synthetic" in text


# ------------------------------------------------------------------------------- a real MPIIFaceGaze folder

HEADER = "Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin"


def _eye_png(path: Path, value: int, size: tuple[int, int] = (60, 36)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)


def _label_line(person: str, i: int, x: float, y: float) -> str:
    return (f"{person}/face/{i}.jpg {person}/left/{i}.png {person}/right/{i}.png {person}/day01/{i:04d}.jpg "
            f"left 0.1,0.2,-0.9 0.0,0.1,0.0 {x},{y} 0.05,-0.02 1,0,0,0,1,0,0,0,1 1,0,0,0,1,0,0,0,1 0,0,600")


def _make_mpii(root: Path, people: dict[str, list[tuple[float, float]]]) -> None:
    """MPIIFaceGaze as seed 003 unzips it: Label/pNN.label and Image/pNN/{left,right}/i.png. Each left eye is
    a flat gray of 10 + i, each right eye of 200 + i, so a test can tell which file went where."""
    (root / "Label").mkdir(parents=True)
    for person, gazes in people.items():
        lines = [HEADER]
        for i, (x, y) in enumerate(gazes):
            lines.append(_label_line(person, i, x, y))
            _eye_png(root / "Image" / person / "left" / f"{i}.png", 10 + i)
            _eye_png(root / "Image" / person / "right" / f"{i}.png", 200 + i, size=(30, 18))  # resized to 60×36
        (root / "Label" / f"{person}.label").write_text("\n".join(lines) + "\n")


# x spans -0.5..0.25 and y -0.25..0.25 over all files (values exact in binary), so the middle (the course's 0
# after scaling to -1..1) is x = -0.125, y = 0: x = -0.0625 counts as "right" although it is negative, and
# x = -0.125 lies on the axis.
TRAIN_GAZES = [(-0.5, 0.25), (0.25, 0.25), (0.25, -0.25), (-0.5, -0.25), (-0.0625, 0.125), (-0.125, 0.125)]
EXPECTED_TRAIN = {10: 0, 11: 1, 12: 2, 13: 3, 14: 1}  # left eye's gray → class; 15 (on the axis) left out


def test_an_mpiifacegaze_folder_is_read_as_the_course_reads_it(tmp_path):
    root = tmp_path / "MPIIFaceGaze"
    _make_mpii(root, {"p00": TRAIN_GAZES, "p10": [(0.0, 0.125)], "p12": [(-0.25, -0.125), (0.125, 0.1875)]})
    ds = load_dataset("folder", data_dir=root, seed=0)  # the folder dataset sees the layout
    assert ds.classes == GAZE_CLASSES and ds.input_shape == (1, 36, 120)
    assert ds.source == str(root) and ds.title == "images in MPIIFaceGaze/"
    left, right = ds.train_x[:, 0, :, :60], ds.train_x[:, 0, :, 60:]
    got = {int(left[i].max()): int(ds.train_y[i]) for i in range(len(ds.train_y))}
    assert got == EXPECTED_TRAIN
    for i in range(len(ds.train_y)):
        assert int(left[i].min()) == int(left[i].max()) and int(right[i].min()) == int(right[i].max())
        assert int(right[i, 0, 0]) == int(left[i, 0, 0]) + 190  # the right eye of the same line, on the right
    # p12 is the document's test person: (-0.25, -0.125) → down-left, (0.125, 0.1875) → up-right
    assert sorted(ds.test_y.tolist()) == [1, 3] and len(ds.test_y) == 2
    text = " ".join(ds.warnings)
    assert "p10" in text and "validation" in text  # the validation person is left out, and it says so
    assert "1 image(s) whose gaze lies on an axis" in text


def test_an_mpiifacegaze_folder_keeps_a_subset_skips_bad_lines_and_splits_by_image_without_test_people(tmp_path):
    root = tmp_path / "gaze"
    _make_mpii(root, {"p00": TRAIN_GAZES * 3, "p01": TRAIN_GAZES * 2})
    with open(root / "Label" / "p01.label", "a") as f:
        f.write("p01/face/x.jpg ../../outside.png p01/right/0.png o left 0,0,0 0,0,0 0.1,0.2 0,0 r s g\n")
        f.write("p01/face/y.jpg p01/left/0.png p01/right/0.png o left 0,0,0 0,0,0 oops 0,0 r s g\n")
    (root / "Image" / "p01" / "left" / "1.png").write_bytes(b"not a png")
    ds = load_gaze_folder(root, seed=2)
    text = " ".join(ds.warnings)
    assert "none of the document's test people" in text and "80/20" in text
    assert "is not two numbers" in text and "outside Image/" in text and "not readable" in text
    assert len(ds.test_y) >= 4 and set(ds.train_y.tolist()) <= {0, 1, 2, 3}
    small = load_gaze_folder(root, seed=2, n_train=5, n_test=2)
    assert len(small.train_y) <= 5 and len(small.test_y) <= 2
    assert torch.equal(small.train_x, load_gaze_folder(root, seed=2, n_train=5, n_test=2).train_x)


def test_an_odd_mpiifacegaze_folder_gets_a_clear_error(tmp_path):
    root = tmp_path / "half"
    (root / "Label").mkdir(parents=True)
    (root / "Label" / "p00.label").write_text(HEADER + "\n")
    with pytest.raises(DataError, match=r"no Image/ folder"):
        load_dataset("folder", data_dir=root)
    (root / "Image").mkdir()
    (root / "Label" / "p00.label").write_text("Face Left Right 3DGaze\np00/f.jpg p00/l.png p00/r.png 0,0,1\n")
    with pytest.raises(DataError, match=r"no column 2DGaze"):
        load_gaze_folder(root)
    with pytest.raises(DataError, match="does not exist"):
        load_gaze_folder(tmp_path / "nowhere")
    with pytest.raises(DataError, match="reads data only from its data folder"):
        load_gaze_folder("/etc")
