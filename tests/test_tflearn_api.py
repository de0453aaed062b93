"""The tflearn API pieces beyond layers that tflearn's examples touch: `get_layer_by_name`,
`variables.get_all_variables` / `get_all_trainable_variable`, `ProximalAdaGrad`,
`metrics.Prediction_Counts`, `SequencePreprocessing`, `mnist.read_data_sets`."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import stackit
from stackit import metrics, optimizers, variables
from stackit._registry import from_config, to_config
from stackit._transforms import proximal_adagrad
from stackit.data_preprocessing import DataPreprocessing, SequencePreprocessing
from stackit.datasets import _standin
from stackit.datasets import mnist as mnist_module
from stackit.datasets._batches import DataSet


# -- get_layer_by_name ---------------------------------------------------------------------------
def test_get_layer_by_name_returns_the_output_tensor():
    inp = stackit.input_data([None, 4], name="inp")
    dense = stackit.fully_connected(inp, 3, name="dense1")
    auto = stackit.fully_connected(dense, 2)
    assert stackit.get_layer_by_name("dense1") is dense
    assert stackit.get_layer_by_name("inp") is inp
    assert stackit.get_layer_by_name("FullyConnected") is auto
    assert stackit.utils.get_layer_by_name is stackit.get_layer_by_name


def test_get_layer_by_name_of_a_shared_layer_lists_every_output():
    inp = stackit.input_data([None, 4])
    with stackit.variable_scope("Shared"):
        first = stackit.fully_connected(inp, 4)
    with stackit.variable_scope("Shared", reuse=True):
        second = stackit.fully_connected(first, 4)
    assert stackit.get_layer_by_name("Shared/FullyConnected") == [first, second]


def test_get_layer_by_name_refuses_unknown_names_and_forgets_a_reset_graph():
    stackit.fully_connected(stackit.input_data([None, 2]), 2, name="kept")
    with pytest.raises(ValueError, match="no layer named 'missing'.*'kept'"):
        stackit.get_layer_by_name("missing")
    with pytest.raises(TypeError, match="a string"):
        stackit.get_layer_by_name(3)
    stackit.reset_default_graph()
    with pytest.raises(ValueError, match="none yet"):
        stackit.get_layer_by_name("kept")


# -- variables ------------------------------------------------------------------------------------
def test_get_all_variables_and_the_trainable_ones():
    inp = stackit.input_data([None, 4])
    dense = stackit.fully_connected(inp, 3)
    frozen = stackit.fully_connected(dense, 2, trainable=False)
    assert variables.get_all_variables() == [dense.W, dense.b, frozen.W, frozen.b]
    assert variables.get_all_trainable_variable() == [dense.W, dense.b]


# -- ProximalAdaGrad ------------------------------------------------------------------------------
PARAMS = {"w": jnp.array([0.5, -0.2, 0.01, 3.0])}
GRADS = {"w": jnp.array([0.1, -0.3, 0.02, -1.0])}


def test_proximal_adagrad_without_regularization_is_adagrad():
    mine = proximal_adagrad(0.1, 0.1)
    reference = optax.adagrad(0.1, initial_accumulator_value=0.1, eps=0.0)
    state, ref_state = mine.init(PARAMS), reference.init(PARAMS)
    params = dict(PARAMS)
    for _ in range(3):
        step, state = mine.update(GRADS, state, params)
        ref_step, ref_state = reference.update(GRADS, ref_state, params)
        np.testing.assert_allclose(step["w"], ref_step["w"], rtol=1e-5, atol=1e-6)
        params = optax.apply_updates(params, step)


def test_proximal_adagrad_matches_tensorflows_update():
    l1, l2, lr = 0.5, 0.1, 0.1
    transform = proximal_adagrad(lr, 0.1, l1, l2)
    step, _ = transform.update(GRADS, transform.init(PARAMS), PARAMS)
    w, g = np.asarray(PARAMS["w"]), np.asarray(GRADS["w"])
    lr_t = lr / np.sqrt(0.1 + g * g)
    v = w - lr_t * g
    expected = np.sign(v) * np.maximum(np.abs(v) - lr_t * l1, 0.0) / (1.0 + lr_t * l2)
    np.testing.assert_allclose(np.asarray(PARAMS["w"] + step["w"]), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="needs the current params"):
        transform.update(GRADS, transform.init(PARAMS))


def test_proximal_adagrad_optimizer_by_name_and_arguments():
    assert isinstance(optimizers.get("ProximalAdaGrad", 0.05), optimizers.ProximalAdaGrad)
    opt = stackit.ProximalAdaGrad(0.01, 0.05, l2_regularization_strength=0.01)
    assert (opt.learning_rate, opt.initial_accumulator_value) == (0.01, 0.05)
    assert isinstance(opt.build(), optax.GradientTransformation)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        stackit.ProximalAdaGrad(l1_regularization_strength=-1.0)


def test_a_model_trains_with_proximal_adagrad():
    x = np.random.default_rng(0).random((32, 3), dtype=np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    net = stackit.fully_connected(stackit.input_data([None, 3]), 1)
    net = stackit.regression(net, optimizer=stackit.ProximalAdaGrad(0.5), loss="mean_square",
                             metric=None)
    model = stackit.DNN(net)
    history = model.fit(x, y, n_epoch=5, batch_size=8)
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- Prediction_Counts ----------------------------------------------------------------------------
def test_prediction_counts_counts_predicted_classes_of_real_samples():
    counts = metrics.Prediction_Counts().build((3,))
    y_pred = jnp.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    y_true = jnp.zeros((4, 3))
    stats = counts.update(counts.init(), y_pred, y_true, jnp.array([1.0, 1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(counts.result(stats), [1, 1, 1])  # the padded row is left out
    assert not counts.scalar and counts.name == "prediction_counts"
    binary = metrics.Prediction_Counts().build((1,))
    stats = binary.update(binary.init(), jnp.array([[0.9], [0.2], [0.7]]), jnp.zeros((3, 1)),
                          jnp.ones(3))
    np.testing.assert_array_equal(binary.result(stats), [1, 2])


def test_prediction_counts_brings_its_inner_metric_and_saves():
    found = metrics.get_all(metrics.Prediction_Counts(metrics.Accuracy()))
    assert [type(m).__name__ for m in found] == ["Accuracy", "Prediction_Counts"]
    assert [m.name for m in metrics.get_all("prediction_counts")] == ["prediction_counts"]
    wrapped = metrics.Prediction_Counts("top_k", name="counts")
    assert from_config(to_config(wrapped)) == wrapped


# -- SequencePreprocessing ------------------------------------------------------------------------
def test_sequence_preprocessing_is_a_preprocessing_pipeline():
    prep = SequencePreprocessing()
    prep.add_featurewise_zero_center(mean=0.5)
    rebuilt = DataPreprocessing.from_config(prep.get_config())
    assert type(rebuilt) is SequencePreprocessing and rebuilt.steps == prep.steps
    with pytest.raises(NotImplementedError, match="pad_sequences"):
        prep.sequence_padding()


# -- mnist.read_data_sets -------------------------------------------------------------------------
def test_read_data_sets_gives_tflearns_old_layout(monkeypatch):
    monkeypatch.setenv(_standin.STANDIN_ENV, "1")
    monkeypatch.setenv(_standin.SAMPLES_ENV, "48")
    with pytest.warns(UserWarning, match="STAND-IN DATA"):
        data = mnist_module.read_data_sets(one_hot=True)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == \
        (44, 4, 12)
    assert data.train.images.shape == (44, 784) and data.train.labels.shape == (44, 10)
    with pytest.raises(ValueError, match="fake_data"):
        mnist_module.read_data_sets(fake_data=True)


def test_data_set_next_batch_walks_epochs_and_reshuffles():
    data = DataSet(np.arange(10)[:, None], np.arange(10))
    seen = [data.next_batch(4) for _ in range(2)]
    assert [len(x) for x, _ in seen] == [4, 4] and data.epochs_completed == 0
    x, y = data.next_batch(4)  # only 2 left: a new epoch starts
    assert data.epochs_completed == 1 and len(x) == 4
    np.testing.assert_array_equal(data.images[:, 0], data.labels)  # shuffled together
    with pytest.raises(ValueError, match="batch_size"):
        data.next_batch(11)
    with pytest.raises(ValueError, match="same length"):
        DataSet(np.zeros((3, 1)), np.zeros(2))


def test_new_names_are_frozen_and_documented():
    assert dataclasses.is_dataclass(stackit.ProximalAdaGrad)
    for obj in (stackit.get_layer_by_name, variables.get_all_variables,
                variables.get_all_trainable_variable, metrics.Prediction_Counts,
                SequencePreprocessing, mnist_module.read_data_sets, DataSet):
        assert obj.__doc__
