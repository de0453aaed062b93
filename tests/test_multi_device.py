"""Data parallelism: with several devices the batch is split over a mesh, with the same result."""

import json
import os
import subprocess
import sys

import numpy as np

_SCRIPT = """
import json, sys
import jax, numpy as np
import stackit
rng = np.random.default_rng(0)
x = rng.normal(size=(100, 12)).astype(np.float32)
y = np.eye(3)[rng.integers(0, 3, 100)]
net = stackit.input_data(shape=[None, 12])
net = stackit.fully_connected(net, 16, activation="relu")
net = stackit.batch_normalization(net)
net = stackit.fully_connected(net, 3, activation="softmax")
model = stackit.DNN(stackit.regression(net, batch_size=8, learning_rate=0.01), seed=0)
halve = stackit.callbacks.LearningRateScheduler(lambda epoch: 0.01 * 0.5 ** epoch)
history = model.fit(x, y, n_epoch=2, validation_set=0.2, verbose=0, callbacks=halve)
w = model.train_state.params["FullyConnected"]["W"]
print(json.dumps({"devices": jax.device_count(), "sharding": type(w.sharding).__name__,
                  "loss": history.history["loss"], "val_acc": history.history["val_acc"],
                  "W": np.asarray(w).tolist(), "pred": model.predict(x[:5]).tolist(),
                  "lr": history.history["lr"], "compiled": model.steps.train_chunk._cache_size()}))
"""


def _run(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
