"""Stand-in data: small synthetic arrays in a dataset's layout, for smoke runs without the data.

With `STACKIT_STANDIN_DATA=1` in the environment (`python -m stackit --stand-in-data`), every
`load_data` of `stackit.datasets` returns a few samples of the right shapes, dtypes and label
ranges instead of reading or downloading the dataset, and warns that it did. The values are
random (MNIST's are the first digits of the sample shipped with stackit), with a class-dependent
offset so a model can fit them a little: the point is that a script *runs*, not what it learns.
`STACKIT_STANDIN_SAMPLES` sets the number of training samples (64 by default); test and
validation sets get a quarter of that (at least 8).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from stackit.data_utils import to_categorical

__all__ = ["STANDIN_ENV", "SAMPLES_ENV", "requested", "sizes", "warn", "images", "labels",
           "sequences", "image_sets", "image_set"]

STANDIN_ENV = "STACKIT_STANDIN_DATA"
SAMPLES_ENV = "STACKIT_STANDIN_SAMPLES"
DEFAULT_SAMPLES = 64
_ON = ("1", "true", "yes", "on")


def requested() -> bool:
    """Whether `STACKIT_STANDIN_DATA` asks for stand-in data.

    Raises:
        ValueError: If it is set to something other than a yes or no (`1`/`0`, `true`/`false`,
            `yes`/`no`, `on`/`off`, or empty).
    """
    value = os.environ.get(STANDIN_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in _ON:
        return True
    raise ValueError(f"{STANDIN_ENV} must be 1 (stand-in data) or 0. Received: {value!r}.")


def sizes() -> tuple[int, int]:
    """(training samples, test samples) from `STACKIT_STANDIN_SAMPLES`.

    Raises:
        ValueError: If `STACKIT_STANDIN_SAMPLES` is set to anything but an int >= 2.
    """
    text = os.environ.get(SAMPLES_ENV, "").strip()
    if not text:
        n = DEFAULT_SAMPLES
    elif text.isdigit() and int(text) >= 2:
        n = int(text)
    else:
        raise ValueError(f"{SAMPLES_ENV} must be an int >= 2. Received: {text!r}.")
    return n, max(n // 4, 8)


def warn(loader: str, dataset: str, what: str, *, stacklevel: int = 3) -> None:
    """Says, as a `UserWarning`, that `loader` returned stand-in data rather than `dataset`;
    `stacklevel` counts from this function (3: the caller of the function calling this)."""
    warnings.warn(
        f"{STANDIN_ENV} is set: {loader} returns STAND-IN DATA, {what}, not {dataset}. "
        f"Unset {STANDIN_ENV} for the real data.",
        UserWarning,
        stacklevel=stacklevel,
    )


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, name)))  # the same arrays on every run


def labels(n: int, n_classes: int, one_hot: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(int64 class ids cycling through every class in a fixed shuffle, the labels as the loader
    returns them: the ids, or float32 one-hot rows)."""
    ids = _rng(name + "labels").permutation(np.arange(n) % n_classes).astype(np.int64)
    return ids, (to_categorical(ids, n_classes) if one_hot else ids)


def images(n: int, shape: tuple[int, ...], ids: np.ndarray, n_classes: int,
           name: str) -> np.ndarray:
    """float32 values in [0, 1] of shape `(n, *shape)`: noise plus an offset set by the class."""
    noise = _rng(name).random((n, *shape), dtype=np.float32) * np.float32(0.5)
    offset = (ids.astype(np.float32) / np.float32(max(n_classes - 1, 1)) * np.float32(0.5))
    return noise + offset.reshape((n,) + (1,) * len(shape))


def sequences(n: int, n_words: int, max_length: int, name: str) -> tuple[list[list[int]],
                                                                           list[int]]:
    """`n` int word-id lists (ids in [2, n_words), or 1 when `n_words <= 2`; lengths in
    [min(5, max_length), max_length]) and alternating 0/1 labels; a positive review draws its
    ids from the upper half."""
    rng = _rng(name)
    x, y = [], []
    for i in range(n):
        label = i % 2
        length = int(rng.integers(min(5, max_length), max_length + 1))
        if n_words <= 2:
            ids = [1] * length
        else:
            low = 2 + label * (n_words - 2) // 2
            ids = [int(v) for v in rng.integers(low, n_words, length)]
        x.append(ids)
        y.append(label)
    return x, y


def image_sets(loader: str, dataset: str, shape: tuple[int, ...], n_classes: int,
               one_hot: bool) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray,
                                                                          np.ndarray]]:
    """`((X, Y), (testX, testY))` of stand-in images, announced by a warning."""
    n_train, n_test = sizes()
    warn(loader, dataset, f"{n_train} training and {n_test} test samples of random values "
                          f"shaped {shape}", stacklevel=4)
    return _image_set(n_train, shape, n_classes, one_hot, dataset + "train"), \
        _image_set(n_test, shape, n_classes, one_hot, dataset + "test")


def image_set(loader: str, dataset: str, shape: tuple[int, ...], n_classes: int,
              one_hot: bool) -> tuple[np.ndarray, np.ndarray]:
    """`(X, Y)` of stand-in images (a loader with no test split), announced by a warning."""
    n_train, _ = sizes()
    warn(loader, dataset, f"{n_train} samples of random values shaped {shape}", stacklevel=4)
    return _image_set(n_train, shape, n_classes, one_hot, dataset)


def _image_set(n: int, shape: tuple[int, ...], n_classes: int, one_hot: bool,
               name: str) -> tuple[np.ndarray, np.ndarray]:
    ids, y = labels(n, n_classes, one_hot, name)
    return images(n, shape, ids, n_classes, name), y
