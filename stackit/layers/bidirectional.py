"""Bidirectional recurrence (Keras's `Bidirectional`, the object tflearn's `bidirectional_rnn`
builds): a sequence read forwards and backwards, the two outputs joined."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp

from stackit.layers import naming
from stackit.layers.base import Layer, Tensor, as_float
from stackit.layers.rnn import (
    Recurrent,
    ZeroState,
    check_inputs,
    check_state_tensors,
    expect_tensor,
    from_keras,
    split_inputs,
    tensor_list,
    with_lengths,
)
from stackit.layers.rnn_cells import reverse_sequences

__all__ = ["Bidirectional", "MERGE_MODES"]

MERGE_MODES = ("concat", "sum", "mul", "ave")


@dataclasses.dataclass(frozen=True)
class Bidirectional(Layer):
    """Runs `layer` over the sequence and `backward_layer` over it reversed (each padded
    sequence within its length), and joins the outputs with `merge_mode`.

    With `return_sequences`, step t joins the forward output at t with the backward output at
    t (which has read steps t to the end). Without, it joins the forward output at the last
    (real) step with the backward output after the whole sequence (Keras's choice; tflearn's
    static RNN took the backward output at the last step, which has read one step).

    Args:
        layer: The forward recurrent layer (`LSTM(64)`, `RNN(BasicLSTMCell(64))`); its
            `return_sequences`, `return_state`, `dynamic` hold for both directions, its
            `go_backwards` is ignored.
        merge_mode: `'concat'` (last axis), `'sum'`, `'mul'` or `'ave'`. Defaults to `'concat'`.
        backward_layer: The backward layer, with the same flags. Defaults to `None` (another
            `layer`, with its own parameters).

    Input shape: `(batch, time, features)`. Output shape: `(batch, [time,] fw + bw units)` for
    `'concat'`, else `(batch, [time,] units)`. Parameters: the forward layer's with the prefix
    `fw_` (`fw_W`, `fw_U`, `fw_b`), the backward layer's with `bw_`. With `return_state`, the
    outputs are the output, the forward carry and the backward carry.

    Example: `Bidirectional(LSTM(128))` or
    `bidirectional_rnn(net, BasicLSTMCell(128), BasicLSTMCell(128))`.
    """

    layer: Recurrent | None = None
    merge_mode: str = "concat"
    backward_layer: Recurrent | None = None
    default_name = "BiRNN"
    fn_name = "bidirectional_rnn"
    n_inputs = -1
    activation_last = False

    def check(self):
        for arg in ("layer", "backward_layer"):
            value = getattr(self, arg)
            if (value is not None or arg == "layer") and not isinstance(value, Recurrent):
                raise TypeError(f"{self.where}: {arg} must be a recurrent layer (e.g. LSTM(64))."
                                f" Received: {arg}={value!r}.")
        if self.merge_mode not in MERGE_MODES:
            raise self.error(f"merge_mode must be one of {MERGE_MODES}.",
                             merge_mode=self.merge_mode)
        fw, bw = self.directions
        for flag in ("return_sequences", "return_state", "dynamic"):
            if getattr(fw, flag) != getattr(bw, flag):
                raise self.error(f"layer and backward_layer must agree on {flag}.",
                                 **{flag: (getattr(fw, flag), getattr(bw, flag))})
        sizes = (fw.rnn_cell().output_size, bw.rnn_cell().output_size)
        if self.merge_mode != "concat" and sizes[0] != sizes[1]:
            raise self.error(f"merge_mode={self.merge_mode!r} needs two directions of one "
                             f"width (or use 'concat').", units=sizes)

    @property
    def where(self) -> str:
        return f"{self.fn_name} {self.name!r}"

    @property
    def directions(self) -> tuple[Recurrent, Recurrent]:
        """(forward layer, backward layer)."""
        assert self.layer is not None  # check refused None
        return self.layer, self.backward_layer or self.layer

    @property
    def return_sequences(self) -> bool:
        return self.directions[0].return_sequences

    @property
    def return_state(self) -> bool:
        return self.directions[0].return_state

    @property
    def dynamic(self) -> bool:
        return self.directions[0].dynamic

    @property
    def n_outputs(self) -> int:
        if not self.return_state:
            return 1
        return 1 + sum(len(d.rnn_cell().carry_names) for d in self.directions)

    def init(self, key, input_shape):
        seq, states, lengths = split_inputs(list(input_shape), len)
        fw, bw = (d.rnn_cell() for d in self.directions)
        sizes = (*fw.carry_sizes, *bw.carry_sizes)
        check_inputs(self, seq, states, lengths, sizes)
        fw_key, bw_key = jax.random.split(key)
        params = {f"fw_{k}": v for k, v in fw.init(fw_key, seq[-1]).items()}
        params.update({f"bw_{k}": v for k, v in bw.init(bw_key, seq[-1]).items()})
        width = fw.output_size + (bw.output_size if self.merge_mode == "concat" else 0)
        out: Any = (seq[0], width) if self.return_sequences else (width,)
        if self.return_state:
            out = (out, *((size,) for size in sizes))
        return params, {}, out

    def apply(self, params, state, x, *, training, key):
        seq, states, lengths = split_inputs(list(x), lambda a: a.ndim - 1)
        seq = as_float(seq)
        fw, bw = self.directions
        n_fw = len(fw.rnn_cell().carry_names)
        fw_key, bw_key = jax.random.split(key) if key is not None else (None, None)
        y_fw, c_fw = fw.run(_prefixed(params, "fw_"), seq, states[:n_fw], lengths,
                            training=training, key=fw_key, backwards=False)
        y_bw, c_bw = bw.run(_prefixed(params, "bw_"), seq, states[n_fw:], lengths,
                            training=training, key=bw_key, backwards=True)
        if self.return_sequences:  # back in time order
            y_bw = reverse_sequences(y_bw, lengths)
        y = _merge(self.merge_mode, y_fw, y_bw)
        return ((y, *c_fw, *c_bw) if self.return_state else y), state

    def connect(self, incoming: Tensor, initial_state_fw: Sequence[Tensor] = (),
                initial_state_bw: Sequence[Tensor] = (), *, reuse: bool = False) -> Tensor:
        """The layer's node on `incoming`. Initial states are in the cells' carry order; a
        missing side starts from zeros when the other is given."""
        layer = cast(Bidirectional, self._reused()) if reuse or naming.reuse_active() else self
        expect_tensor(layer, "incoming", incoming)
        fw, bw = (d.rnn_cell() for d in layer.directions)
        fw_states, bw_states = list(initial_state_fw), list(initial_state_bw)
        if fw_states or bw_states:
            fw_states = fw_states or [ZeroState(n)(incoming) for n in fw.carry_sizes]
            bw_states = bw_states or [ZeroState(n)(incoming) for n in bw.carry_sizes]
            check_state_tensors(layer, fw_states, fw.carry_sizes, "initial_state_fw")
            check_state_tensors(layer, bw_states, bw.carry_sizes, "initial_state_bw")
        return Tensor(layer, tuple(with_lengths(layer, incoming, [*fw_states, *bw_states])))

    def __call__(self, incoming, *, initial_state=None,  # type: ignore[override]
                 reuse: bool = False) -> Tensor | list[Tensor]:
        """Keras's call: `initial_state` is the forward then the backward states, each in
        Keras's order; with `return_state`, returns `[output, *forward, *backward]` so."""
        fw, bw = (d.rnn_cell() for d in self.directions)
        given, n = tensor_list(initial_state), len(fw.carry_names)
        node = self.connect(incoming, from_keras(given[:n], fw.keras_order),
                            from_keras(given[n:], bw.keras_order), reuse=reuse)
        if node.n_outputs == 1:
            return node
        output, *carry = node.outputs
        return [output, *(carry[j] for j in fw.keras_order),
                *(carry[n + j] for j in bw.keras_order)]


def _prefixed(params: dict, prefix: str) -> dict:
    """The parameters named `prefix...`, without the prefix."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def _merge(mode: str, a: jax.Array, b: jax.Array) -> jax.Array:
    if mode == "concat":
        return jnp.concatenate([a, b], axis=-1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    return (a + b) / 2.0
