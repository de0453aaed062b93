"""Reader for the binary CIFAR-10 / CIFAR-100 format (no pickle involved).

Each record is `label_bytes` label bytes followed by 3,072 pixel bytes: the red, green and
blue 32x32 planes, each row-major.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stackit.data_utils import to_categorical
from stackit.datasets._fetch import DatasetFormatError

__all__ = ["read_records", "finish"]

_PIXELS = 3 * 32 * 32


def read_records(path: Path, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns `(images uint8 (N, 32, 32, 3), labels uint8 (N, label_bytes))` from one file.

    Raises:
        DatasetFormatError: If the file is empty or its size is not a whole number of records.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    record = label_bytes + _PIXELS
    if raw.size == 0 or raw.size % record:
        raise DatasetFormatError(
            f"{path} is not a CIFAR binary file: its size must be a positive multiple of "
            f"{record} bytes. Received: {raw.size} bytes. Delete the dataset folder's archive "
            "and extracted folder and try again."
        )
    rows = raw.reshape(-1, record)
    images = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), rows[:, :label_bytes]


def finish(
    images: np.ndarray, labels: np.ndarray, n_classes: int, one_hot: bool, source: Path
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images and labels -> float32 NHWC in [0, 1] and int64 or one-hot labels."""
    if labels.size and int(labels.max()) >= n_classes:
        raise DatasetFormatError(
            f"{source}: labels must be class ids below {n_classes}. "
            f"Received: max label {labels.max()}."
        )
    x = images.astype(np.float32) / np.float32(255.0)
    y = to_categorical(labels, n_classes) if one_hot else labels.astype(np.int64)
    return x, y
