"""Every exported name imports and is documented; tflearn's vocabulary exists on `stackit`."""

from __future__ import annotations

import importlib
import inspect

import pytest

import stackit

PACKAGES = ["stackit", "stackit.layers", "stackit.callbacks", "stackit.data_utils",
            "stackit.datasets", "stackit.losses", "stackit.metrics", "stackit.optimizers",
            "stackit.activations", "stackit.initializations", "stackit.regularizers",
            "stackit.variables", "stackit.layers.core", "stackit.layers.conv",
            "stackit.layers.normalization", "stackit.layers.estimator", "stackit.layers.base",
            "stackit.models", "stackit.utils", "stackit.generator", "stackit.schedules",
            "stackit.mixing"]
EXPORTS = [(module, name) for module in PACKAGES
           for name in importlib.import_module(module).__all__]


def _documented(obj) -> bool:
    doc = obj.__doc__   # not inspect.getdoc: a class must not borrow its base's docstring
    if not doc or not doc.strip():
        return False
    # A dataclass without a docstring gets its signature as __doc__.
    return not (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))


@pytest.mark.parametrize("module", PACKAGES)
def test_all_is_explicit_and_has_no_duplicates(module):
    names = importlib.import_module(module).__all__
    assert isinstance(names, list) and len(names) == len(set(names))


@pytest.mark.parametrize("module, name", EXPORTS, ids=[f"{m}.{n}" for m, n in EXPORTS])
def test_exported_name_imports_and_is_documented(module, name):
    obj = getattr(importlib.import_module(module), name)
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
        assert _documented(obj), f"{module}.{name} has no docstring"
    exec(f"from {module} import {name}", {})   # noqa: S102 - the import statement users write


TFLEARN_TOP_LEVEL = ["input_data", "fully_connected", "conv_2d", "max_pool_2d", "avg_pool_2d",
                     "dropout", "local_response_normalization", "batch_normalization",
                     "regression", "DNN", "SGD", "Momentum", "Adam", "RMSProp", "AdaGrad",
                     "AdaDelta", "Ftrl", "Nesterov", "init_graph", "flatten", "reshape",
                     "activation", "single_unit", "global_avg_pool"]


@pytest.mark.parametrize("name", TFLEARN_TOP_LEVEL)
def test_tflearn_top_level_names_exist(name):
    assert callable(getattr(stackit, name))


def test_tflearn_submodule_names_exist():
    assert inspect.isclass(stackit.metrics.Accuracy)
    assert inspect.isclass(stackit.metrics.Top_k)
    assert inspect.isclass(stackit.metrics.R2)
    assert callable(stackit.variables.get_layer_variables_by_name)
    assert stackit.objectives.categorical_crossentropy is stackit.losses.categorical_crossentropy


@pytest.mark.parametrize("module, names", [
    ("stackit.layers.core", ["input_data", "fully_connected", "dropout", "flatten", "reshape",
                             "activation", "single_unit"]),
    ("stackit.layers.conv", ["conv_2d", "max_pool_2d", "avg_pool_2d", "global_avg_pool",
                             "global_max_pool"]),
    ("stackit.layers.normalization", ["local_response_normalization", "batch_normalization"]),
    ("stackit.layers.estimator", ["regression"]),
])
def test_tflearn_module_paths(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is getattr(stackit, name)


def test_one_object_model_for_both_spellings():
    stackit.layers.reset_default_graph()
    net = stackit.input_data(shape=[None, 8, 8, 3])
    net = stackit.conv_2d(net, 4, 3, activation="relu")
    assert net.layer == stackit.layers.Conv2D(4, 3, activation="relu", name="Conv2D")
    net = stackit.conv_2d(net, 4, 3)
    assert net.layer.name == "Conv2D_1"   # tflearn's naming
    stackit.layers.reset_default_graph()
