"""The layer contract: frozen descriptors with pure `init`/`apply`; symbolic tensors chain them.

A layer is a small immutable description (hyperparameters + a unique name). It knows two pure
functions:

- `init(key, input_shape) -> (params, state, output_shape)`; shapes exclude the batch axis.
- `apply(params, state, x, *, training, key) -> (y, new_state)`.

Calling a layer on a `Tensor` (the output of `input_data(...)` or of another layer) returns a new
`Tensor`: this is how tflearn's `network = conv_2d(network, ...)` chains are built.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, cast

import jax
import jax.numpy as jnp
import numpy as np

from stackit import activations, initializations, regularizers
from stackit._registry import configurable, from_config, to_config
from stackit.layers import naming
from stackit.layers.naming import reset_default_graph
from stackit.precision import float_dtype

__all__ = ["Layer", "Output", "Tensor", "ParamRef", "reset_default_graph", "layer_from_config"]

Shape = tuple[int, ...]
#: The most values one parameter may hold (2**31 - 1, 8 GiB as float32): XLA indexes buffers
#: with 32-bit offsets on some backends, and a larger one would not fit in memory anyway.
MAX_PARAM_SIZE = 2**31 - 1
_SERIAL = itertools.count()  # creation order of tensors: inputs and estimators are ordered by it


def layer_name(layer: Layer) -> str:
    """`layer.name`, which `Layer.__post_init__` always sets (the field is None only as an
    argument, meaning "pick a unique default name")."""
    assert layer.name is not None
    return layer.name


class _WeightArgs(Protocol):
    """The hyperparameter fields of layers with weights (Dense, Conv2D)."""

    activation: Any
    weights_init: Any
    bias_init: Any
    regularizer: Any
    weight_decay: float


@dataclasses.dataclass(frozen=True)
class Layer:
    """Base class of every layer descriptor.

    Subclasses are frozen dataclasses. They set `default_name` (tflearn's name, used for
    parameter keys) and `fn_name` (the tflearn function, used in error messages), and override
    `output_shape` (parameter-free layers) or `init` (layers with parameters), plus `apply`.
    """

    name: str | None = dataclasses.field(default=None, kw_only=True)
    trainable: bool = dataclasses.field(default=True, kw_only=True)
    restore: bool = dataclasses.field(default=True, kw_only=True)

    default_name: ClassVar[str] = "Layer"
    fn_name: ClassVar[str] = "layer"
    #: How many tensors the layer takes: 1, 0 (a graph input) or -1 (a list of 2 or more).
    n_inputs: ClassVar[int] = 1
    #: Whether `apply` accepts `mask=` (batch,), 1 for real samples, 0 for padding rows.
    uses_mask: ClassVar[bool] = False
    #: Whether its training step is much slower inside `lax.scan` on XLA:CPU (convolutions).
    cpu_scan_slow: ClassVar[bool] = False
    #: Whether it marks an output trained against targets (`regression`).
    is_estimator: ClassVar[bool] = False
    #: Whether an `activation` field is applied last (`y = activation(...)`), so a loss may run
    #: the layer with `activation='linear'` to get logits.
    activation_last: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        configurable(cls)

    def __post_init__(self):
        for field in dataclasses.fields(self):  # hashable, JSON-friendly hyperparameters
            value = getattr(self, field.name)
            plain = _plain(value)
            if plain is not value:
                object.__setattr__(self, field.name, plain)
        object.__setattr__(self, "auto_named", self.name is None)
        if self.name is None:
            object.__setattr__(self, "name", naming.unique_name(self.default_name))
        elif not isinstance(self.name, str) or not self.name:
            raise TypeError(f"{self.fn_name}: name must be a non-empty string. "
                            f"Received: name={self.name!r}.")
        elif not self.name.startswith(naming.scoped("")):  # an explicit name inside a scope
            object.__setattr__(self, "name", naming.scoped(self.name))
        for flag in ("trainable", "restore"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{self.fn_name} {self.name!r}: {flag} must be a bool. "
                                f"Received: {flag}={getattr(self, flag)!r}.")
        self.check()

    # -- contract ------------------------------------------------------------------------------
    @property
    def out_batched(self) -> bool:
        """Whether the output keeps the batch axis (False only for reductions over it)."""
        return True

    @property
    def n_outputs(self) -> int:
        """How many arrays `apply` returns: 1 (one array), or more (a tuple of arrays, and
        `init` returns a tuple of output shapes). Each output of such a layer is read through
        its own tensor, `Tensor.outputs[i]`."""
        return 1

    def check(self) -> None:
        """Validates hyperparameters at construction. Raise ValueError/TypeError with context."""

    def output_shape(self, input_shape: Shape) -> Shape:
        """Per-sample output shape for a per-sample input shape (no batch axis)."""
        return input_shape

    def init(self, key: jax.Array, input_shape: Shape) -> tuple[dict, dict, Shape]:
        """Creates `(params, state, output_shape)` for a per-sample `input_shape`."""
        del key
        return {}, {}, self.output_shape(tuple(input_shape))

    def apply(self, params: dict, state: dict, x: jax.Array, *, training: bool,
              key: jax.Array | None) -> tuple[jax.Array, dict]:
        """Computes the layer's output for a batch `x`; returns `(y, new_state)`."""
        raise NotImplementedError

    def check_weight_args(self) -> None:
        """Resolves `activation`, `weights_init`, `bias_init` and `regularizer` (the fields of
        layers with weights), so an unknown name fails when the layer is created, and refuses
        a negative `weight_decay`."""
        layer = cast(_WeightArgs, self)
        activations.get(layer.activation)
        initializations.get(layer.weights_init)
        initializations.get(layer.bias_init)
        if layer.regularizer is not None:
            regularizers.get(layer.regularizer)
        decay = layer.weight_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float)):
            raise TypeError(f"{self.fn_name} {self.name!r}: weight_decay must be a number. "
                            f"Received: weight_decay={decay!r}.")
        if not decay >= 0:
            raise self.error("weight_decay must be >= 0 (0 disables the penalty).",
                             weight_decay=decay)

    def penalty(self, params: dict) -> jax.Array | float:
        """The weight-decay term this layer adds to the loss; 0 unless overridden (layers with
        weights return `regularizer(W, weight_decay)` through `weight_penalty`)."""
        del params
        return 0.0

    def weight_penalty(self, params: dict) -> jax.Array | float:
        """`regularizer(W, weight_decay)` for layers with those fields (Dense, Conv2D)."""
        layer = cast(_WeightArgs, self)
        if layer.regularizer is None:
            return 0.0
        return regularizers.get(layer.regularizer)(params["W"], layer.weight_decay)

    # -- helpers for subclasses ----------------------------------------------------------------
    def error(self, message: str, **received: Any) -> ValueError:
        """A ValueError worded "fn 'Name': message. Received: k=v." for this layer."""
        tail = ", ".join(f"{k}={v!r}" for k, v in received.items())
        return ValueError(f"{self.fn_name} {self.name!r}: {message}"
                          + (f" Received: {tail}." if tail else ""))

    def expect_rank(self, input_shape: Shape, rank: int, layout: str) -> None:
        """Refuses an input whose per-sample rank is not `rank` (`layout` names the axes)."""
        if len(input_shape) != rank:
            raise self.error(f"expected a {rank + 1}-D input ({layout}).",
                             shape=(None, *input_shape))

    # -- config and graph building -------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """A JSON-friendly description: `{'type': class name, **hyperparameters}`."""
        return to_config(self)

    def __call__(self, incoming: Tensor | Sequence[Tensor], *, reuse: bool = False) -> Tensor:
        """Connects this layer to `incoming` (a tensor, or a list of them for layers that take
        several) and returns its symbolic output.

        With `reuse=True` (or inside `variable_scope(..., reuse=True)`), the layer already built
        under this name is applied instead, so both calls share one set of parameters.
        """
        layer = self
        if reuse or naming.reuse_active():
            layer = self._reused()
        if self.n_inputs == -1:
            if not isinstance(incoming, (list, tuple)) or len(incoming) < 2:
                raise TypeError(f"{self.fn_name} {self.name!r}: expected a list of 2 or more "
                                f"tensors. Received: incoming={incoming!r}.")
            parents = tuple(incoming)
        else:
            parents = (incoming,)  # type: ignore[assignment]
        for parent in parents:
            if not isinstance(parent, Tensor):
                raise TypeError(
                    f"{self.fn_name} {self.name!r}: expected the output of a previous layer as "
                    f"`incoming` (start a network with `input_data(shape=[None, ...])`). "
                    f"Received: incoming={type(parent).__name__}.")
        return Tensor(layer, parents)

    def _reused(self) -> Layer:
        """The registered layer this one reuses (same name, same type)."""
        existing = naming.registered(layer_name(self))
        if existing is None:
            raise ValueError(f"{self.fn_name}: reuse=True, but no layer named {self.name!r} has "
                             f"been built yet to reuse. Build it once without reuse (same scope "
                             f"and order), then again with reuse=True.")
        if type(existing) is not type(self):
            raise ValueError(f"{self.fn_name}: reuse=True names {self.name!r}, which is a "
                             f"{type(existing).__name__}, not a {type(self).__name__}.")
        return existing


def _plain(value: Any) -> Any:
    """Lists → tuples (so descriptors stay hashable) and numpy scalars → Python numbers (so
    `fully_connected(net, np.prod(shape))` works and its config is JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        if isinstance(value, tuple) and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items)
    return value


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuilds a layer from `Layer.get_config()` output.

    Raises:
        ValueError: If the config names an unknown type.
    """
    return from_config(config)


@dataclasses.dataclass(frozen=True)
class Output(Layer):
    """Output `index` of a layer that yields several (`Layer.n_outputs > 1`), as a tensor.

    `Tensor.outputs` makes these nodes; each is named `<layer>:<index>`, as TensorFlow names an
    operation's outputs, and forwards parameter handles to the layer (`out.W`).
    """

    index: int = 0
    default_name = "Output"
    fn_name = "output"

    def check(self):
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise self.error("index must be an int >= 0.", index=self.index)

    def init(self, key, input_shape):
        del key
        if self.index >= len(input_shape) or not isinstance(input_shape[self.index], tuple):
            raise self.error("expected the outputs of a layer that yields more than "
                             f"{self.index} outputs.", shapes=input_shape)
        return {}, {}, tuple(input_shape[self.index])

    def apply(self, params, state, x, *, training, key):
        del params, training, key
        return x[self.index], state


def _output_layer(of: str, index: int) -> Output:
    """The `Output` layer for output `index` of layer `of`: one object per name, so the outputs
    of a shared layer's several calls share it (as every shared layer must)."""
    name = f"{of}:{index}"
    existing = naming.registered(name)
    if isinstance(existing, Output) and existing.index == index:
        return existing
    return Output(index, name=name)


@dataclasses.dataclass(frozen=True)
class ParamRef:
    """A handle on one parameter of one layer, e.g. `fully_connected(...).W`.

    `model.get_weights(ref)` and `model.set_weights(ref, value)` accept it.
    """

    layer: str
    param: str

    def __repr__(self) -> str:
        return f"ParamRef('{self.layer}/{self.param}')"

    @classmethod
    def of(cls, value: Any, what: str = "Expected") -> ParamRef:
        """`value` as a handle: a `ParamRef`, or a `'layer/param'` string (layer names may hold
        '/' from scopes; the parameter is after the last one).

        Raises:
            TypeError: For anything else; the message starts with `what`.
        """
        if isinstance(value, str) and "/" in value:
            layer, param = value.rsplit("/", 1)
            return cls(layer, param)
        if not isinstance(value, ParamRef):
            raise TypeError(f"{what} a parameter handle such as `dense.W` or "
                            f"'FullyConnected/W'. Received: {value!r}.")
        return value


class TensorShape(tuple):
    """A shape tuple with tflearn/TensorFlow's `as_list()`."""

    def as_list(self) -> list:
        return list(self)


class Tensor:
    """The symbolic output of a layer in a graph of layer calls.

    Attributes:
        layer: The layer that produced this tensor.
        parents: The tensors the layer was applied to (none for `input_data`).
        shape: The output shape, batch axis first (`None`).
        input_shapes: The per-sample shapes of the parents (for a shared layer, every call
            must match the first).
    """

    def __init__(self, layer: Layer, parents: tuple[Tensor, ...] = (),
                 input_shape: Shape | None = None):
        self.layer = layer
        self.parents = tuple(parents)
        self.children: list[Tensor] = []
        self.serial = next(_SERIAL)
        self.n_outputs: int = layer.n_outputs
        for parent in self.parents:
            if parent.n_outputs > 1 and not isinstance(layer, Output):
                raise TypeError(
                    f"{layer.fn_name} {layer.name!r}: its input {parent.name!r} "
                    f"({type(parent.layer).__name__}) yields {parent.n_outputs} outputs; connect "
                    f"one of them (e.g. `output, *states = ...`, or `tensor.outputs[0]`).")
        if layer.n_inputs == 0:
            in_shape: Any = tuple(input_shape or ())
        elif layer.n_inputs == -1:
            in_shape = [p.sample_shape for p in self.parents]
        else:
            in_shape = self.parents[0].sample_shape
        self.input_shapes = in_shape
        found: dict[str, Any] = {}

        def trace(key):
            params, state, out = layer.init(key, in_shape)
            found["shape"] = tuple(out)
            return params, state

        params, _ = jax.eval_shape(trace, jax.random.PRNGKey(0))
        for param, value in params.items():
            size = math.prod(getattr(value, "shape", ()))
            if size > MAX_PARAM_SIZE:
                raise layer.error(
                    f"parameter {param} of shape {tuple(value.shape)} would hold {size:,} values, "
                    f"more than the {MAX_PARAM_SIZE:,} a parameter may hold (8 GiB as "
                    f"float32). Use fewer units or filters, or a smaller input.",
                    input_shape=(None, *in_shape) if layer.n_inputs == 1 else in_shape)
        self.batched = layer.out_batched
        if self.n_outputs > 1:  # one shape per output
            shapes = [tuple(s) for s in found["shape"]]
            if len(shapes) != self.n_outputs:
                raise layer.error(f"init returned {len(shapes)} output shapes for "
                                  f"{self.n_outputs} outputs.")
            self.shape: TensorShape = TensorShape(
                TensorShape((None, *s) if self.batched else s) for s in shapes)
        else:
            self.shape = TensorShape((None, *found["shape"]) if self.batched
                                     else found["shape"])
        self.param_shapes = {k: tuple(v.shape) for k, v in params.items()
                             if hasattr(v, "shape")}
        for parent in self.parents:
            parent.children.append(self)
        naming.register(layer, tuple(self.param_shapes), self)

    @property
    def sample_shape(self) -> Shape:
        """The shape of one sample (the shape without the batch axis); for a layer with several
        outputs, a tuple of them."""
        if self.n_outputs > 1:
            return cast(Shape, tuple(tuple(s[1:]) if self.batched else tuple(s)
                                     for s in self.shape))
        return tuple(self.shape[1:]) if self.batched else tuple(self.shape)

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        """One tensor per output: `(self,)` for a layer with one output; for a layer with
        several (an LSTM with `return_state=True`), tensors of `Output` nodes, made once."""
        if self.n_outputs == 1:
            return (self,)
        made = self.__dict__.get("_outputs")
        if made is None:
            made = tuple(Tensor(_output_layer(self.name, i), (self,))
                         for i in range(self.n_outputs))
            self.__dict__["_outputs"] = made
        return made

    # Arithmetic builds graph nodes, as on TensorFlow tensors. The builders live in
    # stackit.layers.math_ops, which installs itself here when imported (with stackit.layers).
    arithmetic: ClassVar[Any] = None

    def __add__(self, other):
        return self.arithmetic.add(self, other)

    def __radd__(self, other):
        return self.arithmetic.add(other, self)

    def __sub__(self, other):
        return self.arithmetic.subtract(self, other)

    def __rsub__(self, other):
        return self.arithmetic.subtract(other, self)

    def __mul__(self, other):
        return self.arithmetic.multiply(self, other)

    def __rmul__(self, other):
        return self.arithmetic.multiply(other, self)

    def __truediv__(self, other):
        return self.arithmetic.divide(self, other)

    def __rtruediv__(self, other):
        return self.arithmetic.divide(other, self)

    def __neg__(self):
        return self.arithmetic.negative(self)

    @property
    def parent(self) -> Tensor | None:
        """The first parent (None for an input)."""
        return self.parents[0] if self.parents else None

    @property
    def name(self) -> str:
        return layer_name(self.layer)

    def get_shape(self) -> TensorShape:
        """The output shape, batch axis first, as tflearn's `get_shape()`."""
        return self.shape

    def __getattr__(self, attr: str) -> ParamRef:
        shapes = self.__dict__.get("param_shapes", {})
        if attr in shapes:
            return ParamRef(self.name, attr)
        if isinstance(self.__dict__.get("layer"), Output) and not attr.startswith("__"):
            return getattr(self.__dict__["parents"][0], attr)  # the producing layer's handles
        raise AttributeError(f"{type(self.layer).__name__} {self.layer.name!r} has no attribute "
                             f"{attr!r} (parameters: {sorted(shapes) or 'none'}).")

    def __repr__(self) -> str:
        return f"<Tensor {self.layer.name} shape={tuple(self.shape)}>"


def flat_size(shape: Sequence[int]) -> int:
    """Number of values in one sample of `shape`."""
    return math.prod(shape)


def activated_shape(activation: Any, shape: Shape) -> Shape:
    """Per-sample shape after `activation` (most keep the shape; `'crelu'` doubles channels)."""
    out = jax.eval_shape(activations.get(activation), jax.ShapeDtypeStruct((1, *shape),
                                                                           jnp.float32))
    return tuple(out.shape[1:])


def channels_last(v: jax.Array, ndim: int) -> jax.Array:
    """Reshapes a per-channel vector `(c,)` to broadcast over a rank-`ndim` batch explicitly."""
    return v.reshape((1,) * (ndim - v.ndim) + v.shape)


def as_float(x: jax.Array) -> jax.Array:
    """Casts integer inputs to the compute dtype (float32, or a mixed-precision model's
    `stackit.precision.float_dtype()`) and leaves floats alone."""
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(float_dtype())
