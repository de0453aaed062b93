"""`model.summary()`: a rich table of layers, output shapes and parameter counts."""

from __future__ import annotations

import jax
from rich.console import Console
from rich.table import Table

__all__ = ["print_summary"]


def print_summary(model, console: Console | None = None) -> None:
    """Prints one row per layer (name, type, output shape, parameters) and the totals."""
    table = Table(title="Model summary", show_footer=True)
    total = sum(row.n_params for row in model.rows)
    frozen = set(model.frozen)  # trainable=False, changed by freeze()/unfreeze()
    leaves = jax.tree_util.tree_leaves_with_path(model.train_state.params)
    trainable = sum(leaf.size for path, leaf in leaves  # frozen: any key on the path
                    if not frozen & {getattr(k, "key", None) for k in path})
    table.add_column("Layer", footer="Total")
    table.add_column("Type")
    table.add_column("Output shape")
    table.add_column("Params", justify="right", footer=f"{total:,}")
    for row in model.rows:
        layer = row.layer
        if layer.is_estimator:
            what = f"loss={getattr(layer, 'loss', '')!s}"
            table.add_row(layer.name, type(layer).__name__, what, "0")
            continue
        table.add_row(layer.name, type(layer).__name__, _shape_text(row.shape),
                      f"{row.n_params:,}")
    console = console or Console()
    console.print(table)
    console.print(f"Trainable params: {trainable:,}  Non-trainable params: {total - trainable:,}")


def _shape_text(shape) -> str:
    """`(None, ...)`, or one per output for a layer with several (a tuple of shapes)."""
    if shape and all(isinstance(s, tuple) for s in shape):
        return ", ".join(str((None, *s)) for s in shape)
    return str((None, *shape))
