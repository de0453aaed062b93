"""What `fit`, `evaluate` and `predict` receive, turned into checked dicts of arrays.

Inputs are keyed by input name, targets by the key each estimator takes them under. All checks
run here, before anything is compiled, and name what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from stackit import inputs
from stackit.engine.heads import Head
from stackit.layers.base import Tensor
from stackit.network import Network, ancestors

__all__ = ["Feeder"]


class Feeder:
    """Checks and arranges data for one model's inputs and estimators.

    Args:
        net: The network.
        heads: Its heads.
        outputs: The tensors `predict` returns (which inputs `predict` needs follows).
    """

    def __init__(self, net: Network, heads: Sequence[Head], outputs: Sequence[Tensor]):
        self.all_inputs = list(net.inputs)
        needed = {id(t) for t in ancestors(outputs)}
        self.predict_inputs = [t for t in net.inputs if id(t) in needed]
        self.target_heads = [h for h in heads if h.target is not None]
        self.target_aliases: dict[Any, str] = {}
        for head in self.target_heads:
            assert head.target is not None
            for alias in (head.name, head.node, head.target):
                self.target_aliases[alias] = head.target

    # -- inputs --------------------------------------------------------------------------------
    def inputs(self, data: Any, role: str, nodes: list[Tensor]) -> dict[str, Any]:
        """Checked arrays for the input `nodes`, keyed by input name.

        Raises:
            ValueError: For missing or unknown inputs, wrong shapes, empty or non-finite data,
                or inputs of different lengths.
        """
        if data is None:
            raise ValueError(f"{role} is missing. Expected a numeric array. Received: {role}=None.")
        names = [t.name for t in nodes]
        aliases: dict[Any, str] = {t: t.name for t in nodes}
        if isinstance(data, dict):  # predict may get the training dict: drop the other inputs
            others = {t.name for t in self.all_inputs} - set(names)
            data = {k: v for k, v in data.items()
                    if inputs.key_name(k) not in others}
        fed = inputs.feeds(data, names, aliases, [len(t.sample_shape) for t in nodes], role)
        checked = {}
        for node in nodes:
            value = fed[node.name]
            where = role if len(nodes) == 1 else f"{role}[{node.name!r}]"
            checked[node.name] = _input_array(value, node, where)
        if len(checked) > 1:
            inputs.check_same_length(checked, role)
        return checked

    # -- targets -------------------------------------------------------------------------------
    def targets(self, data: Any, n: int, role: str) -> dict[str, np.ndarray]:
        """Checked targets keyed by target key (empty when no estimator takes targets).

        Raises:
            ValueError: For missing or unknown targets, shapes that do not fit the estimators'
                outputs, or a length other than `n`.
        """
        if not self.target_heads:
            if data is not None:
                raise ValueError(f"No estimator of this model takes targets (each was built "
                                 f"with placeholder=None), so {role} must be None. "
                                 f"Received: {type(data).__name__}.")
            return {}
        if data is None:
            raise ValueError(f"{role} is missing: the estimators "
                             f"{[h.name for h in self.target_heads]} need targets.")
        names = [h.target for h in self.target_heads]
        fed = inputs.feeds(data, names, self.target_aliases,  # type: ignore[arg-type]
                           [len(h.output.sample_shape) for h in self.target_heads], role)
        checked = {}
        for head in self.target_heads:
            assert head.target is not None
            where = role if len(names) == 1 else f"{role}[{head.target!r}]"
            y = inputs.as_array(fed[head.target], head.name, where)
            if head.loss is not None:
                y = inputs.check_targets(
                    y, head.output.sample_shape, categorical=head.loss.categorical,
                    to_one_hot=head.estimator.to_one_hot, n_classes=head.estimator.n_classes,
                    estimator=head.name, role=where, sparse=head.loss.sparse)
            else:
                y = y.astype(np.float32)
            inputs.check_finite(y, where)
            if len(y) != n:
                raise ValueError(f"X and {where} must have the same number of samples. "
                                 f"Received: {n} and {len(y)}.")
            checked[head.target] = y
        return checked

    def train_data(self, X: Any, Y: Any, prefix: str = "") -> tuple[dict, dict, int]:
        """Checked `(x, y, n)` for training or evaluation."""
        x = self.inputs(X, f"{prefix}X", self.all_inputs)
        n = inputs.check_same_length(x, f"{prefix}X")
        return x, self.targets(Y, n, f"{prefix}Y"), n

    @staticmethod
    def split(x: dict, y: dict, n: int, fraction: float):
        """Holds out the last `fraction` of the samples: `(x, y, val_x, val_y)`."""
        return inputs.split_validation(x, y, n, fraction)


def _input_array(value: Any, node: Tensor, role: str):
    layer = node.layer
    if inputs.is_lazy(value):  # decoded batch by batch while training; never held at once
        return inputs.check_inputs(value, node.sample_shape, node.name, role)
    x = inputs.as_array(value, node.name, role)
    x = inputs.check_inputs(x, node.sample_shape, node.name, role)
    inputs.check_finite(x, role)
    return inputs.cast(x, layer.dtype, role)  # type: ignore[attr-defined]
