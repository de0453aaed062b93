"""Turns what users pass to fit/evaluate/predict into checked numpy arrays, before compiling.

Every check here fails with a message saying what was expected and what was received.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stackit.layers.base import Shape

__all__ = ["is_lazy", "take_rows", "Subset", "as_array", "check_inputs", "check_targets",
           "check_class_ids", "check_probability_rows", "check_finite", "split_validation"]


def is_lazy(data: Any) -> bool:
    """Whether `data` is an array-like that loads rows on demand, which `fit` streams chunk by
    chunk instead of converting whole: `image_preloader`'s arrays, an h5py dataset, a dask
    array, a numpy memmap (mapped because it may not fit in memory)."""
    if isinstance(data, np.memmap):
        return True
    return (not isinstance(data, np.ndarray) and hasattr(data, "shape")
            and hasattr(data, "__getitem__") and hasattr(data, "__len__")
            and not hasattr(data, "device")  # jax arrays
            and not hasattr(data, "to_numpy"))  # pandas: indexes columns, converts whole


def take_rows(data: Any, indices: np.ndarray) -> np.ndarray:
    """Rows `indices` (any order, repeats allowed) of an array or a lazy array, as numpy.

    A lazy array is read once per distinct row, in increasing order (h5py accepts nothing
    else), with one slice when the rows are contiguous; the rows are then put in the order
    asked. A dask array is computed here, so nothing lazy goes further.
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if isinstance(data, np.ndarray):  # numpy, memmap included, gathers in any order
        return np.asarray(data[indices])
    if indices.size == 0:
        return np.asarray(data[0:0])
    unique, inverse = np.unique(indices, return_inverse=True)
    low, high = int(unique[0]), int(unique[-1])
    rows = np.asarray(data[low:high + 1] if high - low + 1 == len(unique) else data[unique])
    if len(unique) == len(indices) and bool(np.all(unique == indices)):
        return rows
    return rows[inverse.reshape(-1)]


class Subset:
    """Rows `indices` of a lazy array, still lazy (used to hold out validation rows)."""

    def __init__(self, base: Any, indices: np.ndarray):
        self.base, self.indices = base, np.asarray(indices)
        self.shape = (len(self.indices), *tuple(base.shape[1:]))
        self.dtype = getattr(base, "dtype", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        picked = self.indices[index]
        if np.ndim(picked) == 0:
            return np.asarray(self.base[int(picked)])
        return take_rows(self.base, picked)


def feeds(data: Any, names: list[str], aliases: dict[Any, str], sample_ndims: list[int],
          role: str) -> dict[str, Any]:
    """Splits what the user passed for several named slots into `{name: data}`.

    Accepts a dict keyed by slot name (or by an alias: an input tensor, a placeholder name), a
    list/tuple in slot order, or, for a single slot, the data itself. A one-element list whose
    element has one more axis than a sample is that slot's array (tflearn's `[X]`); otherwise a
    list for one slot is a list of samples (`predict([X[0]])` is a batch of one).

    Raises:
        ValueError: For unknown or missing keys, or a list of the wrong length.
    """
    if isinstance(data, dict):
        picked: dict[str, Any] = {}
        for key, value in data.items():
            name = aliases.get(key) or aliases.get(key_name(key), key_name(key))
            if name not in names:
                raise ValueError(f"{role} has the key {key_name(key)!r}, which is none of this "
                                 f"model's {_slots(role)}. Expected keys: {names}. "
                                 f"Received keys: {sorted(map(key_name, data))}.")
            picked[name] = value
        missing = [n for n in names if n not in picked]
        if missing:
            raise ValueError(f"{role} is missing {missing}. Expected keys: {names}. "
                             f"Received keys: {sorted(map(key_name, data))}.")
        return picked
    if len(names) == 1:
        if isinstance(data, (list, tuple)) and len(data) == 1 and \
                np.ndim(data[0]) == sample_ndims[0] + 1 and not np.isscalar(data[0]):
            data = data[0]
        return {names[0]: data}
    if not isinstance(data, (list, tuple)) or len(data) != len(names):
        got = f"a list of {len(data)}" if isinstance(data, (list, tuple)) else \
            type(data).__name__
        raise ValueError(f"This model has {len(names)} {_slots(role)} ({', '.join(names)}): pass "
                         f"{role} as a list in that order or a dict keyed by those names. "
                         f"Received: {got}.")
    return dict(zip(names, data, strict=True))


def key_name(key: Any) -> str:
    """A dict key as a name: a string as it is, a tensor (or layer) by its `name`."""
    return key if isinstance(key, str) else getattr(key, "name", repr(key))


def _slots(role: str) -> str:
    return "targets (estimators)" if "Y" in role else "inputs"


def check_same_length(data: dict[str, Any], role: str) -> int:
    """All arrays in `data` hold the same number of samples; returns it."""
    lengths = {name: len(value) for name, value in data.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Every array of {role} must hold the same number of samples. "
                         f"Received: {lengths}.")
    return next(iter(lengths.values()))


def as_array(data: Any, name: str, role: str) -> np.ndarray:
    """A numeric numpy array from an array, a (nested) list, or `{name: array}`.

    Args:
        data: What the user passed.
        name: The input or estimator layer name, the key accepted in a dict.
        role: `'X'`, `'Y'`, ... for messages.

    Raises:
        ValueError: For an empty array, ragged lists or a dict with the wrong keys.
        TypeError: For non-numeric data.
    """
    if data is None:
        raise ValueError(f"{role} is missing. Expected a numeric array. Received: {role}=None.")
    if hasattr(data, "__array__") or isinstance(data, (list, tuple, int, float)):
        try:
            array = np.asarray(data)
        except ValueError as err:
            raise ValueError(f"{role} could not be read as an array (ragged nested lists?): "
                             f"{err}") from None
    else:
        raise TypeError(f"Expected {role} as a numpy array, a list or a dict {{{name!r}: array}}. "
                        f"Received: {role} of type {type(data).__name__}.")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise TypeError(f"{role} must be numeric. Received: {role}.dtype={array.dtype} "
                        f"(ragged lists or strings?).")
    if np.iscomplexobj(array):
        raise TypeError(f"{role} must hold real numbers; the network does not take complex "
                        f"values. Received: {role}.dtype={array.dtype}. Pass {role}.real, "
                        f"abs({role}), or the real and imaginary parts as separate features.")
    if array.ndim == 0 or len(array) == 0:
        raise ValueError(f"{role} is empty. Expected at least one sample. "
                         f"Received: {role}.shape={array.shape}.")
    return array


def check_inputs(x: np.ndarray, expected: Shape, layer_name: str, role: str = "X") -> np.ndarray:
    """Checks X against the per-sample shape declared by `input_data`."""
    got = tuple(x.shape[1:])
    if got == tuple(expected):
        return x
    want = (None, *expected)
    hint = ""
    if int(np.prod(got)) == int(np.prod(expected)):
        dims = ", ".join(map(str, expected))
        hint = f" The sizes agree: reshape with {role}.reshape([-1, {dims}])."
    elif len(got) != len(expected):
        hint = f" {role} has {len(got) + 1} dimensions, the input layer expects {len(want)}."
    else:
        axes = [i + 1 for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e]
        hint = f" Dimension {axes[0]} differs ({got[axes[0] - 1]} vs {expected[axes[0] - 1]})."
    raise ValueError(f"input_data {layer_name!r} expects {role} of shape {want}. "
                     f"Received: {role}.shape={x.shape}.{hint}")


def check_targets(y: np.ndarray, output: Shape, *, categorical: bool, to_one_hot: bool,
                  n_classes: int | None, estimator: str, role: str = "Y",
                  sparse: bool = False) -> np.ndarray:
    """Checks Y against the network's output shape and the loss (one-hot vs labels; `sparse`:
    the loss takes integer class ids)."""
    if sparse:
        return check_class_ids(y, output, estimator, role)
    if to_one_hot:
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"regression {estimator!r} has to_one_hot=True: expected {role} as "
                             f"integer labels of shape (N,). Received: {role}.shape={y.shape}, "
                             f"dtype={y.dtype}.")
        bad = (y < 0) | (y >= n_classes)
        if bad.any():
            raise ValueError(f"{role} holds a label outside [0, {n_classes}): {role}"
                             f"[{int(np.argmax(bad))}]={y[np.argmax(bad)]}.")
        return y.astype(np.int32)
    got = tuple(y.shape[1:])
    if got == tuple(output):
        if categorical:
            check_probability_rows(y, estimator, role)
        return y.astype(np.float32)
    if output == (1,) and got == ():
        if categorical:
            check_probability_rows(y.reshape(-1, 1), estimator, role)
        return y.reshape(-1, 1).astype(np.float32)
    if output == () and got == (1,):
        return y.reshape(-1).astype(np.float32)
    if categorical and y.ndim == 1 and len(output) == 1:
        raise ValueError(
            f"regression {estimator!r}: the loss expects one-hot targets of shape "
            f"(None, {output[0]}). Received: {role}.shape={y.shape} (integer labels?). Convert "
            f"with stackit.data_utils.to_categorical({role}, {output[0]}), or pass "
            f"to_one_hot=True, n_classes={output[0]} to regression().")
    if len(got) == len(output) == 1:
        raise ValueError(f"regression {estimator!r}: the network outputs {output[0]} values per "
                         f"sample but {role} has {got[0]} (wrong class count?). "
                         f"Received: {role}.shape={y.shape}, expected (None, {output[0]}).")
    raise ValueError(f"regression {estimator!r}: expected {role} of shape {(None, *output)}. "
                     f"Received: {role}.shape={y.shape}.")


def check_class_ids(y: np.ndarray, output: Shape, estimator: str, role: str = "Y") -> np.ndarray:
    """Integer class ids for a sparse loss: shape `(N, *output[:-1])`, optionally with a
    trailing 1, each in `[0, output[-1])`; whole floats are accepted. Returns them as int32."""
    lead, n_classes = tuple(output[:-1]), output[-1]
    got = tuple(y.shape[1:])
    if got not in (lead, (*lead, 1)):
        hint = ""
        if got == tuple(output):
            hint = (f" It looks one-hot: pass {role}.argmax(axis=-1), or use "
                    f"loss='categorical_crossentropy'.")
        raise ValueError(f"regression {estimator!r}: a sparse loss expects {role} as integer "
                         f"class ids of shape {(None, *lead)} or {(None, *lead, 1)}. Received: "
                         f"{role}.shape={y.shape}.{hint}")
    if np.issubdtype(y.dtype, np.floating):
        check_finite(y, role)
        fraction = y != np.round(y)
        if fraction.any():
            where = tuple(int(i) for i in np.argwhere(fraction)[0])
            raise ValueError(f"regression {estimator!r}: a sparse loss expects {role} as integer "
                             f"class ids. Received: {role}[{where}]={y[where]}.")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"regression {estimator!r}: a sparse loss expects {role} as integer "
                         f"class ids. Received: {role}.dtype={y.dtype}.")
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{role} holds a class id outside [0, {n_classes}) (the output has "
                         f"{n_classes} units): {role}[{where}]={y[where]}.")
    return y.astype(np.int32)


def check_probability_rows(y: np.ndarray, estimator: str, role: str = "Y") -> None:
    """Categorical cross-entropy compares distributions: each target row (last axis) must hold
    values >= 0 that sum to 1 (one-hot, or smoothed labels)."""
    if y.ndim < 2:
        return
    rows = y.reshape(-1, y.shape[-1])
    sums = rows.sum(axis=1, dtype=np.float64)
    if not np.isfinite(sums).all():
        return  # shape and finiteness have their own checks and messages
    bad = (rows < 0).any(axis=1) | (np.abs(sums - 1.0) > 1e-3)
    if bad.any():
        where = np.unravel_index(int(np.argmax(bad)), y.shape[:-1])
        index = ", ".join(str(int(i)) for i in where)
        raise ValueError(
            f"regression {estimator!r}: categorical cross-entropy expects each row of {role} to "
            f"be class probabilities (values >= 0 summing to 1, e.g. one-hot). Received: "
            f"{role}[{index}]={np.array2string(y[where], threshold=10)} (sum "
            f"{sums[int(np.argmax(bad))]:.4g}); {int(bad.sum())} such row(s) in all. "
            f"For independent 0/1 targets use loss='binary_crossentropy'.")


def check_finite(array: np.ndarray, role: str) -> None:
    """Refuses NaN or infinity, naming the first offending index."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None)):
            return  # a NaN or infinity anywhere makes the sum one (one pass, no temporary)
    bad = ~np.isfinite(array)  # the sum overflowed, or something is not finite: find it
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{role} contains {array[where]} at index {where} "
                         f"({int(bad.sum())} non-finite value(s) in all). Expected finite numbers.")


def check_lengths(x: np.ndarray, y: np.ndarray, x_role: str = "X", y_role: str = "Y") -> None:
    """X and Y must hold the same number of samples."""
    if len(x) != len(y):
        raise ValueError(f"{x_role} and {y_role} must have the same number of samples. "
                         f"Received: len({x_role})={len(x)}, len({y_role})={len(y)}.")


def split_validation(x: dict, y: dict, n: int, fraction: float):
    """Holds out the last `fraction` of the `n` samples for validation (as tflearn does):
    `(train x, train y, validation x, validation y)`, each a dict of arrays."""
    if isinstance(fraction, bool) or not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_set as a fraction must be in (0, 1). "
                         f"Received: validation_set={fraction!r}.")
    n_val = int(n * fraction)
    if n_val < 1 or n_val >= n:
        raise ValueError(f"validation_set={fraction} of {n} samples leaves "
                         f"{n_val} for validation and {n - n_val} for training; both must "
                         f"be at least 1.")

    def part(a, rows: slice):
        if is_lazy(a):
            return Subset(a, np.arange(n)[rows])
        return a[rows]

    head, tail = slice(None, n - n_val), slice(n - n_val, None)
    return ({k: part(v, head) for k, v in x.items()}, {k: part(v, head) for k, v in y.items()},
            {k: part(v, tail) for k, v in x.items()}, {k: part(v, tail) for k, v in y.items()})


def cast(array: np.ndarray, dtype: str, role: str) -> np.ndarray:
    """Casts floats to the input dtype, refusing values too large for it (they would become
    inf). Integer data (e.g. uint8 images) stays compact; the input layer casts on the device.
    For an integer input (token ids), floats must hold whole numbers and become int32."""
    if not np.issubdtype(array.dtype, np.floating):
        return array
    if not np.issubdtype(np.dtype(dtype), np.floating):
        whole = array.astype(np.int64)
        if not np.array_equal(whole, array):
            where = tuple(int(i) for i in np.argwhere(whole != array)[0])
            raise ValueError(f"{role} feeds an input of dtype {dtype}, which takes whole numbers "
                             f"(token ids), but holds {array[where]} at index {where}.")
        return whole.astype(np.int32 if dtype not in ("int64", "uint32") else dtype)
    target = np.dtype(dtype) if dtype != "bfloat16" else np.dtype(np.float32)
    if np.issubdtype(array.dtype, np.floating) and np.finfo(array.dtype).max > np.finfo(target).max:
        too_big = np.abs(array) > np.finfo(target).max
        if too_big.any():
            where = tuple(int(i) for i in np.argwhere(too_big)[0])
            raise ValueError(f"{role} holds {array[where]} at index {where}, beyond the range of "
                             f"{dtype} (max {np.finfo(target).max:.3g}). Rescale the data.")
    return array.astype(target, copy=False)
