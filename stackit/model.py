"""`DNN`, `Model` and `Sequential`: build, fit, evaluate, predict, save and load a graph model."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from stackit import learning_rate, mixing, model_io, precision, streaming, weighting
from stackit._args import (
    alias,
    callback_list,
    cap_batch_sizes,
    check_fit_flags,
    check_non_negative,
    check_positive_int,
    check_seed,
)
from stackit.callbacks.base import Callback, TrainingState
from stackit.callbacks.progress import default_progress
from stackit.callbacks.snapshots import Snapshots
from stackit.callbacks.tensorboard import model_tensorboard
from stackit.config import capped_epochs, default_seed
from stackit.engine import (
    DeviceData,
    Placement,
    Steps,
    TrainState,
    build_heads,
    dispatch,
    evaluate_arrays,
    fit_loop,
    predict_arrays,
    train_batch,
)
from stackit.engine.heads import Head, build_optimizer, match_layers, transplant_state
from stackit.engine.loop import STEPS_PER_CHUNK, Position, primary_head
from stackit.engine.stream import PlacedStream
from stackit.estimator import Regression
from stackit.export import export_model
from stackit.feeding import Feeder
from stackit.layers.base import Layer, ParamRef, Tensor
from stackit.layers.core import InputData
from stackit.metrics import ConfusionMatrix, Metric
from stackit.network import LayerRow, Network, ancestors, connected
from stackit.session import Session

__all__ = ["DNN", "History"]


@dataclasses.dataclass
class History:
    """What `fit` returns: per-epoch numbers, e.g. `history.history['val_acc']`."""

    history: dict[str, list[float]]
    epoch: list[int]

    def plot(self, path: str | os.PathLike | None = None,
             metrics: Sequence[str] | None = None) -> Any:
        """Draws the learning curves with matplotlib (`pip install 'stackit[plot]'`): see
        `stackit.plot_history`. Returns the matplotlib `Figure`."""
        from stackit.plotting import plot_history

        return plot_history(self, path, metrics)


class DNN:
    """A trainable model over a graph of layer calls.

    The estimators it trains are every `regression(...)` linked to `network` (tflearn trains
    every train op of its graph); `predict` returns the value of `network` (one array, or a
    list for a list of tensors).

    Args:
        network: A tensor (e.g. the output of `regression(...)` or of a `merge` of several),
            a list of tensors, or a list of layers (Keras `Sequential`).
        clip_gradients: Clip gradients to this global norm; 0 disables. Defaults to `5.0`.
        tensorboard_verbose: Write TensorBoard logs at this tflearn level (0: loss, metric,
            validation, learning rate; 2: also weight histograms; see `callbacks.TensorBoard`),
            into `<tensorboard_dir>/<run_id>`. Needs tensorboardX. Defaults to `None` (no logs
            unless `tensorboard_dir` is given, then level 0).
        tensorboard_dir: Folder of the TensorBoard logs; giving it turns them on. Defaults to
            `None` (`<temp dir>/stackit_logs` when `tensorboard_verbose` is given).
        checkpoint_path: Prefix of snapshot files (`<prefix>-<step>.npz`). Defaults to `None`.
        best_checkpoint_path: Prefix of files written when validation accuracy improves.
            Defaults to `None`.
        max_checkpoints: Snapshots kept under `checkpoint_path`. Defaults to `None` (all).
        session: Another model's `session`: this model then uses (and trains) that model's
            parameter values, e.g. `DNN(encoder, session=autoencoder.session)`. Defaults to
            `None` (a new session).
        best_val_accuracy: Only save a best checkpoint above this. Defaults to `0.0`.
        seed: Seed for initialization, dropout and shuffling; falls back to
            `stackit.init_graph(seed=...)`, then to a random one. Defaults to `None`.
        clip_value: Clip each gradient element to `[-clip_value, clip_value]` (after the
            global-norm clipping); 0 or None disables. Defaults to `None`.
        mixed_precision: `'bfloat16'` (or `'bf16'`, `'mixed_bfloat16'`) or `'float16'` (with
            a dynamic loss scale) to compute in that dtype while parameters, optimizer state,
            losses, metrics, outputs and batch-norm statistics stay float32; see
            `stackit.precision`. Defaults to `None` (float32 throughout).
        steps_per_execution: Training steps per dispatch to the device (Keras's name): above
            1 they run fused in one compiled `lax.scan`, 1 runs one compiled step per call.
            Also settable later (`model.steps_per_execution = 8`, or Keras's `compile`).
            Defaults to `None`: chosen per model and backend (see docs/performance.md).

    Raises:
        ValueError: For bad arguments, or a `session` that does not hold this graph's layers.
        TypeError: For arguments of the wrong type (e.g. `clip_gradients='5'`, `seed='abc'`).
    """

    #: Train every estimator linked to the network (tflearn); a functional `Model` trains
    #: only those its outputs depend on.
    search_estimators = True

    def __init__(self, network: Tensor | Sequence[Tensor] | Sequence[Layer],
                 clip_gradients: float = 5.0, tensorboard_verbose: int | None = None,
                 tensorboard_dir: str | None = None, checkpoint_path: str | None = None,
                 best_checkpoint_path: str | None = None, max_checkpoints: int | None = None,
                 session: Session | None = None, best_val_accuracy: float = 0.0, *,
                 seed: int | None = None, clip_value: float | None = None,
                 mixed_precision: str | None = None, steps_per_execution: int | None = None):
        self.mixed_precision = precision.policy_name(mixed_precision)
        self._steps_per_execution = _checked_steps_per_execution(steps_per_execution)
        self._measured_dispatch: int | None = None
        self.tensorboard = model_tensorboard(tensorboard_verbose, tensorboard_dir)
        check_non_negative("clip_gradients", clip_gradients, " (0 disables clipping)")
        if clip_value is not None:
            check_non_negative("clip_value", clip_value, " (0 or None disables clipping)")
        if max_checkpoints is not None:
            check_positive_int("max_checkpoints", max_checkpoints)
        check_seed(seed)
        if session is not None and not isinstance(session, Session):
            raise TypeError(f"session must be another model's `session`. "
                            f"Received: session={type(session).__name__}.")
        self.shares_session = session is not None
        self.session = session if session is not None else Session()
        self.clip_gradients = clip_gradients
        self.clip_value = clip_value
        self._fit_state: TrainingState | None = None  # during fit: where callbacks set the LR
        self.checkpoint_path = checkpoint_path
        self.best_checkpoint_path = best_checkpoint_path
        self.max_checkpoints = max_checkpoints
        self.best_val_accuracy = best_val_accuracy
        seed = seed if seed is not None else default_seed()
        self.seed = seed if seed is not None else secrets.randbits(31)
        self.data_rng = np.random.default_rng(self.seed)
        self.epoch = 0
        self.position: Position | None = None  # inside an unfinished epoch (mid-epoch snapshot)
        self.run_target: int | None = None  # the epoch the current/last fit was asked to reach
        self.run_mix: mixing.Mixup | mixing.CutMix | None = None  # the current/last fit's mix
        self.preprocessing_fitted = False
        self.compiled_with_metrics = False
        self._frozen_override: dict[str, bool] = {}  # by freeze()/unfreeze(): layer -> frozen
        self.rows: list[LayerRow] = []
        self.steps: Steps | None = None
        self._opt_state: Any = None
        self._step = jnp.zeros((), jnp.int32)
        self._key: jax.Array | None = None
        self._pending: list[Layer] | None = None  # Keras layers awaiting an input shape
        self._outputs: list[Tensor] = []
        self._estimators: list[Tensor] = []
        if isinstance(network, Tensor):
            self._set_graph([network], search_estimators=self.search_estimators)
        elif isinstance(network, (list, tuple)) and network and \
                all(isinstance(t, Tensor) for t in network):
            self._set_graph(list(network), search_estimators=self.search_estimators)
        elif isinstance(network, (list, tuple)):
            self._set_layers(list(network))
        else:
            raise TypeError("DNN expects the network's output tensor (e.g. from regression(...)) "
                            f"or a list of layers. Received: network={type(network).__name__}.")

    # -- the graph -----------------------------------------------------------------------------
    def _set_layers(self, layers: list[Layer]) -> None:
        """A Keras-style list: chained now when it starts with an input, else at `build`."""
        if not layers:
            raise ValueError("A model needs at least one layer. Received: layers=[].")
        for i, layer in enumerate(layers):
            if isinstance(layer, Tensor) and i == 0 and isinstance(layer.layer, InputData):
                layers[0] = layer.layer  # Sequential([Input(shape=...), ...])
            elif not isinstance(layer, Layer):
                raise TypeError(f"Expected layer descriptors (e.g. stackit.layers.Dense(10)). "
                                f"Received: layers[{i}]={layer!r}.")
        for i, layer in enumerate(layers):
            if isinstance(layer, InputData) and i > 0:
                raise ValueError("input_data(...) must be the network's first layer in a list "
                                 "of layers (use tensors for several inputs).")
            if isinstance(layer, Regression) and i != len(layers) - 1:
                raise ValueError("regression(...) must be the network's last layer.")
        self._pending = layers
        if isinstance(layers[0], InputData):
            self._chain(Tensor(layers[0], (), layers[0].shape))

    def _chain(self, tensor: Tensor) -> None:
        assert self._pending is not None
        for layer in self._pending[1:] if tensor.layer is self._pending[0] else self._pending:
            tensor = layer([tensor]) if isinstance(layer, Regression) else layer(tensor)
        self._pending = None
        self._set_graph([tensor], search_estimators=False)

    def _set_graph(self, outputs: list[Tensor], *, search_estimators: bool) -> None:
        """Collects the estimators, compiles the network and creates (or takes) the values."""
        if search_estimators:
            found = connected(outputs)
        else:
            found = ancestors(outputs)
        self._outputs = outputs
        self._estimators = sorted((t for t in found if t.layer.is_estimator),
                                  key=lambda t: t.serial)
        self.net = Network(outputs + self._estimators)
        self.heads: list[Head] = build_heads(self.net, self._estimators)
        self.feeder = Feeder(self.net, self.heads, self._outputs)
        self.build()

    @property
    def built(self) -> bool:
        return self._key is not None

    def build(self, input_shape: Sequence[int] | None = None) -> None:
        """Creates the parameters (or takes them from `session`) and compiles the steps. Needed
        only for Keras-style models without an input layer; `fit`/`predict` do it otherwise."""
        if self._pending is not None:
            if input_shape is None:
                raise _not_built_error()
            self._chain(Tensor(InputData(tuple(input_shape), name=_fresh_input_name()), (),
                               tuple(input_shape)))
            return
        init_key, train_key = jax.random.split(jax.random.PRNGKey(self.seed))
        params, layer_state, self.rows = self.net.init(init_key)
        self._adopt(params, layer_state)
        self._key = train_key
        self._compile()

    def _adopt(self, params: dict, layer_state: dict) -> None:
        """Puts fresh values into the session, or checks a shared session holds them all."""
        store = self.session
        if self.shares_session:
            missing = [n for n in [*params, *layer_state] if not store.holds(n)]
            if missing:
                raise ValueError(f"session= belongs to a model that does not hold these layers "
                                 f"of this network: {missing}. Build the sub-model from tensors "
                                 f"of that model's graph.")
            for name, values in params.items():
                _check_same_shapes(name, values, store.params[name])
            return
        for name, values in params.items():
            store.params.setdefault(name, values)
        for name, values in layer_state.items():
            store.layer_state.setdefault(name, values)

    def _compile(self, keep_opt_state: bool = False) -> None:
        """Builds each head's optimizer (fresh state, or the current one carried over where
        it still fits with `keep_opt_state`) and the compiled steps."""
        params = self._values(self.session.params)
        known = {f"{layer}/{param}" for layer, ps in params.items() for param in ps}
        frozen = set(self.frozen)
        txs = [build_optimizer(head, self.clip_gradients, params, frozen, known, self.clip_value)
               for head in self.heads]
        if self.mixed_precision == "float16":
            txs = [precision.dynamic_loss_scale(tx) for tx in txs]
        for head, tx in zip(self.heads, txs, strict=True):
            head.tx = tx
        fresh = tuple(tx.init(params) for tx in txs)  # one per head, in head order
        self._opt_state = tuple(transplant_state(old, new) for old, new in zip(
            self._opt_state, fresh, strict=True)) if keep_opt_state else fresh
        self.steps = self._new_steps(self._dispatch())

    def _new_steps(self, steps_per_dispatch: int) -> Steps:
        return Steps(self.net, self.heads, self._outputs, steps_per_dispatch,
                     self.mixed_precision)

    @property
    def steps_per_execution(self) -> int | None:
        """Training steps per dispatch as the user set it (None: chosen by stackit; the
        value in use is `model.steps.steps_per_dispatch`)."""
        return self._steps_per_execution

    @steps_per_execution.setter
    def steps_per_execution(self, value: int | None) -> None:
        self._steps_per_execution = _checked_steps_per_execution(value)
        if self.steps is not None and self.steps.steps_per_dispatch != self._dispatch():
            self.steps = self._new_steps(self._dispatch())

    def _dispatch(self) -> int:
        """Steps per dispatch: the user's, else the last measured one, else one per call
        where the backend runs this network's training step much slower inside a scan
        (convolutions on XLA:CPU), else `STEPS_PER_CHUNK`."""
        if self._steps_per_execution is not None:
            return self._steps_per_execution
        if self._measured_dispatch is not None:
            return self._measured_dispatch
        return self._guessed_dispatch()

    def _guessed_dispatch(self) -> int:
        slow = jax.default_backend() == "cpu" and self.net.scan_slow_on_cpu
        return 1 if slow else STEPS_PER_CHUNK

    def _values(self, store: dict) -> dict:
        names = [row.layer.name for row in self.rows]
        return {n: store[n] for n in names if n in store}

    # -- fine-tuning ---------------------------------------------------------------------------
    @property
    def frozen(self) -> tuple[str, ...]:
        """Names of the layers whose parameters get no updates: those created with
        `trainable=False`, changed by `freeze` / `unfreeze`."""
        net: Network | None = getattr(self, "net", None)  # None: a Sequential not built yet
        if net is None:
            return ()
        flags = net.frozen_layers()
        return tuple(sorted(layer.name for layer in net.layers if layer.name is not None
                            and self._frozen_override.get(layer.name, layer.name in flags)))

    def freeze(self, *patterns: str) -> list[str]:
        """Stops training the layers whose names match a glob pattern, e.g.
        `model.freeze('Conv2D*')`, from the next `fit` on: their parameters get zero updates
        (and hold no optimizer state); the other parameters keep theirs. Overrides the layers'
        `trainable=` for this model. A change compiles the training step again at the next
        `fit`; freezing what is already frozen changes nothing.

        Returns:
            The names of the layers the patterns matched.

        Raises:
            ValueError: If a pattern matches no layer with parameters, or during `fit`.
        """
        return self._set_trainable(patterns, False, "freeze")

    def unfreeze(self, *patterns: str) -> list[str]:
        """Trains again the layers whose names match a glob pattern (also those created with
        `trainable=False`); their optimizer state starts fresh. See `freeze`.

        Returns:
            The names of the layers the patterns matched.

        Raises:
            ValueError: If a pattern matches no layer with parameters, or during `fit`.
        """
        return self._set_trainable(patterns, True, "unfreeze")

    def _set_trainable(self, patterns: Sequence[str], trainable: bool, action: str) -> list[str]:
        if self._fit_state is not None and self._fit_state.lr_writer is not None:
            raise ValueError(f"{action}() changes the compiled training step: call it between "
                             f"fit() calls, not from a callback.")
        if not patterns:
            raise ValueError(f"{action}() needs layer-name patterns, e.g. "
                             f"model.{action}('Conv2D*').")
        matches = match_layers(patterns, self._built_state().params, f"{action}()")
        names = list(dict.fromkeys(n for found in matches.values() for n in found))
        self._set_frozen({n for n in self.frozen if n not in names} |
                         (set() if trainable else set(names)))
        return names

    def _set_frozen(self, names: set[str]) -> None:
        """Makes exactly `names` frozen; rebuilds the optimizers (keeping the state that still
        fits) and the steps only when that changes anything."""
        if set(self.frozen) == set(names):
            return
        flags = self.net.frozen_layers()
        self._frozen_override = {
            layer.name: layer.name in names for layer in self.net.layers
            if layer.name is not None and (layer.name in names) != (layer.name in flags)}
        self._compile(keep_opt_state=True)

    @property
    def train_state(self) -> TrainState | None:
        """Everything training changes, as one pytree: parameters and layer state (read from
        `session`), optimizer state, step and RNG key."""
        if not self.built:
            return None
        assert self._key is not None
        return TrainState(self._values(self.session.params),
                          self._values(self.session.layer_state),
                          self._opt_state, self._step, self._key)

    @train_state.setter
    def train_state(self, ts: TrainState) -> None:
        self.session.params.update(ts.params)
        self.session.layer_state.update(ts.layer_state)
        self._opt_state, self._step, self._key = ts.opt_state, ts.step, ts.key

    def _built_state(self) -> TrainState:
        ts = self.train_state
        if ts is None:
            raise _not_built_error()
        return ts

    def get_learning_rate(self, head: str | None = None) -> float | None:
        """The learning rate of the next step of estimator `head` (default: the first), read
        from its optimizer state; None when that optimizer holds none (an optax
        transformation used as given).

        Raises:
            ValueError: If the model is not built or `head` names no estimator.
        """
        ts = self._built_state()
        return learning_rate.read(self._head_states(ts, head, "get_learning_rate")[0])

    def set_learning_rate(self, lr: float, head: str | None = None) -> None:
        """Sets the learning rate of the next steps (every estimator's, or `head`'s) in the
        optimizer state: nothing recompiles and the optimizer's moments are kept. With a
        schedule, the rate at the current step becomes `lr` and the rest of the schedule is
        scaled by the same factor. From a callback during `fit`, this is
        `state.set_learning_rate`.

        Raises:
            TypeError, ValueError: For a bad `lr` or `head`, or an optimizer without a
                learning rate in its state (an optax transformation used as given).
        """
        if self._fit_state is not None and self._fit_state.lr_writer is not None:
            self._fit_state.set_learning_rate(lr, head)
            return
        lr = learning_rate.checked(lr, "set_learning_rate")
        ts = self._built_state()
        names = [head] if head is not None else [h.name for h in self.heads]
        self._head_states(ts, head, "set_learning_rate")  # checks `head`
        self._opt_state = tuple(
            learning_rate.set_learning_rate(opt, lr, f"set_learning_rate({h.name!r})")
            if h.name in names else opt for h, opt in zip(self.heads, ts.opt_state, strict=True))

    def _head_states(self, ts: TrainState, head: str | None, action: str) -> list:
        """The optimizer states of `head` (all heads for None), checking the name."""
        names = [h.name for h in self._heads(action)]
        if head is not None and head not in names:
            raise ValueError(f"{action}: unknown estimator {head!r}. Expected one of: "
                             f"{', '.join(map(repr, names))}.")
        return [opt for name, opt in zip(names, ts.opt_state, strict=True)
                if head is None or name == head]

    def _built_steps(self) -> Steps:
        if self.steps is None:
            raise _not_built_error()
        return self.steps

    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None,
                learning_rate: float = 0.001, *, steps_per_execution: int | None = None,
                **regression_kwargs) -> None:
        """Keras-style: adds an estimator on the model's output (which must have none yet).

        Args:
            optimizer: Name, `Optimizer` or optax transformation. Defaults to `'adam'`.
            loss: Loss name or callable. Defaults to `'categorical_crossentropy'`.
            metrics: A metric (name, `Metric` or callable) or a list of them, each logged
                under its name (`['accuracy', 'top_k', stackit.metrics.F1()]`). Defaults to
                `None`.
            learning_rate: Used when `optimizer` is a name. Defaults to `0.001`.
            steps_per_execution: Training steps per dispatch (see `DNN`). Defaults to
                `None` (unchanged).
            **regression_kwargs: Other `Regression` arguments (`batch_size`, ...).
        """
        if steps_per_execution is not None:
            self._steps_per_execution = _checked_steps_per_execution(steps_per_execution)
        if isinstance(metrics, (list, tuple)):  # one metric is kept as it was given
            metrics = None if not metrics else metrics[0] if len(metrics) == 1 else \
                tuple(metrics)
        estimator = Regression(optimizer, loss, metrics, learning_rate, **regression_kwargs)
        self.compiled_with_metrics = metrics is not None
        if self._pending is not None:
            self._pending = [*[la for la in self._pending if not isinstance(la, Regression)],
                             estimator]
            return
        outputs = [t.parents[0] if t.layer.is_estimator else t for t in self._outputs]
        if len(outputs) != 1:
            raise ValueError("compile() adds one estimator; this model has "
                             f"{len(outputs)} outputs. Use regression(...) on each instead.")
        self._set_graph([estimator([outputs[0]])], search_estimators=False)

    # -- training ------------------------------------------------------------------------------
    def fit(self, X_inputs, Y_targets=None, n_epoch: int | None = None, validation_set=None,
            show_metric: bool | None = None, batch_size: int | None = None,
            shuffle: bool | None = None,
            snapshot_epoch: bool = True, snapshot_step: int | None = None, excl_trainops=None,
            validation_batch_size: int | None = None, run_id: str | None = None,
            callbacks: Callback | Sequence[Callback] | None = None, *, epochs: int | None = None,
            validation_split: float | None = None, validation_data=None,
            verbose: int = 1, resume: bool = False, sample_weight=None,
            class_weight=None, mix: mixing.Mixup | mixing.CutMix | None = None,
            steps_per_epoch: int | None = None) -> History:
        """Trains the model: on every batch, each estimator's optimizer takes one step, in the
        order the estimators were created.

        Args:
            X_inputs: Inputs: an array (one input), a list in input order, or a dict keyed by
                input name (or input tensor). A lazy array (an h5py dataset, a dask array, a
                numpy memmap, `image_preloader`'s) is read one chunk of rows at a time. Or a
                generator / iterable of `(X, Y)` batches (a grain `DataLoader`): each epoch
                takes `steps_per_epoch` of them in the order they come (no shuffling, Y_targets
                None, validation_set an `(X, Y)` pair); see docs/training.md.
            Y_targets: Targets: an array (one estimator), a list in estimator order, or a dict
                keyed by estimator / placeholder name. None when no estimator takes targets.
            n_epoch: Epochs to run (Keras: `epochs`). Defaults to `10`.
            validation_set: A fraction of the data held out (taken from the end), an `(X, Y)`
                pair, or `(X, Y, sample_weight)` to weigh the validation loss as `fit`'s
                `sample_weight` weighs the training loss (Keras: `validation_split` /
                `validation_data`). Defaults to `None`.
            show_metric: Show the training metric in the display. Defaults to `False` (tflearn),
                or `True` after a Keras-style `compile(metrics=...)`.
            batch_size: Defaults to the estimators' (64).
            shuffle: Shuffle each epoch. Defaults to the estimator's `shuffle_batches` (True).
            snapshot_epoch: Save a checkpoint (if `checkpoint_path`) after each epoch.
                Defaults to `True`.
            snapshot_step: Also validate and save every this many steps. Defaults to `None`.
            validation_batch_size: Defaults to the estimator's, then `batch_size`.
            run_id: A name shown with the run. Defaults to `None`.
            callbacks: A `Callback` or a list of them. Defaults to `None`.
            verbose: 0 silent, 1 live bar on a terminal (plain lines otherwise), 2 plain lines.
                Defaults to `1`.
            resume: Continue the run from the newest snapshot under `checkpoint_path` (exactly
                where it stopped, even mid-epoch) up to the epoch it was asked to reach; with
                no snapshot, start from the beginning; a finished run is left as it is.
                Defaults to `False`.
            sample_weight: One weight >= 0 per sample of X, weighing each sample's loss in every
                estimator, or a dict of such arrays keyed by estimator name. Defaults to `None`.
            class_weight: `{class id: weight}` for the classification estimator (classes left
                out weigh 1), or a dict of those keyed by estimator name. Multiplies
                `sample_weight`. The training loss becomes `sum(w_i l_i) / sum(w_i)` over the
                epoch; validation and metrics stay unweighted (see docs/training.md).
                Defaults to `None`.
            mix: `stackit.Mixup(alpha)` or `stackit.CutMix(alpha)`: every training batch is
                mixed pairwise inside the compiled step, inputs and targets with one
                `lam ~ Beta(alpha, alpha)` (see docs/training.md). Evaluation, validation and
                `predict` never mix. Snapshots record it: `fit(resume=True)` goes on
                with it (passing a different one is an error).
                Defaults to `None`.
            steps_per_epoch: With X a generator: the batches that make an epoch (Keras's
                name). The first batch's length is the compiled batch size unless
                `batch_size` is given; shorter batches are padded and masked. `resume=True`
                goes on from a snapshot taken at an epoch's end, reading the generator from
                where it stands. Defaults to `None`: `len(X)`, required without one.

        Returns:
            A `History` with per-epoch `loss` (the sum over estimators), metric, `val_loss` and
            validation metric; with several estimators also `<name>_loss` and `<name>_<metric>`.

        Raises:
            ValueError: For data that does not fit the network, bad arguments, or both a tflearn
                argument and its Keras alias.
            NonFiniteLossError: If the loss becomes NaN or infinite (names the step).
            KeyboardInterrupt: On Ctrl-C, after the current steps finish and, with a
                `checkpoint_path`, a snapshot is written (resume it with `resume=True`).
        """
        n_epoch = alias("n_epoch", n_epoch, "epochs", epochs, 10)
        if validation_split is not None and validation_data is not None:
            raise ValueError("Pass validation_split or validation_data, not both.")
        validation_set = alias("validation_set", validation_set, "validation_split/"
                                "validation_data", validation_split if validation_split is not None
                                else validation_data, None)
        if excl_trainops is not None:
            raise ValueError("excl_trainops is not supported: every estimator trains.")
        check_positive_int("n_epoch", n_epoch)
        n_epoch = capped_epochs(n_epoch)  # `epoch_cap` / STACKIT_MAX_EPOCHS (smoke runs)
        check_fit_flags(shuffle, verbose)
        stream = streaming.fit_stream(  # X an iterable of (X, Y) batches: read its first one
            self, X_inputs, Y_targets, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
            shuffle=shuffle, validation_set=validation_set, sample_weight=sample_weight,
            class_weight=class_weight)
        if stream is not None:
            (X_inputs, Y_targets), batch_size, shuffle = streaming.first_batch(stream), \
                stream.batch_size, False
        self._ensure_built(X_inputs)
        heads = self._heads("fit")
        batch_size = self._batch_size(batch_size)
        first = heads[0].estimator
        val_batch_size = validation_batch_size or first.validation_batch_size or batch_size
        check_positive_int("validation_batch_size", val_batch_size)
        if snapshot_step is not None:
            check_positive_int("snapshot_step", snapshot_step)

        mixing.check_mix(mix, self.net.inputs, heads)

        x, y, n = self._data(X_inputs, Y_targets)
        n = stream.n_samples if stream is not None else n
        y = {**y, **weighting.loss_weights(heads, y, n, sample_weight, class_weight)}
        batch_size, val_batch_size = cap_batch_sizes(n, batch_size, val_batch_size)
        val = None
        if isinstance(validation_set, (float, int)) and not isinstance(validation_set, bool):
            x, y, vx, vy = self.feeder.split(x, y, n, float(validation_set))
            val, n = (vx, weighting.without_weights(vy)), n - int(n * float(validation_set))
        elif validation_set is not None:
            if not isinstance(validation_set, (tuple, list)) or len(validation_set) not in (2, 3):
                size = f" of {len(validation_set)}" \
                    if isinstance(validation_set, (tuple, list)) else ""
                raise ValueError("validation_set must be a fraction in (0, 1), an (X, Y) pair or "
                                 "an (X, Y, sample_weight) triple. Received: "
                                 f"{type(validation_set).__name__}{size}.")
            vx, vy, vn = self._data(validation_set[0], validation_set[1], "validation ")
            if len(validation_set) == 3:
                vy = self._weighted(vy, vn, validation_set[2], "validation")
            val = (vx, vy)
        y = weighting.normalized(y)  # mean 1 over the training samples

        say = print if verbose else (lambda *args, **kwargs: None)
        if resume:
            n_epoch = self._resume(n_epoch, say)
            if n_epoch == 0:
                return History({}, [])
            mix = self._resumed_mix(mix, say)
        else:
            self.position, self.run_target = None, self.epoch + n_epoch
        self.run_mix = mix
        streaming.check_resume(stream, self.position if resume else None, self.epoch)
        if show_metric is None:
            show_metric = self.compiled_with_metrics
        self._fit_preprocessing(x)
        callbacks = callback_list(callbacks)
        progress = default_progress(verbose)
        primary = primary_head(heads)
        scalar_names = tuple(m.name for m in primary.metrics if m.scalar) if primary else ()
        state = TrainingState(
            n_epoch=n_epoch, start_epoch=self.epoch, steps_per_epoch=-(-n // batch_size),
            n_samples=n, batch_size=batch_size, show_metric=show_metric, run_id=run_id,
            metric_name=scalar_names[0] if scalar_names else None, metric_names=scalar_names,
            epoch=self.epoch, step=int(self._built_state().step), has_validation=val is not None)
        self._fit_state = state
        shuffle = first.shuffle_batches if shuffle is None else shuffle
        if self.tensorboard is not None:
            callbacks = [self.tensorboard, *callbacks]
        if self.checkpoint_path or self.best_checkpoint_path:
            callbacks = [Snapshots(), *callbacks]
        for callback in callbacks:
            callback.set_model(self)
        gradients = any(callback.gradient_summaries for callback in callbacks)
        if stream is None and not (resume and self.position is not None):
            self._measure_dispatch(n_epoch * state.steps_per_epoch, x, y, batch_size, mix,
                                   gradients)
        fit_loop(  # publishes its state through `_sync` (callbacks may replace it at the end)
            self._built_steps(), self._built_state(), stream or (x, y), val, n_epoch=n_epoch,
            batch_size=batch_size, val_batch_size=val_batch_size, shuffle=shuffle,
            callbacks=([progress] if progress else []) + callbacks, state=state,
            snapshot_step=snapshot_step, snapshot_epoch=snapshot_epoch, rng=self.data_rng,
            sync=self._sync, resume=self.position if resume else None, mix=mix,
            gradients=gradients)
        return History(state.history, list(range(state.start_epoch + 1, state.epoch + 1)))

    def _measure_dispatch(self, total_steps: int, x: dict, y: dict, batch_size: int, mix,
                          gradients: bool) -> None:
        """For a long fit without `steps_per_execution`: takes the faster of one step and
        `STEPS_PER_CHUNK` steps per dispatch, as measured on this machine before (remembered)
        or now (`stackit.engine.dispatch`)."""
        if self._steps_per_execution is not None or not dispatch.worth_measuring(total_steps):
            return
        current = self._built_steps()
        key = dispatch.choice_key(model_io.graph_config(self), batch_size, self.mixed_precision)
        choice = dispatch.recall(key)
        made = {current.steps_per_dispatch: current}

        def steps_for(per: int) -> Steps:
            if per not in made:
                made[per] = self._new_steps(per)
            return made[per]

        if choice is None:
            acc = current.new_accumulators()
            if gradients:
                acc["grads"] = current.new_gradient_stats(self._built_state().params)
            seconds = dispatch.measure({per: steps_for(per).trainer(mix, gradients)
                                        for per in (1, dispatch.SCAN_PROBE)},
                                       self._built_state(), acc, x, y, batch_size)
            choice = dispatch.decide(seconds, self._guessed_dispatch(), STEPS_PER_CHUNK)
            dispatch.remember(key, choice)
        self._measured_dispatch = choice
        self.steps = steps_for(choice)

    def _resume(self, n_epoch: int, say) -> int:
        """Loads the newest snapshot for `fit(resume=True)`; returns the epochs left to run."""
        if not self.checkpoint_path:
            raise ValueError("fit(resume=True) continues from the newest snapshot under "
                             "checkpoint_path, and this model has none: pass "
                             "DNN(..., checkpoint_path='ckpt/model').")
        newest = model_io.newest_snapshot(self.checkpoint_path)
        if newest is None:
            say(f"No snapshot matches {self.checkpoint_path}-<step>.npz (or .orbax): training "
                f"from the start.")
            self.position, self.run_target = None, self.epoch + n_epoch
            return n_epoch
        self.load(newest)
        target = self.run_target if self.run_target is not None else self.epoch + n_epoch
        self.run_target = target
        if self.epoch >= target:
            say(f"Nothing to resume: {newest} finished the run (epoch {self.epoch} of "
                f"{target}).")
            return 0
        where = f", step {self.position.steps_done} of epoch {self.epoch + 1}" \
            if self.position else ""
        say(f"Resuming from {newest} (step {int(self._built_state().step)}{where}), up to "
            f"epoch {target}.")
        return target - self.epoch

    def _weighted(self, y: dict, n: int, sample_weight, role: str) -> dict:
        """`y` with `sample_weight` (as in `fit`) for the loss of a `role` set, mean 1 over it."""
        weights = weighting.loss_weights(self.heads, y, n, sample_weight, None)
        return weighting.normalized({**y, **weights}, role)

    def _resumed_mix(self, mix, say):
        """The mix a resumed run continues with: the snapshot's when `fit` gets none.

        Raises:
            ValueError: If `mix` differs from the one the snapshot was trained with.
        """
        if mix is None and self.run_mix is not None:
            say(f"Resuming with the snapshot's mix={self.run_mix!r}.")
            return self.run_mix
        if mix is not None and self.run_mix is not None and mix != self.run_mix:
            raise ValueError(f"fit(resume=True, mix={mix!r}): the snapshot was trained with "
                             f"mix={self.run_mix!r}, and a resumed run continues as it began. "
                             f"Pass the same mix, or none to take the snapshot's; to change "
                             f"it, fit again without resume=True.")
        return mix

    def _sync(self, ts: TrainState, epoch: int, position: Position | None) -> None:
        self.train_state = ts
        self.epoch = epoch
        self.position = position

    def _heads(self, action: str) -> list[Head]:
        if not self.heads:
            raise ValueError(f"{action} needs an estimator: end the network with regression(...) "
                             f"or call model.compile(optimizer=..., loss=...).")
        return self.heads

    def _batch_size(self, batch_size: int | None) -> int:
        if batch_size is None:
            sizes = sorted({h.estimator.batch_size for h in self.heads})
            if len(sizes) > 1:
                raise ValueError(f"The estimators ask for different batch sizes {sizes}; stackit "
                                 f"feeds them the same batches. Pass fit(batch_size=...).")
            batch_size = sizes[0]
        check_positive_int("batch_size", batch_size)
        return batch_size

    def _data(self, X, Y, role: str = "") -> tuple[dict, dict, int]:
        """Checked inputs and targets as dicts; builds a Keras-style model on first data."""
        self._ensure_built(X)
        self._heads("fit")
        return self.feeder.train_data(X, Y, role)

    def _ensure_built(self, X) -> None:
        """Builds a Keras-style model without an input layer from the shape of its first X."""
        if self._pending is None:
            return
        from stackit import inputs

        data = X[0] if isinstance(X, (list, tuple)) and len(X) == 1 and \
            np.ndim(X[0]) >= 2 else X
        data = next(iter(data.values())) if isinstance(data, dict) and len(data) == 1 else data
        lazy = inputs.is_lazy(data)
        self.build(tuple((data if lazy else inputs.as_array(data, "InputData", "X")).shape[1:]))

    def _fit_preprocessing(self, x: dict) -> None:
        """Computes each input's preprocessing statistics from the training data, once."""
        if self.preprocessing_fitted:
            return
        for node in self.net.inputs:
            prep = node.layer.data_preprocessing  # type: ignore[attr-defined]
            if prep is None or not prep.needs_fit:
                continue
            self.session.layer_state[node.name] = {
                k: jnp.asarray(v) for k, v in prep.fit_state(x[node.name]).items()}
        self.preprocessing_fitted = True

    def fit_batch(self, X_inputs, Y_targets=None, *, sample_weight=None,
                  class_weight=None, mix: mixing.Mixup | mixing.CutMix | None = None) -> float:
        """One optimizer step (per estimator) on (X, Y) taken as a single batch (tflearn's
        `fit_batch`), for custom training loops. Returns the batch's mean loss (weighted,
        `sum(w_i l_i) / sum(w_i)`, with `sample_weight` / `class_weight` as in `fit`; mixed
        with `mix` as in `fit`).

        Raises:
            ValueError: For data that does not fit the network (as `fit`).
            NonFiniteLossError: If the loss is NaN or infinite (the step is skipped).
        """
        x, y, n = self._data(X_inputs, Y_targets)
        mixing.check_mix(mix, self.net.inputs, self.heads)
        y = weighting.normalized(
            {**y, **weighting.loss_weights(self.heads, y, n, sample_weight, class_weight)})
        x = {k: np.asarray(v) for k, v in x.items()}
        self._fit_preprocessing(x)
        return train_batch(self._built_steps(), self._built_state(), x, y,
                           lambda ts: setattr(self, "train_state", ts), mix)

    def get_train_vars(self) -> list[ParamRef]:
        """Handles on every trainable parameter (tflearn's `get_train_vars`)."""
        frozen = set(self.frozen)
        return [ParamRef(layer, param) for layer, params in self._built_state().params.items()
                if layer not in frozen for param in params]

    def evaluate(self, X, Y=None, batch_size: int = 128, *, return_dict: bool = False,
                 confusion_matrix: bool = False, sample_weight=None,
                 steps: int | None = None) -> list | dict:
        """Scores on (X, Y), computed over every sample (not averaged over batches), without
        dropout.

        Args:
            X: Inputs, as for `fit`.
            Y: Targets, as for `fit`. Defaults to `None`.
            batch_size: Defaults to `128`.
            return_dict: Return `{'loss': ..., metric name: ...}` with the names `fit` logs
                (with several estimators, also `<name>_loss` and `<name>_<metric>` for each).
                Defaults to `False`: tflearn's list, with each estimator's metrics in order
                (one score per estimator with one metric), or its mean loss when it has none.
            confusion_matrix: Also count each estimator's confusion matrix (an int numpy
                array, rows: true class, columns: predicted class), for the estimators that
                take targets: under `'confusion_matrix'` in the dict (`'<name>_confusion_
                matrix'` with several estimators), or appended to the list, one per such
                estimator. Defaults to `False`.
            sample_weight: Weights of the samples' losses, as in `fit`: the loss becomes
                `sum(w_i l_i) / sum(w_i)`; the metrics stay unweighted. Defaults to `None`.
            steps: With X a generator (or another iterable of `(X, Y)` batches, Y then
                None): the batches to score, the first one's length being the batch size
                (`batch_size` is ignored). Defaults to `None`: `len(X)`, or all it yields.

        Raises:
            ValueError: For data that does not fit the network, bad weights, or
                `confusion_matrix=True` without an estimator that takes targets.
        """
        check_positive_int("batch_size", batch_size)
        stream = streaming.evaluate_stream(self, X, Y, steps, sample_weight)
        n: int | None
        data: DeviceData | PlacedStream
        if stream is None:
            x, y, n = self._data(X, Y)
            if sample_weight is not None:
                y = self._weighted(y, n, sample_weight, "evaluation")
            batch_size = min(batch_size, n)  # padding beyond the data would only cost memory
            data = DeviceData(x, y, Placement())
        else:  # an iterable of (X, Y) batches, compiled for its first batch's length
            batch_size, n = stream.batch_size, stream.steps and stream.n_samples
            data = stream.placed(Placement())
        ts = self._built_state()
        compiled = self._built_steps()
        counted = self._confusion_heads() if confusion_matrix else []
        # a ConfusionMatrix on top of each counted head's metrics, unless it has one already
        extra = tuple((head.name, ConfusionMatrix().build(head.output.sample_shape))
                      for head in counted if _confusion_metric(head.metrics) is None)
        readout = evaluate_arrays(compiled, ts.params, ts.layer_state, data, n, batch_size,
                                  extra)
        heads = readout["heads"]
        matrices = {head.name: heads[head.name][_confusion_metric(compiled.metrics_of(
            head, extra)).name] for head in counted}  # type: ignore[union-attr]
        if return_dict:
            scores = {"loss": readout["total"], **readout["metrics"]}
            if len(self.heads) > 1:
                scores.update({f"{name}_{key}": value for name, values in heads.items()
                               for key, value in values.items()})
            elif counted:
                scores["confusion_matrix"] = matrices[counted[0].name]
            return scores
        listed = []
        for head in self.heads:
            values = heads[head.name]
            listed += [values[m.name] for m in head.metrics] or [values["loss"]]
        return listed + list(matrices.values())

    def _confusion_heads(self) -> list[Head]:
        counted = [head for head in self._heads("evaluate") if head.target is not None]
        if not counted:
            raise ValueError("evaluate(confusion_matrix=True) needs an estimator that takes "
                             "targets (regression(placeholder=None) takes none).")
        return counted

    def predict(self, X, batch_size: int = 128, *, steps: int | None = None):
        """The network's outputs for X (probabilities for a softmax output): one array, or one
        per output when the model was built on a list of tensors.

        X may also be a generator (or another iterable) of batches, each X or an `(X, Y)`
        tuple whose Y is ignored: `steps` of them (default: `len(X)`, or all it yields) are
        run, the first one's length being the batch size (`batch_size` is ignored)."""
        check_positive_int("batch_size", batch_size)
        stream = streaming.predict_stream(self, X, steps)
        x: dict | PlacedStream
        if stream is not None:
            x, batch_size = stream.placed(Placement()), stream.batch_size
        else:
            self._ensure_built(X)
            x = self.feeder.inputs(X, "X", self.feeder.predict_inputs)
        ts = self._built_state()
        outputs = predict_arrays(self._built_steps(), ts.params, ts.layer_state, x, batch_size)
        return outputs[0] if len(outputs) == 1 else outputs

    def predict_label(self, X, batch_size: int = 128) -> np.ndarray:
        """Class indices sorted from most to least likely, per sample (tflearn's form)."""
        scores = self.predict(X, batch_size)
        if not isinstance(scores, np.ndarray) or scores.ndim != 2:
            raise ValueError(f"predict_label needs one (batch, classes) output. "
                             f"Received: output shape {np.shape(scores)}.")
        return np.argsort(scores, axis=1)[:, ::-1]

    # -- weights -------------------------------------------------------------------------------
    def _ref(self, value) -> ParamRef:
        ref = ParamRef.of(value)
        params = self.train_state.params if self.train_state is not None else {}
        if ref.param not in params.get(ref.layer, {}):
            known = [f"{layer}/{param}" for layer, ps in params.items() for param in ps]
            raise ValueError(f"This model has no parameter {ref.layer}/{ref.param}. "
                             f"Expected one of: {', '.join(known) or 'none (not built yet)'}.")
        return ref

    def get_weights(self, weight_tensor) -> np.ndarray:
        """The current value of a parameter, e.g. `model.get_weights(dense.W)`."""
        return self.session.value(self._ref(weight_tensor))

    def set_weights(self, tensor, weights) -> None:
        """Replaces a parameter's value (same shape), e.g. `model.set_weights(dense.b, zeros)`."""
        self.session.assign(self._ref(tensor), weights)

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
        (`<model_file>.npz`, written atomically). A path ending in `.orbax`, or any path in a
        run over several processes, is an orbax-checkpoint folder instead (every process
        writes its part; `pip install "stackit[orbax]"`). With `weights_only`, only parameters
        and layer state. Returns the path written."""
        return model_io.save_model(self, model_file, weights_only)

    def load(self, model_file: str, weights_only: bool = False, strict: bool = True, *,
             verbose: int = 1) -> model_io.LoadReport:
        """Restores a file written by `save` (or a snapshot). Layers are matched by explicit
        name first, then by position in the graph. With `weights_only`, only the parameters
        and layer state are restored.

        Args:
            model_file: The file (`.npz` or `.orbax` may be left out).
            weights_only: Restore only parameters and layer state, leaving the optimizer
                state, step and epoch as they are. Defaults to `False`.
            strict: All or nothing: every array must fit. With `strict=False` (fine-tuning),
                every parameter whose layer pairs with one of the file's (explicit name, else
                the same type in the same order) and whose shape matches is loaded; the others
                keep their values, and the report lists them. Defaults to `True`.
            verbose: With `strict=False`, 1 prints the report. Defaults to `1`.

        Returns:
            A `LoadReport`: what was loaded, what was skipped and why.

        Raises:
            CheckpointError: If the file is corrupt or (with `strict=True`) does not fit.
        """
        report = model_io.load_model(self, model_file, weights_only, strict)
        if not strict and verbose:
            print(report)
        return report

    def export(self, path: str | os.PathLike, *,
               platforms: str | Sequence[str] | None = None) -> str:
        """Writes what `predict` computes (inference mode: no dropout, batch-norm moving
        statistics), the current parameters embedded, as a serialized `jax.export` artifact
        (StableHLO) that runs without stackit, atomically (see `stackit/export.py`). Its batch
        axis is symbolic (any size of at least 1); it takes one array per input, in the order
        `predict` takes a list, and returns what `predict` returns. Run it with
        `stackit.load_exported(path)` or `jax.export.deserialize(bytearray(data)).call(...)`:
        the file holds only those bytes.

        Args:
            path: The file to write (`.jaxexport` added when missing).
            platforms: The platform(s) to lower for, some of 'cpu', 'cuda', 'rocm', 'tpu'.
                Defaults to `None` (the platform this process runs on).

        Returns:
            The path written.

        Raises:
            ValueError: If `path` is a folder, a platform is unknown, or the model has
                nothing to export yet (no layers, or no input shape).
        """
        return export_model(self, path, platforms=platforms)

    def snapshot(self, state: TrainingState) -> str | None:
        """Writes the snapshot files that `checkpoint_path`/`best_checkpoint_path` ask for;
        returns the `checkpoint_path` snapshot's path (None without one)."""
        return model_io.write_snapshots(self, state)


def _confusion_metric(metrics: Sequence[Metric]) -> ConfusionMatrix | None:
    return next((m for m in metrics if isinstance(m, ConfusionMatrix)), None)


def _check_same_shapes(name: str, ours: dict, theirs: dict) -> None:
    for param, value in ours.items():
        other = theirs.get(param)
        if other is None or tuple(other.shape) != tuple(value.shape):
            raise ValueError(f"session= holds layer {name!r} with another shape: {param} is "
                             f"{None if other is None else tuple(other.shape)} there, "
                             f"{tuple(value.shape)} here.")


def _fresh_input_name() -> str:
    from stackit.layers.naming import unique_name

    return unique_name("InputData")


def _checked_steps_per_execution(value) -> int | None:
    """`steps_per_execution` as an int, or None (chosen by stackit).

    Raises:
        ValueError: If it is neither None nor a positive int.
    """
    if value is not None:
        check_positive_int("steps_per_execution", value)
        return int(value)
    return None


def _not_built_error() -> ValueError:
    return ValueError("This model has no input_data layer; call build(input_shape) "
                      "or fit/predict once to set the per-sample input shape.")
