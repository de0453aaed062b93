"""Data parallelism: with several devices the batch is split over a mesh, with the same result."""

import os
import subprocess
import sys

import numpy as np

from tests.helpers import json_results

#: The network both scripts train: 12 features, a hidden layer with batch norm, 3 classes.
_NET = """
net = stackit.input_data(shape=[None, 12])
net = stackit.fully_connected(net, 16, activation="relu")
net = stackit.batch_normalization(net)
net = stackit.fully_connected(net, 3, activation="softmax")
"""

_SCRIPT = """
import json, sys
import jax, numpy as np
import stackit
rng = np.random.default_rng(0)
x = rng.normal(size=(100, 12)).astype(np.float32)
y = np.eye(3)[rng.integers(0, 3, 100)]
""" + _NET + """
model = stackit.DNN(stackit.regression(net, batch_size=8, learning_rate=0.01), seed=0)
halve = stackit.callbacks.LearningRateScheduler(lambda epoch: 0.01 * 0.5 ** epoch)
history = model.fit(x, y, n_epoch=2, validation_set=0.2, verbose=0, callbacks=halve)
w = model.train_state.params["FullyConnected"]["W"]
print(json.dumps({"devices": jax.device_count(), "sharding": type(w.sharding).__name__,
                  "loss": history.history["loss"], "val_acc": history.history["val_acc"],
                  "W": np.asarray(w).tolist(), "pred": model.predict(x[:5]).tolist(),
                  "lr": history.history["lr"], "compiled": model.steps.train_chunk._cache_size()}))
"""


def _run(devices: int, script: str = _SCRIPT) -> dict:
    return _run_all([devices], script)[0]


def _run_all(device_counts: list[int], script: str) -> list[dict]:
    """Runs `script` once per device count, the runs side by side; each result is the JSON of
    its last line."""
    runs = []
    for devices in device_counts:
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        runs.append(subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return [result for result, _ in json_results(runs, timeout=300)]


def test_four_devices_train_like_one():
    one, four = _run(1), _run(4)

    assert (one["devices"], four["devices"]) == (1, 4)
    assert four["sharding"] == "NamedSharding"  # the state lives on the 4-device mesh
    # the rate set between the epochs lands where the state lives: no second compilation
    assert one["lr"] == four["lr"] == [float(np.float32(0.01)), float(np.float32(0.005))]
    assert one["compiled"] == four["compiled"] == 1
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(four["val_acc"], one["val_acc"], rtol=1e-6)
    np.testing.assert_allclose(four["W"], one["W"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(four["pred"], one["pred"], rtol=1e-4, atol=1e-6)


_UNEVEN = """
import json
import jax, numpy as np
import stackit
from stackit.engine import loop
from stackit.engine.data import Placement, batch_indices

loop.MERGED_BATCH_BYTES = 1  # evaluate / predict: one batch of 30 per call, several calls
rows = Placement().split_batches(batch_indices(np.arange(45), 30, 1, 2)[0])
rng = np.random.default_rng(0)
x = rng.normal(size=(102, 12)).astype(np.float32)
y = np.eye(3)[rng.integers(0, 3, 102)]
""" + _NET + """
model = stackit.DNN(stackit.regression(net, learning_rate=0.05), seed=0)
history = model.fit(x, y, n_epoch=2, batch_size=30, validation_set=0.2, verbose=0)
w = model.train_state.params["FullyConnected"]["W"]
batches = ((x[i:i + 30],) for i in range(0, 102, 30))  # a stream: batches of 30, 30, 30, 12
print(json.dumps({
    "devices": jax.device_count(), "rows": np.asarray(rows).tolist(),
    "rows_devices": len(rows.sharding.device_set) if hasattr(rows, "sharding") else 1,
    "rows_shard": list(rows.sharding.shard_shape(rows.shape)) if hasattr(rows, "sharding")
    else list(rows.shape),
    "w_devices": len(w.sharding.device_set), "W": np.asarray(w).tolist(),
    "moving_mean": np.asarray(model.train_state.layer_state["BatchNormalization"]
                              ["moving_mean"]).tolist(),
    "loss": history.history["loss"], "val_loss": history.history["val_loss"],
    "pred": model.predict(x, batch_size=30).tolist(),
    "pred_stream": model.predict(batches).tolist(),
    "eval": model.evaluate(x, y, batch_size=30, return_dict=True)}))
"""


def test_a_batch_size_not_divisible_by_the_devices_is_padded_and_trains_on_all_of_them():
    one, four = _run_all([1, 4], _UNEVEN)

    assert (one["devices"], four["devices"]) == (1, 4)
    # each step's 30 indices are padded with -1 to 32: 8 per device, on all four devices
    assert np.shape(four["rows"]) == (2, 32) and four["rows_devices"] == 4
    assert four["rows_shard"] == [2, 8]
    assert four["rows"][0][:30] == list(range(30)) and four["rows"][0][30:] == [-1, -1]
    assert four["rows"][1][:15] == list(range(30, 45)) and set(four["rows"][1][15:]) == {-1}
    assert np.shape(one["rows"]) == (2, 30)  # one device: no padding
    assert four["w_devices"] == 4  # the trained state lives on (was computed by) 4 devices
    # the padding is masked everywhere: same losses, parameters, batch-norm statistics
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(four["val_loss"], one["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(four["W"], one["W"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(four["moving_mean"], one["moving_mean"], rtol=1e-5, atol=1e-6)
    # predict / evaluate in padded batches of 30 give every row once, in order
    assert np.shape(four["pred"]) == (102, 3)
    np.testing.assert_allclose(four["pred"], one["pred"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(four["pred_stream"], four["pred"], rtol=1e-5, atol=1e-6)
    assert four["eval"].keys() == one["eval"].keys()
    for key in one["eval"]:
        np.testing.assert_allclose(four["eval"][key], one["eval"][key], rtol=1e-5)
