"""Turning an uploaded file into exactly the tensor a network expects — safely, and saying what changed.

A network trained on 28×28 gray Fashion-MNIST images cannot look at a 4000×3000 phone photo directly.
Between the file and the network, several things happen, and each one can change the prediction:

1. **Decode** the file (``load_image``). Uploaded files are untrusted: we accept only common image
   formats, refuse files over ``UPLOAD_LIMIT_MB`` (50 MB) and images over 40 megapixels *before* decoding them (a
   "decompression bomb" is a tiny file that claims to be gigapixels), decode inside a ``try`` so that a
   truncated or corrupt file becomes a readable :class:`PredictError`, take the first frame of an
   animation, and turn the picture upright using the camera's EXIF orientation tag.
2. **Convert the colours** to what the network was trained on: one gray channel ("L") or three ("RGB").
   Transparent pixels are filled with a background colour — white by default, because a cut-out
   picture on a web page is usually meant to be seen on white. Fashion-MNIST and MNIST have light
   objects on a *black* background: for those, pass ``background="black"``, or ``invert=True`` for a
   dark drawing on white paper. 16-bit images are scaled down to 0..255 (not clipped).
3. **Resize** to the network's height × width: ``fit="resize"`` stretches (the aspect ratio changes),
   ``"letterbox"`` keeps the aspect and pads with the background colour, ``"crop"`` keeps the aspect
   and cuts the centre.
4. **Normalize** each channel: ``x = (pixel / 255 - mean) / std`` with the training set's statistics.

``prepare`` does all four and returns a :class:`Prepared` with the array, a preview of what the
network sees, and a list of notes such as ``"resized 640×480 → 28×28 (stretched)"``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cnnedu import userinput
from cnnedu.budgets import MAX_FILE_BYTES, MAX_PIXELS, MB, UPLOAD_LIMIT_MB  # noqa: F401
from cnnedu.errors import PredictError
from cnnedu.onnx.meta import ModelMeta
from cnnedu.vision.pixels import normalize

#: Formats we let Pillow open. Others (EPS runs Ghostscript, PSD, ...) are refused on purpose.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM", "ICO")
FITS = ("resize", "letterbox", "crop")
BACKGROUNDS = {"white": 255, "black": 0}

ImageSource = bytes | bytearray | str | os.PathLike | Image.Image

_UNREADABLE_FIX = "Upload a PNG, JPEG, GIF, BMP, WebP or TIFF image; if it opens elsewhere, save it again as PNG."


@dataclass
class Decoded:
    """A decoded, upright image plus what decoding did to it."""

    image: Image.Image
    format: str | None
    size: tuple[int, int]          # (width, height) as stored in the file, before EXIF rotation
    notes: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """One image made ready for a network: the input array and an honest account of how it was made."""

    array: np.ndarray              # float32 [C, H, W], normalized
    preview: Image.Image           # uint8 "L" or "RGB", H×W: exactly the pixels the network sees
    original_size: tuple[int, int]  # (width, height) of the upright image before resizing
    original_mode: str             # Pillow mode of the decoded file, e.g. "RGBA", "P", "I;16"
    format: str | None             # "PNG", "JPEG", ... (None for an image passed in directly)
    fit: str
    notes: list[str]


def load_image(data: bytes | bytearray | str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES,
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an image file (bytes or a path) safely; every failure is a :class:`PredictError`."""
    return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels).image


def decode_image(data: ImageSource, *, max_bytes: int = MAX_FILE_BYTES,
                 max_pixels: int = MAX_PIXELS) -> Decoded:
    """Like :func:`load_image`, and also say what was done (first frame taken, EXIF rotation, ...)."""
    if isinstance(data, Image.Image):
        return _finish(data, None, [], max_pixels)
    raw = _read(data, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        claimed = re.search(r"\((\d+) pixels\)", str(err))  # "Image size (400000000 pixels) exceeds ..."
        raise _too_many_pixels(None, max_pixels, int(claimed.group(1)) if claimed else None) from None
    except Image.UnidentifiedImageError:
        raise PredictError("This file is not an image cnnedu can read.", _UNREADABLE_FIX) from None
    except Exception as err:  # Pillow raises many kinds for broken headers
        raise PredictError(f"This file is not an image cnnedu can read ({_short(err)}).", _UNREADABLE_FIX) from None
    return _finish(img, img.format, [], max_pixels)


def _read(data: bytes | bytearray | str | os.PathLike, max_bytes: int) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        if len(data) > max_bytes:
            raise _too_big(len(data), max_bytes)
        if not data:
            raise PredictError("The file is empty.", "Upload an image file.")
        return bytes(data)
    return read_regular_file(Path(data), max_bytes, what="image file", empty_fix="Choose an image file.")


def read_regular_file(path: Path, max_bytes: int, *, what: str = "file", too_big_fix: str | None = None,
                      empty_fix: str | None = None) -> bytes:
    """The bytes of a regular, non-empty file of at most ``max_bytes`` (cnnedu.userinput reads it)."""
    raw = userinput.read_regular_file(path, what, PredictError, max_bytes=max_bytes, too_big_fix=too_big_fix,
                                      too_big=lambda size: _too_big(size, max_bytes, what, too_big_fix))
    if not raw:
        raise PredictError(f"The file {path} is empty.", empty_fix)
    return raw


def _finish(img: Image.Image, fmt: str | None, notes: list[str], max_pixels: int) -> Decoded:
    width, height = img.size
    if width * height > max_pixels:
        raise _too_many_pixels((width, height), max_pixels)
    if width < 1 or height < 1:
        raise PredictError("The image has no pixels.", _UNREADABLE_FIX)
    frames = getattr(img, "n_frames", 1)
    try:
        if frames > 1:
            img.seek(0)
            notes.append(f"animated image: used the first of its {frames} frames")
        img.load()  # the actual decoding: truncated or corrupt data fails here
        orientation = img.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels((width, height), max_pixels) from None
    except Exception as err:
        raise PredictError(f"This file is not an image cnnedu can read: it is damaged or cut short "
                           f"({_short(err)}).", _UNREADABLE_FIX) from None
    if orientation in _ORIENTATIONS and orientation != 1:
        notes.append(f"turned upright using the camera's EXIF orientation tag ({_ORIENTATIONS[orientation]})")
    return Decoded(image=upright if upright is not None else img, format=fmt, size=(width, height), notes=notes)


_ORIENTATIONS = {1: "upright", 2: "mirrored", 3: "rotated 180°", 4: "flipped vertically",
                 5: "mirrored and rotated 90°", 6: "rotated 90°", 7: "mirrored and rotated 270°",
                 8: "rotated 270°"}


def _too_big(size: int, limit: int, what: str = "image file", fix: str | None = None) -> PredictError:
    if what == "image file":
        return PredictError(f"The file is {size / MB:.1f} MB; cnnedu reads images up to {limit / MB:.0f} MB.",
                            fix or "Save a smaller copy of the image (the network only sees a few dozen pixels "
                            "anyway).")
    kind = "models" if what == "model file" else "files"
    return PredictError(f"The {what} is {size / MB:.1f} MB; cnnedu loads {kind} up to {limit / MB:.0f} MB.", fix)


def _too_many_pixels(size: tuple[int, int] | None, limit: int, pixels: int | None = None) -> PredictError:
    if size:
        what = f"{size[0]}×{size[1]} = {size[0] * size[1] / 1e6:.0f} megapixels"
    else:
        what = f"{pixels / 1e6:.0f} megapixels" if pixels else "far too many pixels"
    return PredictError(f"The image claims {what}; cnnedu decodes at most {limit / 1e6:.0f} megapixels, "
                        "to protect the app from decompression bombs.", "Upload a smaller image.")


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# ------------------------------------------------------------------------------------------- colours


def to_channels(img: Image.Image, channel_order: str, *, background: str = "white",
                invert: bool = False) -> tuple[Image.Image, list[str]]:
    """Convert any Pillow image to 8-bit "L" or "RGB"; return it with notes on what was converted."""
    if channel_order not in ("L", "RGB"):
        raise PredictError(f"cnnedu can feed gray ('L') or colour ('RGB') images, not {channel_order!r}.")
    if background not in BACKGROUNDS:
        raise PredictError(f"background must be 'white' or 'black', not {background!r}.")
    notes: list[str] = []
    start = img.mode
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("LA", "La", "RGBA", "RGBa"):
        bg = BACKGROUNDS[background]
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append(f"transparent areas filled with {background}")
        base = Image.new("RGBA", rgba.size, (bg, bg, bg, 255))
        img = Image.alpha_composite(base, rgba).convert("RGB" if img.mode.startswith("RGB") else "L")
    elif img.mode.startswith("I;16") or img.mode in ("I", "F"):
        img, note = _high_depth_to_l(img)
        notes.append(note)
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode not in ("L", "RGB"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
    if img.mode != channel_order:
        img = img.convert(channel_order)
    if start != channel_order:
        notes.insert(0, f"converted {_MODE_NAMES.get(start, start)} → {_MODE_NAMES[channel_order]}")
    if invert:
        img = ImageOps.invert(img)
        notes.append("colours inverted (dark ↔ light)")
    return img, notes


_MODE_NAMES = {"L": "gray (L)", "RGB": "RGB", "RGBA": "RGBA", "LA": "gray+alpha (LA)", "P": "palette (P)",
               "PA": "palette+alpha (PA)", "1": "1-bit black-and-white", "CMYK": "CMYK", "I;16": "16-bit gray",
               "I;16B": "16-bit gray", "I;16L": "16-bit gray", "I": "32-bit integer gray", "F": "float gray",
               "YCbCr": "YCbCr"}


def _high_depth_to_l(img: Image.Image) -> tuple[Image.Image, str]:
    """Scale a 16-bit, 32-bit-integer or float image to 8 bits by its range, never by clipping."""
    values = np.asarray(img).astype(np.float64)
    if not np.isfinite(values).all():
        what = "not numbers (NaN)" if np.isnan(values).any() else "infinite"
        raise PredictError(f"Some pixels of this float image are {what}, so it has no brightness cnnedu could "
                           "scale to 0..255.", "Save the image without NaN or infinite values, e.g. as an "
                           "8-bit PNG.")
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if img.mode.startswith("I;16") or (img.mode == "I" and lo >= 0 and hi <= 65535):
        scaled, note = values / 257.0, "16-bit gray scaled to 0..255 (divided by 257)"
    elif img.mode == "F" and lo >= 0 and hi <= 1:
        scaled, note = values * 255.0, "float gray in 0..1 scaled to 0..255"
    else:
        span = hi - lo if hi > lo else 1.0
        scaled, note = (values - lo) / span * 255.0, f"gray values {lo:g}..{hi:g} stretched to 0..255"
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L"), note


# ---------------------------------------------------------------------------------------------- size


def fit_size(img: Image.Image, width: int, height: int, *, fit: str = "resize",
             background: str = "white") -> tuple[Image.Image, str]:
    """Resize to width × height: stretch, letterbox (pad) or centre-crop. Returns the image and a note."""
    if fit not in FITS:
        raise PredictError(f"fit must be one of {', '.join(FITS)}, not {fit!r}.")
    w, h = img.size
    if (w, h) == (width, height):
        return img, f"already {w}×{h}, not resized"
    resample = Image.Resampling.BILINEAR  # antialiased when shrinking, as in torchvision
    if fit == "resize":
        return img.resize((width, height), resample), f"resized {w}×{h} → {width}×{height} (stretched)"
    if fit == "crop":
        out = ImageOps.fit(img, (width, height), method=resample)
        return out, f"resized {w}×{h} → {width}×{height} (aspect kept, centre cropped)"
    bg = BACKGROUNDS.get(background, 255)
    color = bg if img.mode == "L" else (bg, bg, bg)
    out = ImageOps.pad(img, (width, height), method=resample, color=color)
    return out, f"resized {w}×{h} → {width}×{height} (aspect kept, padded with {background})"


# ----------------------------------------------------------------------------------------- all of it


def prepare(image: ImageSource | Decoded, meta: ModelMeta, *, fit: str = "resize", background: str = "white",
            invert: bool = False) -> Prepared:
    """Decode (if needed), convert, resize and normalize one image for the network described by ``meta``."""
    problems = meta.problems()
    if problems:
        raise PredictError("The model description is not usable: " + "; ".join(problems) + ".")
    decoded = image if isinstance(image, Decoded) else decode_image(image)
    img = decoded.image
    notes = list(decoded.notes)
    original_mode, original_size = img.mode, img.size
    img, colour_notes = to_channels(img, meta.channel_order, background=background, invert=invert)
    notes += colour_notes
    c, h, w = meta.input_shape
    img, size_note = fit_size(img, w, h, fit=fit, background=background)
    notes.append(size_note)
    array = normalize(np.asarray(img, dtype=np.uint8).reshape(h, w, c).transpose(2, 0, 1), meta.mean, meta.std)
    return Prepared(array=array, preview=img, original_size=original_size, original_mode=original_mode,
                    format=decoded.format, fit=fit, notes=notes)
