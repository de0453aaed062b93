"""Where tflearn's modules and names live in stackit: the tables the import hook and the scan
share, and `Aliases`, which turns a tflearn module path into the stackit module that serves it.

Most tflearn paths map to the same path under `stackit` (`tflearn.layers.core` is
`stackit.layers.core`, the very module object). A few map elsewhere (`MODULES`), a few are
absent (`MISSING_MODULES`, each with the reason), and a few are served by an `AliasModule`: a
view of the stackit module plus names tflearn had there (`EXTRAS`, `REEXPORTS`).
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__all__ = ["Aliases", "AliasModule", "ALIASES", "MODULES", "MISSING_MODULES", "EXTRAS",
           "REEXPORTS", "TFLEARN_MODULES", "name_hint", "is_tflearn"]

# Every module path of tflearn 0.5 (its package layout; the scan and the views use it to tell
# a submodule from a name).
TFLEARN_MODULES = frozenset(f"tflearn.{m}" if m else "tflearn" for m in (
    "", "activations", "callbacks", "collections", "config", "data_augmentation", "data_flow",
    "data_preprocessing", "data_utils", "datasets", "datasets.cifar10", "datasets.cifar100",
    "datasets.fashion_mnist", "datasets.imdb", "datasets.mnist", "datasets.oxflower17",
    "datasets.svhn", "datasets.titanic", "distances", "estimators", "estimators.base",
    "estimators.cluster", "estimators.cluster.kmeans", "estimators.ensemble",
    "estimators.ensemble.forest", "helpers", "helpers.evaluator", "helpers.generator",
    "helpers.regularizer", "helpers.summarizer", "helpers.trainer", "initializations", "layers",
    "layers.conv", "layers.core", "layers.embedding_ops", "layers.estimator", "layers.merge_ops",
    "layers.normalization", "layers.recurrent", "metrics", "models", "models.dnn",
    "models.generator", "objectives", "optimizers", "regularizers", "summaries", "utils",
    "variables", "vendor", "vendor.arg_scope"))

# tflearn modules served by a stackit module of another path. Rule: the parent of an entry
# here must be served by an `AliasModule` (the import system sets the child as an attribute
# of its parent, which must not write into a stackit module).
MODULES: dict[str, str] = {
    "tflearn": "stackit",
    "tflearn.objectives": "stackit.losses",
}

_SESSIONS = ("it drives TensorFlow sessions; in stackit, regression(...) adds the loss and the "
             "optimizer and DNN trains them")
# tflearn modules stackit does not provide, and why (a prefix covers its submodules).
MISSING_MODULES: dict[str, str] = {
    "tflearn.estimators": "tflearn's KMeans and RandomForestClassifier wrap TensorFlow's "
                          "contrib estimators, which stackit does not reimplement; scikit-learn's "
                          "sklearn.cluster.KMeans and sklearn.ensemble.RandomForestClassifier "
                          "take the same arrays",
    "tflearn.helpers.trainer": f"Trainer and TrainOp: {_SESSIONS}",
    "tflearn.helpers.evaluator": f"Evaluator: {_SESSIONS}",
    "tflearn.helpers.regularizer": "pass regularizer='L2' and weight_decay= to the layer",
    "tflearn.helpers.generator": "use tflearn.SequenceGenerator (tflearn.models.generator)",
    "tflearn.collections": "stackit has no TensorFlow graph collections",
    "tflearn.data_flow": "fit takes arrays (and image_preloader's lazy arrays) directly",
    "tflearn.distances": "not in stackit",
    "tflearn.vendor": "TensorFlow's arg_scope is not in stackit",
}

# Names an AliasModule adds to its stackit module: name -> "module" or "module:attribute".
EXTRAS: dict[str, dict[str, str]] = {
    "tflearn": {
        "is_training": "stackit.runner.compat:is_training",
        "init_training_mode": "stackit.runner.compat:init_training_mode",
    },
    "tflearn.config": {
        "is_training": "stackit.runner.compat:is_training",
        "init_training_mode": "stackit.runner.compat:init_training_mode",
    },
    # `from tflearn.data_utils import *` also gave the modules tflearn's data_utils imported.
    "tflearn.data_utils": {
        "np": "numpy", "os": "os", "random": "random", "pickle": "pickle", "csv": "csv",
        "warnings": "warnings", "Image": "PIL.Image",
    },
}


def _names(table: dict[str, str]) -> dict[str, str]:
    return {name: module for module, names in table.items() for name in names.split()}


# Names tflearn re-exported from its submodules: when stackit's package does not have one,
# the AliasModule looks in the stackit module serving that submodule.
REEXPORTS: dict[str, dict[str, str]] = {
    "tflearn": _names({
        "tflearn.config": "is_training get_training_mode init_graph",
        "tflearn.models.dnn": "DNN",
        "tflearn.models.generator": "SequenceGenerator",
        "tflearn.helpers.evaluator": "Evaluator",
        "tflearn.helpers.trainer": "Trainer TrainOp",
        "tflearn.helpers.regularizer": "add_weights_regularizer",
        "tflearn.helpers.summarizer": "summarize summarize_activations summarize_gradients "
                                      "summarize_variables summarize_all",
        "tflearn.optimizers": "SGD AdaGrad Adam RMSProp Momentum Ftrl AdaDelta ProximalAdaGrad "
                              "Nesterov",
        "tflearn.activations": "linear tanh sigmoid softmax softplus softsign relu relu6 "
                               "leaky_relu prelu elu crelu selu",
        "tflearn.variables": "variable get_all_trainable_variable get_all_variables "
                             "get_layer_variables_by_name get_layer_variables_by_scope",
        "tflearn.objectives": "categorical_crossentropy binary_crossentropy "
                              "softmax_categorical_crossentropy hinge_loss mean_square "
                              "weighted_crossentropy",
        "tflearn.metrics": "Top_k Accuracy R2 top_k_op accuracy_op r2_op Prediction_Counts",
        "tflearn.layers.recurrent": "lstm gru simple_rnn bidirectional_rnn BasicRNNCell "
                                    "BasicLSTMCell GRUCell",
        "tflearn.layers.embedding_ops": "embedding",
        "tflearn.layers.core": "multi_target_data",
        "tflearn.utils": "get_layer_by_name",
        "tflearn.data_augmentation": "SequenceAugmentation",
        "tflearn.data_preprocessing": "SequencePreprocessing",
    }),
    "tflearn.layers": _names({
        "tflearn.layers.recurrent": "lstm gru simple_rnn bidirectional_rnn BasicRNNCell "
                                    "BasicLSTMCell GRUCell",
        "tflearn.layers.embedding_ops": "embedding",
        "tflearn.layers.core": "multi_target_data",
    }),
}

# Why a tflearn name is absent, by its last component.
_NAME_HINTS = {
    "get_training_mode": "a TensorFlow variable for tf.cond; stackit layers get the mode per "
                         "call (fit trains; predict and evaluate do not)",
    "Trainer": _SESSIONS, "TrainOp": _SESSIONS, "Evaluator": _SESSIONS,
    "variable": "a free-standing TensorFlow variable; in stackit parameters belong to layers: "
                "write a layer instead (docs/writing_a_layer.md)",
    "add_weights_regularizer": MISSING_MODULES["tflearn.helpers.regularizer"],
    "multi_target_data": "stackit feeds one target array per estimator: concatenate the targets "
                         "(np.concatenate) and feed them under the estimator's name",
    "SequenceAugmentation": "tflearn's raises NotImplementedError too",
    "read_data_sets": "only tflearn.datasets.mnist has read_data_sets",
}


def _missing_module(path: str) -> str | None:
    """Why stackit lacks the tflearn module `path`, or None when it is not listed as missing."""
    for module, why in MISSING_MODULES.items():
        if path == module or path.startswith(module + "."):
            return why
    return None


def name_hint(path: str) -> str:
    """Why the tflearn name or module `path` is absent from stackit ('' when no reason is
    recorded)."""
    why = _missing_module(path)
    return why if why is not None else _NAME_HINTS.get(path.rsplit(".", 1)[-1], "")


def is_tflearn(name: str) -> bool:
    """Whether `name` is `tflearn` or one of its submodules."""
    return name == "tflearn" or name.startswith("tflearn.")


def _import_source(source: str) -> Any:
    module, _, attr = source.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


class AliasModule(types.ModuleType):
    """A tflearn module seen through stackit: the stackit module's names, plus the names tflearn
    had there (`EXTRAS`, `REEXPORTS`). Attribute lookups are delegated, never copied, so the
    stackit module stays the one source of truth."""

    def __init__(self, name: str, target: types.ModuleType, aliases: Aliases):
        super().__init__(name, f"tflearn's `{name}`, served by `{target.__name__}`.")
        self._stackit_target = target
        self._stackit_aliases = aliases
        if hasattr(target, "__path__"):
            self.__path__: list[str] = []  # a package: its submodules go through the hook

    def __getattr__(self, attr: str) -> Any:
        if attr == "__all__":
            return self._public_names()
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self._stackit_aliases.attribute(self.__name__, self._stackit_target, attr)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *dir(self._stackit_target), *self._public_names()})

    def _public_names(self) -> list[str]:
        """What `from <this> import *` binds: the stackit module's public names, then the
        extras and re-exports that resolve."""
        target = self._stackit_target
        names = list(getattr(target, "__all__", None)
                     or [n for n in vars(target) if not n.startswith("_")])
        for name in [*EXTRAS.get(self.__name__, {}), *REEXPORTS.get(self.__name__, {})]:
            if name not in names and self._stackit_aliases.has(self, name):
                names.append(name)
        return names


class Aliases:
    """Builds (once each) the module objects that serve tflearn's module paths."""

    def __init__(self) -> None:
        self._modules: dict[str, types.ModuleType] = {}

    def module(self, name: str) -> types.ModuleType:
        """The module serving the tflearn module `name` (e.g. `'tflearn.layers.core'`).

        Raises:
            ModuleNotFoundError: If stackit has no counterpart (the message says why).
        """
        if name in self._modules:
            return self._modules[name]
        why = _missing_module(name)
        target_name = MODULES.get(name, "stackit" + name[len("tflearn"):])
        if why is None:
            try:
                target = importlib.import_module(target_name)
            except ModuleNotFoundError as error:
                missing = error.name or ""
                if target_name != missing and not target_name.startswith(missing + "."):
                    raise  # a missing dependency inside an existing stackit module
                why = f"stackit has no module {target_name}"
        if why is not None:
            raise ModuleNotFoundError(f"No module named {name!r} in stackit: {why}.", name=name)
        module = (AliasModule(name, target, self) if name in EXTRAS or name in REEXPORTS
                  else target)
        self._modules[name] = module
        return module

    def attribute(self, module_name: str, target: types.ModuleType, attr: str) -> Any:
        """`attr` of the AliasModule `module_name` over `target`: a submodule alias, the stackit
        module's attribute, an extra, or a re-export, in that order.

        Raises:
            AttributeError: If none has it (the message says why when it is known).
        """
        full = f"{module_name}.{attr}"
        if full in TFLEARN_MODULES or full in MODULES:
            try:
                return self.module(full)
            except ModuleNotFoundError as error:
                raise AttributeError(str(error)) from None
        if hasattr(target, attr):
            return getattr(target, attr)
        extra = EXTRAS.get(module_name, {}).get(attr)
        if extra is not None:
            return _import_source(extra)
        source = REEXPORTS.get(module_name, {}).get(attr)
        if source is not None:
            try:
                return getattr(self.module(source), attr)
            except (ModuleNotFoundError, AttributeError):
                pass
        why = name_hint(full)
        raise AttributeError(f"stackit does not provide {full}" + (f": {why}." if why else "."))

    def has(self, module: types.ModuleType, attr: str) -> bool:
        """Whether `module` (an AliasModule or a stackit module) resolves `attr`."""
        try:
            getattr(module, attr)
        except (AttributeError, ImportError):
            return False
        return True


ALIASES = Aliases()
