"""Small builders shared by the model, training and callback tests."""

import numpy as np

from stackit.layers import fully_connected, input_data, regression


def mlp(n_in, n_hidden, n_out, *, activation="relu", **regression_kwargs):
    """`input → dense(n_hidden) → dense(n_out, softmax) → regression`: (hidden, out, estimator)."""
    net = input_data(shape=[None, n_in])
    hidden = fully_connected(net, n_hidden, activation=activation)
    out = fully_connected(hidden, n_out, activation="softmax")
    return hidden, out, regression(out, **regression_kwargs)


def classification_data(n, n_in, n_classes, seed=0):
    """Gaussian inputs and random classes: (x float32, integer labels, one-hot float32)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(np.float32)
    labels = rng.integers(0, n_classes, n)
    return x, labels, np.eye(n_classes, dtype=np.float32)[labels]
