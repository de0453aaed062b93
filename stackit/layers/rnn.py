"""Recurrent layers: Keras's `SimpleRNN`, `LSTM`, `GRU`, `RNN` (the objects tflearn's
`simple_rnn`, `lstm`, `gru` in `stackit.layers.recurrent` build).

A recurrent layer runs a cell (`stackit.layers.rnn_cells`) over time with `lax.scan`: the input
projection of every step is one matmul before the scan, the recurrent matmul the only one inside.

Wiring: a recurrent layer takes a list of tensors, built by its call: the sequence
`(batch, time, features)`; then the initial carry when given (`(batch, units)` each, in the
cell's order: `(c, h)` for an LSTM); then, with `dynamic=True`, the sequence lengths `(batch,)`
from a `SequenceLength` node (over the ids when the input comes straight from an `embedding`,
else over the input's features). With `return_state=True` the layer has several outputs (the
output, then the final carry), each its own tensor (`Tensor.outputs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp

from stackit.layers import naming
from stackit.layers.base import Layer, Tensor, as_float
from stackit.layers.embedding_ops import Embedding
from stackit.layers.rnn_cells import (
    BasicLSTMCell,
    BasicRNNCell,
    GRUCell,
    RNNCell,
    check_rnn_args,
    reverse_sequences,
    run_cell,
)

__all__ = ["Recurrent", "RNN", "SimpleRNN", "LSTM", "GRU", "SequenceLength", "ZeroState"]

_FLAGS = ("return_sequences", "return_state", "go_backwards", "dynamic")


@dataclasses.dataclass(frozen=True)
class SequenceLength(Layer):
    """The length of each zero-padded sequence: the index of its last nonzero step, plus one
    (0 for a sequence of zeros). A step is nonzero when any of its values is (an id other than
    0, or a feature vector not all zeros). Padding goes at the end; zeros inside a sequence
    count as real steps.

    Input shape: `(batch, time, ...)`. Output shape: `(batch,)`, int32.
    """

    default_name = "SequenceLength"
    fn_name = "retrieve_seq_length_op"

    def output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise self.error("expected a (batch, time, ...) input.", shape=(None, *input_shape))
        return ()

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        used = (x != 0).reshape(x.shape[0], x.shape[1], -1).any(axis=-1)
        steps = jnp.arange(1, x.shape[1] + 1, dtype=jnp.int32)[None, :]
        return jnp.max(jnp.where(used, steps, 0), axis=1), state


@dataclasses.dataclass(frozen=True)
class ZeroState(Layer):
    """Zeros of shape `(batch, units)`, batched like its input: a missing initial state."""

    units: int = 1
    default_name = "ZeroState"
    fn_name = "zero_state"

    def check(self):
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise self.error("units must be a positive int.", units=self.units)

    def output_shape(self, input_shape):
        return (self.units,)

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return jnp.zeros((x.shape[0], self.units), jnp.float32), state


@dataclasses.dataclass(frozen=True)
class Recurrent(Layer):
    """Base of the recurrent layers: a cell scanned over time (see the module docstring).

    Keyword-only args (every recurrent layer):
        return_sequences: Output every step `(batch, time, units)` instead of the last one
            `(batch, units)` (tflearn: `return_seq`). Defaults to `False`.
        return_state: Also output the final carry: the layer call returns
            `[output, *states]` (Keras order: `h, c`). Defaults to `False`.
        go_backwards: Run over the sequence from its end (outputs in processing order).
            Defaults to `False`.
        dynamic: Sequences are zero-padded at the end: padded steps change neither the
            output nor the state, `return_sequences` outputs zeros there, and the last output
            is the last real step's. Defaults to `False`.
        dropout: Fraction of the inputs dropped in training (each step its own mask).
            Defaults to `0.0`.
        output_dropout: Fraction of the outputs dropped in training (never the carry).
            Defaults to `0.0`.
    """

    return_sequences: bool = dataclasses.field(default=False, kw_only=True)
    return_state: bool = dataclasses.field(default=False, kw_only=True)
    go_backwards: bool = dataclasses.field(default=False, kw_only=True)
    dynamic: bool = dataclasses.field(default=False, kw_only=True)
    dropout: float = dataclasses.field(default=0.0, kw_only=True)
    output_dropout: float = dataclasses.field(default=0.0, kw_only=True)
    default_name = "RNN"
    fn_name = "rnn"
    n_inputs = -1
    activation_last = False

    # -- the cell ---------------------------------------------------------------------------------
    def rnn_cell(self) -> RNNCell:
        """The cell this layer scans."""
        raise NotImplementedError

    def check_cell(self) -> None:
        """Validates the cell's hyperparameters with this layer's name in the message."""
        raise TypeError("Recurrent is the base of the recurrent layers; use SimpleRNN, LSTM, "
                        "GRU or RNN(cell).")

    def check(self):
        self.check_cell()
        for flag in _FLAGS:
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{self.where}: {flag} must be a bool. "
                                f"Received: {flag}={getattr(self, flag)!r}.")
        for arg in ("dropout", "output_dropout"):
            rate = getattr(self, arg)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)):
                raise TypeError(f"{self.where}: {arg} must be a number. "
                                f"Received: {arg}={rate!r}.")
            if not 0.0 <= rate < 1.0:
                raise self.error(f"{arg} is a drop rate in [0, 1) (a keep probability in "
                                 f"(0, 1] for the tflearn function).", **{arg: rate})

    @property
    def where(self) -> str:
        """This layer as error messages name it: `lstm 'LSTM'`."""
        return f"{self.fn_name} {self.name!r}"

    @property
    def n_outputs(self) -> int:
        return 1 + len(self.rnn_cell().carry_names) if self.return_state else 1

    # -- shapes and computation -------------------------------------------------------------------
    def init(self, key, input_shape):
        seq, states, lengths = split_inputs(list(input_shape), len)
        cell = self.rnn_cell()
        check_inputs(self, seq, states, lengths, cell.carry_sizes)
        out = (seq[0], cell.output_size) if self.return_sequences else (cell.output_size,)
        if self.return_state:
            out = (out, *((size,) for size in cell.carry_sizes))  # type: ignore[assignment]
        return cell.init(key, seq[-1]), {}, out

    def apply(self, params, state, x, *, training, key):
        seq, states, lengths = split_inputs(list(x), lambda a: a.ndim - 1)
        y, carry = self.run(params, as_float(seq), states, lengths, training=training, key=key,
                            backwards=self.go_backwards)
        return ((y, *carry) if self.return_state else y), state

    def run(self, params: dict, seq: jax.Array, states: Sequence[jax.Array],
            lengths: jax.Array | None, *, training: bool, key: jax.Array | None,
            backwards: bool) -> tuple[jax.Array, tuple[jax.Array, ...]]:
        """Dropout on the inputs, the scan (from the end with `backwards`), dropout on the
        outputs: `(output, final carry)`. Outputs come in processing order."""
        cell = self.rnn_cell()
        carry = tuple(states) if states else cell.zero_carry(seq.shape[0], seq.dtype)
        in_key = out_key = None
        if training and (self.dropout or self.output_dropout):
            if key is None:
                raise ValueError(f"{self.where}: training with dropout needs a PRNG `key`. "
                                 f"Received: key=None.")
            in_key, out_key = jax.random.split(key)
        seq = drop(seq, self.dropout, in_key)
        if backwards:
            seq = reverse_sequences(seq, lengths)
        y, carry = run_cell(cell, params, seq, carry, lengths,
                            return_sequences=self.return_sequences)
        return drop(y, self.output_dropout, out_key), carry

    # -- graph building ---------------------------------------------------------------------------
    def connect(self, incoming: Tensor, initial_state: Sequence[Tensor] = (), *,
                reuse: bool = False) -> Tensor:
        """The layer's node on `incoming`, from `initial_state` (tensors in the cell's carry
        order, `(c, h)` for an LSTM) when given; adds the lengths node when `dynamic`."""
        layer = cast(Recurrent, self._reused()) if reuse or naming.reuse_active() else self
        expect_tensor(layer, "incoming", incoming)
        states = list(initial_state)
        if states:
            check_state_tensors(layer, states, layer.rnn_cell().carry_sizes, "initial_state")
        return Tensor(layer, tuple(with_lengths(layer, incoming, states)))

    def __call__(self, incoming, *, initial_state=None,  # type: ignore[override]
                 reuse: bool = False) -> Tensor | list[Tensor]:
        """Keras's call: `initial_state` in Keras's order (`[h, c]` for an LSTM); with
        `return_state`, returns `[output, *states]` in that order."""
        order = self.rnn_cell().keras_order
        node = self.connect(incoming, from_keras(tensor_list(initial_state), order),
                            reuse=reuse)
        if node.n_outputs == 1:
            return node
        output, *carry = node.outputs
        return [output, *(carry[j] for j in order)]


@dataclasses.dataclass(frozen=True)
class RNN(Recurrent):
    """Any cell scanned over time (Keras's `RNN(cell)`), e.g. a `MultiRNNCell`.

    Args:
        cell: An `RNNCell` (`BasicLSTMCell(64)`, `MultiRNNCell([...])`, ...).
        (keyword-only) See `Recurrent`.

    Input shape: `(batch, time, features)`. Output shape: `(batch, time, units)` with
    `return_sequences`, else `(batch, units)`.
    """

    cell: RNNCell | None = None
    default_name = "RNN"
    fn_name = "rnn"

    def check_cell(self):
        if not isinstance(self.cell, RNNCell):
            raise TypeError(f"{self.where}: cell must be an RNN cell (e.g. BasicLSTMCell(64)). "
                            f"Received: cell={self.cell!r}.")

    def rnn_cell(self):
        assert self.cell is not None  # check_cell refused None
        return self.cell


@dataclasses.dataclass(frozen=True)
class SimpleRNN(Recurrent):
    """Fully connected recurrence `h = activation(x @ W + h @ U + b)` (tflearn's `simple_rnn`).

    Args:
        units: Units (tflearn: `n_units`).
        activation: Defaults to `'tanh'` (the tflearn function's default is `'sigmoid'`).
        bias: Whether to add `b`. Defaults to `True`.
        weights_init: Initializer of `W` and `U`; None is Glorot uniform. Defaults to `None`.
        (keyword-only) See `Recurrent`.

    Input shape: `(batch, time, features)`. Output shape: `(batch, time, units)` with
    `return_sequences`, else `(batch, units)`. Parameters: `W`, `U`, `b`.
    """

    units: int = 1
    activation: str | Callable = "tanh"
    bias: bool = True
    weights_init: str | Callable | None = None
    default_name = "SimpleRNN"
    fn_name = "simple_rnn"

    def check_cell(self):
        check_rnn_args(self.where, "n_units", self.units, weights_init=self.weights_init,
                       bias=self.bias, activation=self.activation)

    def rnn_cell(self):
        return BasicRNNCell(self.units, self.activation, self.bias, self.weights_init)


@dataclasses.dataclass(frozen=True)
class LSTM(Recurrent):
    """Long short-term memory (tflearn's `lstm`, the `BasicLSTMCell` math); carry `(c, h)`.

    Args:
        units: Units (tflearn: `n_units`).
        activation: Defaults to `'tanh'`.
        recurrent_activation: The gates' activation (tflearn: `inner_activation`). Defaults
            to `'sigmoid'`.
        bias: Whether to add `b`. Defaults to `True`.
        weights_init: Initializer of `W` and `U`; None is Glorot uniform. Defaults to `None`.
        forget_bias: Added to the forget gate. Defaults to `1.0`.
        (keyword-only) See `Recurrent`.

    Input shape: `(batch, time, features)`. Output shape: `(batch, time, units)` with
    `return_sequences`, else `(batch, units)`. Parameters: `W` `(features, 4 * units)`,
    `U` `(units, 4 * units)`, `b` `(4 * units,)`, gates `[i, j, f, o]`.

    Example: `LSTM(128, return_sequences=True)` or `lstm(net, 128, return_seq=True)`.
    """

    units: int = 1
    activation: str | Callable = "tanh"
    recurrent_activation: str | Callable = "sigmoid"
    bias: bool = True
    weights_init: str | Callable | None = None
    forget_bias: float = 1.0
    default_name = "LSTM"
    fn_name = "lstm"

    def check_cell(self):
        check_rnn_args(self.where, "n_units", self.units, weights_init=self.weights_init,
                       bias=self.bias, activation=self.activation,
                       inner_activation=self.recurrent_activation)
        if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)):
            raise TypeError(f"{self.where}: forget_bias must be a number. "
                            f"Received: forget_bias={self.forget_bias!r}.")

    def rnn_cell(self):
        return BasicLSTMCell(self.units, self.forget_bias, self.activation,
                             self.recurrent_activation, self.bias, self.weights_init)


@dataclasses.dataclass(frozen=True)
class GRU(Recurrent):
    """Gated recurrent unit (tflearn's `gru`, the `GRUCell` math).

    Args:
        units: Units (tflearn: `n_units`).
        activation: Defaults to `'tanh'`.
        recurrent_activation: The gates' activation (tflearn: `inner_activation`). Defaults
            to `'sigmoid'`.
        bias: Whether to add `b` (gates start at 1). Defaults to `True`.
        weights_init: Initializer of `W` and `U`; None is Glorot uniform. Defaults to `None`.
        (keyword-only) See `Recurrent`.

    Input shape: `(batch, time, features)`. Output shape: `(batch, time, units)` with
    `return_sequences`, else `(batch, units)`. Parameters: `W`, `U`, `b`, gates `[r, u, c]`.
    """

    units: int = 1
    activation: str | Callable = "tanh"
    recurrent_activation: str | Callable = "sigmoid"
    bias: bool = True
    weights_init: str | Callable | None = None
    default_name = "GRU"
    fn_name = "gru"

    def check_cell(self):
        check_rnn_args(self.where, "n_units", self.units, weights_init=self.weights_init,
                       bias=self.bias, activation=self.activation,
                       inner_activation=self.recurrent_activation)

    def rnn_cell(self):
        return GRUCell(self.units, self.activation, self.recurrent_activation, self.bias,
                       self.weights_init)


# -- shared with Bidirectional --------------------------------------------------------------------

def split_inputs(items: list, rank: Callable[[Any], int]) -> tuple[Any, list, Any]:
    """`(sequence, initial states, lengths or None)` from a recurrent layer's inputs (shapes or
    arrays): the sequence first, the lengths last when present (rank 0 per sample)."""
    seq, rest = items[0], list(items[1:])
    lengths = rest.pop() if rest and rank(rest[-1]) == 0 else None
    return seq, rest, lengths


def check_inputs(layer: Any, seq: tuple, states: list, lengths: Any,
                 carry_sizes: Sequence[int]) -> None:
    """Refuses a sequence that is not `(time, features)` per sample, initial states that do not
    fit the carry, and lengths that do not match `dynamic`."""
    if len(seq) != 2:
        raise layer.error("expected a 3-D input (batch, time, features).", shape=(None, *seq))
    want = [(size,) for size in carry_sizes]
    if states and [tuple(s) for s in states] != want:
        raise layer.error(f"the initial state must be {len(want)} tensor(s) of shapes "
                          f"{[(None, *s) for s in want]}.",
                          shapes=[(None, *s) for s in states])
    if layer.dynamic != (lengths is not None):
        raise layer.error("dynamic=True takes the sequence lengths as its last input (the "
                          "layer call adds them); dynamic=False takes none.",
                          dynamic=layer.dynamic)


def check_state_tensors(layer: Any, states: list, carry_sizes: Sequence[int], arg: str) -> None:
    """Refuses initial-state tensors of the wrong number or shape, naming `arg`."""
    for i, state in enumerate(states):
        expect_tensor(layer, f"{arg}[{i}]", state)
    want = [(None, size) for size in carry_sizes]
    got = [tuple(s.shape) for s in states]
    if got != want:
        raise layer.error(f"{arg} must be {len(want)} tensor(s) of shapes {want} (an LSTM's "
                          f"state is (c, h); Keras order [h, c] for the Keras classes' call).",
                          shapes=got)


def expect_tensor(layer: Any, arg: str, value: Any) -> None:
    """Refuses anything but a graph tensor for `arg`."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{layer.where}: expected the output of a previous layer as `{arg}` "
                        f"(start a network with `input_data(shape=[None, time, features])`). "
                        f"Received: {arg}={type(value).__name__}.")


def with_lengths(layer: Any, incoming: Tensor, states: list) -> list[Tensor]:
    """`[incoming, *states]`, plus the lengths node when `layer.dynamic`."""
    parents = [incoming, *states]
    if layer.dynamic:
        embedded = isinstance(incoming.layer, Embedding)
        parents.append(SequenceLength()(incoming.parents[0] if embedded else incoming))
    return parents


def tensor_list(value: Any) -> list:
    """`None`, a tensor, or nested lists/tuples of tensors, as a flat list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensor_list(item)]
    return [value]


def from_keras(states: list, order: Sequence[int]) -> list:
    """States given in Keras's order, in the cell's carry order (left alone if they do not
    fit: the layer's check then names the mismatch)."""
    if len(states) != len(order):
        return states
    carry: list = [None] * len(order)
    for k, j in enumerate(order):
        carry[j] = states[k]
    return carry


def drop(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    """Inverted dropout of a fraction `rate` of `x` (nothing without a key)."""
    if key is None or rate == 0.0:
        return x
    keep = 1.0 - rate
    return jnp.where(jax.random.bernoulli(key, keep, x.shape), x / keep, 0.0)
