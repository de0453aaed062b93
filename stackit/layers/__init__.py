"""Layers: Keras-style classes and tflearn's functions, one object model.

`stackit.layers.Conv2D(32, 3, activation='relu')` and
`stackit.layers.conv.conv_2d(net, 32, 3, activation='relu')` build the same descriptor.
"""

from stackit.layers.base import Layer, ParamRef, Tensor, layer_from_config
from stackit.layers.conv import (
    AvgPool2D,
    Conv2D,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool2D,
    PadChannels,
    avg_pool_2d,
    conv_2d,
    global_avg_pool,
    global_max_pool,
    max_pool_2d,
    residual_block,
)
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
from stackit.layers.math_ops import Operation
from stackit.layers.merge_ops import Merge, merge
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

LRN = LocalResponseNormalization
Lambda = CustomLayer  # Keras's spelling

__all__ = [
    "Layer", "Tensor", "ParamRef", "layer_from_config", "reset_default_graph",
    "InputData", "Input", "Dense", "Dropout", "Activation", "Flatten", "Reshape", "SingleUnit",
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool", "GlobalMaxPool",
    "BatchNormalization", "LocalResponseNormalization", "LRN", "Regression", "Merge",
    "PadChannels", "Operation", "Highway", "OneHotEncoding", "TimeDistributed", "CustomLayer",
    "CustomMergeLayer", "Lambda", "LeakyReLU", "PReLU", "LayerNormalization", "L2Normalize",
    "input_data", "fully_connected", "dropout", "activation", "flatten", "reshape",
    "single_unit", "conv_2d", "max_pool_2d", "avg_pool_2d", "global_avg_pool",
    "global_max_pool", "batch_normalization", "local_response_normalization", "regression",
    "merge", "residual_block", "variable_scope", "highway", "one_hot_encoding",
    "time_distributed", "custom_layer", "l2_normalize",
]


def __getattr__(name: str):
    """`Regression`/`regression` live in `stackit.estimator` (they use losses and optimizers,
    which layers do not import); they are reachable here, where tflearn had them."""
    if name in ("Regression", "regression"):
        from stackit import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'stackit.layers' has no attribute {name!r}")
