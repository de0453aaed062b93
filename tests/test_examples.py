"""Runs every script in examples/ as a user would, offline, and checks what it prints.

Each example runs in a subprocess (they are scripts, and the tflearn ports run at import), in a
temporary working folder, with `STACKIT_OFFLINE=1` and an empty `STACKIT_DATA`, so MNIST comes
from the sample shipped in the package and nothing is downloaded. Epoch counts are cut with
the examples' own `--epochs` option or `STACKIT_EXAMPLE_EPOCHS`, never by editing them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FLOAT = r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"

# The data of examples/linear_regression.py (tflearn's), for the least-squares reference.
LINREG_X = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313,
            7.997, 5.654, 9.27, 3.1]
LINREG_Y = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65,
            2.904, 2.42, 2.94, 1.3]


def run_example(tmp_path: Path, script: str, *args: str, epochs: int | None = None,
                expect_ok: bool = True, timeout: float = 600, **extra_env: str) -> str:
    """Runs examples/<script> with `args` (and `extra_env` variables); returns stdout and
    stderr together."""
    env = dict(os.environ, STACKIT_OFFLINE="1", STACKIT_DATA=str(tmp_path / "data"),
               PYTHONUNBUFFERED="1", TMPDIR=str(tmp_path), **extra_env)  # logs stay in tmp_path
    env.pop("STACKIT_EXAMPLE_EPOCHS", None)
    if epochs is not None:
        env["STACKIT_EXAMPLE_EPOCHS"] = str(epochs)
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout + done.stderr
    if expect_ok:
        assert done.returncode == 0, f"{script} failed (exit {done.returncode}):\n{output[-4000:]}"
    else:
        assert done.returncode != 0, f"{script} should have failed:\n{output[-4000:]}"
    return output


def last_epoch_value(output: str, name: str) -> float:
    """The value of `name` (e.g. 'val_acc') on the last plain progress line."""
    lines = [line for line in output.splitlines() if line.startswith("Epoch ")]
    assert lines, f"no progress lines in:\n{output[-2000:]}"
    found = re.search(rf"\b{re.escape(name)} ({FLOAT})", lines[-1])
    assert found, f"{name!r} not on the last progress line: {lines[-1]!r}"
    return float(found.group(1))


def printed_arrays(output: str, label: str) -> list[float]:
    """Numbers inside the brackets after `label` (e.g. 'NOT 0:') on its output line."""
    for line in output.splitlines():
        if line.startswith(label):
            return [float(v) for v in re.findall(FLOAT, line[len(label):])]
    raise AssertionError(f"no line starting with {label!r} in:\n{output[-2000:]}")


def test_linear_regression_finds_the_least_squares_line(tmp_path):
    output = run_example(tmp_path, "linear_regression.py")
    slope, intercept = np.polyfit(LINREG_X, LINREG_Y, 1)
    found = re.search(rf"Y = \[({FLOAT})\]\*X \+ \[({FLOAT})\]", output)
    assert found, output[-2000:]
    w, b = float(found.group(1)), float(found.group(2))
    # 1,000 plain SGD steps get close to, not onto, the exact line (as in tflearn).
    assert w == pytest.approx(slope, abs=0.03)
    assert b == pytest.approx(intercept, abs=0.2)
    lines = output.split("Test prediction for x = 3.2, 3.3, 3.4:")[1]
    predictions = [float(v) for v in re.findall(FLOAT, lines)[:3]]
    expected = slope * np.array([3.2, 3.3, 3.4]) + intercept
    np.testing.assert_allclose(predictions, expected, atol=0.1)
    assert last_epoch_value(output, "R2") > 0.6


def test_logical_operators_learn_their_truth_tables(tmp_path):
    output = run_example(tmp_path, "logical.py")
    tables = {
        "NOT": {"NOT 0:": 1, "NOT 1:": 0},
        "OR": {"0 or 0:": 0, "0 or 1:": 1, "1 or 0:": 1, "1 or 1:": 1},
        "AND": {"0 and 0:": 0, "0 and 1:": 0, "1 and 0:": 0, "1 and 1:": 1},
        "XOR": {"0 xor 0:": 0, "0 xor 1:": 1, "1 xor 0:": 1, "1 xor 1:": 0},
    }
    for operator, table in tables.items():
        assert f"Testing {operator} operator" in output
        for label, truth in table.items():
            (value,) = printed_arrays(output, label)
            assert round(value) == truth, f"{label} {value}"


def test_autoencoder_encodes_to_64_values_and_beats_the_average_digit(tmp_path):
    output = run_example(tmp_path, "autoencoder.py", "--epochs", "2")
    assert "Epoch 2/2" in output
    # the encoder sub-model (DNN(encoder, session=model.session)) gives 64 numbers per digit
    assert "Encoding of X[0], shape (1, 64):" in output
    printed = output.split("Encoding of X[0], shape (1, 64):", 1)[1].split("]", 1)[0]
    code = [float(v) for v in re.findall(FLOAT, printed)]
    assert len(code) == 64 and np.all(np.isfinite(code)) and np.std(code) > 0
    found = re.search(rf"Reconstruction error on .*: ({FLOAT}) "
                      rf"\(always answering the average digit: ({FLOAT})\)", output)
    assert found, output[-2000:]
    error, baseline = float(found.group(1)), float(found.group(2))
    assert error < 0.95 * baseline  # better than answering the average digit every time
    # the test digits are the validation set: predict and the validation loss agree
    assert error == pytest.approx(last_epoch_value(output, "val_loss"), abs=2e-4)


def test_wide_and_deep_trains_on_two_inputs_fed_by_name(tmp_path):
    output = run_example(tmp_path, "wide_and_deep.py", "--epochs", "1")
    assert "Epoch 1/1" in output
    assert last_epoch_value(output, "val_acc") > 0.5  # validation_set=0.1 of a dict input
    (accuracy,) = printed_arrays(output, "Test accuracy:")[:1]
    assert accuracy > 50  # percent, after one epoch; chance is 10


def test_dnn_trains_one_epoch_on_the_shipped_sample(tmp_path):
    output = run_example(tmp_path, "dnn.py", epochs=1)
    assert "Using the 5,000-image sample" in output  # load_data fell back, with a warning
    assert "Epoch 1/1" in output
    assert last_epoch_value(output, "val_top3") > 0.5


def test_highway_dnn_learns_on_the_shipped_sample(tmp_path):
    """tflearn's 20 epochs (a few seconds here): the deep stack, started with tflearn's small
    weights, only leaves chance level after some epochs."""
    output = run_example(tmp_path, "highway_dnn.py")
    assert "Epoch 20/20" in output
    assert last_epoch_value(output, "val_top3") > 0.8


def test_convnet_mnist_trains_one_epoch_with_dict_feeding(tmp_path):
    output = run_example(tmp_path, "convnet_mnist.py", epochs=1)
    assert "Epoch 1/1" in output
    assert last_epoch_value(output, "val_acc") > 0.8


def test_alexnet_offline_explains_how_to_get_the_dataset(tmp_path):
    output = run_example(tmp_path, "alexnet.py", expect_ok=False)
    assert "DatasetDownloadError" in output
    assert "17flowers.tgz" in output and "STACKIT_OFFLINE" in output


def test_alexnet_trains_on_synthetic_images(tmp_path):
    # 10 images: 9 to train on (one step) and 1 held out by validation_set=0.1.
    output = run_example(tmp_path, "alexnet.py", "--synthetic", "10", "--epochs", "1")
    assert "Epoch 1/1" in output
    assert np.isfinite(last_epoch_value(output, "loss"))


def test_residual_network_trains_on_synthetic_images(tmp_path):
    # n=1: conv, 3 residual blocks (two of them downsampling and widening), pooling, softmax.
    output = run_example(tmp_path, "residual_network_cifar10.py", "--synthetic", "40",
                         "--epochs", "1", "--n", "1")
    assert "Epoch 1/1" in output and "val_acc" in output
    assert np.isfinite(last_epoch_value(output, "loss"))


@pytest.mark.slow  # about 20-30 s of CPU each; run with -m slow
@pytest.mark.parametrize("script, size", [("resnext_cifar10.py", ("--n", "1")),
                                          ("densenet.py", ("--depth", "7"))])
def test_cifar_block_networks_train_on_synthetic_images(tmp_path, script, size):
    output = run_example(tmp_path, script, "--synthetic", "40", "--epochs", "1", *size)
    assert "Epoch 1/1" in output and "val_acc" in output
    assert np.isfinite(last_epoch_value(output, "loss"))


@pytest.mark.slow  # about 20-30 s of CPU each; run with -m slow
def test_residual_bottleneck_network_trains_on_digits(tmp_path):
    output = run_example(tmp_path, "residual_network_mnist.py", epochs=1,
                         STACKIT_EXAMPLE_SAMPLES="256")
    assert "Epoch 1/1" in output
    assert np.isfinite(last_epoch_value(output, "val_loss"))


def _fake_aclimdb(data: Path, n_per_class: int = 100, seed: int = 0) -> None:
    """An extracted `aclImdb/` folder under `data/imdb` (the loader reads it instead of the
    archive): reviews longer than the examples' padded length (as real ones mostly are), whose
    label shows in a few telling words among random filler within the first 90 words."""
    rng = np.random.default_rng(seed)
    filler = [f"word{i}" for i in range(40)]
    telling = {"pos": ["great", "wonderful", "loved"], "neg": ["awful", "boring", "hated"]}
    for split in ("train", "test"):
        for label, words in telling.items():
            folder = data / "imdb" / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(n_per_class):
                review = list(rng.choice(filler, size=int(rng.integers(100, 110))))
                for at in rng.choice(90, size=12, replace=False):
                    review[at] = str(rng.choice(words))
                (folder / f"{i}_7.txt").write_text(" ".join(review) + "<br />")


@pytest.mark.slow  # about 20-30 s of CPU each; run with -m slow
@pytest.mark.parametrize("script", ["lstm.py", "dynamic_lstm.py", "bidirectional_lstm.py"])
def test_imdb_recurrent_examples_train_on_stand_in_reviews(tmp_path, script):
    """The scripts run unedited on stand-in reviews (how well an LSTM learns is tested in
    tests/layers/test_recurrent.py: on a few hundred reviews, tflearn's settings learn
    unevenly from seed to seed)."""
    _fake_aclimdb(tmp_path / "data")
    output = run_example(tmp_path, script, epochs=2)
    assert "Epoch 2/2" in output
    assert np.isfinite(last_epoch_value(output, "loss"))
    assert 0.0 <= last_epoch_value(output, "val_acc") <= 1.0


def test_char_rnn_generator_writes_after_one_round(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 12)
    output = run_example(tmp_path, "lstm_generator_shakespeare.py", "--text", str(text),
                         "--iterations", "1", "--generate", "40")
    assert "-- Test with temperature of 0.5 --" in output
    assert "Epoch 1/1" in output


def test_keras_style_lenet_trains_one_epoch(tmp_path):
    output = run_example(tmp_path, "keras_style.py", "--epochs", "1")
    assert "Conv2D_1" in output  # the summary table
    (accuracy,) = printed_arrays(output, "Test accuracy:")
    assert accuracy > 50  # percent, after one epoch


def test_quickstart_one_epoch(tmp_path):
    plot = importlib.util.find_spec("matplotlib") is not None  # `--plot` needs it (dev extra)
    output = run_example(tmp_path, "quickstart.py", "--epochs", "1",
                         *(["--plot", "curves.png"] if plot else []))
    assert "Training on 36,000 images, testing on 1,000." in output
    (accuracy,) = printed_arrays(output, "Test accuracy:")[:1]
    assert accuracy > 90
    if plot:
        assert "Learning curves saved to curves.png" in output
        assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quickstart_reaches_97_percent(tmp_path):
    output = run_example(tmp_path, "quickstart.py")
    (accuracy,) = printed_arrays(output, "Test accuracy:")[:1]
    assert accuracy >= 97.0
