"""Real-time data preprocessing, applied to every batch at training and at inference time.

tflearn's builder API: create a pipeline, add steps, hand it to `input_data`:

    img_prep = stackit.ImagePreprocessing()
    img_prep.add_featurewise_zero_center()
    img_prep.add_featurewise_stdnorm()
    net = stackit.input_data(shape=[None, 32, 32, 3], data_preprocessing=img_prep)

Statistics (featurewise mean and std, ZCA components) are computed once from the training data
on the host, unless given as arguments; the steps then run as pure JAX inside the compiled
train, eval and predict steps.

Interface used by the model (shapes exclude the batch axis; a leading `None` is dropped):

- `init_state(input_shape) -> dict`: placeholder statistics as float32 jnp arrays, under the
  keys `"mean"`, `"std"` and `"pc"` (only those the pipeline uses). Placeholders are neutral
  (mean 0, std 1, pc the identity), so an unfitted state leaves those steps as no-ops.
  Raises `ValueError` for shapes the steps cannot handle.
- `needs_fit -> bool`: whether `fit_state` has to compute a statistic from data.
- `fit_state(X) -> dict`: the same keys, shapes and dtypes as `init_state(X.shape[1:])`, with
  the statistics computed from `X` (numpy or any array-like that slices along axis 0). Given
  `mean`/`std`/`pc` arguments are used as they are. Each statistic is computed on the data as
  it arrives at its step (after the steps added before it).
- `apply(state, x) -> x'`: pure, deterministic and jittable; `x` is a batch `(B, *shape)`; the
  result has `x`'s shape and floating dtype (integer input becomes float32).
- `get_config() -> dict` / `from_config(config)`: a JSON-able `{"type": ..., "name": ...,
  "steps": [{"name": step, **arguments}, ...]}`. Computed statistics are not part of the config
  (they live in the state, which checkpoints save). Custom functions cannot be saved:
  `get_config` raises `TypeError`.

Builders are mutable but hash and compare by identity, so they can sit in a frozen dataclass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from stackit._pipeline import StepPipeline
from stackit._registry import configurable

__all__ = ["DataPreprocessing", "ImagePreprocessing", "SequencePreprocessing"]

# One step of a ZCA whitening matrix is a (features, features) matrix; beyond this many
# features it would not fit comfortably in memory (8192**2 float64 values are 512 MiB).
ZCA_MAX_FEATURES = 8192
_CHUNK_VALUES = 1 << 22  # values per host chunk while computing statistics
_STATS = {"featurewise_zero_center": "mean", "featurewise_stdnorm": "std", "zca_whitening": "pc"}


def _broadcastable(stat, ndim: int):
    """Reshapes a statistic to the rank of a batch of rank `ndim` (rank promotion is explicit)."""
    return stat.reshape((1,) * (ndim - stat.ndim) + tuple(stat.shape))


def _samplewise_axes(ndim: int, per_channel: bool) -> tuple[int, ...]:
    return tuple(range(1, ndim - 1 if per_channel else ndim))


def _apply_step(step: dict, state: dict, x, xp):
    """Runs one step on a batch with `xp` = numpy (host) or jax.numpy (device)."""
    name = step["name"]
    if name == "featurewise_zero_center":
        return x - _broadcastable(state["mean"], x.ndim).astype(x.dtype)
    if name == "featurewise_stdnorm":
        return x / _broadcastable(state["std"], x.ndim).astype(x.dtype)
    if name == "samplewise_zero_center":
        return x - x.mean(axis=_samplewise_axes(x.ndim, step["per_channel"]), keepdims=True)
    if name == "samplewise_stdnorm":
        std = x.std(axis=_samplewise_axes(x.ndim, step["per_channel"]), keepdims=True)
        return x / xp.where(std > 0, std, xp.ones_like(std))
    if name == "zca_whitening":
        flat = x.reshape(x.shape[0], -1)
        pc = state["pc"].astype(x.dtype)
        white = (flat @ pc if xp is np
                 else jnp.matmul(flat, pc, precision=jax.lax.Precision.HIGHEST))
        return white.reshape(x.shape)
    if name == "image_normalization":
        return x / 255.0
    if name == "custom":
        out = step["func"](x if xp is jnp else jnp.asarray(x))
        return out if xp is jnp else np.asarray(out, dtype=x.dtype)
    raise ValueError(f"unknown preprocessing step {name!r}.")  # unreachable: steps are checked


def _as_value(value: Any, arg: str, positive: bool = False) -> Any:
    """A given statistic as a JSON-friendly float or nested list of floats."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{arg} must be a number or an array of numbers. "
                        f"Received: {arg}={value!r}.") from None
    if not np.all(np.isfinite(arr)) or (positive and not np.all(arr > 0)):
        need = "finite and > 0 everywhere" if positive else "finite"
        raise ValueError(f"{arg} must be {need}. Received: {arg}={value!r}.")
    return arr.tolist()


class DataPreprocessing(StepPipeline):
    """A pipeline of preprocessing steps, applied at training and at inference time.

    Steps run in the order they were added. See the module docstring for the interface the
    model calls (`init_state`, `fit_state`, `apply`).

    Args:
        name: A name for the pipeline (kept for tflearn compatibility; saved in the config).
            Defaults to `'DataPreprocessing'`.
    """

    _saved_steps = frozenset({"featurewise_zero_center", "featurewise_stdnorm",
                              "samplewise_zero_center", "samplewise_stdnorm", "zca_whitening"})

    kind = "preprocessing"

    @classmethod
    def _family(cls):
        return (DataPreprocessing, ImagePreprocessing, SequencePreprocessing)

    def __init__(self, name: str = "DataPreprocessing"):
        if not isinstance(name, str):
            raise TypeError(f"name must be a string. Received: name={name!r}.")
        self.name = name
        self._steps: list[dict] = []

    # -------- builder methods (tflearn names) --------

    def add_featurewise_zero_center(self, mean: Any = None, per_channel: bool = False) -> None:
        """Subtracts the training data's mean from every sample.

        Args:
            mean: The mean to subtract: a number, one value per channel (last axis) or an array
                of one sample's shape. When `None`, it is computed from the training data.
                Defaults to `None`.
            per_channel: When computing the mean, compute one per channel (last axis) instead
                of one number for the whole dataset. Defaults to `False`.
        """
        self._add_stat("featurewise_zero_center", mean=_as_value(mean, "mean"),
                       per_channel=_bool(per_channel, "per_channel"))

    def add_featurewise_stdnorm(self, std: Any = None, per_channel: bool = False) -> None:
        """Divides every sample by the training data's standard deviation.

        A computed standard deviation of 0 (constant data) is stored as 1, so nothing is
        divided by zero.

        Args:
            std: The standard deviation, > 0: a number, one value per channel or an array of
                one sample's shape. When `None`, it is computed from the training data.
                Defaults to `None`.
            per_channel: When computing the std, compute one per channel (last axis).
                Defaults to `False`.
        """
        self._add_stat("featurewise_stdnorm", std=_as_value(std, "std", positive=True),
                       per_channel=_bool(per_channel, "per_channel"))

    def add_samplewise_zero_center(self, per_channel: bool = False) -> None:
        """Subtracts from each sample its own mean (per channel: one mean per channel).

        Args:
            per_channel: Use one mean per channel (last axis) of each sample. Defaults to
                `False`.
        """
        self._steps.append({"name": "samplewise_zero_center",
                            "per_channel": _bool(per_channel, "per_channel")})

    def add_samplewise_stdnorm(self, per_channel: bool = False) -> None:
        """Divides each sample by its own standard deviation (a constant sample is left as is).

        Args:
            per_channel: Use one std per channel (last axis) of each sample. Defaults to
                `False`.
        """
        self._steps.append({"name": "samplewise_stdnorm",
                            "per_channel": _bool(per_channel, "per_channel")})

    def add_zca_whitening(self, pc: Any = None) -> None:
        """ZCA-whitens every sample: `flat(x) @ pc`, with `pc` of shape (features, features).

        As in tflearn, `pc = U diag(1 / sqrt(S + 1e-8)) U^T` from the eigendecomposition of the
        data's second-moment matrix `X^T X / N` (add `add_featurewise_zero_center` first to
        center the data). At most `ZCA_MAX_FEATURES` features per sample.

        Args:
            pc: A precomputed whitening matrix. When `None`, it is computed from the training
                data. Defaults to `None`.
        """
        self._add_stat("zca_whitening", pc=_as_value(pc, "pc"))

    def add_custom_preprocessing(self, func: Callable) -> None:
        """Adds `func(batch) -> batch`, a JAX-traceable function that keeps the batch's shape.

        A pipeline with a custom function works but cannot be saved in a config.

        Args:
            func: The function, called on a `(batch, *shape)` jax array.
        """
        if not callable(func):
            raise TypeError("add_custom_preprocessing expects a callable. "
                            f"Received: func={func!r}.")
        self._steps.append({"name": "custom", "func": func})

    def _add_stat(self, name: str, **args: Any) -> None:
        if any(step["name"] == name for step in self._steps):
            raise ValueError(f"add_{name} was already called on this {type(self).__name__}; "
                             "each featurewise statistic can be used once.")
        if name == "zca_whitening" and args["pc"] is not None and np.ndim(args["pc"]) != 2:
            raise ValueError("pc must be a (features, features) matrix. "
                             f"Received: pc.shape={np.shape(args['pc'])}.")
        self._steps.append({"name": name, **args})

    # -------- interface used by the model --------

    @property
    def needs_fit(self) -> bool:
        """Whether a statistic has to be computed from the training data (`fit_state`)."""
        return any(step["name"] in _STATS and step[_STATS[step["name"]]] is None
                   for step in self._steps)

    def init_state(self, input_shape: Sequence[int | None]) -> dict:
        """Placeholder statistics for samples of `input_shape` (no batch axis).

        Raises:
            ValueError: If a step cannot handle the shape (per-channel steps on scalars, a
                given statistic of the wrong shape, too many features for ZCA, a custom
                function that changes the shape).
            TypeError: If a custom function cannot be traced by JAX.
        """
        shape = _sample_shape(input_shape)
        return {k: jnp.asarray(v) for k, v in self._host_state(shape).items()}

    def fit_state(self, X: Any) -> dict:
        """Statistics for the pipeline, computed from training data `X` where not given.

        Args:
            X: Training samples, batch axis first (a numpy array or an array-like that
                supports `len()` and slicing along axis 0, such as an image preloader).

        Returns:
            A dict with the keys, shapes and dtypes of `init_state(X.shape[1:])`.
        """
        if not hasattr(X, "__len__") or not hasattr(X, "__getitem__"):
            X = np.asarray(X)
        n = len(X)
        if n == 0:
            raise ValueError("fit_state needs at least one training sample. Received: len(X)=0.")
        shape = tuple(np.shape(X[0:1])[1:])
        state = self._host_state(shape)
        for k, step in enumerate(self._steps):
            key = _STATS.get(step["name"])
            if key is not None and step[key] is None:
                state[key] = self._compute(key, step, X, shape, self._steps[:k], state)
        return {k: jnp.asarray(v) for k, v in state.items()}

    def apply(self, state: dict, x: jax.Array) -> jax.Array:
        """Runs the pipeline on a batch `(B, *shape)`; pure and jittable."""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        dtype = x.dtype
        for step in self._steps:
            x = _apply_step(step, state, x, jnp)
        return x.astype(dtype)

    def get_config(self) -> dict:
        """A JSON-able description of the pipeline (statistics computed from data excluded).

        Raises:
            TypeError: If the pipeline holds a custom function.
        """
        steps = []
        for step in self._steps:
            if step["name"] == "custom":
                raise TypeError(
                    f"{type(self).__name__} {self.name!r}: a custom preprocessing function "
                    f"({getattr(step['func'], '__name__', repr(step['func']))}) is Python code, "
                    "which a saved config cannot hold. Preprocess the arrays before fit() or "
                    "use the built-in steps to save this model.")
            steps.append(dict(step))
        return {"type": type(self).__name__, "name": self.name, "steps": steps}

    # -------- host-side helpers --------

    def _host_state(self, shape: tuple) -> dict:
        """Given or placeholder statistics as float32 numpy arrays; checks every step."""
        state: dict[str, np.ndarray] = {}
        size = math.prod(shape)
        for step in self._steps:
            name = step["name"]
            if step.get("per_channel") and len(shape) < (2 if name.startswith("sample") else 1):
                raise ValueError(
                    f"{type(self).__name__}: {name}(per_channel=True) needs samples with a "
                    f"channel axis last{' and at least one other axis' if len(shape) else ''}. "
                    f"Received: input_shape={shape}.")
            if name in ("featurewise_zero_center", "featurewise_stdnorm"):
                key = _STATS[name]
                if step[key] is not None:
                    value = np.asarray(step[key], np.float32)
                    if value.shape not in ((), shape[-1:], shape):
                        raise ValueError(
                            f"{type(self).__name__}: the given {key} must be a number, "
                            f"{shape[-1:]} (one per channel) or {shape} (one sample). "
                            f"Received: {key}.shape={value.shape}.")
                else:
                    fill = 0.0 if key == "mean" else 1.0
                    value = np.full(shape[-1:] if step["per_channel"] else (), fill, np.float32)
                state[key] = value
            elif name == "zca_whitening":
                if step["pc"] is not None:
                    value = np.asarray(step["pc"], np.float32)
                    if value.shape != (size, size):
                        raise ValueError(
                            f"{type(self).__name__}: the given pc must be ({size}, {size}) for "
                            f"samples of shape {shape}. Received: pc.shape={value.shape}.")
                elif size > ZCA_MAX_FEATURES:
                    raise ValueError(
                        f"{type(self).__name__}: ZCA whitening supports at most "
                        f"{ZCA_MAX_FEATURES} features per sample (its matrix is features x "
                        f"features). Received: input_shape={shape} ({size} features).")
                else:
                    value = np.eye(size, dtype=np.float32)
                state["pc"] = value
            elif name == "custom":
                _check_custom(step["func"], shape)
        return state

    def _compute(self, key: str, step: dict, X: Any, shape: tuple, before: list,
                 state: dict) -> np.ndarray:
        """One pass over `X` in chunks, through the steps `before`, for one statistic."""
        rows = max(1, _CHUNK_VALUES // max(1, math.prod(shape)))
        chunks = (_run_host(before, state, X[i:i + rows]) for i in range(0, len(X), rows))
        if key == "pc":
            return _zca_matrix(chunks)
        return _mean_std(chunks, key, bool(step["per_channel"]))


def _run_host(steps: list, state: dict, chunk: Any) -> np.ndarray:
    chunk = np.asarray(chunk, dtype=np.float32)
    for step in steps:
        chunk = _apply_step(step, state, chunk, np)
    return chunk


def _mean_std(chunks, key: str, per_channel: bool) -> np.ndarray:
    """Mean or std (population) of all values, or per channel: float32 data, float64 sums,
    chunks merged with Chan et al.'s pairwise update."""
    count, mean, m2 = 0, np.zeros(()), np.zeros(())  # float64 accumulators
    for chunk in chunks:  # as rows of values, one row per channel (or one row in all)
        rows = (np.ascontiguousarray(chunk.reshape(-1, chunk.shape[-1]).T) if per_channel
                else chunk.reshape(1, -1))
        n_c = rows.shape[1]
        m_c = rows.sum(axis=1, dtype=np.float64) / n_c
        delta, total = m_c - mean, count + n_c
        if key == "std":
            dev = rows - m_c.astype(np.float32).reshape(-1, 1)
            dev_sum = dev.sum(axis=1, dtype=np.float64)
            m2_c = np.square(dev).sum(axis=1, dtype=np.float64) - dev_sum ** 2 / n_c
            m2 = m2 + m2_c + delta ** 2 * (count * n_c / total)
        mean = mean + delta * (n_c / total)
        count = total
    value = mean if key == "mean" else np.sqrt(np.maximum(m2, 0.0) / count)
    if key == "std":
        value = np.where(value > 0, value, 1.0)
    return np.asarray(value if per_channel else value[0], np.float32)


def _zca_matrix(chunks) -> np.ndarray:
    """tflearn's ZCA matrix `U diag(1 / sqrt(S + 1e-8)) U^T` of the second moment `X^T X / N`."""
    count, second = 0, 0.0
    for chunk in chunks:
        flat = chunk.reshape(chunk.shape[0], -1)
        second = second + (flat.T @ flat).astype(np.float64)
        count += flat.shape[0]
    eigval, eigvec = np.linalg.eigh(second / count)
    scale = 1.0 / np.sqrt(np.maximum(eigval, 0.0) + 1e-8)
    return ((eigvec * scale.reshape(1, -1)) @ eigvec.T).astype(np.float32)


class ImagePreprocessing(DataPreprocessing):
    """Preprocessing for image batches `(B, height, width, channels)`; per-channel = last axis.

    Adds tflearn's `add_image_normalization` to the steps of `DataPreprocessing`.

    Example:
        >>> img_prep = ImagePreprocessing()
        >>> img_prep.add_featurewise_zero_center(per_channel=True)
        >>> img_prep.add_featurewise_stdnorm(per_channel=True)
    """

    _saved_steps = DataPreprocessing._saved_steps | {"image_normalization"}

    def __init__(self, name: str = "ImagePreprocessing"):
        super().__init__(name)

    def add_image_normalization(self) -> None:
        """Scales pixels from [0, 255] to [0, 1] (`x / 255`)."""
        self._steps.append({"name": "image_normalization"})

    def add_crop_center(self, shape: Any) -> None:
        """Not supported: it would change the image shape that `input_data` declares.

        Raises:
            NotImplementedError: Always; crop the arrays before `fit()` instead.
        """
        raise NotImplementedError(
            "ImagePreprocessing.add_crop_center is not supported: the network's input shape is "
            "the shape of X. Crop the images beforehand (e.g. X[:, top:top+h, left:left+w]) and "
            f"declare that shape in input_data. Received: shape={shape!r}.")


class SequencePreprocessing(DataPreprocessing):
    """Preprocessing for sequence batches: the steps of `DataPreprocessing` (tflearn's class
    adds only `sequence_padding`, which it never implemented).

    Args:
        name: Defaults to `'SequencePreprocessing'`.
    """

    def __init__(self, name: str = "SequencePreprocessing"):
        super().__init__(name)

    def sequence_padding(self) -> None:
        """Not supported (tflearn's raises `NotImplementedError` too).

        Raises:
            NotImplementedError: Always; pad the sequences before `fit()` with
                `stackit.data_utils.pad_sequences(X, maxlen=...)`.
        """
        raise NotImplementedError(
            "SequencePreprocessing.sequence_padding is not implemented (nor was it in tflearn): "
            "pad the sequences before fit() with data_utils.pad_sequences(X, maxlen=...).")


def _bool(value: Any, arg: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{arg} must be True or False. Received: {arg}={value!r}.")
    return bool(value)


def _sample_shape(input_shape: Sequence[int | None]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if shape and shape[0] is None:
        shape = shape[1:]
    dims = [d for d in shape if isinstance(d, (int, np.integer)) and d >= 1]
    if len(dims) != len(shape):
        raise ValueError("input_shape must be the per-sample shape, positive ints without the "
                         f"batch axis. Received: input_shape={tuple(input_shape)}.")
    return tuple(int(d) for d in dims)


def _check_custom(func: Callable, shape: tuple) -> None:
    spec = jax.ShapeDtypeStruct((2, *shape), jnp.float32)
    try:
        out = jax.eval_shape(func, spec)
    except Exception as err:  # any tracing failure: report it with the function's name
        raise TypeError(f"custom preprocessing function {getattr(func, '__name__', func)!r} "
                        f"could not be traced by JAX on a batch of shape {spec.shape}: {err}"
                        ) from err
    if getattr(out, "shape", None) != spec.shape:
        raise ValueError(f"custom preprocessing function {getattr(func, '__name__', func)!r} "
                         "must keep the batch's shape. Received: a batch of shape "
                         f"{spec.shape} became {getattr(out, 'shape', out)}.")


for _cls in (DataPreprocessing, ImagePreprocessing):
    configurable(_cls)
