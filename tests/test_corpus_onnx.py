"""A corpus of hostile and broken ONNX files, images and paths, kept as data in tests/corpus/*.json.

Each case is built here (ONNX files with ``onnx.helper``, see tests/onnx_builders.py; images with Pillow;
FIFOs, sockets and devices with ``os``) and fed through BOTH the library (``OnnxModel.from_bytes`` or a
path, then ``predict``) and the CLI (``cnnedu.cli.main(["predict", ...])`` in-process). Both must refuse it
with a :class:`PredictError` whose message contains the case's ``says`` — a phrase of the guard that
catches it, so the case fails if that guard is gone — the CLI with exit status 2 and no traceback.
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnedu import budgets
from cnnedu.cli.main import main
from cnnedu.errors import PredictError
from cnnedu.onnx.meta import ModelMeta
from cnnedu.onnx.predict import OnnxModel, predict
from cnnedu.vision.pixels import mode_for_channels
from tests.onnx_builders import build, build_raw

CORPUS = Path(__file__).parent / "corpus"
ONNX_CASES = json.loads((CORPUS / "onnx.json").read_text())
IMAGE_CASES = json.loads((CORPUS / "image.json").read_text())
#: Seconds past the case's time limit that refusing it may take (building, loading, starting a process).
SLACK_S = 10


def good_png(size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size), dtype=np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> tuple[OnnxModel, str]:
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    path.write_bytes(build({"graph": "tiny"}))
    return OnnxModel.from_path(path), str(path)


def apply_budgets(case: dict, monkeypatch) -> float:
    for name, value in case.get("budgets", {}).items():
        assert hasattr(budgets, name), name
        monkeypatch.setattr(budgets, name, value)
    return budgets.PREDICT_SECONDS + SLACK_S


def no_traceback(capsys) -> str:
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return out.err


# ------------------------------------------------------------------------------------------------ ONNX


def test_the_corpus_is_big_and_well_formed():
    assert len(ONNX_CASES) + len(IMAGE_CASES) >= 60
    for case in ONNX_CASES + IMAGE_CASES:
        assert set(case) >= {"name", "surface", "make", "says"}, case
        assert case["surface"] in ("onnx", "image") and case["says"], case
    assert len({c["name"] for c in ONNX_CASES}) == len(ONNX_CASES)
    assert len({c["name"] for c in IMAGE_CASES}) == len(IMAGE_CASES)


def test_the_builder_makes_a_model_that_predicts(good_model):
    model, _ = good_model
    [p] = predict(model, good_png())
    assert p.label in model.meta.classes and 0 < p.prob <= 1


@pytest.mark.parametrize("case", ONNX_CASES, ids=[c["name"] for c in ONNX_CASES])
def test_library_refuses(case, monkeypatch):
    limit = apply_budgets(case, monkeypatch)
    data = build_raw(case["make"])
    start = time.monotonic()
    with pytest.raises(PredictError) as caught:
        model = OnnxModel.from_bytes(data, name="case.onnx")
        if "describe" in case:
            model = model.with_meta(describe(case["describe"]))
        predict(model, good_png())
    assert case["says"] in str(caught.value), str(caught.value)
    assert time.monotonic() - start < limit


@pytest.mark.parametrize("case", ONNX_CASES, ids=[c["name"] for c in ONNX_CASES])
def test_cli_refuses(case, monkeypatch, capsys, tmp_path):
    limit = apply_budgets(case, monkeypatch)
    model = tmp_path / "case.onnx"
    model.write_bytes(build_raw(case["make"]))
    image = tmp_path / "image.png"
    image.write_bytes(good_png())
    start = time.monotonic()
    code = main(["predict", str(model), str(image), *case.get("cli", [])])
    assert time.monotonic() - start < limit
    err = no_traceback(capsys)
    assert code == 2
    assert case["says"] in err, err


def describe(given: dict) -> ModelMeta:
    c = given["input_shape"][0]
    return ModelMeta(classes=given["classes"], input_shape=tuple(given["input_shape"]),
                     channel_order=mode_for_channels(c),
                     mean=[float(v) for v in given.get("mean", [0.0] * max(1, c))],
                     std=[float(v) for v in given.get("std", [1.0] * max(1, c))], output="logits", arch="given")


# ----------------------------------------------------------------------------------------------- images


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def claiming(fmt: str, width: int, height: int) -> bytes:
    """A small valid file whose header is patched to claim width × height pixels."""
    if fmt == "PNG":
        data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
        ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
        data[16:29] = ihdr
        data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        return bytes(data)
    if fmt == "GIF":
        data = bytearray(encode(Image.new("L", (8, 8)), "GIF"))
        data[6:10] = struct.pack("<HH", width, height)
        start = data.index(b"\x2c")  # the image descriptor
        data[start + 5:start + 9] = struct.pack("<HH", width, height)
        return bytes(data)
    if fmt == "BMP":
        data = bytearray(encode(Image.new("L", (8, 8)), "BMP"))
        data[18:26] = struct.pack("<ii", width, height)
        return bytes(data)
    raise ValueError(fmt)


def make_image(make: dict, folder: Path) -> str:
    """The path of the file (or not-a-file) a case describes."""
    path = folder / "image.png"
    if "raw" in make:
        path.write_bytes(make["raw"].encode("latin-1"))
    elif "truncated" in make:
        rgb = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8), "RGB")
        path.write_bytes(encode(rgb, make["truncated"])[: make["keep"]])
    elif "claiming" in make:
        path.write_bytes(claiming(make["claiming"], *make["size"]))
    elif "float_tiff" in make:
        values = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
        values[3, 4] = float(make["float_tiff"])
        path = folder / "image.tif"
        Image.fromarray(values, "F").save(path, "TIFF")
    elif make.get("special") == "directory":
        path = folder / "a-folder.png"
        path.mkdir()
    elif make.get("special") == "fifo":
        os.mkfifo(path)
    elif make.get("special") == "socket":
        short = Path(tempfile.mkdtemp(prefix="sock"))  # a socket's path must be short
        path = short / "s.png"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        _open_sockets.append(sock)
    elif make.get("special") == "dev_zero":
        return "/dev/zero"
    elif make.get("special") == "link_dev_zero":
        path.symlink_to("/dev/zero")
    elif make.get("special") == "missing":
        path = folder / "nowhere.png"
    elif make.get("special") == "sparse":
        with open(path, "wb") as f:
            f.truncate(make["mb"] * budgets.MB)
    else:
        raise ValueError(make)
    return str(path)


_open_sockets: list[socket.socket] = []


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[c["name"] for c in IMAGE_CASES])
def test_library_refuses_image(case, good_model, tmp_path):
    model, _ = good_model
    path = make_image(case["make"], tmp_path)
    start = time.monotonic()
    with pytest.raises(PredictError) as caught:
        predict(model, Path(path))
    assert case["says"] in str(caught.value), str(caught.value)
    assert time.monotonic() - start < SLACK_S
    if Path(path).is_file() and Path(path).stat().st_size <= budgets.MAX_FILE_BYTES:  # the same bytes uploaded
        with pytest.raises(PredictError) as caught:
            predict(model, Path(path).read_bytes())
        assert case["says"] in str(caught.value), str(caught.value)


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[c["name"] for c in IMAGE_CASES])
def test_cli_refuses_image(case, good_model, tmp_path, capsys):
    _, model_path = good_model
    path = make_image(case["make"], tmp_path)
    start = time.monotonic()
    code = main(["predict", model_path, path])
    assert time.monotonic() - start < SLACK_S
    err = no_traceback(capsys)
    assert code == 2
    assert case["says"] in err, err


@pytest.mark.parametrize("special", ["fifo", "directory", "dev_zero"])
def test_a_model_path_that_is_not_a_regular_file_is_refused(special, tmp_path, capsys):
    path = make_image({"special": special}, tmp_path)
    with pytest.raises(PredictError, match="not a regular file"):
        OnnxModel.from_path(path)
    image = tmp_path / "ok.png"
    image.write_bytes(good_png())
    assert main(["predict", path, str(image)]) == 2
    assert "not a regular file" in no_traceback(capsys)
