"""`load_csv`: rows and labels from a CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from stackit.data_utils._arrays import to_categorical

__all__ = ["load_csv"]


def _column_index(column: Any, width: int, name: str) -> int:
    """Turns a possibly negative column index into a position in `[0, width)`."""
    if isinstance(column, bool) or not isinstance(column, (int, np.integer)):
        raise TypeError(f"{name} must be an int column index. Received: {name}={column!r}")
    if not -width <= column < width:
        raise ValueError(
            f"{name} must be a column index in [{-width}, {width}) for a file with {width} "
            f"columns. Received: {name}={column}"
        )
    return int(column) % width


def load_csv(
    filepath: str | os.PathLike[str],
    target_column: int = -1,
    columns_to_ignore: Sequence[int] | None = None,
    has_header: bool = True,
    categorical_labels: bool = False,
    n_classes: int | None = None,
) -> tuple[list[list[str]], list[str] | np.ndarray]:
    """Loads a CSV file into rows of feature strings and a list of labels.

    Values are returned as the strings read from the file (as tflearn does): convert them,
    e.g. `np.asarray(data, dtype=np.float32)`, once non-numeric columns are handled. Blank
    lines are skipped; every other row must have as many fields as the first row.

    Example:
        >>> data, labels = load_csv('titanic.csv', target_column=0,
        ...                         columns_to_ignore=[2, 7],
        ...                         categorical_labels=True, n_classes=2)

    Args:
        filepath: Path of the CSV file (UTF-8; a byte-order mark is ignored).
        target_column: Index of the label column; negative counts from the end.
            Defaults to `-1` (the last column).
        columns_to_ignore: Indices of columns to drop from the data, counted in the file
            (before the label column is taken out); negative counts from the end.
            Defaults to `None`.
        has_header: If true, the first row is a header and is skipped. Defaults to `True`.
        categorical_labels: If true, labels are parsed as integer class ids and returned
            one-hot. Defaults to `False`.
        n_classes: Number of classes for the one-hot labels; when `None`, `max(label) + 1`.
            Defaults to `None`.

    Returns:
        `(data, labels)`: `data` a list of rows, each a list of strings (the label column and
        ignored columns removed); `labels` a list of strings, or a float32 array of shape
        `(N, n_classes)` when `categorical_labels`.

    Raises:
        ValueError: If the file is empty, a row has a different number of fields (the
            message gives the line), `target_column` or an entry of `columns_to_ignore` is
            out of range, or a label is not a class id when `categorical_labels`.
        TypeError: If a column index is not an int.
        FileNotFoundError: If the file does not exist.
    """
    path = os.fspath(filepath)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [(line, row) for line, row in _read_rows(csv.reader(f)) if row]
    if not rows:
        raise ValueError(f"the CSV file is empty. Received: filepath={path!r}")
    width = len(rows[0][1])
    target = _column_index(target_column, width, "target_column")
    ignored = {
        _column_index(c, width, f"columns_to_ignore[{i}]")
        for i, c in enumerate(columns_to_ignore or [])
    }
    if has_header:
        rows = rows[1:]
    data: list[list[str]] = []
    labels: list[str] = []
    for line, row in rows:
        if len(row) != width:
            raise ValueError(
                f"every row of {path!r} must have {width} fields like the first row. "
                f"Received: line {line} with {len(row)} fields={row!r}"
            )
        labels.append(row[target])
        data.append([v for j, v in enumerate(row) if j != target and j not in ignored])
    if not categorical_labels:
        return data, labels
    ids = []
    for (line, _), label in zip(rows, labels, strict=True):
        try:
            ids.append(int(label.strip()))
        except ValueError:
            raise ValueError(
                "categorical_labels=True expects integer class ids in the target column. "
                f"Received: line {line} label={label!r}"
            ) from None
    return data, to_categorical(ids, n_classes)


def _read_rows(reader: Any) -> list[tuple[int, list[str]]]:
    """Reads all rows with the file line number each one starts on."""
    out = []
    line = 1
    for row in reader:
        out.append((line, row))
        line = reader.line_num + 1
    return out
