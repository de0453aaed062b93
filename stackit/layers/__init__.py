"""Layers: Keras-style classes and tflearn's functions, one object model.

`stackit.layers.Conv2D(32, 3, activation='relu')` and
`stackit.layers.conv.conv_2d(net, 32, 3, activation='relu')` build the same descriptor.
"""

from stackit.layers import conv, recurrent
from stackit.layers.base import Layer, ParamRef, Tensor, layer_from_config
from stackit.layers.conv import *  # noqa: F403 - every conv/pool layer and tflearn function
from stackit.layers.core import (
    Activation,
    CustomLayer,
    CustomMergeLayer,
    Dense,
    Dropout,
    Flatten,
    Highway,
    Input,
    InputData,
    LeakyReLU,
    OneHotEncoding,
    PReLU,
    Reshape,
    SingleUnit,
    TimeDistributed,
    activation,
    custom_layer,
    dropout,
    flatten,
    fully_connected,
    highway,
    input_data,
    one_hot_encoding,
    reshape,
    single_unit,
    time_distributed,
)
from stackit.layers.embedding_ops import Embedding, embedding
from stackit.layers.math_ops import Operation
from stackit.layers.merge_ops import Merge, merge, merge_outputs
from stackit.layers.naming import reset_default_graph, variable_scope
from stackit.layers.normalization import (
    BatchNormalization,
    L2Normalize,
    LayerNormalization,
    LocalResponseNormalization,
    batch_normalization,
    l2_normalize,
    local_response_normalization,
)
from stackit.layers.recurrent import *  # noqa: F403 - the recurrent layers, cells, functions

LRN = LocalResponseNormalization
Lambda = CustomLayer  # Keras's spelling

# `Regression`/`regression` are served by `__getattr__` below, which ruff cannot see past the
# star import above.
__all__ = [  # noqa: F405
    "Layer", "Tensor", "ParamRef", "layer_from_config", "reset_default_graph",
    "InputData", "Input", "Dense", "Dropout", "Activation", "Flatten", "Reshape", "SingleUnit",
    "BatchNormalization", "LocalResponseNormalization", "LRN", "Regression", "Merge",
    "Operation", "Highway", "OneHotEncoding", "TimeDistributed", "CustomLayer",
    "CustomMergeLayer", "Lambda", "LeakyReLU", "PReLU", "LayerNormalization", "L2Normalize",
    "input_data", "fully_connected", "dropout", "activation", "flatten", "reshape",
    "single_unit", "batch_normalization", "local_response_normalization", "regression",
    "merge", "merge_outputs", "variable_scope", "highway", "one_hot_encoding",
    "time_distributed", "custom_layer", "l2_normalize",
    "Embedding", "embedding",
    *conv.__all__,
    *recurrent.__all__,
]


def __getattr__(name: str):
    """`Regression`/`regression` live in `stackit.estimator` (they use losses and optimizers,
    which layers do not import); they are reachable here, where tflearn had them."""
    if name in ("Regression", "regression"):
        from stackit import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'stackit.layers' has no attribute {name!r}")
