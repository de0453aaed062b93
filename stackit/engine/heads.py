"""A head is one estimator made concrete: its output, loss, metric, targets and optimizer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import optax

from stackit import losses, metrics, optimizers
from stackit.estimator import LOSS_TENSOR, Regression
from stackit.layers.base import Tensor
from stackit.network import Network

__all__ = ["Head", "build_heads", "trainable_mask", "WEIGHT_KEY_PREFIX"]

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
        metric: The metric, or None.
        target: The key its targets are fed under, or None (no targets).
        logits: Whether the graph returns `output`'s pre-activation value for the loss.
        tx: Its optax transformation (None until the model has parameters).
    """

    name: str
    node: Tensor
    output: Tensor
    loss: losses.Loss | None
    loss_node: Tensor | None
    metric: metrics.Metric | None
    target: str | None
    estimator: Regression
    logits: bool = False
    tx: optax.GradientTransformation | None = None

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
                    node.parents[1] if tensor_loss else None, metrics.get(est.metric),
                    est.target_name, est)
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
    only (the others get zero updates). A clip of 0 or None is off.

    Raises:
        ValueError: If `trainable_vars` names a parameter the model does not have.
    """
    est = head.estimator
    if est.trainable_vars is not None:
        unknown = sorted(set(est.trainable_vars) - known)
        if unknown:
            raise ValueError(f"regression {head.name!r}: trainable_vars names parameters this "
                             f"model does not have: {unknown}. Expected some of: "
                             f"{sorted(known)}.")
    tx = optimizers.build(est.optimizer, est.learning_rate)
    clips = ([optax.clip_by_global_norm(clip_gradients)] if clip_gradients else []) + \
        ([optax.clip(clip_value)] if clip_value else [])
    if clips:
        tx = optax.chain(*clips, tx)
    mask = trainable_mask(params, frozen, est.trainable_vars)
    if all(jax.tree.leaves(mask)):
        return tx
    labels = jax.tree.map(lambda m: "train" if m else "frozen", mask)
    return optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()}, labels)
