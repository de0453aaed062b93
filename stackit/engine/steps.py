"""The jit-compiled train, eval and predict functions of a network and its heads.

Data are pytrees: `x` maps input names to arrays, `y` maps target keys to arrays. A chunk runs
several steps in one dispatch (a `lax.scan` over rows of batch indices, -1 marking padding);
each step gives every head its own optimizer update, in order, each seeing the parameters the
previous one left. A train chunk made with a `Mixup` / `CutMix` (`Steps.trainer`) mixes each
batch first (`stackit.mixing`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from stackit import activations, mixing, precision
from stackit.engine.heads import Head
from stackit.layers.base import Tensor
from stackit.metrics import Metric
from stackit.network import Network

__all__ = ["TrainState", "Steps", "ExtraMetrics", "stat_key"]

#: Metrics evaluated on top of the heads' own, as `(head name, metric)` pairs (hashable, so
#: each set compiles its own evaluation once), e.g. the confusion matrix of `evaluate`.
ExtraMetrics = tuple[tuple[str, Metric], ...]


def stat_key(i: int) -> str:
    """The key of a head's `i`-th metric in its accumulators: `'metric'` for the first (as
    snapshots written before several metrics hold it), `'metric_<i>'` for the others."""
    return "metric" if i == 0 else f"metric_{i}"


class TrainState(NamedTuple):
    """Everything training changes, as one pytree (donated to each step).

    `opt_state` holds one optimizer state per head, in head order.
    """

    params: dict
    layer_state: dict
    opt_state: Any
    step: jax.Array
    key: jax.Array


class Steps:
    """The compiled steps of one network.

    Args:
        net: The network.
        heads: Its heads (empty for a predict-only model).
        outputs: The tensors `predict` returns.
        steps_per_dispatch: Training steps per call of the train chunk: above 1 they run
            fused in one `lax.scan`; 1 runs one jitted step per call.
        mixed_precision: Compute in this dtype ('bfloat16', 'float16'; `stackit.precision`),
            or None for float32 throughout.
    """

    def __init__(self, net: Network, heads: Sequence[Head], outputs: Sequence[Tensor],
                 steps_per_dispatch: int, mixed_precision: str | None = None):
        self.net, self.heads, self.outputs = net, list(heads), list(outputs)
        self.steps_per_dispatch = steps_per_dispatch
        self.scan = steps_per_dispatch > 1
        self.mixed_precision = mixed_precision
        self.cond_guard = jax.default_backend() == "cpu"  # see _guarded_update
        self.train_chunk = jax.jit(self._chunk(self._train_step, self.scan),
                                   donate_argnums=(0,))
        self.eval_chunk = jax.jit(self._chunk(self._eval_step, True))
        self.predict_batch = jax.jit(self._predict)
        self._compiled: dict[tuple[str, Hashable], Callable] = {}
        #: Target keys of sparse losses: mixed through the loss, not linearly.
        self.sparse_targets = frozenset(h.target for h in self.heads if h.target is not None
                                        and h.loss is not None and h.loss.sparse)

    def metrics_of(self, head: Head, extra: ExtraMetrics = ()) -> tuple[Metric, ...]:
        """The metrics accumulated for `head`: its own, then those of `extra` for it."""
        return head.metrics + tuple(metric for name, metric in extra if name == head.name)

    def evaluator(self, extra: ExtraMetrics = ()) -> Callable:
        """The eval chunk accumulating `extra` metrics too (compiled once per `extra`)."""
        if not extra:
            return self.eval_chunk
        return self._cached("eval", extra, lambda: jax.jit(self._chunk(
            functools.partial(self._eval_step, extra=extra), True)))

    def results(self, acc: dict, extra: ExtraMetrics = ()) -> dict:
        """The values of the accumulators, computed on the device in one compiled call:
        `count`, `nan_step` and per head `{'loss': sum, stat_key(i): metric i's result}`."""
        return self._cached("results", extra, lambda: jax.jit(
            functools.partial(self._results, extra=extra)))(acc)

    def trainer(self, mix: mixing.Mixup | mixing.CutMix | None = None,
                gradients: bool = False) -> Callable:
        """The train chunk, mixing every batch with `mix` first, and with `gradients`
        accumulating gradient statistics under `acc['grads']` (`new_gradient_stats`); compiled
        once per setting."""
        if mix is None and not gradients:
            return self.train_chunk
        return self._cached("train", (mix, gradients), lambda: jax.jit(self._chunk(
            functools.partial(self._train_step, mix=mix, gradients=gradients), self.scan),
            donate_argnums=(0,)))

    def _cached(self, kind: str, extra: Hashable, make: Callable[[], Callable]) -> Callable:
        if (kind, extra) not in self._compiled:
            self._compiled[kind, extra] = make()
        return self._compiled[kind, extra]

    # -- pure pieces ---------------------------------------------------------------------------
    def new_accumulators(self, extra: ExtraMetrics = ()) -> dict:
        heads: dict[str, Any] = {}
        for head in self.heads:
            heads[head.name] = {"loss": jnp.zeros(())}
            for i, metric in enumerate(self.metrics_of(head, extra)):
                heads[head.name][stat_key(i)] = metric.init()
        return {"count": jnp.zeros(()), "nan_step": jnp.full((), -1, jnp.int32), "heads": heads}

    def new_gradient_stats(self, params: dict) -> dict:
        """Per head, zeroed gradient statistics of the training steps to come: `sq`, the sum
        over steps of each parameter's squared gradient norm; `steps`, the steps counted;
        `last`, the gradients of the last step (before clipping; non-finite steps skipped)."""
        return {head.name: {"sq": jax.tree.map(lambda p: jnp.zeros(()), params),
                            "steps": jnp.zeros(()),
                            "last": jax.tree.map(jnp.zeros_like, params)}
                for head in self.heads}

    @staticmethod
    def _gradient_stats(stats: dict, grads, ok) -> dict:
        weight = ok.astype(jnp.float32)
        return {"sq": jax.tree.map(lambda s, g: s + weight * jnp.sum(jnp.square(
                    g.astype(jnp.float32))), stats["sq"], grads),
                "steps": stats["steps"] + weight,
                "last": jax.tree.map(lambda old, g: jnp.where(ok, g, old), stats["last"], grads)}

    def _results(self, acc: dict, extra: ExtraMetrics) -> dict:
        heads = {}
        for head in self.heads:
            stats = acc["heads"][head.name]
            heads[head.name] = {"loss": stats["loss"]}
            for i, metric in enumerate(self.metrics_of(head, extra)):
                heads[head.name][stat_key(i)] = metric.result(stats[stat_key(i)])
        return {"count": acc["count"], "nan_step": acc["nan_step"], "heads": heads}

    def _dense_targets(self, y: dict) -> dict:
        """`y` with the integer labels of `to_one_hot` estimators as one-hot rows."""
        y = dict(y)
        for head in self.heads:
            if head.n_classes and head.target in y:
                y[head.target] = jax.nn.one_hot(y[head.target], head.n_classes)
        return y

    def _evaluate_heads(self, params, layer_state, x, y, mask, heads: Sequence[Head], *,
                        training, key, mixed: mixing.MixedBatch | None = None):
        """Runs the graph for `heads`: per head `(pred, y, loss_sum, loss_mean)`, new state.
        `y` holds dense targets (`_dense_targets`); with `mixed`, sparse labels mix through
        the loss."""
        wanted = [h.output for h in heads] + [h.loss_node for h in heads if h.loss_node]
        values, logits, new_state = self._apply(params, layer_state, x, training=training,
                                                key=key, outputs=wanted, mask=mask)
        count = jnp.sum(mask)
        loss_values = iter(values[len(heads):])
        results = []
        for head, out in zip(heads, values, strict=False):
            y_true = y.get(head.target) if head.target is not None else None
            pred = out
            if head.loss is None:  # a scalar loss tensor of the graph, already a batch mean
                loss_mean = next(loss_values)
                loss_sum = loss_mean * count
            else:
                loss = head.loss
                if head.logits:
                    z = logits[self.net.index[id(head.output)]]
                    from_logits = loss.fn if loss.logits_of else loss.stable_fn
                    assert from_logits is not None  # want_logits said the loss has one
                    loss_of = functools.partial(from_logits, z)
                else:
                    loss_of = functools.partial(loss.fn, out)
                    if loss.logits_of:  # a linear output read as logits: metrics see probs
                        pred = activations.get(loss.logits_of)(out)
                per_sample = loss_of(y_true)
                if mixed is not None and head.target in mixed.partner:
                    # sparse labels: lam loss(y_a) + (1 - lam) loss(y_b); metrics: the dominant
                    lam, partner = mixed.lam, mixed.partner[head.target]
                    per_sample = lam * per_sample + (1.0 - lam) * loss_of(partner)
                    y_true = jnp.where(lam >= 0.5, y[head.target], partner)
                weights = y.get(head.weight_key)  # fit(sample_weight=, class_weight=)
                loss_sum = jnp.sum(per_sample * (mask if weights is None else mask * weights))
                loss_mean = loss_sum / jnp.maximum(count, 1.0)
            results.append((pred, y_true, loss_sum, loss_mean))
        return results, new_state

    @staticmethod
    def _accumulate(acc_head, metrics: Sequence[Metric], pred, y_true, loss_sum, mask, finite):
        new = dict(acc_head)
        new["loss"] = acc_head["loss"] + jnp.where(finite, loss_sum, 0.0)
        for i, metric in enumerate(metrics):
            new[stat_key(i)] = metric.update(acc_head[stat_key(i)], pred, y_true, mask)
        return new

    def _train_step(self, carry, x, y, mask, mix=None, gradients=False):
        ts, acc = carry
        key = ts.key
        y, mixed = self._dense_targets(y), None
        if mix is not None:  # its own key: the chain below draws as without mixing
            mixed = mixing.mix_batch(mixing.step_key(key), x, y, mask, mix, self.sparse_targets)
            x, y = mixed.x, mixed.y
        params, layer_state, opt_states = ts.params, ts.layer_state, list(ts.opt_state)
        real = jnp.sum(mask) > 0
        all_finite = jnp.bool_(True)
        acc = {**acc, "heads": dict(acc["heads"])}
        for i, head in enumerate(self.heads):
            key, step_key = jax.random.split(key)
            scale = precision.loss_scale(opt_states[i])  # float16: a dynamic loss scale

            def objective(p, head=head, layer_state=layer_state, step_key=step_key,
                          scale=scale):
                results, new_state = self._evaluate_heads(p, layer_state, x, y, mask, [head],
                                                          training=True, key=step_key,
                                                          mixed=mixed)
                total = results[0][3] + self.net.penalty(p)
                return total if scale is None else total * scale, (results[0], new_state)

            (total, (result, new_state)), grads = jax.value_and_grad(
                objective, has_aux=True)(params)
            if scale is not None:
                total = total / scale
                grads = jax.tree.map(lambda g, scale=scale: g / scale, grads)
            finite = jnp.isfinite(total)
            if gradients:
                acc["grads"] = {**acc["grads"], head.name: self._gradient_stats(
                    acc["grads"][head.name], grads, real & finite)}
            params, opt_states[i], layer_state = self._guarded_update(
                head.tx, real & finite, grads, params, opt_states[i], layer_state, new_state)
            pred, y_true, loss_sum, _ = result
            acc["heads"][head.name] = self._accumulate(acc["heads"][head.name], head.metrics,
                                                       pred, y_true, loss_sum, mask, finite)
            all_finite = all_finite & finite
        ok = real & all_finite
        new_ts = TrainState(params, layer_state, tuple(opt_states),
                            ts.step + ok.astype(jnp.int32), key)
        acc["count"] = acc["count"] + jnp.sum(mask)
        first_bad = (acc["nan_step"] < 0) & real & ~all_finite
        acc["nan_step"] = jnp.where(first_bad, ts.step + 1, acc["nan_step"])
        return new_ts, acc

    def _guarded_update(self, tx, ok, grads, params, opt_state, layer_state, new_state):
        """The optimizer update, or the old state unchanged where `ok` is False (a step of
        padding only, or a non-finite loss).

        On CPU this is a `lax.cond` whose false branch passes the state through, so XLA updates
        params and optimizer state in place; `jnp.where(ok, new, old)` keeps both alive and
        copies every optimizer moment each step (7-10% of an MLP step, benchmarks/step_cost.py).
        The pass-through must stay the false branch: older XLA elides its copies only there
        (openxla/xla#46314). On GPU a conditional reads its predicate on the host, a sync per
        step (jax-ml/jax#5986), so the `where` form stays there.
        """

        def update(operands):
            grads, params, opt_state, _, new_state = operands
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, new_state

        def skip(operands):
            _, params, opt_state, layer_state, _ = operands
            return params, opt_state, layer_state

        operands = (grads, params, opt_state, layer_state, new_state)
        if self.cond_guard:
            return lax.cond(ok, update, skip, operands)
        return jax.tree.map(lambda a, b: jnp.where(ok, a, b), update(operands), skip(operands))

    def _eval_step(self, carry, x, y, mask, extra: ExtraMetrics = ()):
        acc, params, layer_state = carry
        results, _ = self._evaluate_heads(params, layer_state, x, self._dense_targets(y), mask,
                                          self.heads, training=False, key=None)
        acc = {**acc, "heads": dict(acc["heads"]), "count": acc["count"] + jnp.sum(mask)}
        for head, (pred, y_true, loss_sum, _) in zip(self.heads, results, strict=True):
            acc["heads"][head.name] = self._accumulate(
                acc["heads"][head.name], self.metrics_of(head, extra), pred, y_true, loss_sum,
                mask, True)
        return acc, params, layer_state

    def _predict(self, params, layer_state, x):
        values, _, _ = self._apply(params, layer_state, x, training=False, key=None,
                                   outputs=self.outputs)
        return tuple(values)

    def _apply(self, params, layer_state, x, **kwargs):
        """`net.apply`, in the compute dtype under mixed precision: float parameters and
        inputs cast to it, outputs and logits cast back to float32, the layer state kept in
        its own dtype (float32 batch-norm statistics)."""
        if self.mixed_precision is None:
            return self.net.apply(params, layer_state, x, **kwargs)
        dtype = precision.compute_dtype(self.mixed_precision)
        with precision.computing_in(dtype):
            values, logits, new_state = self.net.apply(
                precision.to_compute(params, dtype), layer_state,
                precision.to_compute(x, dtype), **kwargs)
        new_state = {name: jax.tree.map(lambda new, old: new.astype(old.dtype), s,
                                        layer_state[name]) if name in layer_state else s
                     for name, s in new_state.items()}
        return precision.to_float32(values), precision.to_float32(logits), new_state

    @staticmethod
    def _chunk(step: Callable, scan: bool) -> Callable:
        """Runs `step` over rows of batch indices `idx` (K, B); -1 marks padding."""

        def body(carry, rows, xs, ys):
            mask = (rows >= 0).astype(jnp.float32)
            safe = jnp.maximum(rows, 0)
            take = lambda a: jnp.take(a, safe, axis=0)  # noqa: E731
            return step(carry, jax.tree.map(take, xs), jax.tree.map(take, ys), mask)

        def run(carry, xs, ys, idx):
            if scan:
                carry, _ = lax.scan(lambda c, rows: (body(c, rows, xs, ys), None), carry, idx)
                return carry
            for rows in idx:  # unrolled: K is small (1) when scanning is slow
                carry = body(carry, rows, xs, ys)
            return carry

        return run
