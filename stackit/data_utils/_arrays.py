"""Label, sequence and array utilities: to_categorical, shuffle, pad_sequences, normalization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "to_categorical",
    "shuffle",
    "pad_sequences",
    "featurewise_zero_center",
    "featurewise_std_normalization",
    "samplewise_zero_center",
    "samplewise_std_normalization",
]

_PAD_MODES = ("pre", "post")

#: The most values `to_categorical` returns (2**31 - 1: 8 GiB of float32).
MAX_ONE_HOT_SIZE = 2**31 - 1


def _integer_labels(y: Any, name: str = "y") -> np.ndarray:
    """Returns `y` as a 1-D int64 array, refusing anything that is not a whole, non-negative id."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D vector of class ids (or a column of shape (N, 1)); "
            f"one-hot labels need no conversion. Received: {name}.shape={arr.shape}"
        )
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold integer class ids. Received: {name}.dtype={arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if bad.any():
            index = int(np.argmax(bad))
            raise ValueError(
                f"{name} must hold whole-number class ids. "
                f"Received: {name}[{index}]={arr[index].item()!r}"
            )
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        index = int(np.argmin(arr))
        raise ValueError(f"class ids must be >= 0. Received: {name}[{index}]={int(arr[index])}")
    return arr


def to_categorical(y: Any, nb_classes: int | None = None) -> np.ndarray:
    """Converts a vector of class ids into a one-hot (binary class) matrix.

    Example:
        >>> to_categorical([0, 2, 1], nb_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)

    Args:
        y: Class ids, integers in `[0, nb_classes)`, as a 1-D array-like or a column of shape
            `(N, 1)`. Floats are accepted when they hold whole numbers.
        nb_classes: Total number of classes, i.e. the width of the result. When `None`, it is
            `max(y) + 1`. Defaults to `None`.

    Returns:
        A float32 array of shape `(N, nb_classes)` with a single 1 per row.

    Raises:
        TypeError: If `y` does not hold numbers, or `nb_classes` is not an int.
        ValueError: If `y` is not 1-D, holds a negative or fractional id, holds an id
            `>= nb_classes`, is empty while `nb_classes` is `None`, or the result would hold
            more than `MAX_ONE_HOT_SIZE` (2**31 - 1) values.
    """
    labels = _integer_labels(y)
    given = nb_classes
    if nb_classes is None:
        if labels.size == 0:
            raise ValueError(
                "to_categorical cannot infer the number of classes from an empty y; pass "
                "nb_classes. Received: y=[] and nb_classes=None"
            )
        nb_classes = int(labels.max()) + 1
    if isinstance(nb_classes, bool) or not isinstance(nb_classes, (int, np.integer)):
        raise TypeError(f"nb_classes must be an int. Received: nb_classes={nb_classes!r}")
    if nb_classes < 1:
        raise ValueError(f"nb_classes must be >= 1. Received: nb_classes={nb_classes}")
    if labels.size and labels.max() >= nb_classes:
        index = int(np.argmax(labels))
        raise ValueError(
            f"class ids must be in [0, nb_classes) = [0, {nb_classes}). "
            f"Received: y[{index}]={int(labels[index])}"
        )
    if labels.shape[0] * int(nb_classes) > MAX_ONE_HOT_SIZE:
        inferred = " (max(y) + 1)" if given is None else ""
        raise ValueError(
            f"to_categorical would return {labels.shape[0]} x {nb_classes} = "
            f"{labels.shape[0] * int(nb_classes):,} values, more than the {MAX_ONE_HOT_SIZE:,} "
            f"(8 GiB of float32) it allows. Are these class ids? "
            f"Received: nb_classes={nb_classes}{inferred}, len(y)={labels.shape[0]}"
        )
    out = np.zeros((labels.shape[0], int(nb_classes)), dtype=np.float32)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def shuffle(*arrs: Any, seed: int | np.random.Generator | None = None) -> tuple[np.ndarray, ...]:
    """Shuffles several arrays with one permutation of their first axis.

    Example:
        >>> X, Y = shuffle(X, Y, seed=0)  # rows of X still match rows of Y

    Args:
        *arrs: Arrays (or lists) with the same length along their first axis.
        seed: Where the permutation comes from: an int seed or a `numpy.random.Generator` for a
            repeatable order, or `None` to draw from numpy's global random state (as tflearn
            does, so `numpy.random.seed` also makes it repeatable). Defaults to `None`.

    Returns:
        A tuple with one shuffled numpy array per input, in the order given.

    Raises:
        TypeError: If no array is given, or `seed` is neither an int, a Generator nor `None`.
        ValueError: If an array is a scalar or the arrays differ in length.
    """
    if not arrs:
        raise TypeError("shuffle expects at least one array. Received: no arrays")
    arrays = [np.asarray(a) for a in arrs]
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"shuffle expects arrays with a first axis. Received: arrs[{i}]={a!r}")
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"shuffle expects arrays of the same length. Received: lengths={lengths}")
    if seed is None:
        perm = np.random.permutation(lengths[0])
    elif isinstance(seed, np.random.Generator):
        perm = seed.permutation(lengths[0])
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        perm = np.random.default_rng(int(seed)).permutation(lengths[0])
    else:
        raise TypeError(
            f"seed must be an int, a numpy.random.Generator or None. Received: seed={seed!r}"
        )
    return tuple(a[perm] for a in arrays)


def pad_sequences(
    sequences: Sequence[Sequence[Any]],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "post",
    truncating: str = "post",
    value: float = 0.0,
) -> np.ndarray:
    """Pads (and truncates) sequences to one length, giving a 2-D array.

    Example:
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2, padding='pre')
        array([[1, 2],
               [0, 4]], dtype=int32)

    Args:
        sequences: A list of 1-D sequences (lists or arrays) of numbers.
        maxlen: Length of the output rows; longer sequences are truncated. When `None`, the
            length of the longest sequence. Defaults to `None`.
        dtype: dtype of the result. Defaults to `'int32'`.
        padding: `'pre'` or `'post'`: whether padding goes before or after each sequence.
            Defaults to `'post'`.
        truncating: `'pre'` or `'post'`: whether a too-long sequence loses values at its
            beginning or its end. Defaults to `'post'`.
        value: The padding value. Defaults to `0.0`.

    Returns:
        An array of shape `(len(sequences), maxlen)` and dtype `dtype`.

    Raises:
        ValueError: If `padding` or `truncating` is not `'pre'`/`'post'`, or `maxlen` is
            negative.
        TypeError: If `maxlen` is not an int, or an element of `sequences` is not a sequence.
    """
    if padding not in _PAD_MODES:
        raise ValueError(f"padding must be 'pre' or 'post'. Received: padding={padding!r}")
    if truncating not in _PAD_MODES:
        raise ValueError(f"truncating must be 'pre' or 'post'. Received: truncating={truncating!r}")
    rows = []
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise TypeError(
                f"each element of sequences must be a list or 1-D array. "
                f"Received: sequences[{i}]={seq!r}"
            )
        row = np.asarray(seq)
        if row.ndim != 1:
            raise ValueError(
                f"each element of sequences must be 1-D. Received: sequences[{i}].shape={row.shape}"
            )
        rows.append(row)
    if maxlen is None:
        maxlen = max((len(r) for r in rows), default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)):
        raise TypeError(f"maxlen must be an int or None. Received: maxlen={maxlen!r}")
    elif maxlen < 0:
        raise ValueError(f"maxlen must be >= 0. Received: maxlen={maxlen}")
    maxlen = int(maxlen)
    out = np.full((len(rows), maxlen), value, dtype=dtype)
    for i, row in enumerate(rows):
        kept = row[max(len(row) - maxlen, 0) :] if truncating == "pre" else row[:maxlen]
        if maxlen == 0 or len(kept) == 0:
            continue
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept) :] = kept
    return out


def _as_float_array(X: Any, name: str = "X") -> np.ndarray:
    arr = np.asarray(X)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold numbers. Received: {name}.dtype={arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty batch of samples (first axis = samples). "
            f"Received: {name}.shape={arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr


def _per_feature(value: Any, arr: np.ndarray, name: str) -> np.ndarray:
    """`value` (a given mean or std) as an array that broadcasts to `X`'s shape, else an error
    saying which shapes fit."""
    v = np.asarray(value)
    if v.dtype == bool or not (
        np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold numbers. Received: {name}.dtype={v.dtype}")
    try:
        fits = np.broadcast_shapes(v.shape, arr.shape) == arr.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} must be a scalar or an array of one sample's shape {arr.shape[1:]} (as "
            f"returned with the training data) to apply to X of shape {arr.shape}. "
            f"Received: {name}.shape={v.shape}"
        )
    return v


def featurewise_zero_center(X: Any, mean: Any = None) -> np.ndarray | tuple[np.ndarray, Any]:
    """Subtracts a per-feature mean from every sample.

    Example:
        >>> X_train, mean = featurewise_zero_center(X_train)
        >>> X_test = featurewise_zero_center(X_test, mean)

    Args:
        X: Samples along the first axis. Integer data is converted to float32.
        mean: The mean to subtract (a scalar or an array broadcastable to one sample). When
            `None`, it is computed over the samples of `X` (axis 0). Defaults to `None`.

    Returns:
        A new array `X - mean` when `mean` is given; otherwise the tuple `(X - mean, mean)`, so
        the same mean can be applied to other data. `X` itself is not modified.

    Raises:
        TypeError: If `X` or a given `mean` does not hold numbers.
        ValueError: If `X` is a scalar or empty, or a given `mean` does not fit one sample's
            shape.
    """
    arr = _as_float_array(X)
    if mean is None:
        mean = arr.mean(axis=0)
        return arr - mean, mean
    return arr - _per_feature(mean, arr, "mean")


def featurewise_std_normalization(X: Any, std: Any = None) -> np.ndarray | tuple[np.ndarray, Any]:
    """Divides every sample by a per-feature standard deviation.

    A feature whose computed standard deviation is 0 (constant over the samples) is left
    unscaled: its entry in the returned `std` is 1, so passing that `std` back for other
    data scales it the same way (the convention of scikit-learn's `StandardScaler`; tflearn
    divided by zero instead).

    Example:
        >>> X_train, std = featurewise_std_normalization(X_train)
        >>> X_test = featurewise_std_normalization(X_test, std)

    Args:
        X: Samples along the first axis. Integer data is converted to float32.
        std: The standard deviation to divide by (a scalar or an array broadcastable to one
            sample); every entry must be > 0. When `None`, it is computed over the samples of
            `X` (axis 0). Defaults to `None`.

    Returns:
        A new array `X / std` when `std` is given; otherwise the tuple `(X / std, std)`.
        `X` itself is not modified.

    Raises:
        TypeError: If `X` or a given `std` does not hold numbers.
        ValueError: If `X` is a scalar or empty, or a given `std` does not fit one sample's
            shape, or has an entry <= 0 or not finite.
    """
    arr = _as_float_array(X)
    if std is None:
        std = arr.std(axis=0)
        std = np.where(std > 0, std, np.ones_like(std))
        return arr / std, std
    std_arr = _per_feature(std, arr, "std")
    if not np.all(np.isfinite(std_arr) & (std_arr > 0)):
        raise ValueError(
            "std must be finite and > 0 everywhere (a constant feature has std 0; call "
            "featurewise_std_normalization(X) without std to compute a safe one). "
            f"Received: std={std!r}"
        )
    return arr / std


def samplewise_zero_center(X: Any) -> np.ndarray:
    """Subtracts from each sample its own mean (over all of the sample's values).

    Example:
        >>> samplewise_zero_center([[1., 3.], [0., 10.]])
        array([[-1.,  1.],
               [-5.,  5.]])

    Args:
        X: Samples along the first axis. Integer data is converted to float32.

    Returns:
        A new array of the same shape as `X`; `X` itself is not modified.

    Raises:
        TypeError: If `X` does not hold numbers.
        ValueError: If `X` is a scalar or empty.
    """
    arr = _as_float_array(X)
    axes = tuple(range(1, arr.ndim))
    return arr - arr.mean(axis=axes, keepdims=True)


def samplewise_std_normalization(X: Any) -> np.ndarray:
    """Divides each sample by its own standard deviation (over all of the sample's values).

    A constant sample (standard deviation 0) is left unscaled rather than divided by zero.

    Example:
        >>> samplewise_std_normalization([[1., 3.], [0., 10.]])
        array([[1. , 3. ],
               [0. , 2. ]])

    Args:
        X: Samples along the first axis. Integer data is converted to float32.

    Returns:
        A new array of the same shape as `X`; `X` itself is not modified.

    Raises:
        TypeError: If `X` does not hold numbers.
        ValueError: If `X` is a scalar or empty.
    """
    arr = _as_float_array(X)
    axes = tuple(range(1, arr.ndim))
    std = arr.std(axis=axes, keepdims=True)
    return arr / np.where(std > 0, std, np.ones_like(std))
