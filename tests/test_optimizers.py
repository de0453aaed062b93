"""tflearn's optimizers as optax transformations, step by step against TensorFlow 1's formulas."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import stackit
from stackit import optimizers
from stackit._registry import from_config, to_config
from stackit.optimizers import (
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    Ftrl,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
)

W0 = np.array([0.5, -1.0, 2.0])
GRADS = [np.array([0.1, -0.3, 0.02]), np.array([-0.2, 0.05, 0.4]), np.array([0.3, 0.3, -0.1])]


def run(optimizer, grads=GRADS, w0=W0):
    """Parameters after each update, applying `grads` in turn (one compiled step)."""
    tx = optimizer.build() if isinstance(optimizer, Optimizer) else optimizer
    assert isinstance(tx, optax.GradientTransformation)

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    params = jnp.asarray(w0, jnp.float32)
    state = tx.init(params)
    out = []
    for g in grads:
        params, state = step(params, state, jnp.asarray(g, jnp.float32))
        out.append(np.asarray(params, np.float64))
    return out


def check(optimizer, reference, grads=GRADS, rtol=1e-5):
    got = run(optimizer, grads)
    want = reference(W0.copy(), grads)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-7, err_msg=f"step {step + 1}")


# -- TensorFlow 1's update rules, written out -----------------------------------------------------

def tf_sgd(lr, lr_at=None):
    def ref(w, grads):
        out = []
        for t, g in enumerate(grads):
            w = w - (lr_at(t) if lr_at else lr) * g
            out.append(w)
        return out
    return ref


def tf_momentum(lr, m, nesterov=False):
    def ref(w, grads):
        accum, out = np.zeros_like(w), []
        for g in grads:
            accum = m * accum + g
            w = w - lr * (g + m * accum if nesterov else accum)
            out.append(w)
        return out
    return ref


def tf_adam(lr, b1, b2, eps):
    def ref(w, grads):
        m, v, out = np.zeros_like(w), np.zeros_like(w), []
        for t, g in enumerate(grads, start=1):
            lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w = w - lr_t * m / (np.sqrt(v) + eps)
            out.append(w)
        return out
    return ref


def tf_rmsprop(lr, decay, momentum, eps):
    def ref(w, grads):
        ms, mom, out = np.ones_like(w), np.zeros_like(w), []
        for g in grads:
            ms = decay * ms + (1 - decay) * g * g
            mom = momentum * mom + lr * g / np.sqrt(ms + eps)
            w = w - mom
            out.append(w)
        return out
    return ref


def tf_adagrad(lr, initial):
    def ref(w, grads):
        accum, out = np.full_like(w, initial), []
        for g in grads:
            accum = accum + g * g
            w = w - lr * g / np.sqrt(accum)
            out.append(w)
        return out
    return ref


def tf_adadelta(lr, rho, eps):
    def ref(w, grads):
        accum, accum_update, out = np.zeros_like(w), np.zeros_like(w), []
        for g in grads:
            accum = rho * accum + (1 - rho) * g * g
            update = np.sqrt(accum_update + eps) / np.sqrt(accum + eps) * g
            accum_update = rho * accum_update + (1 - rho) * update * update
            w = w - lr * update
            out.append(w)
        return out
    return ref


def tf_ftrl(lr, lr_power, initial, l1, l2):
    """TensorFlow 1's ApplyFtrl (McMahan et al., 2013)."""
    def ref(w, grads):
        accum, linear, out = np.full_like(w, initial), np.zeros_like(w), []
        for g in grads:
            new_accum = accum + g * g
            linear = linear + g - (new_accum ** -lr_power - accum ** -lr_power) / lr * w
            quadratic = new_accum ** -lr_power / lr + 2 * l2
            w = np.where(np.abs(linear) > l1, (np.sign(linear) * l1 - linear) / quadratic, 0.0)
            accum = new_accum
            out.append(w)
        return out
    return ref


# -- the optimizers -------------------------------------------------------------------------------

def test_sgd():
    check(SGD(0.1), tf_sgd(0.1))


@pytest.mark.parametrize("staircase", [False, True])
def test_sgd_lr_decay_is_tensorflows_exponential_decay(staircase):
    lr, decay, step = 0.5, 0.5, 2
    grads = [np.ones(3)] * 5

    def lr_at(t):
        return lr * decay ** ((t // step) if staircase else (t / step))

    check(SGD(lr, lr_decay=decay, decay_step=step, staircase=staircase), tf_sgd(lr, lr_at),
          grads)
    schedule = SGD(lr, decay, step, staircase).schedule()
    assert [float(schedule(t)) for t in range(5)] == pytest.approx([lr_at(t) for t in range(5)])


def test_momentum_and_nesterov():
    check(Momentum(0.1, 0.8), tf_momentum(0.1, 0.8))
    check(Nesterov(0.1, 0.8), tf_momentum(0.1, 0.8, nesterov=True))
    check(Momentum(0.1), tf_momentum(0.1, 0.9))


def test_momentum_with_lr_decay_as_in_tflearns_resnet_example():
    opt = Momentum(0.1, lr_decay=0.1, decay_step=2, staircase=True)
    lrs = [0.1, 0.1, 0.01]
    want, w, accum = [], W0.copy(), np.zeros(3)
    for g, lr in zip(GRADS, lrs, strict=True):
        accum = 0.9 * accum + g
        w = w - lr * accum
        want.append(w)
    for got, w in zip(run(opt), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-5)


@pytest.mark.parametrize("eps", [1e-8, 1.0])
def test_adam_uses_tensorflows_epsilon_hat(eps):
    # With epsilon=1.0 (tflearn's advice for some models) TF1's update differs from optax.adam.
    check(Adam(0.1, 0.8, 0.95, eps), tf_adam(0.1, 0.8, 0.95, eps))


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_starts_its_mean_square_at_one(momentum):
    check(RMSProp(0.1, 0.8, momentum, 1e-6), tf_rmsprop(0.1, 0.8, momentum, 1e-6))


def test_adagrad():
    check(AdaGrad(0.1, 0.2), tf_adagrad(0.1, 0.2))


def test_adadelta_with_tflearns_rho():
    check(AdaDelta(1.0, 0.1, 1e-3), tf_adadelta(1.0, 0.1, 1e-3))


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.05, 0.1), (0.5, 0.0)])
def test_ftrl_proximal(l1, l2):
    check(Ftrl(0.5, -0.5, 0.1, l1, l2), tf_ftrl(0.5, -0.5, 0.1, l1, l2), rtol=1e-4)


def test_ftrl_works_on_any_pytree_of_params():
    tx = Ftrl(0.5).build()
    params = (jnp.ones(2), {"a": jnp.full((2, 2), -1.0)})
    grads = jax.tree.map(lambda p: 0.1 * jnp.ones_like(p), params)
    updates, state = jax.jit(tx.update)(grads, tx.init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
    assert jax.tree.structure(state.inner_state.n) == jax.tree.structure(params)
    flat = run(Ftrl(0.5), [np.full(2, 0.1)], np.ones(2))[0]
    np.testing.assert_allclose(np.asarray(updates[0]) + 1.0, flat, rtol=1e-6)
    with pytest.raises(ValueError, match="params"):
        tx.update(grads, tx.init(params))


# -- construction, lookup, config -----------------------------------------------------------------

TFLEARN_SIGNATURES = {   # tflearn's positional order and defaults
    SGD: [("learning_rate", 0.001), ("lr_decay", 0.0), ("decay_step", 100),
          ("staircase", False)],
    Momentum: [("learning_rate", 0.001), ("momentum", 0.9), ("lr_decay", 0.0),
               ("decay_step", 100), ("staircase", False)],
    Nesterov: [("learning_rate", 0.001), ("momentum", 0.9), ("lr_decay", 0.0),
               ("decay_step", 100), ("staircase", False)],
    Adam: [("learning_rate", 0.001), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)],
    RMSProp: [("learning_rate", 0.001), ("decay", 0.9), ("momentum", 0.0), ("epsilon", 1e-10)],
    AdaGrad: [("learning_rate", 0.001), ("initial_accumulator_value", 0.1)],
    AdaDelta: [("learning_rate", 0.001), ("rho", 0.1), ("epsilon", 1e-8)],
    Ftrl: [("learning_rate", 3.0), ("learning_rate_power", -0.5),
           ("initial_accumulator_value", 0.1), ("l1_regularization_strength", 0.0),
           ("l2_regularization_strength", 0.0)],
}


@pytest.mark.parametrize("cls", list(TFLEARN_SIGNATURES), ids=lambda c: c.__name__)
def test_positional_arguments_and_defaults_follow_tflearn(cls):
    spec = TFLEARN_SIGNATURES[cls]
    default = cls()
    assert [(name, getattr(default, name)) for name, _ in spec] == spec
    special = {"lr_decay": 0.5, "decay_step": 7, "staircase": True,
               "learning_rate_power": -0.75}  # a power must be <= 0
    values = [special.get(name, 0.25 + 0.01 * i) for i, (name, _) in enumerate(spec)]
    built = cls(*values)
    assert [getattr(built, name) for name, _ in spec] == values
    with pytest.raises(TypeError):
        cls(*values, 0.5)
    cls(use_locking=True, name="x")   # accepted for tflearn compatibility
    assert isinstance(cls().build(), optax.GradientTransformation)


def test_lr_decay_is_a_keyword_where_tflearn_has_none():
    opt = Adam(0.1, lr_decay=0.5, decay_step=1)
    assert float(opt.schedule()(2)) == pytest.approx(0.025)
    with pytest.raises(TypeError):
        Ftrl(0.1, lr_decay=0.5)


@pytest.mark.parametrize("kwargs, match", [
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"learning_rate": "0.1"}, "learning_rate"),
    ({"lr_decay": 1.5}, "lr_decay"),
    ({"lr_decay": 0.5, "decay_step": 0}, "decay_step"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(**kwargs)


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: Adam(beta1=2), ValueError, r"Adam: beta1 must be in \[0, 1\)\. Received: beta1=2"),
    (lambda: Adam(beta2=1.0), ValueError, r"beta2 must be in \[0, 1\)"),
    (lambda: Adam(epsilon=-1), ValueError, r"Adam: epsilon must be in \[0, inf\).*epsilon=-1"),
    (lambda: Adam(beta1="0.9"), TypeError, r"beta1 must be a number in \[0, 1\)"),
    (lambda: Momentum(momentum=-1), ValueError,
     r"Momentum: momentum must be in \[0, 1\]\. Received: momentum=-1"),
    (lambda: Nesterov(momentum=float("nan")), ValueError, r"momentum=nan"),
    (lambda: RMSProp(decay=1.5), ValueError, r"RMSProp: decay must be in \[0, 1\]"),
    (lambda: RMSProp(epsilon=-1e-10), ValueError, r"epsilon must be in \[0, inf\)"),
    (lambda: AdaGrad(initial_accumulator_value=0.0), ValueError,
     r"initial_accumulator_value must be in \(0, inf\)"),
    (lambda: AdaDelta(rho=-0.1), ValueError, r"AdaDelta: rho must be in \[0, 1\]"),
    (lambda: Ftrl(learning_rate_power=0.5), ValueError,
     r"learning_rate_power must be in \(-inf, 0\]"),
    (lambda: Ftrl(l1_regularization_strength=-1.0), ValueError,
     r"l1_regularization_strength must be in \[0, inf\)"),
], ids=["adam_beta1", "adam_beta2", "adam_epsilon", "adam_beta1_str", "momentum", "nesterov_nan",
        "rmsprop_decay", "rmsprop_epsilon", "adagrad_accumulator", "adadelta_rho", "ftrl_power",
        "ftrl_l1"])
def test_hyperparameters_out_of_range_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_hyperparameters_at_their_limits_are_accepted():
    Adam(beta1=0.0, beta2=0.0, epsilon=0.0)
    Momentum(momentum=1.0)
    RMSProp(decay=1.0, momentum=0.0, epsilon=0.0)
    Ftrl(learning_rate_power=0.0, initial_accumulator_value=0.0)


def test_descriptors_are_frozen_and_hashable():
    opt = Momentum(0.1)
    assert {opt: 1}[Momentum(0.1)] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.learning_rate = 1.0


@pytest.mark.parametrize("name, cls", [("sgd", SGD), ("momentum", Momentum),
                                       ("nesterov", Nesterov), ("adam", Adam),
                                       ("rmsprop", RMSProp), ("adagrad", AdaGrad),
                                       ("adadelta", AdaDelta), ("ftrl", Ftrl),
                                       ("Adam", Adam), ("RMSProp", RMSProp)])
def test_get_by_name_uses_the_learning_rate(name, cls):
    opt = optimizers.get(name, learning_rate=0.02)
    assert type(opt) is cls and opt.learning_rate == 0.02


def test_get_passes_instances_classes_and_optax_transformations():
    opt = SGD(0.3)
    assert optimizers.get(opt, 0.01) is opt
    assert optimizers.get(Adam, 0.01) == Adam(0.01)
    tx = optax.sgd(0.1)
    assert optimizers.get(tx) is tx and optimizers.build(tx) is tx
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamax'.*adadelta.*adagrad.*adam.*"
                                         r"adamw.*ftrl.*momentum.*nesterov.*rmsprop.*sgd"):
        optimizers.get("adamax")
    with pytest.raises(TypeError, match="optimizer"):
        optimizers.get(0.1)


def test_build_from_a_name_matches_the_class():
    a = run(optimizers.build("momentum", 0.1))
    b = run(Momentum(0.1))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y)


def test_optimizer_configs_round_trip_through_json():
    for opt in (SGD(0.1, 0.9, 10, True), Adam(0.01, epsilon=1.0),
                Ftrl(1.0, l1_regularization_strength=0.1)):
        assert from_config(json.loads(json.dumps(to_config(opt)))) == opt


def test_tflearn_names_on_the_package():
    for name in ("SGD", "Momentum", "Nesterov", "Adam", "RMSProp", "AdaGrad", "AdaDelta", "Ftrl"):
        assert getattr(stackit, name) is getattr(optimizers, name)


def test_global_norm_clipping_follows_optax_rule():
    from stackit._transforms import clip_by_global_norm
    rng = np.random.default_rng(0)
    grads = {"a": jnp.asarray(rng.normal(size=(5, 3)), jnp.float32),
             "b": jnp.asarray(rng.normal(size=(7,)), jnp.float32)}
    norm = float(optax.tree.norm(grads))
    for max_norm in (norm * 2, norm / 3, 1e-3):
        ours, _ = clip_by_global_norm(max_norm).update(grads, optax.EmptyState())
        theirs, _ = optax.clip_by_global_norm(max_norm).update(grads, optax.EmptyState())
        for name in grads:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-6, atol=1e-9)
        assert float(optax.tree.norm(ours)) == pytest.approx(min(norm, max_norm), rel=1e-5)
    under, _ = clip_by_global_norm(norm * 2).update(grads, optax.EmptyState())
    for name in grads:  # under the bound: exactly the gradients
        np.testing.assert_array_equal(under[name], grads[name])
    zeros = jax.tree.map(jnp.zeros_like, grads)
    out, _ = clip_by_global_norm(1.0).update(zeros, optax.EmptyState())
    assert all(np.all(np.asarray(v) == 0) for v in jax.tree.leaves(out))  # no NaN from 0/0
