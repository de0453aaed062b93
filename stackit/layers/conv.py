"""tflearn's `layers.conv` module: convolution, pooling and residual blocks in one place."""

from stackit.layers.convolution import (
    AvgPool2D,
    Conv2D,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool2D,
    avg_pool_2d,
    conv_2d,
    global_avg_pool,
    global_max_pool,
    max_pool_2d,
)
from stackit.layers.residual import PadChannels, residual_block

__all__ = [
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool", "GlobalMaxPool", "PadChannels",
    "residual_block",
    "conv_2d", "max_pool_2d", "avg_pool_2d", "global_avg_pool", "global_max_pool",
]
