"""Reading the IDX files of MNIST and Fashion-MNIST with numpy (no torchvision needed).

An IDX file is a tiny header and then the raw array:

    bytes 0-1  zero
    byte  2    element type: 0x08 = unsigned byte (the only one these datasets use)
    byte  3    number of dimensions d (3 for images [N, H, W], 1 for labels [N])
    then d big-endian 32-bit sizes, then the N×H×W bytes, row by row.

The files are usually gzip-compressed (``train-images-idx3-ubyte.gz``); both forms are read.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from cnnedu.errors import DataError

_MAX_BYTES = 512 * 1024 * 1024  # a sane cap: Fashion-MNIST's largest file is 47 MB unpacked


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` or not), as uint8 with the stored shape."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(_MAX_BYTES + 1)
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read {path}: {err}",
                        "the file is damaged or incomplete: delete it and download or copy it again") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path} is not an IDX file (its first bytes are not an IDX header)",
                        "use the original train-/t10k-*-idx*-ubyte(.gz) files")
    if data[2] != 0x08:
        raise DataError(f"{path} holds element type 0x{data[2]:02x}; cnnedu reads unsigned bytes (0x08) only")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is cut short inside its header", "delete it and get it again")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape)) if shape else 0
    if len(data) - header != size:
        raise DataError(f"{path} should hold {size} bytes of data for shape {list(shape)} but holds "
                        f"{len(data) - header}", "the file is incomplete or damaged: get it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz). Used by tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(header + array.tobytes())
