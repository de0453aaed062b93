"""Layers with several outputs (`Layer.n_outputs`): each output is its own tensor (`Output`
nodes), models and saved graphs hold them, and the group itself cannot be fed on."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import stackit
from stackit.layers.base import Layer, Output, Tensor
from stackit.layers.core import fully_connected, input_data
from stackit.layers.estimator import regression


@dataclasses.dataclass(frozen=True)
class SplitScale(Layer):
    """Test layer: `(x[:, :k] * s, x[:, k:])`, two outputs."""

    k: int = 1
    default_name = "SplitScale"
    fn_name = "split_scale"

    @property
    def n_outputs(self):
        return 2

    def init(self, key, input_shape):
        del key
        return {"s": jnp.full((self.k,), 2.0)}, {}, ((self.k,), (input_shape[0] - self.k,))

    def apply(self, params, state, x, *, training, key):
        del training, key
        return (x[:, :self.k] * params["s"][None, :], x[:, self.k:]), state


@pytest.fixture(autouse=True)
def _fresh_graph():
    stackit.layers.reset_default_graph()


def test_each_output_is_a_tensor_with_its_shape_and_value():
    net = input_data([None, 5])
    node = SplitScale(2)(net)
    assert node.n_outputs == 2 and node.shape == ((None, 2), (None, 3))
    assert node.sample_shape == ((2,), (3,))
    a, b = node.outputs
    assert node.outputs == (a, b)  # made once
    assert isinstance(a.layer, Output) and [a.name, b.name] == ["SplitScale:0", "SplitScale:1"]
    assert a.shape == (None, 2) and b.shape == (None, 3)
    assert a.s == node.s  # parameter handles reach the producing layer
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    ya, yb = stackit.DNN([a, fully_connected(b, 1)], seed=0).predict(x)
    np.testing.assert_array_equal(ya, x[:, :2] * 2)
    assert net.outputs == (net,)


def test_the_group_cannot_feed_a_layer_or_be_a_model_output():
    node = SplitScale(2)(input_data([None, 5]))
    with pytest.raises(TypeError, match="'SplitScale' .*yields 2 outputs; connect one of them"):
        fully_connected(node, 3)
    with pytest.raises(ValueError, match="yields 2 outputs; a model computes tensors"):
        stackit.DNN(node)


def test_a_shared_layer_shares_its_output_layers():
    layer = SplitScale(1)
    x1, x2 = input_data([None, 3], name="x1"), input_data([None, 3], name="x2")
    a1, _ = layer(x1).outputs
    a2, _ = layer(x2).outputs
    assert a1.layer is a2.layer and a1 is not a2
    model = stackit.DNN([a1, a2], seed=0)
    y1, y2 = model.predict({"x1": np.ones((1, 3)), "x2": np.full((1, 3), 3.0)})
    np.testing.assert_array_equal(np.r_[y1, y2], [[2.0], [6.0]])


def test_a_saved_graph_with_outputs_rebuilds(tmp_path):
    net = input_data([None, 4])
    a, b = SplitScale(1)(net).outputs
    out = fully_connected(stackit.layers.merge([a, b], "concat"), 2, activation="softmax")
    model = stackit.DNN(regression(out), seed=0)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    loaded = stackit.load_model(model.save(str(tmp_path / "split")))
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    rebuilt = [n for n in loaded.net.nodes if isinstance(n.layer, Output)]
    assert [n.name for n in rebuilt] == ["SplitScale:0", "SplitScale:1"]


def test_summary_shows_one_shape_per_output():
    from rich.console import Console

    from stackit.summary import print_summary

    a, b = SplitScale(2)(input_data([None, 5])).outputs
    console = Console(record=True, width=120)
    print_summary(stackit.DNN([a, b], seed=0), console)
    assert "(None, 2), (None, 3)" in console.export_text()


def test_output_refuses_a_single_output_input():
    with pytest.raises(ValueError, match="output 'x:1': expected the outputs of a layer"):
        Tensor(Output(1, name="x:1"), (input_data([None, 3]),))
    with pytest.raises(ValueError, match="index must be an int >= 0"):
        Output(-1)
