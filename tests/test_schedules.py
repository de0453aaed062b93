"""stackit.schedules: named optax schedules, and optimizers that take a schedule."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import stackit
from stackit import optimizers, schedules
from stackit._registry import from_config, to_config
from stackit.learning_rate import LearningRateState, ScheduledLearningRateState

STEPS = [0, 1, 5, 9, 10, 11, 37, 99, 100, 150, 1000]

CASES = [
    (schedules.step(0.1, 10, 0.5),
     optax.exponential_decay(0.1, 10, 0.5, staircase=True)),
    (schedules.exponential(0.1, 20, 0.9),
     optax.exponential_decay(0.1, 20, 0.9)),
    (schedules.exponential(0.1, 20, 0.9, staircase=True),
     optax.exponential_decay(0.1, 20, 0.9, staircase=True)),
    (schedules.cosine(0.1, 100, alpha=0.1),
     optax.cosine_decay_schedule(0.1, 100, 0.1)),
    (schedules.warmup_cosine(0.1, 10, 100, init_value=0.01, end_value=0.001),
     optax.warmup_cosine_decay_schedule(0.01, 0.1, 10, 100, 0.001)),
    (schedules.one_cycle(0.1, 100, pct_start=0.25),
     optax.cosine_onecycle_schedule(100, 0.1, 0.25)),
    (schedules.piecewise([10, 100], [0.1, 0.05, 0.005]),
     optax.piecewise_constant_schedule(0.1, {10: 0.5, 100: 0.1})),
]
IDS = ["step", "exponential", "exponential_staircase", "cosine", "warmup_cosine", "one_cycle",
       "piecewise"]


@pytest.mark.parametrize("schedule, reference", CASES, ids=IDS)
def test_schedules_give_optaxs_values(schedule, reference):
    for t in STEPS:
        assert float(schedule(t)) == pytest.approx(float(reference(t)), rel=1e-6, abs=1e-12), t
    compiled = jax.jit(schedule)  # as inside a compiled step: the count is traced
    traced = [float(compiled(jnp.asarray(t, jnp.int32))) for t in STEPS]
    np.testing.assert_allclose(traced, [reference(t) for t in STEPS], rtol=1e-6)


@pytest.mark.parametrize("schedule", [case[0] for case in CASES], ids=IDS)
def test_schedules_round_trip_through_a_json_config(schedule):
    config = json.loads(json.dumps(to_config(stackit.Adam(learning_rate=schedule))))
    assert from_config(config) == stackit.Adam(learning_rate=schedule)


def test_get_by_name_with_arguments_or_a_callable():
    assert schedules.get("cosine", 0.1, decay_steps=50) == schedules.CosineDecay(0.1, 50)
    assert schedules.get("One_Cycle", 0.2, 10) == schedules.OneCycle(0.2, 10)
    fn = optax.linear_schedule(0.1, 0.0, 10)
    assert schedules.get(fn) is fn
    with pytest.raises(ValueError, match=r"Unknown schedule 'linear'.*cosine.*one_cycle.*"
                                         r"piecewise.*step.*warmup_cosine"):
        schedules.get("linear")
    with pytest.raises(TypeError, match="callable is used as it is"):
        schedules.get(fn, 0.1)
    with pytest.raises(TypeError, match="schedule name"):
        schedules.get(0.1)


@pytest.mark.parametrize("make, match", [
    (lambda: schedules.step(0.1, 0), "step_size must be a positive int"),
    (lambda: schedules.cosine(-0.1, 10), r"learning_rate must be in \[0, inf\)"),
    (lambda: schedules.cosine(0.1, 10, alpha=2.0), r"alpha must be in \[0, 1\]"),
    (lambda: schedules.warmup_cosine(0.1, 100, 100), r"warmup_steps must be an int in \[0, "),
    (lambda: schedules.one_cycle(0.1, 100, pct_start=1.0), r"pct_start must be in \(0, 1\)"),
    (lambda: schedules.piecewise([10, 5], [1.0, 0.5, 0.1]), "increasing positive ints"),
    (lambda: schedules.piecewise([10], [1.0]), "values must be 2 numbers"),
], ids=["step_size", "negative", "alpha", "warmup", "pct_start", "boundaries", "values"])
def test_bad_schedule_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_every_optimizer_takes_a_schedule_an_optax_schedule_or_a_callable():
    # the reproducer: an optax schedule given to Adam used to be refused
    opt = stackit.Adam(learning_rate=optax.cosine_decay_schedule(1e-3, 100))
    state = opt.build().init(jnp.zeros(3))
    assert isinstance(state, ScheduledLearningRateState)
    assert float(state.learning_rate) == pytest.approx(1e-3)
    for name in ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad",
                 "adadelta", "ftrl"):
        tx = optimizers.build(name, schedules.step(0.5, 2))
        assert isinstance(tx.init(jnp.zeros(3)), ScheduledLearningRateState), name
    fn = lambda step: 0.1 / (1.0 + step)  # noqa: E731 - jnp arithmetic on the traced step
    assert optimizers.get("sgd", fn).learning_rate is fn
    assert isinstance(stackit.SGD(0.1).build().init(jnp.zeros(3)), LearningRateState)


def test_lr_decay_is_a_schedule_in_the_state():
    tx = stackit.SGD(0.5, lr_decay=0.5, decay_step=2, staircase=True).build()
    w = jnp.zeros(1)
    state = tx.init(w)
    rates = []
    for _ in range(5):
        rates.append(float(state.learning_rate))
        updates, state = tx.update(jnp.ones(1), state, w)
        assert float(updates[0]) == pytest.approx(-rates[-1])
    assert rates == pytest.approx([0.5, 0.5, 0.25, 0.25, 0.125])


@pytest.mark.parametrize("make, error, match", [
    (lambda: stackit.Adam(learning_rate=lambda: 0.1), TypeError, "function of the step"),
    (lambda: stackit.Adam(learning_rate=lambda s: jnp.ones(2)), TypeError, "real scalar"),
    (lambda: stackit.SGD(schedules.step(0.1, 5), lr_decay=0.5), ValueError,
     "put the decay in the schedule"),
    (lambda: stackit.SGD(float("nan")), ValueError, "learning_rate must be a non-negative"),
], ids=["no_argument", "not_scalar", "schedule_and_lr_decay", "nan"])
def test_bad_learning_rates_are_refused_when_the_optimizer_is_created(make, error, match):
    with pytest.raises(error, match=match):
        make()
