"""`DNN` (alias `Model`) and `Sequential`: build, fit, evaluate, predict, save and load."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from stackit import inputs, losses, model_io
from stackit.callbacks.base import Callback, TrainingState
from stackit.callbacks.progress import default_progress
from stackit.config import default_seed
from stackit.layers.base import Layer, ParamRef, Tensor, layer_name
from stackit.layers.core import InputData
from stackit.layers.estimator import Regression
from stackit.network import Network
from stackit.training import (
    DeviceData,
    Placement,
    Steps,
    TrainState,
    build_optimizer,
    evaluate_arrays,
    fit_loop,
    predict_arrays,
    train_batch,
)

__all__ = ["DNN", "Model", "Sequential", "History"]

_UNSET: Any = object()


@dataclasses.dataclass
class History:
    """What `fit` returns: per-epoch numbers, e.g. `history.history['val_acc']`."""

    history: dict[str, list[float]]
    epoch: list[int]


class DNN:
    """A trainable model built from a tflearn-style network (or a list of layers).

    Args:
        network: The output of `regression(...)` (or any layer output), or a list of layers.
        clip_gradients: Clip gradients to this global norm; 0 disables. Defaults to `5.0`.
        tensorboard_verbose: Accepted for tflearn compatibility (no TensorBoard logs are
            written). Defaults to `0`.
        tensorboard_dir: Accepted for tflearn compatibility. Defaults to `None`.
        checkpoint_path: Prefix of snapshot files (`<prefix>-<step>.npz`). Defaults to `None`.
        best_checkpoint_path: Prefix of files written when validation accuracy improves.
            Defaults to `None`.
        max_checkpoints: Snapshots kept under `checkpoint_path`. Defaults to `None` (all).
        best_val_accuracy: Only save a best checkpoint above this. Defaults to `0.0`.
        seed: Seed for initialization, dropout and shuffling; falls back to
            `stackit.init_graph(seed=...)`, then to a random one. Defaults to `None`.
    """

    def __init__(self, network: Tensor | Sequence[Layer], clip_gradients: float = 5.0,
                 tensorboard_verbose: int = 0, tensorboard_dir: str | None = None,
                 checkpoint_path: str | None = None, best_checkpoint_path: str | None = None,
                 max_checkpoints: int | None = None, session=None,
                 best_val_accuracy: float = 0.0, *, seed: int | None = None):
        del tensorboard_verbose, tensorboard_dir, session
        if isinstance(network, Tensor):
            layers = network.chain()
        elif isinstance(network, (list, tuple)):
            layers = list(network)
        else:
            raise TypeError("DNN expects the network's output tensor (e.g. from regression(...)) "
                            f"or a list of layers. Received: network={type(network).__name__}.")
        if clip_gradients is None or clip_gradients < 0:
            raise ValueError(f"clip_gradients must be >= 0 (0 disables clipping). "
                             f"Received: clip_gradients={clip_gradients!r}.")
        if max_checkpoints is not None and max_checkpoints < 1:
            raise ValueError(f"max_checkpoints must be >= 1 or None. "
                             f"Received: max_checkpoints={max_checkpoints!r}.")
        self.net = Network(layers)
        self.clip_gradients = clip_gradients
        self.checkpoint_path = checkpoint_path
        self.best_checkpoint_path = best_checkpoint_path
        self.max_checkpoints = max_checkpoints
        self.best_val_accuracy = best_val_accuracy
        seed = seed if seed is not None else default_seed()
        self.seed = seed if seed is not None else secrets.randbits(31)
        self.data_rng = np.random.default_rng(self.seed)
        self.train_state: TrainState | None = None
        self.steps: Steps | None = None
        self.epoch = 0
        self.preprocessing_fitted = False
        self.compiled_with_metrics = False
        self.rows: list = []
        if self.net.input_layer is not None:
            self.build()

    # -- building ------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.train_state is not None

    def _built_state(self) -> TrainState:
        """`train_state`, or the ValueError `build` gives when the input shape is unknown."""
        if self.train_state is None:
            raise _not_built_error()
        return self.train_state

    def _built_steps(self) -> Steps:
        """`steps` (compiled with `train_state` by `build`), or the same ValueError."""
        if self.steps is None:
            raise _not_built_error()
        return self.steps

    def _input_layer(self) -> InputData:
        """The input layer, which `build` declares when the network had none."""
        if self.net.input_layer is None:
            raise _not_built_error()
        return self.net.input_layer

    def build(self, input_shape: Sequence[int] | None = None) -> None:
        """Creates the parameters. Needed only for Keras-style models without an input layer,
        and done automatically by the first `fit`/`predict`."""
        if self.net.input_layer is None:
            if input_shape is None:
                raise _not_built_error()
            self.net.with_input_shape(tuple(input_shape))
        init_key, train_key = jax.random.split(jax.random.PRNGKey(self.seed))
        params, layer_state, self.rows = self.net.init(init_key)
        self.train_state = TrainState(params, layer_state, None, jnp.zeros((), jnp.int32),
                                      train_key)
        self._compile()

    def _compile(self) -> None:
        estimator = self.net.estimator
        tx = None
        if estimator is not None:
            ts = self._built_state()
            tx = build_optimizer(estimator, self.clip_gradients, ts.params,
                                 self.net.frozen_layers())
            self.train_state = ts._replace(opt_state=tx.init(ts.params))
        scan = not (jax.default_backend() == "cpu" and self.net.scan_slow_on_cpu)
        self.steps = Steps(self.net, estimator, tx, scan)

    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None,
                learning_rate: float = 0.001, **regression_kwargs) -> None:
        """Keras-style: sets the estimator of a model whose layers end without `regression`.

        Args:
            optimizer: Name, `Optimizer` or optax transformation. Defaults to `'adam'`.
            loss: Loss name or callable. Defaults to `'categorical_crossentropy'`.
            metrics: One metric (name, `Metric` or callable), or a one-element list. Defaults
                to `None`.
            learning_rate: Used when `optimizer` is a name. Defaults to `0.001`.
            **regression_kwargs: Other `Regression` arguments (`batch_size`, ...).
        """
        if isinstance(metrics, (list, tuple)):
            if len(metrics) > 1:
                raise ValueError(f"stackit models track one metric. Received: metrics={metrics!r}.")
            metrics = metrics[0] if metrics else None
        estimator = Regression(optimizer, loss, metrics, learning_rate, **regression_kwargs)
        self.compiled_with_metrics = metrics is not None
        self.net = Network([*self.net.body, estimator])
        if self.built:
            self._compile()

    # -- data ----------------------------------------------------------------------------------
    def _inputs(self, data, role: str = "X") -> np.ndarray:
        name = layer_name(self.net.input_layer) if self.net.input_layer else "InputData"
        lazy = inputs.is_lazy(inputs.unwrap(data, name, role))
        x = inputs.unwrap(data, name, role) if lazy else inputs.as_array(data, name, role)
        if not self.built:
            self.build(x.shape[1:])
        layer = self._input_layer()
        x = inputs.check_inputs(x, layer.shape, layer_name(layer), role)
        if lazy:  # decoded batch by batch while training; never held in memory at once
            return x
        inputs.check_finite(x, role)
        return inputs.cast(x, layer.dtype, role)

    def _targets(self, data, n: int, role: str = "Y") -> np.ndarray:
        estimator = self._estimator("fit")
        name = layer_name(estimator)
        y = inputs.as_array(data, name, role)
        loss = losses.get(estimator.loss)
        y = inputs.check_targets(y, self.output_shape, categorical=loss.categorical,
                                 to_one_hot=estimator.to_one_hot, n_classes=estimator.n_classes,
                                 estimator=name, role=role)
        inputs.check_finite(y, role)
        if len(y) != n:
            raise ValueError(f"X and {role} must have the same number of samples. "
                             f"Received: {n} and {len(y)}.")
        return y

    def _estimator(self, action: str) -> Regression:
        if self.net.estimator is None:
            raise ValueError(f"{action} needs an estimator: end the network with regression(...) "
                             f"or call model.compile(optimizer=..., loss=...).")
        return self.net.estimator

    @property
    def output_shape(self) -> tuple:
        """Per-sample output shape of the network."""
        return self.rows[-1][1]

    # -- training ------------------------------------------------------------------------------
    def fit(self, X_inputs, Y_targets, n_epoch: int | None = None, validation_set=None,
            show_metric: bool | None = None, batch_size: int | None = None,
            shuffle: bool | None = None,
            snapshot_epoch: bool = True, snapshot_step: int | None = None, excl_trainops=None,
            validation_batch_size: int | None = None, run_id: str | None = None,
            callbacks: Callback | Sequence[Callback] | None = None, *, epochs: int | None = None,
            validation_split: float | None = None, validation_data=None,
            verbose: int = 1) -> History:
        """Trains the model.

        Args:
            X_inputs: Inputs: an array, a list, or `{input_name: array}`.
            Y_targets: Targets: an array, a list, or `{regression_name: array}`.
            n_epoch: Epochs to run (Keras: `epochs`). Defaults to `10`.
            validation_set: A fraction of the data held out (taken from the end), or an
                `(X, Y)` pair (Keras: `validation_split` / `validation_data`). Defaults to `None`.
            show_metric: Show the training metric in the display. Defaults to `False` (tflearn),
                or `True` after a Keras-style `compile(metrics=...)`.
            batch_size: Defaults to the estimator's (64).
            shuffle: Shuffle each epoch. Defaults to the estimator's `shuffle_batches` (True).
            snapshot_epoch: Save a checkpoint (if `checkpoint_path`) after each epoch.
                Defaults to `True`.
            snapshot_step: Also validate and save every this many steps. Defaults to `None`.
            validation_batch_size: Defaults to the estimator's, then `batch_size`.
            run_id: A name shown with the run. Defaults to `None`.
            callbacks: A `Callback` or a list of them. Defaults to `None`.
            verbose: 0 silent, 1 live bar on a terminal (plain lines otherwise), 2 plain lines.
                Defaults to `1`.

        Returns:
            A `History` with per-epoch `loss`, metric, `val_loss` and validation metric.

        Raises:
            ValueError: For data that does not fit the network, bad arguments, or both a tflearn
                argument and its Keras alias.
            NonFiniteLossError: If the loss becomes NaN or infinite (names the step).
        """
        n_epoch = _alias("n_epoch", n_epoch, "epochs", epochs, 10)
        if validation_split is not None and validation_data is not None:
            raise ValueError("Pass validation_split or validation_data, not both.")
        validation_set = _alias("validation_set", validation_set, "validation_split/"
                                "validation_data", validation_split if validation_split is not None
                                else validation_data, None)
        if excl_trainops is not None:
            raise ValueError("excl_trainops is not supported (a stackit model has one estimator).")
        _check_positive_int("n_epoch", n_epoch)
        estimator = self._estimator("fit")
        batch_size = estimator.batch_size if batch_size is None else batch_size
        _check_positive_int("batch_size", batch_size)
        val_batch_size = validation_batch_size or estimator.validation_batch_size or batch_size
        _check_positive_int("validation_batch_size", val_batch_size)
        if snapshot_step is not None:
            _check_positive_int("snapshot_step", snapshot_step)

        x = self._inputs(X_inputs)
        y = self._targets(Y_targets, len(x))
        val = None
        if isinstance(validation_set, (float, int)) and not isinstance(validation_set, bool):
            x, y, vx, vy = inputs.split_validation(x, y, float(validation_set))
            val = (vx, vy)
        elif validation_set is not None:
            if not isinstance(validation_set, (tuple, list)) or len(validation_set) != 2:
                raise ValueError("validation_set must be a fraction in (0, 1) or an (X, Y) pair. "
                                 f"Received: {type(validation_set).__name__}.")
            vx = self._inputs(validation_set[0], "validation X")
            val = (vx, self._targets(validation_set[1], len(vx), "validation Y"))

        if show_metric is None:
            show_metric = self.compiled_with_metrics
        self._fit_preprocessing(x)
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError("callbacks must be stackit.callbacks.Callback instances. "
                                f"Received: {callback!r}.")
        progress = default_progress(verbose)
        steps = self._built_steps()
        metric = steps.metric
        state = TrainingState(
            n_epoch=n_epoch, start_epoch=self.epoch, steps_per_epoch=-(-len(x) // batch_size),
            n_samples=len(x), batch_size=batch_size, show_metric=show_metric, run_id=run_id,
            metric_name=getattr(metric, "name", None) if metric else None,
            epoch=self.epoch, step=int(self._built_state().step), has_validation=val is not None)
        shuffle = estimator.shuffle_batches if shuffle is None else shuffle
        fit_loop(self, steps, (x, y), val, n_epoch=n_epoch, batch_size=batch_size,
                 val_batch_size=val_batch_size, shuffle=shuffle,
                 callbacks=([progress] if progress else []) + list(callbacks), state=state,
                 snapshot_step=snapshot_step, snapshot_epoch=snapshot_epoch, rng=self.data_rng)
        return History(state.history, list(range(state.start_epoch + 1, state.epoch + 1)))

    def _fit_preprocessing(self, x: np.ndarray) -> None:
        """Computes the input layer's preprocessing statistics from the training data, once."""
        layer = self._input_layer()
        prep = layer.data_preprocessing
        if prep is None or not prep.needs_fit or self.preprocessing_fitted:
            return
        ts = self._built_state()
        layer_state = dict(ts.layer_state)
        layer_state[layer_name(layer)] = {k: jnp.asarray(v) for k, v in prep.fit_state(x).items()}
        self.train_state = ts._replace(layer_state=layer_state)
        self.preprocessing_fitted = True

    def fit_batch(self, X_inputs, Y_targets) -> float:
        """One optimizer step on (X, Y) taken as a single batch (tflearn's `fit_batch`), for
        custom training loops. Returns the batch's mean loss.

        Raises:
            ValueError: For data that does not fit the network (as `fit`).
            NonFiniteLossError: If the loss is NaN or infinite (the step is skipped).
        """
        x = self._inputs(X_inputs)
        y = self._targets(Y_targets, len(x))
        if inputs.is_lazy(x):
            x = np.asarray(x)
        self._fit_preprocessing(x)
        return train_batch(self, self._built_steps(), x, y)

    def get_train_vars(self) -> list[ParamRef]:
        """Handles on every trainable parameter (tflearn's `get_train_vars`)."""
        frozen = self.net.frozen_layers()
        return [ParamRef(layer, param) for (layer, param), _ in
                _param_paths(self._built_state().params) if layer not in frozen]

    def evaluate(self, X, Y, batch_size: int = 128) -> list[float]:
        """The metric over (X, Y), as a one-element list (tflearn's form).

        With no metric, the list holds the mean loss instead.
        """
        _check_positive_int("batch_size", batch_size)
        x = self._inputs(X)
        y = self._targets(Y, len(x))
        ts = self._built_state()
        loss, value = evaluate_arrays(self._built_steps(), ts.params, ts.layer_state,
                                      DeviceData(x, y, Placement(batch_size)), len(x), batch_size)
        assert loss is not None  # _targets refuses an empty Y, so len(x) >= 1
        return [value if value is not None else loss]

    def predict(self, X, batch_size: int = 128) -> np.ndarray:
        """Network outputs for X (probabilities for a softmax output)."""
        _check_positive_int("batch_size", batch_size)
        x = self._inputs(X)
        ts = self._built_state()
        return predict_arrays(self._built_steps(), ts.params, ts.layer_state, x, batch_size)

    def predict_label(self, X, batch_size: int = 128) -> np.ndarray:
        """Class indices sorted from most to least likely, per sample (tflearn's form)."""
        scores = self.predict(X, batch_size)
        if scores.ndim != 2:
            raise ValueError(f"predict_label needs a (batch, classes) output. "
                             f"Received: output shape {scores.shape}.")
        return np.argsort(scores, axis=1)[:, ::-1]

    # -- weights -------------------------------------------------------------------------------
    def _ref(self, ref) -> tuple[str, ...]:
        """The key path of a parameter handle in `params` (layers inside a merge are nested)."""
        if isinstance(ref, str) and "/" in ref:
            ref = ParamRef(*ref.split("/", 1))
        if not isinstance(ref, ParamRef):
            raise TypeError("Expected a parameter handle such as `dense.W` or "
                            "'FullyConnected/W'. Received: " + repr(ref))
        found = dict(_param_paths(self.train_state.params if self.train_state is not None else {}))
        path = found.get((ref.layer, ref.param))
        if path is None:
            known = [f"{layer}/{param}" for layer, param in found]
            raise ValueError(f"This model has no parameter {ref.layer}/{ref.param}. "
                             f"Expected one of: {', '.join(known) or 'none (not built yet)'}.")
        return path

    def get_weights(self, weight_tensor) -> np.ndarray:
        """The current value of a parameter, e.g. `model.get_weights(dense.W)`."""
        path = self._ref(weight_tensor)  # refuses a model that is not built
        value = self._built_state().params
        for key in path:
            value = value[key]
        return np.asarray(value)

    def set_weights(self, tensor, weights) -> None:
        """Replaces a parameter's value (same shape), e.g. `model.set_weights(dense.b, zeros)`."""
        path = self._ref(tensor)
        old = self.get_weights(tensor)
        new = np.asarray(weights, dtype=old.dtype)
        if new.shape != old.shape:
            raise ValueError(f"set_weights: {'/'.join(path[-2:])} has shape {old.shape}. "
                             f"Received: shape {new.shape}.")

        def replace(tree, keys):
            if not keys:
                return jnp.asarray(new)
            return {**tree, keys[0]: replace(tree[keys[0]], keys[1:])}

        ts = self._built_state()
        self.train_state = ts._replace(params=replace(ts.params, path))

    # -- inspection ----------------------------------------------------------------------------
    def summary(self, console=None) -> None:
        """Prints a table: layer, type, output shape, parameter count, and totals."""
        from stackit.summary import print_summary

        if not self.built:
            raise ValueError("summary() needs the input shape: call build(input_shape) first.")
        print_summary(self, console)

    # -- persistence (stackit/model_io.py) -----------------------------------------------------
    def save(self, model_file: str, weights_only: bool = False) -> str:
        """Saves parameters, layer state, optimizer state, step, epoch and RNG to one file
        (`<model_file>.npz`, written atomically). With `weights_only`, only parameters and
        layer state. Returns the path written."""
        return model_io.save_model(self, model_file, weights_only)

    def load(self, model_file: str, weights_only: bool = False) -> None:
        """Restores a file written by `save` (or a snapshot). With `weights_only`, only the
        parameters and layer state are restored.

        Raises:
            CheckpointError: If the file is corrupt or does not fit this model.
        """
        model_io.load_model(self, model_file, weights_only)

    def snapshot(self, state: TrainingState) -> None:
        """Writes the snapshot files that `checkpoint_path`/`best_checkpoint_path` ask for."""
        model_io.write_snapshots(self, state)


Model = DNN


class Sequential(DNN):
    """Keras-style model: `Sequential([Conv2D(32, 3, activation='relu'), ..., Dense(10)])`.

    The layers are the same objects the tflearn functions build. End the list with a
    `Regression(...)` or call `compile(...)`. Without an `InputData` first, the input shape is
    taken from the first `fit`/`predict` (or `build(input_shape)`).
    """

    def __init__(self, layers: Sequence[Layer], **kwargs):
        if isinstance(layers, Tensor) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"Sequential expects a list of layers. Received: "
                            f"{type(layers).__name__}.")
        super().__init__(list(layers), **kwargs)


def _not_built_error() -> ValueError:
    return ValueError("This model has no input_data layer; call build(input_shape) "
                      "or fit/predict once to set the per-sample input shape.")


def _alias(name: str, value, alias: str, alias_value, default):
    if value is not None and alias_value is not None:
        raise ValueError(f"Pass {name} or {alias}, not both. Received: {name}={value!r}, "
                         f"{alias}={alias_value!r}.")
    if value is not None:
        return value
    return alias_value if alias_value is not None else default


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}.")


def _param_paths(params: dict, prefix: tuple = ()):
    """Yields `((layer, param), key path)` for every parameter, looking inside composites."""
    for name, value in params.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            yield from _param_paths(value, (*prefix, name))
        elif isinstance(value, dict):
            for param in value:
                yield (name, param), (*prefix, name, param)
