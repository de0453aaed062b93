"""optax transformations that optax lacks or computes differently from TensorFlow 1: Adam with
TensorFlow's placement of epsilon, FTRL-proximal and proximal AdaGrad; and global-norm
clipping in the form that costs least inside a fused step. `stackit.optimizers` and the
engine build on them."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["ScaleByTFAdamState", "scale_by_tf_adam", "FtrlState", "ftrl", "proximal_adagrad",
           "clip_by_global_norm"]


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """`optax.clip_by_global_norm`'s rule (gradients scaled by `max_norm / norm` when their
    global norm exceeds `max_norm`, else unchanged), as one multiply by
    `min(1, max_norm / norm)`: optax selects between the gradients and a per-element
    division, which costs about twice as much in a compiled MLP step on CPU
    (benchmarks/clip_cost.py). The state is optax's (empty), so checkpoints do not change."""

    def update(updates, state, params=None):
        del params
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(updates)))
        scale = jnp.minimum(1.0, max_norm / norm)  # a zero norm gives inf: scale 1
        return jax.tree.map(lambda g: g * scale.astype(g.dtype), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


class ScaleByTFAdamState(NamedTuple):
    """Adam's step count and first/second moment estimates."""

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax's states do
    mu: Any
    nu: Any


def scale_by_tf_adam(b1: float = 0.9, b2: float = 0.999,
                     eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam's direction as TensorFlow 1 computes it, `eps` added *after* bias correction:
    `sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`.

    optax's `scale_by_adam` adds `eps` to the bias-corrected `sqrt(v_hat)` instead; the two
    differ when `eps` is large (tflearn suggests `epsilon=1.0` or `0.1` for some models).
    """

    def init(params):
        return ScaleByTFAdamState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, params),
                                  jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda g, m: b1 * m + (1.0 - b1) * g, updates, state.mu)
        nu = jax.tree.map(lambda g, v: b2 * v + (1.0 - b2) * g * g, updates, state.nu)
        count = state.count + 1
        t = count.astype(jnp.float32)
        scale = jnp.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        updates = jax.tree.map(lambda m, v: scale * m / (jnp.sqrt(v) + eps), mu, nu)
        return updates, ScaleByTFAdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


class FtrlState(NamedTuple):
    """FTRL-proximal accumulators: squared-gradient sum `n` and linear term `z`."""

    n: Any
    z: Any


def ftrl(learning_rate: float, learning_rate_power: float = -0.5,
         initial_accumulator_value: float = 0.1, l1: float = 0.0,
         l2: float = 0.0) -> optax.GradientTransformation:
    """FTRL-proximal (McMahan et al., 2013) as an optax transformation (optax has none).

    Returns updates `w_new - w`, so it needs `params` in `update`.
    """
    power = -learning_rate_power

    def init(params):
        return FtrlState(jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value),
                                      params),
                         jax.tree.map(jnp.zeros_like, params))

    def update_one(g, n, z, w):
        n_new = n + g * g
        sigma = (n_new ** power - n ** power) / learning_rate
        z_new = z + g - sigma * w
        denom = n_new ** power / learning_rate + 2.0 * l2
        w_new = jnp.where(jnp.abs(z_new) > l1, (jnp.sign(z_new) * l1 - z_new) / denom, 0.0)
        return w_new - w, n_new, z_new

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("ftrl needs the current params in update(updates, state, params).")
        leaves, treedef = jax.tree.flatten(updates)
        rows = [update_one(*args) for args in zip(leaves, treedef.flatten_up_to(state.n),
                                                   treedef.flatten_up_to(state.z),
                                                   treedef.flatten_up_to(params), strict=True)]
        delta, n, z = ([row[i] for row in rows] for i in range(3))
        return (treedef.unflatten(delta),
                FtrlState(treedef.unflatten(n), treedef.unflatten(z)))

    return optax.GradientTransformation(init, update)


def proximal_adagrad(learning_rate: float, initial_accumulator_value: float = 0.1,
                     l1: float = 0.0, l2: float = 0.0) -> optax.GradientTransformation:
    """Proximal AdaGrad (Duchi and Singer's forward-backward splitting) as TensorFlow 1's
    `ProximalAdagradOptimizer`: `accum += g^2`, `lr_t = lr / sqrt(accum)`,
    `v = w - lr_t * g`, `w_new = sign(v) * max(|v| - lr_t * l1, 0) / (1 + lr_t * l2)`.
    With `l1 = l2 = 0` it is AdaGrad. Returns updates `w_new - w`, so it needs `params`.
    """

    def init(params):
        return optax.ScaleByRssState(
            sum_of_squares=jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value),
                                        params))

    def update_one(g, accum, w):
        accum = accum + g * g
        lr_t = learning_rate / jnp.sqrt(accum)
        v = w - lr_t * g
        shrunk = jnp.sign(v) * jnp.maximum(jnp.abs(v) - lr_t * l1, 0.0) if l1 else v
        return shrunk / (1.0 + lr_t * l2) - w, accum

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("proximal_adagrad needs the current params in "
                             "update(updates, state, params).")
        leaves, treedef = jax.tree.flatten(updates)
        rows = [update_one(g, a, w) for g, a, w in zip(
            leaves, treedef.flatten_up_to(state.sum_of_squares), treedef.flatten_up_to(params),
            strict=True)]
        return (treedef.unflatten([row[0] for row in rows]),
                optax.ScaleByRssState(sum_of_squares=treedef.unflatten([row[1] for row in rows])))

    return optax.GradientTransformation(init, update)
