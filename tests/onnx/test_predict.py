"""Prediction: untrusted images and ONNX files are decoded safely, converted honestly, and ranked right.

Every image here is a real file made with Pillow; every model is a real ONNX export run by onnxruntime.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

from cnnedu.errors import PredictError
from cnnedu.onnx.export import export_bytes
from cnnedu.onnx.meta import ModelMeta
from cnnedu.onnx.predict import OnnxModel, predict
from cnnedu.vision.images import load_image, prepare

CLASSES = [f"class {i}" for i in range(10)]


def gray_meta(h: int = 16, w: int = 16, **changes) -> ModelMeta:
    meta = ModelMeta(classes=list(CLASSES), input_shape=(1, h, w), channel_order="L", mean=[0.0], std=[1.0],
                     output="logits", arch="tiny")
    for key, value in changes.items():
        setattr(meta, key, value)
    return meta


def rgb_meta(h: int = 16, w: int = 16) -> ModelMeta:
    return ModelMeta(classes=list(CLASSES), input_shape=(3, h, w), channel_order="RGB", mean=[0.0] * 3,
                     std=[1.0] * 3, output="logits", arch="tiny-rgb")


def tiny_cnn(channels: int = 1) -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(channels, 6, 3, padding=1), relu=nn.ReLU(), pool=nn.MaxPool2d(2),
        flatten=nn.Flatten(), fc=nn.Linear(6 * 8 * 8, 10)))


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def noise_png(size: tuple[int, int] = (64, 64), mode: str = "L", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    channels = {"L": (), "RGB": (3,)}[mode]
    pixels = rng.integers(0, 256, size=(size[1], size[0], *channels), dtype=np.uint8)
    return encode(Image.fromarray(pixels, mode))


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny valid 1-bit PNG whose IHDR header is patched to claim width × height pixels."""
    data = bytearray(encode(Image.new("1", (8, 8))))
    assert data[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.fixture(scope="module")
def gray_model() -> tuple[nn.Module, OnnxModel, bytes]:
    model = tiny_cnn(1)
    data, _ = export_bytes(model, gray_meta())
    return model.eval(), OnnxModel.from_bytes(data, name="tiny.onnx"), data


# ------------------------------------------------------------------------------------- bad image files


def test_truncated_png_is_refused_readably():
    data = noise_png()
    with pytest.raises(PredictError, match="not an image cnnedu can read") as info:
        load_image(data[: len(data) // 2])
    assert "damaged or cut short" in str(info.value)


def test_text_bytes_are_not_an_image():
    with pytest.raises(PredictError, match="not an image cnnedu can read"):
        load_image(b"label,pixel0,pixel1\n3,0,255\n")
    with pytest.raises(PredictError, match="empty"):
        load_image(b"")


@pytest.mark.parametrize("size", [(20000, 20000), (8000, 6000)])
def test_decompression_bomb_is_refused_before_decoding(size):
    data = png_claiming_size(*size)
    assert len(data) < 200  # tiny on disk ...
    with pytest.raises(PredictError, match="megapixels"):  # ... but it claims 400 MP / 48 MP
        load_image(data)


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(noise_png())
    with pytest.raises(PredictError, match="MB"):
        load_image(path, max_bytes=1000)
    assert load_image(path).size == (64, 64)


def test_refused_formats_and_missing_files(tmp_path):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(PredictError, match="not an image cnnedu can read"):
        load_image(eps)  # Pillow could hand EPS to Ghostscript; cnnedu does not open it at all
    with pytest.raises(PredictError, match="Cannot read"):
        load_image(tmp_path / "nowhere.png")


# ------------------------------------------------------------------------------------ colour conversion


def test_rgba_png_is_composited_on_the_chosen_background():
    img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))  # fully transparent ...
    img.paste((0, 0, 0, 255), (4, 4, 12, 12))        # ... with an opaque black square
    data = encode(img)
    white = prepare(data, gray_meta())
    assert np.asarray(white.preview)[0, 0] == 255 and np.asarray(white.preview)[8, 8] == 0
    assert any("transparent areas filled with white" in n for n in white.notes)
    assert any("RGBA → gray (L)" in n for n in white.notes)
    black = prepare(data, gray_meta(), background="black")
    assert np.asarray(black.preview)[0, 0] == 0


def test_palette_gif_with_transparency_and_animation():
    frames = []
    for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0)):
        frame = Image.new("P", (16, 16), 0)
        frame.putpalette([*colour, 0, 0, 0] + [0] * 762)
        frame.paste(1, (0, 0, 4, 4))  # index 1 (transparent) in the top-left corner
        frames.append(frame)
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], transparency=1, duration=100)
    prepared = prepare(data, rgb_meta())
    pixels = np.asarray(prepared.preview)
    assert prepared.original_mode == "P" and prepared.format == "GIF"
    assert tuple(pixels[10, 10]) == (255, 0, 0)        # the first frame's colour
    assert tuple(pixels[1, 1]) == (255, 255, 255)      # transparency → white
    assert any("first of its 3 frames" in n for n in prepared.notes)


def test_cmyk_jpeg_becomes_rgb():
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red in CMYK
    prepared = prepare(data, rgb_meta())
    r, g, b = np.asarray(prepared.preview)[8, 8].astype(int)
    assert r > 240 and g < 15 and b < 15
    assert any("CMYK → RGB" in n for n in prepared.notes)


def test_16_bit_gray_png_is_scaled_not_clipped():
    values = np.full((16, 16), 32896, dtype=np.uint16)  # mid-gray in 16 bits (128 × 257)
    values[0, :] = 0
    values[1, :] = 65535
    data = encode(Image.fromarray(values))
    prepared = prepare(data, gray_meta())
    pixels = np.asarray(prepared.preview)
    assert prepared.original_mode.startswith("I")
    assert pixels[8, 8] == 128          # clipping would have made it 255
    assert pixels[0, 0] == 0 and pixels[1, 0] == 255
    assert prepared.array[0, 8, 8] == pytest.approx(128 / 255)
    assert any("16-bit" in n for n in prepared.notes)


def test_one_bit_image_becomes_black_and_white_gray():
    img = Image.new("1", (16, 16), 0)
    img.paste(1, (0, 0, 8, 16))
    pixels = np.asarray(prepare(encode(img), gray_meta()).preview)
    assert pixels[5, 2] == 255 and pixels[5, 12] == 0


def test_gray_image_for_a_colour_network_copies_the_channel_and_normalizes():
    data = encode(Image.new("L", (16, 16), 51))
    meta = rgb_meta()
    meta.mean, meta.std = [0.1, 0.2, 0.3], [0.5, 0.5, 0.5]
    prepared = prepare(data, meta)
    assert prepared.array.shape == (3, 16, 16) and prepared.array.dtype == np.float32
    np.testing.assert_allclose(prepared.array[:, 0, 0], [(0.2 - m) / 0.5 for m in meta.mean], atol=1e-6)
    assert any("gray (L) → RGB" in n for n in prepared.notes)


def test_invert_for_dark_drawings_on_white_paper():
    data = encode(Image.new("L", (16, 16), 250))
    assert np.asarray(prepare(data, gray_meta(), invert=True).preview)[0, 0] == 5


# ---------------------------------------------------------------------------------- orientation and size


def test_exif_rotated_jpeg_is_turned_upright():
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 8, 8))  # a red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    prepared = prepare(data, rgb_meta(h=40, w=20))  # the upright picture is 20 wide, 40 tall
    assert prepared.original_size == (20, 40)
    pixels = np.asarray(prepared.preview).astype(int)
    assert pixels.shape == (40, 20, 3)
    assert pixels[2, 17, 0] > 200 and pixels[2, 17, 2] < 60      # the mark is now top-right
    assert pixels[2, 2, 0] < 60                                    # and not top-left
    assert any("EXIF orientation" in n for n in prepared.notes)


def test_fit_modes_report_what_they_did():
    data = encode(Image.new("L", (40, 20), 200))
    stretched = prepare(data, gray_meta())
    assert stretched.original_size == (40, 20) and stretched.fit == "resize"
    assert "resized 40×20 → 16×16 (stretched)" in stretched.notes
    assert np.all(np.asarray(stretched.preview) == 200)
    boxed = prepare(data, gray_meta(), fit="letterbox", background="black")
    rows = np.asarray(boxed.preview)
    assert rows[0, 8] == 0 and rows[8, 8] == 200  # padded above and below, picture in the middle
    assert any("padded with black" in n for n in boxed.notes)
    cropped = prepare(data, gray_meta(), fit="crop")
    assert np.all(np.asarray(cropped.preview) == 200)
    assert any("centre cropped" in n for n in cropped.notes)
    with pytest.raises(PredictError, match="fit must be"):
        prepare(data, gray_meta(), fit="zoom")


# ------------------------------------------------------------------------------------------- ONNX files


def test_garbage_bytes_are_not_an_onnx_model():
    for junk in (b"\x00\x01garbage" * 50, b"hello world", noise_png()):
        with pytest.raises(PredictError, match="not an ONNX model|not valid"):
            OnnxModel.from_bytes(junk)


def test_oversized_model_is_refused(gray_model):
    _, _, data = gray_model
    with pytest.raises(PredictError, match="MB"):
        OnnxModel.from_bytes(data, max_bytes=1000)


def test_model_with_external_data_is_refused(gray_model, tmp_path):
    _, _, data = gray_model
    path = tmp_path / "external.onnx"
    onnx.save_model(onnx.load_from_string(data), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.onnx.data", size_threshold=0)
    assert (tmp_path / "external.onnx.data").exists()
    with pytest.raises(PredictError, match="external-data"):
        OnnxModel.from_path(path)


def test_model_whose_input_is_not_an_image_batch_is_refused():
    data, _ = _linear_onnx()
    with pytest.raises(PredictError, match="not a 4-D image batch"):
        OnnxModel.from_bytes(data)


def _linear_onnx() -> tuple[bytes, nn.Module]:
    model = nn.Linear(8, 3).eval()
    program = torch.onnx.export(model, (torch.randn(2, 8),), input_names=["input"], output_names=["output"],
                                dynamo=True, verbose=False)
    return program.model_proto.SerializeToString(), model


def test_model_without_cnnedu_metadata_asks_for_it(gray_model):
    _, loaded, data = gray_model
    proto = onnx.load_from_string(data)
    del proto.metadata_props[:]
    bare = OnnxModel.from_bytes(proto.SerializeToString())
    assert bare.needs_meta and bare.meta is None and bare.meta_problem is None
    suggested = bare.suggested_meta()
    assert suggested.input_shape == (1, 16, 16) and len(suggested.classes) == 10
    image = noise_png((16, 16))
    with pytest.raises(PredictError, match="no cnnedu metadata"):
        predict(bare, image)
    with pytest.raises(PredictError, match="input dimension 2 is 16, not 28"):
        bare.with_meta(gray_meta(h=28, w=28))
    with pytest.raises(PredictError, match="10 outputs but 3 class names"):
        bare.with_meta(gray_meta(classes=["a", "b", "c"]))
    described = bare.with_meta(gray_meta())
    assert not described.needs_meta and bare.needs_meta  # with_meta returns a new model
    assert predict(described, image)[0].index == predict(loaded, image)[0].index


def test_damaged_metadata_loads_the_model_and_says_why(gray_model):
    _, _, data = gray_model
    proto = onnx.load_from_string(data)
    for prop in proto.metadata_props:
        if prop.key == "cnnedu.classes":
            prop.value = "[not json"
    model = OnnxModel.from_bytes(proto.SerializeToString())
    assert model.needs_meta and "cnnedu.classes" in model.meta_problem


def test_the_app_keeps_working_after_bad_inputs(gray_model):
    _, model, data = gray_model
    bad_images = [noise_png()[:100], b"just text", png_claiming_size(20000, 20000), b""]
    for bad in bad_images:
        with pytest.raises(PredictError):
            predict(model, bad)
    for bad_model in (b"garbage", data[: len(data) // 2]):
        with pytest.raises(PredictError):
            OnnxModel.from_bytes(bad_model)
    with pytest.raises(PredictError, match="Image 2 of 3"):
        predict(model, [noise_png((16, 16)), b"not an image", noise_png((16, 16))])
    [good] = predict(model, noise_png((16, 16)), top_k=3)
    assert len(good.top) == 3 and good.label in CLASSES
    assert good.prob == pytest.approx(float(good.probs.max()))
    assert good.probs.sum() == pytest.approx(1.0, abs=1e-5)


# ------------------------------------------------------------------------------------------- predicting


def test_onnxruntime_predictions_match_pytorch(gray_model):
    torch_model, model, _ = gray_model
    images = [noise_png((16, 16), seed=s) for s in range(12)]
    predictions = predict(model, images, top_k=10)
    batch = torch.from_numpy(np.stack([p.prepared.array for p in predictions]))
    with torch.no_grad():
        expected = torch.softmax(torch_model(batch), dim=1).numpy()
    assert [p.index for p in predictions] == list(expected.argmax(axis=1))
    np.testing.assert_allclose(np.stack([p.probs for p in predictions]), expected, atol=1e-5)
    for p in predictions:
        assert [g.prob for g in p.top] == sorted((g.prob for g in p.top), reverse=True)
        assert p.label == CLASSES[p.index]


def test_prediction_from_a_file_path_and_a_pil_image(gray_model, tmp_path):
    _, model, _ = gray_model
    path = tmp_path / "photo.png"
    path.write_bytes(noise_png((48, 32), mode="RGB"))
    from_path = predict(model, path)[0]
    from_image = predict(model, Image.open(path))[0]
    assert from_path.index == from_image.index
    assert "converted RGB → gray (L)" in from_path.prepared.notes
    assert "resized 48×32 → 16×16 (stretched)" in from_path.prepared.notes


def test_concurrent_predictions_share_one_session(gray_model):
    _, model, data = gray_model
    image = noise_png((16, 16), seed=3)
    expected = predict(model, image)[0].probs
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            again = OnnxModel.from_bytes(data)  # same bytes: the cached session is reused
            for _ in range(5):
                results.append(predict(again, image)[0].probs)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 20
    assert all(np.array_equal(r, expected) for r in results)


def test_exported_coursework_model_predicts_on_an_rgb_photo(tmp_path: Path):
    from cnnedu.arch.nets import build_model
    from cnnedu.arch.zoo import preset_spec
    from cnnedu.onnx.export import export_onnx, meta_for_spec

    spec = preset_spec("lenet-cifar10")
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta = meta_for_spec(spec, names, mean=[0.49, 0.48, 0.45], std=[0.25, 0.24, 0.26], arch="lenet-cifar10")
    export_onnx(build_model(spec), meta, tmp_path / "lenet.onnx")
    model = OnnxModel.from_path(tmp_path / "lenet.onnx")
    [p] = predict(model, noise_png((320, 240), mode="RGB"), top_k=3)
    assert p.prepared.array.shape == (3, 32, 32) and p.label in names and len(p.top) == 3
