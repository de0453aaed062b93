"""Training on lazily loaded images (image_preloader) streams batches and matches in-memory data."""

import numpy as np
import pytest
from PIL import Image

import stackit
from stackit.data_utils import image_preloader


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label in range(2):
        (tmp_path / str(label)).mkdir()
        for i in range(12):
            pixels = (rng.random((6, 6, 3)) * 100 + label * 120).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / str(label) / f"{i}.png")
    return tmp_path


def _model():
    stackit.layers.reset_default_graph()
    net = stackit.input_data(shape=[None, 6, 6, 3])
    net = stackit.fully_connected(net, 2, activation="softmax")
    net = stackit.regression(net, batch_size=5, learning_rate=0.05)
    return stackit.DNN(net, seed=3)


def test_fit_on_a_preloader_matches_fit_on_the_decoded_arrays(image_folder, monkeypatch):
    X, Y = image_preloader(str(image_folder), image_shape=(6, 6), mode="folder",
                           categorical_labels=True)
    dense_x, dense_y = np.asarray(X), np.asarray(Y)
    eager, lazy = _model(), _model()
    eager_history = eager.fit(dense_x, dense_y, n_epoch=2, validation_set=0.25, verbose=0)

    calls = []
    original = type(X).__getitem__
    monkeypatch.setattr(type(X), "__getitem__",
                        lambda self, i: calls.append(np.size(i)) or original(self, i))
    lazy_history = lazy.fit(X, Y, n_epoch=2, validation_set=0.25, verbose=0)

    assert lazy_history.history == eager_history.history
    np.testing.assert_array_equal(lazy.get_weights("FullyConnected/W"),
                                  eager.get_weights("FullyConnected/W"))
    assert calls and max(calls) < len(X)  # read a chunk at a time, never the whole set
    np.testing.assert_allclose(lazy.predict(X), eager.predict(dense_x), rtol=1e-6)
