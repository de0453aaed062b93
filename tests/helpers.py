"""Small builders shared by the model, training and callback tests."""

import json
import subprocess

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


def json_results(runs: list[subprocess.Popen], timeout: float) -> list[tuple[dict, str]]:
    """`(the JSON of its last line, its whole stdout)` of each Python subprocess in `runs`,
    all running side by side; a failure or a timeout kills every one still running, so that
    none is left behind."""
    results = []
    try:
        for run in runs:
            out, err = run.communicate(timeout=timeout)
            assert run.returncode == 0, err[-4000:]
            results.append((json.loads(out.strip().splitlines()[-1]), out))
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    return results
