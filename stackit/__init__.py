"""stackit: tflearn-style, Keras-familiar deep learning on JAX.

    import stackit
    net = stackit.input_data(shape=[None, 784])
    net = stackit.fully_connected(net, 64, activation='relu')
    net = stackit.fully_connected(net, 10, activation='softmax')
    net = stackit.regression(net)
    model = stackit.DNN(net)
    model.fit(X, Y, n_epoch=5)
"""

from stackit import (
                     _compile_cache,
                     activations,
                     callbacks,
                     data_augmentation,
                     data_preprocessing,
                     data_utils,
                     datasets,
                     distributed,
                     initializations,
                     layers,
                     losses,
                     metrics,
                     models,
                     optimizers,
                     regularizers,
                     schedules,
                     utils,
                     variables,
)
from stackit.activations import (
                     crelu,
                     elu,
                     leaky_relu,
                     linear,
                     prelu,
                     relu,
                     relu6,
                     selu,
                     sigmoid,
                     softmax,
                     softplus,
                     softsign,
                     tanh,
)
from stackit.config import init_graph
from stackit.data_augmentation import DataAugmentation, ImageAugmentation
from stackit.data_preprocessing import DataPreprocessing, ImagePreprocessing
from stackit.engine import NonFiniteLossError
from stackit.export import load_exported
from stackit.functional import Model, load_model
from stackit.generator import SequenceGenerator
from stackit.layers import *  # noqa: F403 - tflearn exposes every layer function at top level
from stackit.layers import __all__ as _layer_names
from stackit.layers import math_ops
from stackit.losses import Loss
from stackit.metrics import R2, Accuracy, Top_k
from stackit.mixing import CutMix, Mixup
from stackit.model import DNN, History
from stackit.optimizers import (
                     SGD,
                     AdaDelta,
                     AdaGrad,
                     Adam,
                     AdamW,
                     Ftrl,
                     Momentum,
                     Nesterov,
                     Optimizer,
                     ProximalAdaGrad,
                     RMSProp,
)
from stackit.plotting import plot_history
from stackit.sequential import Sequential
from stackit.session import Session
from stackit.utils import get_layer_by_name
from stackit.variables import get_layer_variables_by_name, get_layer_variables_by_scope

objectives = losses  # tflearn's module name for losses

_compile_cache.enable()  # reruns skip compiling (STACKIT_COMPILATION_CACHE=0 turns it off)

__version__ = "0.1.0"

__all__ = [
    *_layer_names,
    "activations", "callbacks", "data_utils", "datasets", "distributed", "initializations",
    "layers", "losses",
    "objectives", "metrics", "optimizers", "regularizers", "variables", "schedules",
    "init_graph", "DNN", "Model", "Sequential", "load_model", "load_exported", "History",
    "NonFiniteLossError",
    "SGD", "Momentum", "Nesterov", "Adam", "AdamW", "RMSProp", "AdaGrad", "AdaDelta", "Ftrl",
    "ProximalAdaGrad", "Optimizer", "get_layer_by_name",
    "Accuracy", "Top_k", "R2", "Loss", "get_layer_variables_by_name",
    "data_preprocessing", "data_augmentation", "ImagePreprocessing", "ImageAugmentation",
    "DataPreprocessing", "DataAugmentation", "Session", "get_layer_variables_by_scope",
    "math_ops", "utils", "models", "SequenceGenerator", "plot_history", "Mixup", "CutMix",
    "linear", "tanh", "sigmoid", "softmax", "softplus", "softsign", "relu", "relu6", "leaky_relu",
    "prelu", "elu", "crelu", "selu",
]
