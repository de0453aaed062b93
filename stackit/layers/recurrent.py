"""Recurrent layers, tflearn's module: `simple_rnn`, `lstm`, `gru`, `bidirectional_rnn`, the
cells, and the Keras-style classes they build (`SimpleRNN`, `LSTM`, `GRU`, `RNN`,
`Bidirectional`).

`return_seq=True` gives one `(batch, time, units)` tensor where tflearn gave a list of per-step
tensors; `dropout`, another recurrent layer and `fully_connected` (which flattens) take it.
`dynamic=True` reads the sequence lengths from the zero padding at the end: from the ids when
the layer follows an `embedding`, else from all-zero feature vectors. `return_state=True`
returns `(output, state)`, the state as TensorFlow gives it (`(c, h)` for an LSTM).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stackit.layers.base import Tensor
from stackit.layers.bidirectional import Bidirectional
from stackit.layers.naming import tflearn_name
from stackit.layers.rnn import (
    GRU,
    LSTM,
    RNN,
    Recurrent,
    SequenceLength,
    SimpleRNN,
    tensor_list,
)
from stackit.layers.rnn_cells import (
    BasicLSTMCell,
    BasicRNNCell,
    GRUCell,
    LSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
    RNNCell,
)

__all__ = [
    "simple_rnn", "lstm", "gru", "bidirectional_rnn", "retrieve_seq_length_op",
    "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "LSTMStateTuple",
    "SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional", "SequenceLength",
]


def drop_rates(fn: str, dropout: Any) -> tuple[float, float]:
    """tflearn's `dropout` (keep probabilities: one float, or `(input_keep, output_keep)`) as
    the layers' drop rates `(dropout, output_dropout)`."""
    if dropout is None:
        return 0.0, 0.0
    keeps = tuple(dropout) if isinstance(dropout, (list, tuple)) else (dropout, dropout)
    if len(keeps) != 2 or any(isinstance(k, bool) or not isinstance(k, (int, float))
                              for k in keeps):
        raise TypeError(f"{fn}: dropout must be a keep probability or a pair "
                        f"(input_keep_prob, output_keep_prob). Received: dropout={dropout!r}.")
    if not all(0.0 < k <= 1.0 for k in keeps):
        raise ValueError(f"{fn}: dropout keep probabilities must be in (0, 1]. "
                         f"Received: dropout={dropout!r}.")
    return 1.0 - keeps[0], 1.0 - keeps[1]


def tflearn_outputs(node: Tensor, groups: Sequence[RNNCell]) -> Any:
    """The node, or with several outputs tflearn's `(output, state, ...)`: one state per cell
    in `groups`, each as TensorFlow gives it (`(c, h)` for an LSTM)."""
    if node.n_outputs == 1:
        return node
    output, *carry = node.outputs
    states, start = [], 0
    for cell in groups:
        n = len(cell.carry_names)
        states.append(cell.group(carry[start:start + n]))
        start += n
    return (output, *states)


def _layer_args(fn: str, dropout: Any, return_seq: bool, return_state: bool, dynamic: bool,
                trainable: bool, restore: bool, name: str | None) -> dict[str, Any]:
    """The keyword arguments a tflearn function gives its layer."""
    rate_in, rate_out = drop_rates(fn, dropout)
    return {"return_sequences": return_seq, "return_state": return_state, "dynamic": dynamic,
            "dropout": rate_in, "output_dropout": rate_out, "trainable": trainable,
            "restore": restore, "name": name}


def _add(layer: Recurrent, incoming: Tensor, initial_state: Any, reuse: bool) -> Any:
    node = layer.connect(incoming, tensor_list(initial_state), reuse=reuse)
    return tflearn_outputs(node, [layer.rnn_cell()])


def simple_rnn(incoming: Tensor, n_units: int, activation: str | Callable = "sigmoid",
               dropout: Any = None, bias: bool = True, weights_init: Any = None,
               return_seq: bool = False, return_state: bool = False, initial_state: Any = None,
               dynamic: bool = False, trainable: bool = True, restore: bool = True,
               reuse: bool = False, scope: str | None = None,
               name: str | None = "SimpleRNN") -> Any:
    """Adds a `SimpleRNN`. `dropout`: keep probabilities, one float or `(input, output)`.

    Returns:
        The output `(batch, units)`, or `(batch, time, units)` with `return_seq` (tflearn's list
        of steps as one 3-D tensor); with `return_state`, `(output, state)`.
    """
    layer = SimpleRNN(n_units, activation, bias, weights_init, **_layer_args(
        "simple_rnn", dropout, return_seq, return_state, dynamic, trainable, restore,
        tflearn_name(name, scope, reuse, "SimpleRNN")))
    return _add(layer, incoming, initial_state, reuse)


def lstm(incoming: Tensor, n_units: int, activation: str | Callable = "tanh",
         inner_activation: str | Callable = "sigmoid", dropout: Any = None, bias: bool = True,
         weights_init: Any = None, forget_bias: float = 1.0, return_seq: bool = False,
         return_state: bool = False, initial_state: Any = None, dynamic: bool = False,
         trainable: bool = True, restore: bool = True, reuse: bool = False,
         scope: str | None = None, name: str | None = "LSTM") -> Any:
    """Adds an `LSTM`. `dropout`: keep probabilities, one float or `(input, output)`;
    `initial_state`: `(c, h)` tensors.

    Returns:
        The output `(batch, units)`, or `(batch, time, units)` with `return_seq` (tflearn's list
        of steps as one 3-D tensor); with `return_state`, `(output, (c, h))`.

    Example:
        net = input_data([None, 100])
        net = embedding(net, input_dim=10000, output_dim=128)
        net = lstm(net, 128, dropout=0.8, dynamic=True)          # (None, 128)
    """
    layer = LSTM(n_units, activation, inner_activation, bias, weights_init, forget_bias,
                 **_layer_args("lstm", dropout, return_seq, return_state, dynamic, trainable,
                               restore, tflearn_name(name, scope, reuse, "LSTM")))
    return _add(layer, incoming, initial_state, reuse)


def gru(incoming: Tensor, n_units: int, activation: str | Callable = "tanh",
        inner_activation: str | Callable = "sigmoid", dropout: Any = None, bias: bool = True,
        weights_init: Any = None, return_seq: bool = False, return_state: bool = False,
        initial_state: Any = None, dynamic: bool = False, trainable: bool = True,
        restore: bool = True, reuse: bool = False, scope: str | None = None,
        name: str | None = "GRU") -> Any:
    """Adds a `GRU`. `dropout`: keep probabilities, one float or `(input, output)`.

    Returns:
        The output `(batch, units)`, or `(batch, time, units)` with `return_seq`; with
        `return_state`, `(output, state)`.
    """
    layer = GRU(n_units, activation, inner_activation, bias, weights_init,
                **_layer_args("gru", dropout, return_seq, return_state, dynamic, trainable,
                              restore, tflearn_name(name, scope, reuse, "GRU")))
    return _add(layer, incoming, initial_state, reuse)


def retrieve_seq_length_op(data: Tensor, name: str | None = None) -> Tensor:
    """The length of each zero-padded sequence of `data` (see `SequenceLength`)."""
    return SequenceLength(name=name)(data)


def bidirectional_rnn(incoming: Tensor, rnncell_fw: RNNCell, rnncell_bw: RNNCell,
                      return_seq: bool = False, return_states: bool = False,
                      initial_state_fw: Any = None, initial_state_bw: Any = None,
                      dynamic: bool = False, scope: str | None = None,
                      name: str | None = "BiRNN", *, trainable: bool = True,
                      restore: bool = True, reuse: bool = False) -> Any:
    """Adds a `Bidirectional` of two cells: `rnncell_fw` reads the sequence forwards,
    `rnncell_bw` backwards; the outputs are concatenated on the last axis.

    Returns:
        The output `(batch, fw + bw units)`, or `(batch, time, fw + bw units)` with
        `return_seq`; with `return_states`, `(output, state_fw, state_bw)`.

    Example:
        net = bidirectional_rnn(net, BasicLSTMCell(128), BasicLSTMCell(128))  # (None, 256)
    """
    for arg, cell in (("rnncell_fw", rnncell_fw), ("rnncell_bw", rnncell_bw)):
        if not isinstance(cell, RNNCell):
            raise TypeError(f"bidirectional_rnn: {arg} must be an RNN cell (e.g. "
                            f"BasicLSTMCell(128)). Received: {arg}={cell!r}.")
    flags = {"return_sequences": return_seq, "return_state": return_states, "dynamic": dynamic}
    layer = Bidirectional(RNN(rnncell_fw, **flags, name="fw"),
                          backward_layer=RNN(rnncell_bw, **flags, name="bw"),
                          trainable=trainable, restore=restore,
                          name=tflearn_name(name, scope, reuse, "BiRNN"))
    node = layer.connect(incoming, tensor_list(initial_state_fw), tensor_list(initial_state_bw),
                         reuse=reuse)
    return tflearn_outputs(node, [rnncell_fw, rnncell_bw])
