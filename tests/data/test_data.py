"""Datasets: what a student sees when loading, generating, converting and splitting image data."""

from __future__ import annotations

import http.server
import io
import os
import pickle
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from cnnedu import paths
from cnnedu.data import (
    DATASETS,
    SYNTHETIC_CLASSES,
    channel_stats,
    find_local,
    fit_to_shape,
    load_dataset,
    read_image,
    shape_mismatch,
    split_validation,
)
from cnnedu.data import mnist as mnist_mod
from cnnedu.data.dataset import Dataset
from cnnedu.data.download import DownloadFailed, download
from cnnedu.data.idx import read_idx, write_idx
from cnnedu.data.synthetic import generate
from cnnedu.errors import DataError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty cnnedu data folder (conftest does it too; this keeps the file standalone)."""
    monkeypatch.setenv("CNNEDU_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    return tmp_path / "home" / "data"


# ------------------------------------------------------------------------------------------- synthetic


def test_synthetic_is_the_same_for_the_same_seed_and_differs_for_another():
    a = load_dataset("synthetic", n_train=300, n_test=100, seed=3)
    b = load_dataset("synthetic", n_train=300, n_test=100, seed=3)
    c = load_dataset("synthetic", n_train=300, n_test=100, seed=4)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.train_y, b.train_y)
    assert torch.equal(a.test_x, b.test_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    assert not torch.equal(a.train_x[:100], a.test_x)  # train and test are different images
    # a larger training set does not change the test set
    d = load_dataset("synthetic", n_train=500, n_test=100, seed=3)
    assert torch.equal(a.test_x, d.test_x)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 36, 120), (1, 64, 64), (3, 17, 9)])
def test_synthetic_makes_any_input_shape(shape):
    ds = load_dataset("synthetic", input_shape=shape, num_classes=4, n_train=40, n_test=8)
    assert ds.train_x.shape == (40, *shape) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (8, *shape)
    assert ds.train_y.dtype == torch.int64 and ds.input_shape == shape
    assert ds.classes == ["ring", "cross", "horizontal bar", "vertical bar"]
    assert ds.source == "generated"
    assert int(ds.train_x.max()) > 150 and int(ds.train_x.min()) < 60  # bright shapes on darker ground


@pytest.mark.parametrize("k", [1, 2, 7, 10])
def test_synthetic_classes_are_balanced_and_named(k):
    ds = load_dataset("synthetic", num_classes=k, n_train=203, n_test=50)
    counts = torch.bincount(ds.train_y, minlength=k)
    assert len(counts) == k and int(counts.max() - counts.min()) <= 1
    assert ds.classes == SYNTHETIC_CLASSES[:k] and len(set(ds.classes)) == k


def test_synthetic_defaults_and_bad_settings():
    ds = load_dataset("synthetic")
    assert (len(ds.train_y), len(ds.test_y), ds.input_shape, ds.num_classes) == (20000, 1000, (1, 28, 28), 10)
    with pytest.raises(DataError, match="1 to 10 classes"):
        load_dataset("synthetic", num_classes=11)
    with pytest.raises(DataError, match="input_shape"):
        load_dataset("synthetic", input_shape=(1, 28))
    with pytest.raises(DataError, match="channels"):
        load_dataset("synthetic", input_shape=(7, 28, 28))


def test_synthetic_colour_images_have_tints():
    x, _ = generate(200, (3, 32, 32), 10, seed=0)
    per_image_channel_means = x.float().mean(dim=(2, 3))  # [N, 3]
    spread = per_image_channel_means.max(1).values - per_image_channel_means.min(1).values
    assert float(spread.median()) > 10  # not gray: the channels differ


def test_synthetic_generation_speed_is_printed():
    start = time.perf_counter()
    x, y = generate(10_000, (1, 28, 28), 10, seed=0)
    seconds = time.perf_counter() - start
    print(f"\nsynthetic: 10,000 images of 1×28×28 in {seconds:.2f} s")
    assert x.shape == (10_000, 1, 28, 28)


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 50):
            idx = order[i:i + 50]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_a_small_cnn_learns_synthetic_shapes_and_a_linear_model_does_worse():
    ds = load_dataset("synthetic", n_train=2000, n_test=500, seed=0)
    x, xt = ds.train_x.float() / 255, ds.test_x.float() / 255
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(),
                        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny layers: one thread is fastest, and immune to a busy machine
    try:
        start = time.perf_counter()
        _fit(cnn, x, ds.train_y, epochs=3, lr=5e-3)
        cnn_acc = _accuracy(cnn, xt, ds.test_y)
        linear = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
        _fit(linear, x, ds.train_y, epochs=3, lr=1e-2)
        linear_acc = _accuracy(linear, xt, ds.test_y)
    finally:
        torch.set_num_threads(threads)
    print(f"\nsynthetic 10 classes: CNN {cnn_acc:.1%}, logistic regression {linear_acc:.1%} "
          f"(chance 10%), {time.perf_counter() - start:.1f} s")
    assert cnn_acc > 0.6, "a small CNN should learn the shapes well above chance (10%)"
    assert linear_acc < cnn_acc - 0.15, "the task should not be solvable by a linear model"


# ------------------------------------------------------------------------------------------ fashion-mnist


def test_fashion_mnist_loads_from_the_debian_package():
    assert (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(), (
        f"Fashion-MNIST is missing from {FASHION_DIR}: install the Debian package "
        "(sudo apt install dataset-fashion-mnist); ./run.sh setup does it")
    start = time.perf_counter()
    ds = load_dataset("fashion-mnist")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = load_dataset("fashion-mnist")
    warm = time.perf_counter() - start
    print(f"\nfashion-mnist: cold load {cold:.2f} s, warm {warm * 1000:.1f} ms")
    assert ds.source == str(FASHION_DIR)
    assert ds.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (10000, 1, 28, 28)
    assert torch.bincount(ds.train_y).tolist() == [6000] * 10
    assert torch.bincount(ds.test_y).tolist() == [1000] * 10
    assert torch.equal(again.test_x, ds.test_x)
    mean, std = ds.channel_stats()  # the well-known Normalize((0.2860,), (0.3530,))
    assert mean[0] == pytest.approx(0.2860, abs=1e-4) and std[0] == pytest.approx(0.3530, abs=1e-4)
    assert find_local("fashion-mnist") == FASHION_DIR


def test_fashion_mnist_subsets_classes_and_samples():
    ds = load_dataset("fashion-mnist", num_classes=3, n_train=300, n_test=60, seed=1)
    assert ds.classes == ["T-shirt/top", "Trouser", "Pullover"]
    assert len(ds.train_y) == 300 and len(ds.test_y) == 60 and int(ds.train_y.max()) <= 2
    same = load_dataset("fashion-mnist", num_classes=3, n_train=300, n_test=60, seed=1)
    assert torch.equal(ds.train_x, same.train_x)
    assert any("first 3 of 10 classes" in w for w in ds.warnings)
    with pytest.raises(DataError, match="11 outputs but Fashion-MNIST has only 10"):
        load_dataset("fashion-mnist", num_classes=11)


def _write_fake_mnist(folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", np.arange(n_train) % 10)
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", np.arange(n_test) % 10)


def test_a_given_data_dir_is_looked_in_first(tmp_path):
    _write_fake_mnist(tmp_path / "mine", gz=False)  # unpacked files work too
    ds = load_dataset("fashion-mnist", data_dir=tmp_path / "mine")
    assert ds.source == str(tmp_path / "mine") and len(ds.train_y) == 20 and len(ds.test_y) == 10
    raw = read_idx(tmp_path / "mine" / "train-images-idx3-ubyte")
    assert torch.equal(ds.train_x[:, 0], torch.from_numpy(raw.copy()))


def test_mnist_found_in_torchvisions_folder_is_not_downloaded(_own_data_dir):
    _write_fake_mnist(_own_data_dir / "MNIST" / "raw")
    ds = load_dataset("mnist", download=False)
    assert ds.classes == [str(d) for d in range(10)] and ds.train_x.shape == (20, 1, 28, 28)


def test_a_damaged_idx_file_is_a_clear_error(tmp_path):
    _write_fake_mnist(tmp_path / "bad")
    (tmp_path / "bad" / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("fashion-mnist", data_dir=tmp_path / "bad")


# -------------------------------------------------------------------------------- downloads (no network)


def _assert_helpful_offline_message(err: DataError, folder: Path, files: list[str]) -> None:
    text = str(err)
    assert "Could not download" in text
    assert str(folder) in text, "the message should say where to put the files by hand"
    for name in files:
        assert name in text
    assert "'synthetic'" in text and "dataset-fashion-mnist" in text and "'folder'" in text


def _no_leftovers(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_mnist_without_network_says_where_to_put_the_files(_own_data_dir):
    """A real download attempt from torchvision's mirrors; this machine (and CI) has no network."""
    start = time.perf_counter()
    try:
        ds = load_dataset("mnist", progress=lambda fraction, message: None)
    except DataError as err:
        seconds = time.perf_counter() - start
        print(f"\nmnist download failed after {seconds:.2f} s: {err}")
        _assert_helpful_offline_message(err, paths.data_dir() / "MNIST" / "raw", list(mnist_mod.FILES))
        assert seconds < 60
        assert _no_leftovers(_own_data_dir) == [], "a failed download must leave no half file"
        with pytest.raises(DataError, match="Could not download MNIST"):  # and the next try fails the same way
            load_dataset("mnist")
    else:  # a machine with network: then the download must have worked
        assert ds.train_x.shape == (60000, 1, 28, 28)


def test_mnist_download_from_an_unreachable_server_fails_fast_and_cleanly(_own_data_dir, monkeypatch):
    """The same, everywhere: a .invalid host never resolves (RFC 2606)."""
    monkeypatch.setattr(mnist_mod, "_mirrors_and_md5",
                        lambda family: (["http://cnnedu-test.invalid/a/", "http://cnnedu-test.invalid/b/"], {}))
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    assert time.perf_counter() - start < 40
    _assert_helpful_offline_message(info.value, _own_data_dir / "MNIST" / "raw",
                                    [f"{name}.gz" for name in mnist_mod.FILES])
    assert "no network" in str(info.value) or "cnnedu-test.invalid" in str(info.value)
    assert _no_leftovers(_own_data_dir) == []


def test_download_switched_off_names_the_places_looked_in(_own_data_dir):
    with pytest.raises(DataError, match="downloading is switched off") as info:
        load_dataset("mnist", download=False)
    assert str(_own_data_dir / "MNIST" / "raw") in str(info.value)


def test_cifar10_without_network_says_where_to_put_the_files(_own_data_dir, monkeypatch):
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "url", "http://cnnedu-test.invalid/cifar-10-python.tar.gz")
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    _assert_helpful_offline_message(info.value, _own_data_dir, ["cifar-10-python.tar.gz", "cifar-10-batches-py",
                                                                "data_batch_1", "test_batch"])
    assert _no_leftovers(_own_data_dir) == []


class _Server:
    """A real HTTP server on localhost serving ``body`` (optionally claiming more bytes than it sends)."""

    def __init__(self, body: bytes, claimed: int | None = None):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the name http.server calls
                self.send_response(200)
                self.send_header("Content-Length", str(claimed or len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/file.bin"
        self.thread = threading.Thread(target=outer.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_download_reports_progress_checks_md5_and_never_leaves_half_files(tmp_path):
    import hashlib

    tmp_path = tmp_path / "downloads"
    tmp_path.mkdir()
    body = os.urandom(700_000)
    server = _Server(body)
    try:
        seen: list[tuple[float, str]] = []
        dest = download(server.url, tmp_path / "ok.bin", md5=hashlib.md5(body).hexdigest(),
                        progress=lambda f, m: seen.append((f, m)))
        assert dest.read_bytes() == body
        assert seen and seen[-1][0] == pytest.approx(1.0) and "MB" in seen[-1][1]
        assert all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
        with pytest.raises(DownloadFailed, match="MD5"):
            download(server.url, tmp_path / "bad.bin", md5="0" * 32)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bin"]
    finally:
        server.close()
    short = _Server(body[:1000], claimed=len(body))  # the connection ends early
    try:
        with pytest.raises(DownloadFailed):
            download(short.url, tmp_path / "cut.bin", timeout=5)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bin"]
    finally:
        short.close()


# ------------------------------------------------------------------------------------------------ cifar10


def _cifar_batch(n: int, first_label: int) -> dict:
    data = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    data[:, 0, :, :16] = 255  # red: left half, green: top half, blue: 7
    data[:, 1, :16, :] = 200
    data[:, 2] = 7
    labels = [(first_label + i) % 10 for i in range(n)]
    return {"batch_label": "fake", "labels": labels, "data": data.reshape(n, 3072), "filenames": []}


def _write_fake_cifar(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(_cifar_batch(4, i), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(_cifar_batch(3, 0), protocol=2))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def test_cifar10_batches_become_nchw_uint8(_own_data_dir):
    _write_fake_cifar(_own_data_dir / "cifar-10-batches-py")
    ds = load_dataset("cifar10", download=False)
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_x.shape == (3, 3, 32, 32)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    img = ds.train_x[0]
    assert int(img[0, 5, 3]) == 255 and int(img[0, 5, 20]) == 0  # red on the left
    assert int(img[1, 3, 30]) == 200 and int(img[1, 20, 30]) == 0  # green on top
    assert int(img[2].min()) == 7 == int(img[2].max())
    assert ds.classes[0] == "airplane" and ds.classes[9] == "truck"
    assert ds.train_y[:4].tolist() == [1, 2, 3, 4]


def test_cifar10_archive_on_disk_is_unpacked(_own_data_dir, tmp_path):
    _write_fake_cifar(tmp_path / "src" / "cifar-10-batches-py")
    _own_data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(_own_data_dir / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    ds = load_dataset("cifar10", download=False)
    assert len(ds.train_y) == 20
    assert (_own_data_dir / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert not [p for p in _own_data_dir.iterdir() if p.name.startswith(".cifar")]


def test_cifar10_refuses_a_pickle_that_would_run_code(_own_data_dir):
    _write_fake_cifar(_own_data_dir / "cifar-10-batches-py")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (_own_data_dir / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(DataError, match="refusing to load"):
        load_dataset("cifar10", download=False)


# ------------------------------------------------------------------------------------------- image folder


def _png(path: Path, mode: str, size: tuple[int, int], colour) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def _make_folder(root: Path) -> None:
    for i in range(10):
        _png(root / "q1" / f"{i}.png", "L", (40, 12), 30 + i)  # grayscale
        _png(root / "q2" / f"{i}.png", "RGBA", (40, 12), (200, 0, 0, 255))  # RGBA, red
        _png(root / "q10" / f"{i}.png", "RGB", (40, 12), (0, 0, 250))  # RGB, blue
    (root / "q2" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    (root / "q1" / "notes.txt").write_text("not an image")


def test_image_folder_reads_classes_splits_and_reports_corrupt_files(tmp_path):
    _make_folder(tmp_path / "gaze")
    ds = load_dataset("folder", data_dir=tmp_path / "gaze", input_shape=(1, 6, 20), seed=0)
    assert ds.classes == ["q1", "q2", "q10"]  # q2 before q10
    assert ds.train_x.shape[1:] == (1, 6, 20) and ds.train_x.dtype == torch.uint8
    assert len(ds.train_y) + len(ds.test_y) == 30  # the broken file is skipped
    assert torch.bincount(ds.test_y, minlength=3).tolist() == [2, 2, 2]  # 80/20 in every class
    assert any("skipped 1 file" in w and "broken.png" in w for w in ds.warnings)
    assert any("ignored 1 file" in w for w in ds.warnings)
    red = ds.train_x[ds.train_y == 1]
    assert int(red.min()) == int(red.max()) == round(0.299 * 200)  # RGBA red → luma gray
    assert ds.title == "images in gaze/" and ds.source == str(tmp_path / "gaze")
    again = load_dataset("folder", data_dir=tmp_path / "gaze", input_shape=(1, 6, 20), seed=0)
    assert torch.equal(ds.test_x, again.test_x)
    other = load_dataset("folder", data_dir=tmp_path / "gaze", input_shape=(1, 6, 20), seed=1)
    assert not torch.equal(ds.test_y, other.test_y) or not torch.equal(ds.test_x, other.test_x)


def test_image_folder_guesses_the_shape_and_reads_colour(tmp_path):
    _make_folder(tmp_path / "gaze")
    ds = load_dataset("folder", data_dir=tmp_path / "gaze")
    assert ds.input_shape == (3, 12, 40)  # most common size, colour because some images have colour
    blue = ds.train_x[ds.train_y == 2][0]
    assert blue[:, 0, 0].tolist() == [0, 0, 250]


def test_image_folder_with_its_own_train_and_test(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for cls in ("cat", "dog"):
            for i in range(n):
                _png(tmp_path / "pets" / split / cls / f"{i}.png", "RGB", (8, 8), (i * 10, 0, 0))
    ds = load_dataset("folder", data_dir=tmp_path / "pets", input_shape=(3, 8, 8))
    assert ds.classes == ["cat", "dog"] and len(ds.train_y) == 8 and len(ds.test_y) == 4


def test_image_folder_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("folder", data_dir=tmp_path / "nowhere")
    with pytest.raises(DataError, match="needs a folder"):
        load_dataset("folder")
    _png(tmp_path / "one" / "only" / "a.png", "L", (8, 8), 0)
    with pytest.raises(DataError, match="at least 2"):
        load_dataset("folder", data_dir=tmp_path / "one")
    _make_folder(tmp_path / "gaze")
    (tmp_path / "gaze" / "q3").mkdir()
    (tmp_path / "gaze" / "q3" / "x.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="'q3'.*no readable images"):
        load_dataset("folder", data_dir=tmp_path / "gaze", input_shape=(1, 8, 8))


def test_read_image_is_upright_converted_and_resized(tmp_path):
    img = Image.new("RGB", (20, 10), (0, 255, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # "rotated 90°": the upright picture is 10 wide, 20 high
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    x = read_image(buf.getvalue(), (1, 20, 10))
    assert x.shape == (1, 20, 10) and x.dtype == torch.uint8
    assert abs(int(x.float().mean()) - round(0.587 * 255)) <= 3  # green → gray by luma
    with pytest.raises(DataError):
        read_image(b"not an image", (1, 8, 8))


# -------------------------------------------------------------------------------------- fitting shapes


def _tiny(x: torch.Tensor, name: str = "fashion-mnist") -> Dataset:
    y = torch.zeros(len(x), dtype=torch.int64)
    return Dataset(name, ["a"], "test", x, y, x[:2], y[:2])


def test_shape_mismatch_explains_in_words():
    ds = _tiny(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    assert shape_mismatch(ds, (1, 28, 28)) is None
    assert shape_mismatch(ds, (3, 32, 32), model="lenet-cifar10") == (
        "Fashion-MNIST images are 1×28×28 but lenet-cifar10 expects 3×32×32: cnnedu can convert them "
        "(grayscale → RGB, resize 28×28 → 32×32)")
    rgb = _tiny(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), "cifar10")
    assert shape_mismatch(rgb, (1, 32, 32)) == ("CIFAR-10 images are 3×32×32 but the network expects 1×32×32: "
                                                "cnnedu can convert them (RGB → grayscale)")
    two = _tiny(torch.zeros(4, 2, 8, 8, dtype=torch.uint8), "synthetic")
    assert "cannot convert" in shape_mismatch(two, (3, 8, 8))
    with pytest.raises(DataError, match="cannot convert"):
        fit_to_shape(two, (3, 8, 8))


def test_fit_to_shape_converts_channels_and_size():
    gray = torch.arange(28 * 28, dtype=torch.int64).remainder(256).to(torch.uint8).view(1, 1, 28, 28).repeat(3, 1, 1, 1)
    ds = _tiny(gray)
    rgb = fit_to_shape(ds, (3, 28, 28))
    assert rgb.train_x.shape == (3, 3, 28, 28)
    assert torch.equal(rgb.train_x[:, 0], gray[:, 0]) and torch.equal(rgb.train_x[:, 2], gray[:, 0])
    assert rgb.warnings and "grayscale → RGB" in rgb.warnings[-1]
    big = fit_to_shape(ds, (3, 32, 32))
    assert big.train_x.shape == (3, 3, 32, 32) and big.test_x.shape == (2, 3, 32, 32)
    assert torch.equal(big.train_y, ds.train_y) and big.classes == ds.classes
    assert fit_to_shape(ds, (1, 28, 28)) is ds

    colours = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    colours[0, 0] = 255  # pure red, green, blue
    colours[1, 1] = 255
    colours[2, 2] = 255
    luma = fit_to_shape(_tiny(colours, "cifar10"), (1, 4, 4)).train_x[:, 0, 0, 0].tolist()
    assert luma == [76, 150, 29]  # 0.299, 0.587, 0.114 × 255

    flat = torch.full((2, 1, 28, 28), 77, dtype=torch.uint8)  # resizing keeps a flat image flat
    assert int(fit_to_shape(_tiny(flat), (1, 14, 14)).train_x.sub(77).abs().max()) == 0


# ------------------------------------------------------------------------------ statistics and splits


def test_channel_stats_on_known_images():
    x = torch.zeros(10, 2, 4, 4, dtype=torch.uint8)
    x[:5, 0] = 255  # channel 0: half the images white → mean 0.5, std 0.5
    x[:, 1] = 51  # channel 1: constant 0.2 → std 0
    mean, std = channel_stats(x)
    assert mean == pytest.approx([0.5, 0.2]) and std == pytest.approx([0.5, 0.0], abs=1e-12)
    big = torch.randint(0, 256, (5000, 3, 8, 8), dtype=torch.uint8)
    mean, std = channel_stats(big)
    ref = big.double() / 255
    assert mean == pytest.approx(ref.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(ref.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-12)
    assert channel_stats(big.float() / 255)[0] == pytest.approx(mean, abs=1e-6)
    with pytest.raises(DataError):
        channel_stats(torch.zeros(0, 1, 4, 4, dtype=torch.uint8))


def test_dataset_channel_stats_are_computed_once():
    ds = load_dataset("synthetic", n_train=100, n_test=10)
    assert ds.channel_stats() is ds.channel_stats()
    assert ds.channel_stats() == channel_stats(ds.train_x)


def test_split_validation_is_deterministic_stratified_and_complete():
    x = torch.arange(100).view(100, 1, 1, 1).to(torch.uint8)
    y = torch.arange(100) % 4
    tx, ty, vx, vy = split_validation(x, y, 0.2, seed=5)
    assert len(vy) == 20 and len(ty) == 80
    assert torch.bincount(vy).tolist() == [5, 5, 5, 5]
    assert sorted(tx.flatten().tolist() + vx.flatten().tolist()) == list(range(100))
    assert torch.equal(y[tx.flatten().long()], ty)  # labels stay with their images
    again = split_validation(x, y, 0.2, seed=5)
    assert torch.equal(again[2], vx)
    assert not torch.equal(split_validation(x, y, 0.2, seed=6)[2], vx)
    tx0, ty0, vx0, vy0 = split_validation(x, y, 0.0, seed=5)
    assert len(vy0) == 0 and vx0.shape == (0, 1, 1, 1) and torch.equal(tx0, x)
    with pytest.raises(DataError, match="validation fraction"):
        split_validation(x, y, 1.0)


# ------------------------------------------------------------------------------------------------- misc


def test_dataset_list_and_unknown_names():
    assert set(DATASETS) == {"synthetic", "gaze-synthetic", "fashion-mnist", "mnist", "cifar10", "folder"}
    assert DATASETS["mnist"].needs_network and DATASETS["cifar10"].needs_network
    assert not DATASETS["synthetic"].needs_network and not DATASETS["folder"].needs_network
    assert all(info.description and info.title for info in DATASETS.values())
    with pytest.raises(DataError, match="(?i)choose one of: synthetic"):
        load_dataset("imagenet")


def test_asking_for_more_images_than_there_are_keeps_all_and_says_so(tmp_path):
    _write_fake_mnist(tmp_path / "small")
    ds = load_dataset("fashion-mnist", data_dir=tmp_path / "small", n_train=1000)
    assert len(ds.train_y) == 20 and any("only 20" in w for w in ds.warnings)


def test_describe_is_one_readable_line():
    ds = load_dataset("synthetic", num_classes=2, n_train=10, n_test=4)
    assert ds.describe() == ("Synthetic shapes: 10 train + 4 test images of 1×28×28, 2 classes (ring, cross) "
                             "from generated")

