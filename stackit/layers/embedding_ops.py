"""Embedding: token ids → learned vectors (tflearn's `embedding`, Keras's `Embedding`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp

from stackit import initializations
from stackit.layers.base import Layer, Tensor
from stackit.layers.naming import tflearn_name

__all__ = ["Embedding", "embedding"]


@dataclasses.dataclass(frozen=True)
class Embedding(Layer):
    """Looks up a learned vector for each id: `y[b, t] = W[ids[b, t]]`.

    Float ids are cast to int32 (truncated, as tflearn casts them). An id outside
    `[0, input_dim)` (negative or too large) embeds to a vector of zeros, and its gradient is
    dropped: TensorFlow's behaviour on GPU; a compiled step cannot raise on a value.

    Args:
        input_dim: Vocabulary size (ids run from 0 to `input_dim - 1`).
        output_dim: Size of each vector.
        validate_indices: Accepted for tflearn compatibility; out-of-range ids embed to zeros
            either way. Defaults to `False`.
        weights_init: Initializer of `W`. Defaults to `'truncated_normal'`.

    Input shape: `(batch, ids)`, float or int. Output shape: `(batch, ids, output_dim)`.
    Parameters: `W`, shape `(input_dim, output_dim)`.

    Example: `Embedding(10000, 128)` or `embedding(net, input_dim=10000, output_dim=128)`.
    """

    input_dim: int = 1
    output_dim: int = 1
    validate_indices: bool = False
    weights_init: str | Callable = "truncated_normal"
    default_name = "Embedding"
    fn_name = "embedding"

    def check(self):
        for arg in ("input_dim", "output_dim"):
            value = getattr(self, arg)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"embedding {self.name!r}: {arg} must be a positive int. "
                                f"Received: {arg}={value!r}.")
            if value < 1:
                raise self.error(f"{arg} must be a positive int.", **{arg: value})
        if not isinstance(self.validate_indices, bool):
            raise TypeError(f"embedding {self.name!r}: validate_indices must be a bool. "
                            f"Received: validate_indices={self.validate_indices!r}.")
        try:
            initializations.get(self.weights_init)
        except (ValueError, TypeError) as err:
            raise type(err)(f"embedding {self.name!r}: weights_init: {err}") from None

    def init(self, key, input_shape):
        self.expect_rank(input_shape, 1, "batch, ids")
        w = initializations.get(self.weights_init)(key, (self.input_dim, self.output_dim))
        return {"W": w}, {}, (input_shape[0], self.output_dim)

    def apply(self, params, state, x, *, training, key):
        del training, key
        ids = x if jnp.issubdtype(x.dtype, jnp.integer) else x.astype(jnp.int32)
        inside = (ids >= 0) & (ids < self.input_dim)
        ids = jnp.where(inside, ids, self.input_dim)  # one past the end: filled with zeros
        return jnp.take(params["W"], ids, axis=0, mode="fill", fill_value=0), state


def embedding(incoming: Tensor, input_dim: int, output_dim: int, validate_indices: bool = False,
              weights_init: str | Callable = "truncated_normal", trainable: bool = True,
              restore: bool = True, reuse: bool = False, scope: str | None = None,
              name: str | None = "Embedding") -> Tensor:
    """Adds an `Embedding` of ids `incoming` (batch, ids) → (batch, ids, output_dim).

    A recurrent layer with `dynamic=True` right after it takes the sequence lengths from these
    ids (0 is padding). See `Embedding` for the arguments.

    Example:
        net = input_data(shape=[None, 100])
        net = embedding(net, input_dim=10000, output_dim=128)     # (None, 100, 128)
    """
    return Embedding(input_dim, output_dim, validate_indices, weights_init, trainable=trainable,
                     restore=restore, name=tflearn_name(name, scope, reuse, "Embedding"))(
        incoming, reuse=reuse)
