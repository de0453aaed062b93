"""`model.summary()`: a rich table of layers, output shapes and parameter counts."""

from __future__ import annotations

import jax
from rich.console import Console
from rich.table import Table

__all__ = ["print_summary"]


def print_summary(model, console: Console | None = None) -> None:
    """Prints one row per layer (name, type, output shape, parameters) and the totals."""
    table = Table(title="Model summary", show_footer=True)
    total = sum(count for _, _, count in model.rows)
    frozen = model.net.frozen_layers()
    leaves = jax.tree_util.tree_leaves_with_path(model.train_state.params)
    trainable = sum(leaf.size for path, leaf in leaves  # frozen: any key on the path
                    if not frozen & {getattr(k, "key", None) for k in path})
    table.add_column("Layer", footer="Total")
    table.add_column("Type")
    table.add_column("Output shape")
    table.add_column("Params", justify="right", footer=f"{total:,}")
    for layer, shape, count in model.rows:
        table.add_row(layer.name, type(layer).__name__, str((None, *shape)), f"{count:,}")
    if model.net.estimator is not None:
        est = model.net.estimator
        table.add_row(est.name, "Regression", f"loss={est.loss!s}", "0")
    console = console or Console()
    console.print(table)
    console.print(f"Trainable params: {trainable:,}  Non-trainable params: {total - trainable:,}")
