"""A head is one estimator made concrete: its output, loss, metric, targets and optimizer."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Sequence

import jax
import numpy as np
import optax

from stackit import losses, metrics, optimizers
from stackit._transforms import clip_by_global_norm
from stackit.estimator import LOSS_TENSOR, Regression
from stackit.layers.base import Tensor
from stackit.metrics import Metric
from stackit.network import Network
from stackit.precision import LossScaleState

__all__ = ["Head", "build_heads", "trainable_mask", "build_optimizer", "match_layers",
           "group_multipliers", "scale_by_group", "transplant_state", "WEIGHT_KEY_PREFIX"]

#: Prefix of the key under which an estimator's per-sample loss weights travel with the
#: targets `y` (training only; see `stackit.weighting`).
WEIGHT_KEY_PREFIX = "<sample_weight>/"


@dataclasses.dataclass
class Head:
    """What one estimator trains and reports.

    Attributes:
        name: The estimator's name (its key in histories and logs).
        node: The estimator's node in the graph.
        output: The tensor it trains (what `predict` returns for it).
        loss: The per-sample loss, or None when the loss is a tensor of the graph.
        loss_node: That loss tensor, or None.
        metrics: Its metrics, in order (empty without one); each set up for `output`.
        target: The key its targets are fed under, or None (no targets).
        logits: Whether the graph returns `output`'s pre-activation value for the loss.
        tx: Its optax transformation (None until the model has parameters).
    """

    name: str
    node: Tensor
    output: Tensor
    loss: losses.Loss | None
    loss_node: Tensor | None
    metrics: tuple[Metric, ...]
    target: str | None
    estimator: Regression
    logits: bool = False
    tx: optax.GradientTransformation | None = None

    @property
    def metric(self) -> Metric | None:
        """The first metric (tflearn's one metric), or None."""
        return self.metrics[0] if self.metrics else None

    @property
    def n_classes(self) -> int | None:
        """Classes for integer targets turned one-hot on the device, else None."""
        return self.estimator.n_classes if self.estimator.to_one_hot else None

    @property
    def weight_key(self) -> str:
        """The key of its per-sample loss weights in `y`, present when `fit` weighs samples."""
        return WEIGHT_KEY_PREFIX + self.name


def build_heads(net: Network, estimators: Sequence[Tensor]) -> list[Head]:
    """One head per estimator node, in order; asks `net` for logits where a loss wants them.

    Raises:
        ValueError: If two estimators share a name or a target key, or `n_classes` (with
            `to_one_hot`) differs from the size of the estimator's input.
    """
    heads: list[Head] = []
    for node in estimators:
        est = node.layer
        assert isinstance(est, Regression)
        tensor_loss = est.loss == LOSS_TENSOR
        loss = None if tensor_loss else losses.get(est.loss)
        head = Head(est.name or "Regression", node, node.parents[0], loss,
                    node.parents[1] if tensor_loss else None, (), est.target_name, est)
        try:
            head.metrics = tuple(metric.build(head.output.sample_shape)
                                 for metric in metrics.get_all(est.metric))
        except ValueError as err:
            raise ValueError(f"regression {head.name!r}: {err}") from None
        if est.to_one_hot and head.output.sample_shape != (est.n_classes,):
            raise ValueError(
                f"regression {head.name!r}: to_one_hot=True makes one-hot targets of "
                f"n_classes={est.n_classes} columns, so the estimator's input must have "
                f"{est.n_classes} units. Received: n_classes={est.n_classes}, input shape="
                f"{tuple(head.output.shape)} (from {head.output.name!r}).")
        if loss is not None and loss.check_output is not None:
            try:
                loss.check_output(head.output.sample_shape)
            except ValueError as err:
                raise ValueError(f"regression {head.name!r}: {err}") from None
        if loss is not None:
            wanted = loss.logits_of or loss.stable_activation
            head.logits = wanted is not None and net.want_logits(head.output, wanted)
        heads.append(head)
    names = [h.name for h in heads]
    targets = [h.target for h in heads if h.target is not None]
    for what, values in (("names", names), ("target names", targets)):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"Estimators must have distinct {what}; they key the targets and "
                             f"the logs. Received twice: {twice}. Pass regression(..., name=...).")
    return heads


def trainable_mask(params: dict, frozen: set[str], wanted: Sequence[str] | None):
    """A pytree of bools over `params`: True where a parameter is trained. A parameter is
    frozen when its layer is; with `wanted` ('layer/param' names), only those are trained."""
    wanted_set = set(wanted) if wanted is not None else None

    def trained(path, _):
        keys = [getattr(k, "key", None) for k in path]
        layer, param = keys[0], keys[-1]
        if layer in frozen:
            return False
        return wanted_set is None or f"{layer}/{param}" in wanted_set

    return jax.tree_util.tree_map_with_path(trained, params)


def build_optimizer(head: Head, clip_gradients: float, params: dict, frozen: set[str],
                    known: set[str], clip_value: float | None = None
                    ) -> optax.GradientTransformation:
    """The head's optax transformation: global-norm clipping, then clipping of each gradient
    element to `[-clip_value, clip_value]`, then its optimizer, on the parameters it trains
    only (the others get zero updates). A clip of 0 or None is off. With the estimator's
    `learning_rates`, each layer's updates are then scaled by its multiplier.

    Raises:
        ValueError: If `trainable_vars` names a parameter the model does not have, or a
            `learning_rates` pattern matches no layer with parameters.
    """
    est = head.estimator
    if est.trainable_vars is not None:
        unknown = sorted(set(est.trainable_vars) - known)
        if unknown:
            raise ValueError(f"regression {head.name!r}: trainable_vars names parameters this "
                             f"model does not have: {unknown}. Expected some of: "
                             f"{sorted(known)}.")
    tx = optimizers.build(est.optimizer, est.learning_rate)
    multipliers = group_multipliers(head, params)
    if multipliers:
        tx = optax.chain(tx, scale_by_group(multipliers))
    clips = ([clip_by_global_norm(clip_gradients)] if clip_gradients else []) + \
        ([optax.clip(clip_value)] if clip_value else [])
    if clips:
        tx = optax.chain(*clips, tx)
    mask = trainable_mask(params, frozen, est.trainable_vars)
    if all(jax.tree.leaves(mask)):
        return tx
    labels = jax.tree.map(lambda m: "train" if m else "frozen", mask)
    return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)


def match_layers(patterns: Iterable[str], names: Iterable[str], owner: str) -> dict[str, list[str]]:
    """The layer names each glob pattern (`'Conv2D*'`, `'block1/*'`) matches, in `names`' order.

    Raises:
        TypeError: If a pattern is not a non-empty string.
        ValueError: If a pattern matches none of `names` (the message lists them).
    """
    names = list(names)
    found: dict[str, list[str]] = {}
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"{owner}: expected layer-name patterns such as 'Conv2D*'. "
                            f"Received: {pattern!r}.")
        found[pattern] = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not found[pattern]:
            raise ValueError(f"{owner}: the pattern {pattern!r} matches no layer with "
                             f"parameters. Expected a glob over: {', '.join(names) or 'none'}.")
    return found


def group_multipliers(head: Head, params: dict) -> dict[str, float]:
    """`{layer name: multiplier}` from the estimator's `learning_rates` (the first pattern
    that matches a layer gives its multiplier); empty without them.

    Raises:
        ValueError: If a pattern matches no layer with parameters, or the optimizer is FTRL
            (its update is not proportional to the learning rate).
    """
    groups = head.estimator.learning_rates
    if not groups:
        return {}
    owner = f"regression {head.name!r}: learning_rates"
    if isinstance(optimizers.get(head.estimator.optimizer, head.estimator.learning_rate),
                  optimizers.Ftrl):
        raise ValueError(f"{owner} scales each group's updates, which is a learning rate "
                         f"times the multiplier for every optimizer but FTRL. Use another "
                         f"optimizer, or drop learning_rates.")
    matches = match_layers([pattern for pattern, _ in groups], params, owner)
    multipliers: dict[str, float] = {}
    for pattern, multiplier in groups:
        for name in matches[pattern]:
            multipliers.setdefault(name, float(multiplier))
    return {name: m for name, m in multipliers.items() if m != 1.0}


def scale_by_group(multipliers: dict[str, float]) -> optax.GradientTransformation:
    """Multiplies the updates of each layer in `multipliers` by its number (stateless).

    Placed after an optimizer whose updates are proportional to its learning rate, this is
    a per-layer learning rate `lr * multiplier` that follows the rate held in the optimizer
    state (set by callbacks, decayed by schedules)."""

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params

        def scaled(path, update):
            multiplier = multipliers.get(getattr(path[0], "key", None))
            return update if multiplier is None else update * multiplier

        return jax.tree_util.tree_map_with_path(scaled, updates), state

    return optax.GradientTransformation(init, update)


#: Where `build_optimizer` puts the optimizer's state when some parameters are frozen.
_TRAINED = ".inner_states['train'].inner_state"


def _canonical(path) -> str:
    """A state leaf's path with the frozen-layer partition around it left out."""
    text = jax.tree_util.keystr(path)
    return text[len(_TRAINED):] if text.startswith(_TRAINED) else text


def transplant_state(old, new):
    """`new` (a fresh optimizer state) with every leaf that `old` also holds (same path
    inside the trained part, same shape and dtype) taken from `old`: after the set of frozen
    layers changed, the other parameters keep their moments, and the counts and learning
    rate go on. Parameters trained anew start from fresh state; a loss scale goes on."""
    if isinstance(old, LossScaleState) and isinstance(new, LossScaleState):
        return old._replace(inner=transplant_state(old.inner, new.inner))
    kept = {_canonical(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(old)}

    def pick(path, leaf):
        found = kept.get(_canonical(path))
        same = found is not None and np.shape(found) == np.shape(leaf) and \
            found.dtype == leaf.dtype
        return found if same else leaf

    return jax.tree_util.tree_map_with_path(pick, new)
