"""The models of `run_all.py`'s cases, each written once as a spec and built three ways: plain
JAX (for `_common.ReferenceTrainer`), stackit and Keras 3.

A sequential spec is a tuple of layers:
`("conv", kernel, filters, strides, padding, activation)`, `("pool", kernel, strides, padding)`
(max pooling), `("lrn",)` (TensorFlow's local response normalization, radius 5, bias 1,
alpha 1e-4, beta .75), `("flatten",)`, `("dense", units, activation)`, `("dropout", keep_prob)`.
The last layer is a dense softmax; the JAX version returns its logits (the loss applies the
softmax). ResNet-32 has its own builders (`resnet`), since its blocks branch.

Not a script: `cases.py` imports it.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets KERAS_BACKEND, puts the checkout on sys.path)

import stackit  # noqa: E402
from stackit.layers.conv import conv_2d, global_avg_pool, max_pool_2d, residual_block  # noqa: E402
from stackit.layers.core import activation as activation_layer  # noqa: E402
from stackit.layers.core import dropout, flatten, fully_connected, input_data  # noqa: E402
from stackit.layers.estimator import regression  # noqa: E402
from stackit.layers.normalization import (  # noqa: E402
    batch_normalization,
    local_response_normalization,
)

MLP = (("dense", 256, "relu"), ("dense", 256, "relu"), ("dense", 10, "softmax"))
LENET = (("conv", 5, 6, 1, "same", "relu"), ("pool", 2, 2, "same"),
         ("conv", 5, 16, 1, "same", "relu"), ("pool", 2, 2, "same"), ("flatten",),
         ("dense", 120, "relu"), ("dense", 84, "relu"), ("dense", 10, "softmax"))
#: The convnet of TensorFlow's CNN tutorial (CIFAR-10), 'valid' padding as there.
TF_CNN = (("conv", 3, 32, 1, "valid", "relu"), ("pool", 2, 2, "valid"),
          ("conv", 3, 64, 1, "valid", "relu"), ("pool", 2, 2, "valid"),
          ("conv", 3, 64, 1, "valid", "relu"), ("flatten",),
          ("dense", 64, "relu"), ("dense", 10, "softmax"))
#: tflearn's examples/images/alexnet.py ('same' padding, tflearn's default).
ALEXNET = (("conv", 11, 96, 4, "same", "relu"), ("pool", 3, 2, "same"), ("lrn",),
           ("conv", 5, 256, 1, "same", "relu"), ("pool", 3, 2, "same"), ("lrn",),
           ("conv", 3, 384, 1, "same", "relu"), ("conv", 3, 384, 1, "same", "relu"),
           ("conv", 3, 256, 1, "same", "relu"), ("pool", 3, 2, "same"), ("lrn",),
           ("flatten",), ("dense", 4096, "tanh"), ("dropout", 0.5),
           ("dense", 4096, "tanh"), ("dropout", 0.5), ("dense", 17, "softmax"))

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "linear": lambda x: x,
               "softmax": lambda x: x}  # softmax: logits, the loss applies it


def lrn(x, ops, radius: int = 5, bias: float = 1.0, alpha: float = 1e-4, beta: float = 0.75):
    """TensorFlow's local response normalization over channels; `ops` is `jax.numpy` or
    `keras.ops`."""
    channels = x.shape[-1]
    squares = ops.pad(ops.square(x), [(0, 0), (0, 0), (0, 0), (radius, radius)])
    total = sum(squares[..., k:k + channels] for k in range(2 * radius + 1))
    return x / ops.power(bias + alpha * total, beta)


# -- plain JAX ------------------------------------------------------------------------------------

def _out_size(size: int, kernel: int, strides: int, padding: str) -> int:
    return -(-size // strides) if padding == "same" else (size - kernel) // strides + 1


def _dense_param(key, n_in: int, n_out: int) -> dict:
    """Truncated normal 0.02 and zero bias, as stackit's fully_connected."""
    w = 0.02 * jax.random.truncated_normal(key, -2.0, 2.0, (n_in, n_out), jnp.float32)
    return {"W": w, "b": jnp.zeros((n_out,), jnp.float32)}


def _conv_param(key, kernel: int, c_in: int, c_out: int) -> dict:
    """Uniform(+-sqrt(3 / fan_in)) and zero bias, as stackit's conv_2d."""
    limit = math.sqrt(3.0 / (kernel * kernel * c_in))
    w = jax.random.uniform(key, (kernel, kernel, c_in, c_out), jnp.float32, -limit, limit)
    return {"W": w, "b": jnp.zeros((c_out,), jnp.float32)}


def _conv(x, p, strides: int = 1, padding: str = "same"):
    y = lax.conv_general_dilated(x, p["W"], (strides, strides), padding.upper(),
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"]


def _pool(x, kernel: int, strides: int, padding: str, op=lax.max, init=-jnp.inf):
    return lax.reduce_window(x, init, op, (1, kernel, kernel, 1), (1, strides, strides, 1),
                             padding.upper())


def jax_sequential(spec, in_shape):
    """`(init_fn, logits_fn)` in `ReferenceTrainer`'s stateful form (the model state is empty;
    the key drives dropout)."""

    def init_fn(key):
        params, shape = [], tuple(in_shape)
        for layer, sub in zip(spec, jax.random.split(key, len(spec)), strict=True):
            kind = layer[0]
            if kind == "conv":
                _, kernel, filters, strides, padding, _ = layer
                params.append(_conv_param(sub, kernel, shape[-1], filters))
                side = _out_size(shape[0], kernel, strides, padding)
                shape = (side, side, filters)
            elif kind == "pool":
                side = _out_size(shape[0], *layer[1:])
                shape = (side, side, shape[-1])
            elif kind == "flatten":
                shape = (math.prod(shape),)
            elif kind == "dense":
                params.append(_dense_param(sub, math.prod(shape), layer[1]))
                shape = (layer[1],)
        return params, ()

    def logits_fn(params, state, x, key):
        weights = iter(params)
        for layer in spec:
            kind = layer[0]
            if kind == "conv":
                _, _, _, strides, padding, act = layer
                x = ACTIVATIONS[act](_conv(x, next(weights), strides, padding))
            elif kind == "pool":
                x = _pool(x, *layer[1:])
            elif kind == "lrn":
                x = lrn(x, jnp)
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif kind == "dense":
                p = next(weights)
                x = ACTIVATIONS[layer[2]](x @ p["W"] + p["b"])
            elif kind == "dropout":
                key, sub = jax.random.split(key)
                keep = jax.random.bernoulli(sub, layer[1], x.shape)
                x = jnp.where(keep, x / layer[1], 0.0)
        return x, state

    return init_fn, logits_fn


# -- stackit and Keras ----------------------------------------------------------------------------

def _regression(net, batch_size: int, optimizer: str, learning_rate: float, seed: int):
    net = regression(net, optimizer=optimizer, learning_rate=learning_rate,
                     loss="categorical_crossentropy", batch_size=batch_size)
    return stackit.DNN(net, seed=seed)  # DNN's defaults (clip_gradients=5.0)


def stackit_sequential(spec, in_shape, batch_size: int, optimizer: str = "adam",
                       learning_rate: float = _common.LEARNING_RATE, seed: int = 0) -> stackit.DNN:
    """The spec as a stackit model with `DNN`'s default arguments."""
    net = input_data(shape=[None, *in_shape])
    for layer in spec:
        kind = layer[0]
        if kind == "conv":
            _, kernel, filters, strides, padding, act = layer
            net = conv_2d(net, filters, kernel, strides=strides, padding=padding, activation=act)
        elif kind == "pool":
            net = max_pool_2d(net, layer[1], strides=layer[2], padding=layer[3])
        elif kind == "lrn":
            net = local_response_normalization(net)
        elif kind == "flatten":
            net = flatten(net)
        elif kind == "dense":
            net = fully_connected(net, layer[1], activation=layer[2])
        elif kind == "dropout":
            net = dropout(net, layer[1])
    return _regression(net, batch_size, optimizer, learning_rate, seed)


def keras_sequential(spec, in_shape):
    """`build() -> keras.Model` for the spec."""

    def build():
        import keras
        layers = [keras.Input(tuple(in_shape))]
        for layer in spec:
            kind = layer[0]
            if kind == "conv":
                _, kernel, filters, strides, padding, act = layer
                layers.append(keras.layers.Conv2D(filters, kernel, strides, padding,
                                                  activation=act))
            elif kind == "pool":
                layers.append(keras.layers.MaxPooling2D(layer[1], layer[2], layer[3]))
            elif kind == "lrn":
                layers.append(keras.layers.Lambda(lambda x: lrn(x, keras.ops)))
            elif kind == "flatten":
                layers.append(keras.layers.Flatten())
            elif kind == "dense":
                layers.append(keras.layers.Dense(layer[1], activation=layer[2]))
            elif kind == "dropout":
                layers.append(keras.layers.Dropout(1.0 - layer[1]))
        return keras.Sequential(layers)

    return build


# -- ResNet (tflearn's examples/images/residual_network_cifar10.py) --------------------------------

def resnet_plan(n: int) -> list[tuple[int, int]]:
    """(filters, strides) of each pre-activation block of a ResNet-(6n+2)."""
    return ([(16, 1)] * n + [(32, 2)] + [(32, 1)] * (n - 1)
            + [(64, 2)] + [(64, 1)] * (n - 1))


def _pad_channels(x, extra: int, ops):
    """Zero-pads `extra // 2` channels on each side (the shortcut of a widening block)."""
    return ops.pad(x, [(0, 0), (0, 0), (0, 0), (extra // 2, extra // 2)]) if extra else x


def jax_resnet(n: int, classes: int = 10, decay: float = 0.9, epsilon: float = 1e-5):
    """`(init_fn, logits_fn)` in the stateful form; the model state is the batch-norm moving
    means and variances, updated by each training step."""
    plan = resnet_plan(n)

    def init_fn(key):
        keys = iter(jax.random.split(key, 2 * len(plan) + 2))
        bn = lambda c: {"gamma": jnp.ones((c,)), "beta": jnp.zeros((c,))}  # noqa: E731
        stats = lambda c: (jnp.zeros((c,)), jnp.ones((c,)))  # noqa: E731
        params = {"conv": _conv_param(next(keys), 3, 3, 16), "blocks": []}
        state, c_in = [], 16
        for filters, _ in plan:
            params["blocks"].append({"bn1": bn(c_in), "conv1": _conv_param(next(keys), 3, c_in,
                                                                           filters),
                                     "bn2": bn(filters), "conv2": _conv_param(next(keys), 3,
                                                                              filters, filters)})
            state += [stats(c_in), stats(filters)]
            c_in = filters
        params["bn"], params["fc"] = bn(64), _dense_param(next(keys), 64, classes)
        return params, state + [stats(64)]

    def logits_fn(params, state, x, key):
        old, new = iter(state), []

        def bn_relu(x, p):
            mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
            moving_mean, moving_var = next(old)
            new.append((decay * moving_mean + (1 - decay) * mean,
                        decay * moving_var + (1 - decay) * var))
            return jax.nn.relu((x - mean) * lax.rsqrt(var + epsilon) * p["gamma"] + p["beta"])

        x = _conv(x, params["conv"])
        for p, (filters, strides) in zip(params["blocks"], plan, strict=True):
            h = _conv(bn_relu(x, p["bn1"]), p["conv1"], strides)
            h = _conv(bn_relu(h, p["bn2"]), p["conv2"])
            if strides > 1:  # average pooling
                x = _pool(x, strides, strides, "same", lax.add, 0.0) / (strides * strides)
            x = h + _pad_channels(x, filters - x.shape[-1], jnp)
        x = bn_relu(x, params["bn"]).mean((1, 2))
        return x @ params["fc"]["W"] + params["fc"]["b"], new

    return init_fn, logits_fn


def stackit_resnet(n: int, batch_size: int, learning_rate: float = 0.1, classes: int = 10,
                   seed: int = 0) -> stackit.DNN:
    """tflearn's example, with momentum at a constant learning rate."""
    net = input_data(shape=[None, 32, 32, 3])
    net = conv_2d(net, 16, 3, regularizer="L2", weight_decay=0.0001)
    net = residual_block(net, n, 16)
    net = residual_block(net, 1, 32, downsample=True)
    net = residual_block(net, n - 1, 32)
    net = residual_block(net, 1, 64, downsample=True)
    net = residual_block(net, n - 1, 64)
    net = activation_layer(batch_normalization(net), "relu")
    net = global_avg_pool(net)
    net = fully_connected(net, classes, activation="softmax")
    return _regression(net, batch_size, "momentum", learning_rate, seed)


def keras_resnet(n: int, classes: int = 10):
    """`build() -> keras.Model` of the same ResNet."""

    def build():
        import keras
        layers = keras.layers
        bn_relu = lambda t: layers.ReLU()(  # noqa: E731
            layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(t))
        inputs = keras.Input((32, 32, 3))
        x = layers.Conv2D(16, 3, padding="same")(inputs)
        for filters, strides in resnet_plan(n):
            h = layers.Conv2D(filters, 3, strides, "same")(bn_relu(x))
            h = layers.Conv2D(filters, 3, 1, "same")(bn_relu(h))
            if strides > 1:
                x = layers.AveragePooling2D(strides, strides, "same")(x)
            extra = filters - x.shape[-1]
            if extra:
                x = layers.Lambda(lambda t, e=extra: _pad_channels(t, e, keras.ops))(x)
            x = layers.Add()([h, x])
        x = layers.GlobalAveragePooling2D()(bn_relu(x))
        return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))

    return build
