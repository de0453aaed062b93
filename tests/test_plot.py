"""Tests for `History.plot` / `stackit.plot_history`: one plot per quantity, training and
validation curves, saved as PNG without opening a window."""

import struct
import sys

import numpy as np
import pytest
from helpers import classification_data, mlp

import stackit
from stackit import History

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = History({"loss": [0.9, 0.5, 0.3], "acc": [0.6, 0.8, 0.9], "val_loss": [1.0, 0.7, 0.6],
                   "val_acc": [0.5, 0.7, 0.8], "lr": [0.1, 0.1, 0.05]}, [1, 2, 3])


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _curves(axes) -> dict[str, tuple[list, list]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in axes.get_lines()}


def test_plot_draws_loss_and_each_metric_with_train_and_validation_curves(tmp_path):
    path = tmp_path / "curves.png"
    figure = HISTORY.plot(path)
    assert [axes.get_title() for axes in figure.axes] == ["loss", "acc"]  # lr left out
    loss, acc = (_curves(axes) for axes in figure.axes)
    assert loss == {"train": ([1, 2, 3], [0.9, 0.5, 0.3]),
                    "validation": ([1, 2, 3], [1.0, 0.7, 0.6])}
    assert acc["validation"] == ([1, 2, 3], [0.5, 0.7, 0.8])
    width, height = figure.get_size_inches() * figure.dpi
    assert _png_size(path) == (round(width), round(height))


def test_plot_history_draws_the_quantities_asked_for(tmp_path):
    path = tmp_path / "sub" / "lr.png"  # the folder is created
    figure = stackit.plot_history(HISTORY, path, metrics=["val_loss", "lr"])
    assert [axes.get_title() for axes in figure.axes] == ["loss", "lr"]
    assert list(_curves(figure.axes[1])) == ["train"]  # no validation learning rate
    assert _png_size(path)[0] > 0
    assert stackit.plot_history(HISTORY.history).axes[0].get_title() == "loss"  # the dict too


def test_one_plot_per_quantity_of_several_estimators_without_validation():
    history = History({"loss": [2.0, 1.5], "gen_loss": [1.0, 0.7], "disc_loss": [1.0, 0.8],
                       "disc_acc": [0.5, 0.6], "lr": [0.1, 0.1]}, [4, 5])
    figure = history.plot()  # nothing saved
    assert [axes.get_title() for axes in figure.axes] == ["loss", "gen_loss", "disc_loss",
                                                          "disc_acc"]
    assert all(list(_curves(axes)) == ["train"] for axes in figure.axes)
    assert _curves(figure.axes[0])["train"][0] == [4, 5]  # the epochs over the model's life


def test_the_history_of_a_fit_plots(tmp_path):
    x, _, y = classification_data(40, 4, 3)
    *_, net = mlp(4, 8, 3, optimizer="sgd", learning_rate=0.1, batch_size=20,
                  metric="accuracy")
    model = stackit.DNN(net, seed=0)
    model.fit(x, y, n_epoch=1, verbose=0)
    history = model.fit(x, y, n_epoch=2, validation_set=0.25, show_metric=True, verbose=0)
    figure = history.plot(tmp_path / "fit.png")
    assert len(figure.axes) == 2
    assert _curves(figure.axes[0])["validation"][0] == [2, 3]
    assert (tmp_path / "fit.png").read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("history, metrics, match", [
    (HISTORY, ["top3"], r"has no curve 'top3'\. Expected some of: 'loss', 'acc', 'lr'"),
    (HISTORY, [], "needs at least one quantity"),
    (History({}, []), None, "holds no epoch"),
])
def test_plot_refuses_what_it_cannot_draw(history, metrics, match):
    with pytest.raises(ValueError, match=match):
        stackit.plot_history(history, metrics=metrics)


def test_per_class_metrics_and_confusion_matrices_are_left_out():
    history = History({"loss": [0.5, 0.4], "recall": [np.array([0.2, 0.8])] * 2,
                       "confusion": [np.eye(2, dtype=np.int32)] * 2}, [1, 2])
    assert [axes.get_title() for axes in history.plot().axes] == ["loss"]
    with pytest.raises(ValueError, match=r"has no curve 'confusion'\. Expected some of: 'loss'"):
        history.plot(metrics=["confusion"])


def test_plot_refuses_something_that_is_not_a_history():
    with pytest.raises(TypeError, match="expects the History that fit returned"):
        stackit.plot_history([0.5, 0.4])


def test_without_matplotlib_plot_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'stackit\[plot\]'"):
        HISTORY.plot(tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()
