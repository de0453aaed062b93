"""Learning curves of a `History`, drawn with matplotlib (an optional dependency)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_history"]


def _matplotlib() -> tuple[Any, Any]:
    """matplotlib's `Figure` and `MaxNLocator` (no pyplot: no window, no global backend)."""
    try:
        import matplotlib  # noqa: F401 - first, so a missing package fails here
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plot_history draws with matplotlib, which is not installed: pip "
                          "install 'stackit[plot]'.") from None
    return Figure, MaxNLocator


def _is_curve(values: Sequence[Any]) -> bool:
    """Whether `values` holds one number per epoch (not a per-class metric or a matrix)."""
    return all(np.ndim(value) == 0 for value in values)


def _quantities(history: dict[str, list[Any]]) -> list[str]:
    """The training keys of `history` with one number per epoch (`loss`, `acc`, ...), learning
    rates left out."""
    keys = [key for key, values in history.items()
            if not key.startswith("val_") and _is_curve(values)]
    return [key for key in keys if key != "lr" and not key.endswith("_lr")] or keys


def plot_history(history: Any, path: str | os.PathLike | None = None,
                 metrics: Sequence[str] | None = None) -> Any:
    """Draws the learning curves of a `fit`: one plot per quantity (the loss, each metric),
    each with its training and (when logged) validation curve, against the epoch.

    Uses matplotlib's object API with the Agg canvas, so no window opens and the global
    backend is left alone. Needs matplotlib (`pip install 'stackit[plot]'`).

    Example:
        ```python
        history = model.fit(X, Y, n_epoch=20, validation_set=0.1, show_metric=True)
        stackit.plot_history(history, 'curves.png')   # or history.plot('curves.png')
        ```

    Args:
        history: The `History` that `fit` returned (or its `history` dict).
        path: Where to save the picture (PNG unless the extension names another format
            matplotlib writes); its folder is created when missing. None saves nothing.
            Defaults to `None`.
        metrics: The quantities to draw, by their `History` names (`'loss'`, `'acc'`, `'lr'`,
            ...; a `'val_'` name draws the same plot). Defaults to `None` (the loss and each
            metric; the learning rate only when it is all the history holds).

    Returns:
        The matplotlib `Figure`, one `Axes` per quantity.

    Raises:
        ValueError: If the history is empty or `metrics` names a quantity it does not hold
            as one number per epoch (a per-class metric or a confusion matrix).
        ImportError: If matplotlib is not installed.
    """
    values = history if isinstance(history, dict) else getattr(history, "history", None)
    if not isinstance(values, dict):
        raise TypeError(f"plot_history expects the History that fit returned. "
                        f"Received: history={type(history).__name__}.")
    if not any(values.values()):
        raise ValueError("plot_history: the history holds no epoch (fit ran none), so there "
                         "is nothing to draw.")
    epochs = list(getattr(history, "epoch", None) or [])
    if isinstance(metrics, str):
        metrics = [metrics]
    names = _quantities(values) if metrics is None else \
        list(dict.fromkeys(m[4:] if m.startswith("val_") else m for m in metrics))
    unknown = [name for name in names if not _is_curve(values.get(name, [])) or
               not _is_curve(values.get(f"val_{name}", [])) or
               (name not in values and f"val_{name}" not in values)]
    if unknown or not names:
        what = f"has no curve {unknown[0]!r}" if unknown else "needs at least one quantity"
        known = ", ".join(repr(key) for key, curve in values.items()
                          if not key.startswith("val_") and _is_curve(curve))
        raise ValueError(f"plot_history: the history {what}. Expected some of: {known}. "
                         f"Received: metrics={metrics!r}.")
    Figure, MaxNLocator = _matplotlib()
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    figure = Figure(figsize=(4.5 * cols, 3.4 * rows), layout="constrained")
    for i, name in enumerate(names):
        axes = figure.add_subplot(rows, cols, i + 1)
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            ys = values.get(key)
            if ys:
                xs = epochs[-len(ys):] if len(epochs) >= len(ys) else range(1, len(ys) + 1)
                axes.plot(list(xs), ys, marker="o", markersize=3, label=label)
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        figure.savefig(os.fspath(path))
    return figure
