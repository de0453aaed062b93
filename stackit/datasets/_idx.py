"""Readers for the IDX format of MNIST and Fashion-MNIST (gzip-compressed, big-endian header)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from stackit.data_utils import to_categorical
from stackit.datasets._fetch import DatasetFormatError, RemoteFile, fetch

__all__ = ["read_idx", "load_idx_dataset"]

_UBYTE = 0x08
_LAYOUT = {
    "train-images-idx3-ubyte.gz": 3,
    "train-labels-idx1-ubyte.gz": 1,
    "t10k-images-idx3-ubyte.gz": 3,
    "t10k-labels-idx1-ubyte.gz": 1,
}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Reads a gzip-compressed IDX file of unsigned bytes with `ndim` dimensions.

    Raises:
        DatasetFormatError: If the file is not gzip, is truncated, or its header does not
            describe `ndim` dimensions of unsigned bytes matching the data length.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetFormatError(
            f"{path} is not a complete gzip file ({type(err).__name__}: {err}). It may be "
            "truncated or not the official file: delete it and try again."
        ) from err
    header = 4 + 4 * ndim
    if len(raw) < header or raw[0:2] != b"\0\0" or raw[2] != _UBYTE or raw[3] != ndim:
        raise DatasetFormatError(
            f"{path} is not an IDX file of {ndim}-D unsigned bytes (expected magic number "
            f"{0x800 | ndim:#06x}). Received: first bytes {raw[:4].hex()}."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DatasetFormatError(
            f"{path} should hold {expected} bytes for shape {shape} after decompression. "
            f"Received: {len(raw)} bytes. It may be truncated: delete it and try again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_idx_dataset(
    files: dict[str, RemoteFile], folder: Path, dataset: str, one_hot: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fetches the four IDX files and returns tflearn's `(X, Y, testX, testY)` layout."""
    arrays = {
        name: read_idx(fetch(files[name], folder, dataset=dataset), _LAYOUT[name])
        for name in _LAYOUT
    }
    return as_tflearn_layout(
        arrays["train-images-idx3-ubyte.gz"],
        arrays["train-labels-idx1-ubyte.gz"],
        arrays["t10k-images-idx3-ubyte.gz"],
        arrays["t10k-labels-idx1-ubyte.gz"],
        one_hot,
        source=folder,
    )


def as_tflearn_layout(
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    one_hot: bool,
    source: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images and labels -> float32 `(N, 784)` in [0, 1] and int64 or one-hot labels."""
    out = []
    for x, y, split in ((images, labels, "train"), (test_images, test_labels, "test")):
        if x.shape[0] != y.shape[0] or y.ndim != 1:
            raise DatasetFormatError(
                f"{source}: the {split} images and labels do not match. "
                f"Received: images {x.shape}, labels {y.shape}."
            )
        if y.size and int(y.max()) > 9:
            raise DatasetFormatError(
                f"{source}: {split} labels must be digits 0-9. Received: max label {y.max()}."
            )
        flat = x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0)
        out += [flat, to_categorical(y, 10) if one_hot else y.astype(np.int64)]
    return out[0], out[1], out[2], out[3]
