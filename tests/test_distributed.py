"""Several processes (`stackit.distributed`): two CPU processes on 127.0.0.1 train as one."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import stackit
from tests.helpers import json_results

# Each process: 2 CPU devices, so the global mesh has 4 (2 per process). Model "a" trains on
# arrays (on the devices once; each process sends only its devices' indices), model "b" on a
# memmap (host data: each process reads only its own rows) with batch 30, padded to 32. Model
# "c" stops after its step-4 snapshot (`.orbax` with two processes), "resumed" continues that
# run from the snapshot, "whole" is the same run uninterrupted.
_WORKER = """
import json, os, sys
import numpy as np
import stackit

processes, pid, port, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if processes > 1:
    stackit.distributed.initialize(f"127.0.0.1:{port}", processes, pid,
                                   initialization_timeout=60)
import jax

rng = np.random.default_rng(0)
x = rng.normal(size=(256, 10)).astype(np.float32)
y = np.eye(3)[rng.integers(0, 3, 256)].astype(np.float32)
mapped = np.memmap(os.path.join(folder, f"x-{processes}-{pid}.bin"), np.float32, "w+",
                   shape=x.shape)
mapped[:] = x


def train(data, batch_size, checkpoint_path=None, **kwargs):
    net = stackit.input_data(shape=[None, 10])
    net = stackit.fully_connected(net, 16, activation="relu")
    net = stackit.batch_normalization(net)
    net = stackit.fully_connected(net, 3, activation="softmax")
    net = stackit.regression(net, optimizer="adam", learning_rate=0.01)
    model = stackit.DNN(net, seed=0, checkpoint_path=checkpoint_path)
    history = model.fit(data, y, n_epoch=2, batch_size=batch_size, shuffle=True, **kwargs)
    return model, history


class StopAfterStep4(stackit.callbacks.Callback):
    def on_batch_end(self, state):
        state.stop_training = state.step >= 4


a, history = train(x, 32, validation_set=0.125, verbose=2)
b, _ = train(mapped, 30, verbose=0)
saved = a.save(os.path.join(folder, f"a-{processes}"))  # every process calls it
snapshots = os.path.join(folder, f"c-{processes}", "m")
c, _ = train(x, 32, snapshots, snapshot_step=4, verbose=0, callbacks=[StopAfterStep4()])
first_snapshot = stackit.model_io.newest_snapshot(snapshots)
resumed, _ = train(x, 32, snapshots, snapshot_step=4, verbose=0, resume=True)
whole, _ = train(x, 32, verbose=0)
w = a.train_state.params["FullyConnected"]["W"]
tagged = ((a, "a"), (b, "b"), (c, "c"), (resumed, "resumed"), (whole, "whole"))
params = {name: np.asarray(value) for model, tag in tagged
          for layer, values in zip("123", model.train_state.params.values())
          for name, value in [(f"{tag}/{layer}/{k}", v) for k, v in values.items()]}
print(json.dumps({
    "process": jax.process_index(), "processes": jax.process_count(),
    "devices": jax.device_count(), "mesh_devices": len(w.sharding.device_set),
    "saved": saved, "first_snapshot": first_snapshot, "c_step": int(c.train_state.step),
    "checksum": float(sum(np.abs(v).sum() for v in params.values())),
    "params": {k: v.tolist() for k, v in params.items()},
    "loss": history.history["loss"], "val_loss": history.history["val_loss"],
    "pred": a.predict(x[:37], batch_size=16).tolist(),
    "eval": b.evaluate(mapped, y, batch_size=30, return_dict=True)}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(processes: int, folder, devices: int) -> list[subprocess.Popen]:
    """Starts `processes` workers (one, or several joined on a free local port), each with
    `devices` CPU devices."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    port = str(_free_port())
    return [subprocess.Popen([sys.executable, "-c", _WORKER, str(processes), str(pid), port,
                              str(folder)], env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for pid in range(processes)]


def _results(runs: list[subprocess.Popen]) -> list[dict]:
    """Each worker's JSON result, with its stdout under `'stdout'`."""
    return [{**result, "stdout": out} for result, out in json_results(runs, timeout=120)]


def test_two_processes_train_like_one(tmp_path):
    # the single-process run with the same global batch, seed and data (1 device), side by
    # side with the two processes of 2 devices each
    one, first, second = _results(_start(1, tmp_path, devices=1) +
                                  _start(2, tmp_path, devices=2))

    assert (first["process"], second["process"]) == (0, 1)
    assert first["processes"] == second["processes"] == 2
    assert first["devices"] == first["mesh_devices"] == 4  # one mesh over both processes
    # both processes end with the same parameters, and those of the single process
    assert first["checksum"] == second["checksum"]
    assert first["params"].keys() == one["params"].keys()
    for name, value in one["params"].items():
        assert first["params"][name] == second["params"][name], name
        np.testing.assert_allclose(first["params"][name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    # the metrics are global (reduced over the processes), and so are predict and evaluate
    for run in (first, second):
        np.testing.assert_allclose(run["loss"], one["loss"], rtol=1e-5)
        np.testing.assert_allclose(run["val_loss"], one["val_loss"], rtol=1e-5)
        np.testing.assert_allclose(run["pred"], one["pred"], rtol=1e-5, atol=1e-6)
        assert np.shape(run["pred"]) == (37, 3)
        for key, value in one["eval"].items():
            np.testing.assert_allclose(run["eval"][key], value, rtol=1e-5)
    # only process 0 prints progress
    assert first["stdout"].count("Epoch ") == 2 and "Epoch " not in second["stdout"]
    # one process saves one file; two save one orbax folder together, which loads anywhere
    assert one["saved"].endswith(".npz") and os.path.isfile(one["saved"])
    assert first["saved"] == second["saved"] and first["saved"].endswith(".orbax")
    loaded = _model()
    loaded.load(first["saved"])
    for layer, values in zip("123", loaded.train_state.params.values(), strict=True):
        for k, value in values.items():
            np.testing.assert_array_equal(value, first["params"][f"a/{layer}/{k}"])
    # a run of two processes resumes from its snapshot and ends as the uninterrupted run
    # (it stops at the first refresh after step 4: where that is depends on the process count)
    for run, suffix in ((one, ".npz"), (first, ".orbax"), (second, ".orbax")):
        assert 4 <= run["c_step"] < 16  # 16 steps in the whole run
        assert run["first_snapshot"].endswith(f"m-{run['c_step']}{suffix}")
    for run in (one, first, second):
        for name, value in run["params"].items():
            if name.startswith("whole/"):
                assert run["params"][name.replace("whole/", "resumed/")] == value, name
                assert run["params"][name.replace("whole/", "c/")] != value, name


def _model() -> stackit.DNN:
    net = stackit.input_data(shape=[None, 10])
    net = stackit.fully_connected(net, 16, activation="relu")
    net = stackit.batch_normalization(net)
    net = stackit.fully_connected(net, 3, activation="softmax")
    net = stackit.regression(net, optimizer="adam", learning_rate=0.01)
    return stackit.DNN(net, seed=0)


def test_initialize_reads_the_environment(monkeypatch):
    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: calls.append(kw))
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    stackit.distributed.initialize()
    stackit.distributed.initialize("10.0.0.2:99", 2, process_id=0)
    assert calls == [
        {"coordinator_address": "10.0.0.1:1234", "num_processes": 4, "process_id": 3},
        {"coordinator_address": "10.0.0.2:99", "num_processes": 2, "process_id": 0}]
    monkeypatch.setenv("JAX_PROCESS_ID", "first")
    with pytest.raises(ValueError, match="JAX_PROCESS_ID must be an integer"):
        stackit.distributed.initialize()


def test_one_process_is_the_main_one():
    assert stackit.distributed.is_main_process()
    assert stackit.distributed.process_count() == 1
    tree = {"a": jax.numpy.arange(3.0)}
    assert isinstance(stackit.distributed.fetch(tree)["a"], np.ndarray)
