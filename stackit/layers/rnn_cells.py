"""Recurrent cells (tflearn's `BasicRNNCell`, `BasicLSTMCell`, `GRUCell`, `MultiRNNCell`) and
the scan that runs one over a sequence.

A cell is a frozen dataclass of hyperparameters; it holds no arrays. It owns a carry, a tuple of
`(batch, units)` arrays (`(h,)`, or `(c, h)` for an LSTM, as TensorFlow's `LSTMStateTuple`), and
three pure functions:

- `init(key, n_in) -> params`: `W` `(n_in, gates * units)` for the input, `U`
  `(units, gates * units)` for the carry, `b` `(gates * units,)`.
- `project(params, x) -> x @ W + b`, for every time step at once: one large matmul before the
  scan instead of one small one per step.
- `step(params, carry, xw_t) -> (carry, y_t)`: one time step from its projected input; only the
  recurrent matmul `h @ U` is left inside the loop.

Gate order on the last axis of `W`, `U` and `b` (TensorFlow's): LSTM `[i, j, f, o]` (input gate,
candidate, forget gate, output gate); GRU `[r, u, c]` (reset gate, update gate, candidate); a
simple RNN has one block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from stackit import activations, initializations
from stackit._registry import configurable
from stackit.layers.base import channels_last

__all__ = ["RNNCell", "GatedCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell",
           "MultiRNNCell", "LSTMStateTuple", "run_cell", "reverse_sequences", "check_rnn_args"]

Carry = tuple[jax.Array, ...]
#: The initializer used when `weights_init` is None: Glorot uniform over the stacked `[W; U]`
#: matrix, TensorFlow's default for its RNN cells.
DEFAULT_WEIGHTS_INIT = "xavier"


class LSTMStateTuple(NamedTuple):
    """An LSTM's state as TensorFlow names it: `(c, h)`, also `state.c` and `state.h`."""

    c: Any
    h: Any


def check_rnn_args(where: str, units_arg: str, units: Any, *, weights_init: Any, bias: Any,
                   **activation_args: Any) -> None:
    """Validates a cell's hyperparameters; messages start with `where` (the layer or cell).

    Raises:
        ValueError: For a non-positive unit count or an unknown activation/initializer name.
        TypeError: For values of the wrong type.
    """
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)):
        raise TypeError(f"{where}: {units_arg} must be a positive int. "
                        f"Received: {units_arg}={units!r}.")
    if units < 1:
        raise ValueError(f"{where}: {units_arg} must be a positive int. "
                         f"Received: {units_arg}={units!r}.")
    if not isinstance(bias, bool):
        raise TypeError(f"{where}: bias must be a bool. Received: bias={bias!r}.")
    lookups: list[tuple[str, Any, Callable]] = [(k, v, activations.get)
                                                for k, v in activation_args.items()]
    if weights_init is not None:
        lookups.append(("weights_init", weights_init, initializations.get))
    for arg, value, get in lookups:
        try:
            get(value)
        except (ValueError, TypeError) as err:
            raise type(err)(f"{where}: {arg}: {err}") from None


class RNNCell:
    """Base of the cells: one time step's math, its carry and its parameters.

    Subclasses are frozen dataclasses (registered, so a layer holding one saves its config).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        configurable(cls)

    def check(self, where: str) -> None:
        """Validates the hyperparameters; error messages start with `where`."""

    @property
    def carry_names(self) -> tuple[str, ...]:
        """The carry's arrays, in order (`('c', 'h')` for an LSTM, TensorFlow's order)."""
        return ("h",)

    @property
    def keras_order(self) -> tuple[int, ...]:
        """Carry indices in Keras's state order (Keras gives an LSTM's states as `[h, c]`)."""
        return tuple(range(len(self.carry_names)))

    @property
    def carry_sizes(self) -> tuple[int, ...]:
        """The width of each array of the carry."""
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        """The width of the output at each step."""
        raise NotImplementedError

    def group(self, carry: Sequence[Any]) -> Any:
        """The carry as TensorFlow returns a state: one array, or a tuple `(c, h)`."""
        return carry[0] if len(carry) == 1 else tuple(carry)

    def zero_carry(self, batch: int, dtype: Any = jnp.float32) -> Carry:
        """The carry before the first step: zeros."""
        return tuple(jnp.zeros((batch, size), dtype) for size in self.carry_sizes)

    def init(self, key: jax.Array, n_in: int) -> dict[str, jax.Array]:
        """The parameters for inputs of width `n_in`."""
        raise NotImplementedError

    def project(self, params: dict, x: jax.Array) -> jax.Array:
        """The input projection of `x`, over any leading axes (every step at once)."""
        raise NotImplementedError

    def step(self, params: dict, carry: Carry, xw_t: jax.Array) -> tuple[Carry, jax.Array]:
        """One time step: `(carry, projected input) -> (carry, output)`."""
        raise NotImplementedError


class GatedCell(RNNCell):
    """A cell with `num_units`, `bias` and `weights_init` and one kernel per input: `W`
    `(n_in, gates * units)`, `U` `(units, gates * units)`, `b` `(gates * units,)`.

    Subclasses set `n_gates` and write `step` (and `activation_args` for their activations).
    """

    num_units: int
    bias: bool
    weights_init: str | Callable | None

    #: Blocks of `num_units` columns in `W`, `U` and `b` (4 for an LSTM).
    n_gates: ClassVar[int] = 1

    def __post_init__(self):
        if isinstance(self.num_units, np.integer):
            object.__setattr__(self, "num_units", int(self.num_units))
        self.check(type(self).__name__)

    def check(self, where):
        check_rnn_args(where, "num_units", self.num_units, weights_init=self.weights_init,
                       bias=self.bias, **self.activation_args())

    def activation_args(self) -> dict[str, Any]:
        """The cell's activation fields by name (checked when the cell is made)."""
        return {}

    @property
    def carry_sizes(self):
        return (self.num_units,) * len(self.carry_names)

    @property
    def output_size(self):
        return self.num_units

    def bias_init(self) -> jax.Array:
        """The starting bias (zeros; the GRU starts its gates at 1)."""
        return jnp.zeros((self.n_gates * self.num_units,), jnp.float32)

    def init(self, key, n_in):
        """`W` and `U` are drawn as one `(n_in + units, gates * units)` matrix (TensorFlow's
        single kernel over `[x, h]`) and split; `b` is `bias_init()`."""
        draw = initializations.get(self.weights_init or DEFAULT_WEIGHTS_INIT)
        width = self.n_gates * self.num_units
        stacked = draw(key, (n_in + self.num_units, width), jnp.float32)
        params = {"W": stacked[:n_in], "U": stacked[n_in:]}
        if self.bias:
            params["b"] = self.bias_init()
        return params

    def project(self, params, x):
        xw = x @ params["W"]
        return xw + channels_last(params["b"], xw.ndim) if self.bias else xw


@dataclasses.dataclass(frozen=True)
class BasicRNNCell(GatedCell):
    """`h = activation(x @ W + h @ U + b)`; the output is `h` (tflearn's `BasicRNNCell`).

    Args:
        num_units: Units (width of `h`).
        activation: Defaults to `'tanh'`.
        bias: Whether to add `b`. Defaults to `True`.
        weights_init: Initializer of `W` and `U`; None is Glorot uniform. Defaults to `None`.
    """

    num_units: int = 1
    activation: str | Callable = "tanh"
    bias: bool = True
    weights_init: str | Callable | None = None

    def activation_args(self):
        return {"activation": self.activation}

    def step(self, params, carry, xw_t):
        h = activations.get(self.activation)(xw_t + carry[0] @ params["U"])
        return (h,), h


@dataclasses.dataclass(frozen=True)
class BasicLSTMCell(GatedCell):
    """The LSTM of tflearn's `BasicLSTMCell` (no peepholes); the carry is `(c, h)`.

    `i, j, f, o = split(x @ W + h @ U + b)`;
    `c = c * inner(f + forget_bias) + inner(i) * activation(j)`;
    `h = activation(c) * inner(o)`; the output is `h`.

    Args:
        num_units: Units (width of `c` and `h`).
        forget_bias: Added to the forget gate (so the cell remembers at first). Defaults to
            `1.0`.
        activation: Defaults to `'tanh'`.
        inner_activation: The gates' activation. Defaults to `'sigmoid'`.
        bias: Whether to add `b`. Defaults to `True`.
        weights_init: Initializer of `W` and `U`; None is Glorot uniform. Defaults to `None`.
    """

    num_units: int = 1
    forget_bias: float = 1.0
    activation: str | Callable = "tanh"
    inner_activation: str | Callable = "sigmoid"
    bias: bool = True
    weights_init: str | Callable | None = None
    n_gates = 4

    @property
    def carry_names(self):
        return ("c", "h")

    @property
    def keras_order(self):
        return (1, 0)

    def group(self, carry):
        return LSTMStateTuple(*carry)

    def activation_args(self):
        return {"activation": self.activation, "inner_activation": self.inner_activation}

    def check(self, where):
        super().check(where)
        if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)):
            raise TypeError(f"{where}: forget_bias must be a number. "
                            f"Received: forget_bias={self.forget_bias!r}.")

    def step(self, params, carry, xw_t):
        c, h = carry
        act, inner = activations.get(self.activation), activations.get(self.inner_activation)
        i, j, f, o = jnp.split(xw_t + h @ params["U"], 4, axis=-1)
        c = c * inner(f + self.forget_bias) + inner(i) * act(j)
        h = act(c) * inner(o)
        return (c, h), h


LSTMCell = BasicLSTMCell  # tflearn/TensorFlow's full LSTMCell options (peepholes...) are not here


@dataclasses.dataclass(frozen=True)
class GRUCell(GatedCell):
    """The GRU of tflearn's `GRUCell` (reset applied before the recurrent matmul).

    `r, u = inner(x @ W_ru + h @ U_ru + b_ru)`; `c = activation(x @ W_c + (r * h) @ U_c + b_c)`;
    `h = u * h + (1 - u) * c`; the output is `h`. The gates' bias starts at 1 (as tflearn).

    Args:
        num_units: Units (width of `h`).
        activation: Defaults to `'tanh'`.
        inner_activation: The gates' activation. Defaults to `'sigmoid'`.
        bias: Whether to add `b`. Defaults to `True`.
        weights_init: Initializer of `W` and `U`; None is Glorot uniform. Defaults to `None`.
    """

    num_units: int = 1
    activation: str | Callable = "tanh"
    inner_activation: str | Callable = "sigmoid"
    bias: bool = True
    weights_init: str | Callable | None = None
    n_gates = 3

    def activation_args(self):
        return {"activation": self.activation, "inner_activation": self.inner_activation}

    def bias_init(self):
        n = self.num_units
        return jnp.concatenate([jnp.ones((2 * n,), jnp.float32), jnp.zeros((n,), jnp.float32)])

    def step(self, params, carry, xw_t):
        (h,) = carry
        n = self.num_units
        u_gates, u_cand = params["U"][:, :2 * n], params["U"][:, 2 * n:]
        act, inner = activations.get(self.activation), activations.get(self.inner_activation)
        r, u = jnp.split(inner(xw_t[:, :2 * n] + h @ u_gates), 2, axis=-1)
        c = act(xw_t[:, 2 * n:] + (r * h) @ u_cand)
        h = u * h + (1.0 - u) * c
        return (h,), h


@dataclasses.dataclass(frozen=True)
class MultiRNNCell(RNNCell):
    """Cells stacked in one step: the output of each is the input of the next.

    The carry is every cell's carry, in order; parameters are the cells' with a suffix
    (`W_0`, `U_0`, `b_0`, `W_1`, ...). Only the first cell's input projection runs before the
    scan; the others' run inside it.

    Args:
        cells: The cells, bottom first (a list or tuple).
    """

    cells: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "cells", tuple(self.cells))
        if not self.cells or not all(isinstance(c, RNNCell) for c in self.cells):
            raise TypeError(f"MultiRNNCell: cells must be a non-empty list of cells (e.g. "
                            f"[BasicLSTMCell(64), BasicLSTMCell(64)]). Received: "
                            f"cells={self.cells!r}.")

    def check(self, where):
        for cell in self.cells:
            cell.check(f"{where}: {type(cell).__name__}")

    @property
    def carry_names(self):
        return tuple(f"{name}_{k}" for k, cell in enumerate(self.cells)
                     for name in cell.carry_names)

    @property
    def keras_order(self):
        order: list[int] = []
        for cell, start in zip(self.cells, self._starts(), strict=True):
            order += [start + i for i in cell.keras_order]
        return tuple(order)

    @property
    def carry_sizes(self):
        return tuple(size for cell in self.cells for size in cell.carry_sizes)

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def group(self, carry):
        return tuple(cell.group(part) for cell, part in zip(self.cells, self._split(carry),
                                                             strict=True))

    def init(self, key, n_in):
        params = {}
        keys = jax.random.split(key, len(self.cells))
        for k, (cell, cell_key) in enumerate(zip(self.cells, keys, strict=True)):
            for name, value in cell.init(cell_key, n_in).items():
                params[f"{name}_{k}"] = value
            n_in = cell.output_size
        return params

    def project(self, params, x):
        return self.cells[0].project(self._params(params, 0), x)

    def step(self, params, carry, xw_t):
        new: list[jax.Array] = []
        y = xw_t
        for k, (cell, part) in enumerate(zip(self.cells, self._split(carry), strict=True)):
            p = self._params(params, k)
            part, y = cell.step(p, part, y if k == 0 else cell.project(p, y))
            new += part
        return tuple(new), y

    def _params(self, params: dict, k: int) -> dict:
        suffix = f"_{k}"
        return {name[: -len(suffix)]: v for name, v in params.items() if name.endswith(suffix)}

    def _starts(self) -> list[int]:
        starts, start = [], 0
        for cell in self.cells:
            starts.append(start)
            start += len(cell.carry_names)
        return starts

    def _split(self, carry: Sequence[Any]) -> list[tuple]:
        return [tuple(carry[start:start + len(cell.carry_names)])
                for cell, start in zip(self.cells, self._starts(), strict=True)]


def reverse_sequences(x: jax.Array, lengths: jax.Array | None) -> jax.Array:
    """Reverses each sequence of `x` (batch, time, ...) in time: within its first `lengths`
    steps when given (padding stays at the end), else over the whole time axis. It is its own
    inverse."""
    if lengths is None:
        return jnp.flip(x, axis=1)
    steps = jnp.arange(x.shape[1])[None, :]
    idx = jnp.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    idx = idx.reshape(idx.shape + (1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, idx, axis=1)


def run_cell(cell: RNNCell, params: dict, x: jax.Array, carry: Carry,
             lengths: jax.Array | None = None, *, return_sequences: bool = False,
             unroll: int = 1) -> tuple[jax.Array, Carry]:
    """Runs `cell` over `x` (batch, time, features) from `carry` with `lax.scan`.

    The input projection of every step is one matmul before the scan. With `lengths` (batch,),
    the steps at and after each sequence's length leave its carry unchanged and output zeros.

    Returns:
        `(outputs, carry)`: outputs `(batch, time, units)` with `return_sequences`, else the
        output of each sequence's last real step `(batch, units)` (zeros for an empty one);
        `carry` after each sequence's last real step.
    """
    xw = cell.project(params, jnp.swapaxes(x, 0, 1))  # (time, batch, gates*units)
    carry = tuple(c.astype(xw.dtype) for c in carry)
    last = jnp.zeros((x.shape[0], cell.output_size), xw.dtype)
    if lengths is None:
        def body(state, xw_t):
            new, y = cell.step(params, state[0], xw_t)
            return (new, y), (y if return_sequences else None)

        (carry, last), ys = lax.scan(body, (carry, last), xw, unroll=unroll)
    else:
        live = jnp.arange(x.shape[1])[:, None] < lengths[None, :]  # (time, batch)

        def masked(state, inputs):
            (old, last), (xw_t, live_t) = state, inputs
            new, y = cell.step(params, old, xw_t)
            keep = live_t[:, None]
            new = tuple(jnp.where(keep, n, o) for n, o in zip(new, old, strict=True))
            y = jnp.where(keep, y, 0.0)
            return (new, jnp.where(keep, y, last)), (y if return_sequences else None)

        (carry, last), ys = lax.scan(masked, (carry, last), (xw, live), unroll=unroll)
    return (jnp.swapaxes(ys, 0, 1) if return_sequences else last), carry
