"""The Titanic passenger list used by tflearn's quickstart tutorial.

1,309 passengers, one CSV row each: `survived, pclass, name, sex, age, sibsp, parch, ticket,
fare`. Source: http://tflearn.org/resources/titanic_dataset.csv (compiled from the
Encyclopedia Titanica passenger records by T. Cason, Vanderbilt University Biostatistics).
Licence: none stated; the underlying data are public historical records.

Example (tflearn's tutorial, unchanged but for the package name):
    >>> from stackit.datasets import titanic
    >>> titanic.download_dataset('titanic_dataset.csv')
    >>> from stackit.data_utils import load_csv
    >>> data, labels = load_csv('titanic_dataset.csv', target_column=0,
    ...                         categorical_labels=True, n_classes=2)
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import numpy as np

from stackit.data_utils import load_csv
from stackit.datasets._fetch import DatasetFormatError, RemoteFile, dataset_folder, fetch

__all__ = ["download_dataset", "load_dataset", "COLUMNS"]

COLUMNS = ("survived", "pclass", "name", "sex", "age", "sibsp", "parch", "ticket", "fare")
FILE_NAME = "titanic_dataset.csv"

# tflearn.org is served from the GitHub repository tflearn/tflearn.github.io; the SHA-256 is
# that of resources/titanic_dataset.csv there (82,865 bytes, CRLF line ends).
FILES: dict[str, RemoteFile] = {
    FILE_NAME: RemoteFile(
        FILE_NAME,
        (
            "http://tflearn.org/resources/titanic_dataset.csv",
            "https://raw.githubusercontent.com/tflearn/tflearn.github.io/master/resources/"
            "titanic_dataset.csv",
        ),
        "eaaa0cf6e9870673a75c30c2dc2a8064b5d21275cfcb78d34237104fa367f1cd",
        82865,
    )
}


def _check_header(path: Path) -> None:
    """Raises DatasetFormatError unless the file starts with the tutorial CSV's header."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f), [])
    except (UnicodeDecodeError, csv.Error) as err:
        raise DatasetFormatError(
            f"{path} is not the Titanic CSV file ({err}). Delete it and try again."
        ) from err
    if tuple(h.strip().lower() for h in header) != COLUMNS:
        raise DatasetFormatError(
            f"{path} should start with the header {','.join(COLUMNS)}. "
            f"Received: {','.join(header)[:200]!r}. Delete it and try again."
        )


def download_dataset(
    filename: str = FILE_NAME, work_directory: str | os.PathLike[str] = "./"
) -> str:
    """Downloads the Titanic CSV file (verified by SHA-256) unless it is already there.

    The defaults match tflearn's, so the tutorial's next line,
    `load_csv('titanic_dataset.csv', ...)`, finds the file in the current folder.

    Args:
        filename: Name of the local file. Defaults to `'titanic_dataset.csv'`.
        work_directory: Folder for the file. Defaults to `'./'`.

    Returns:
        The path of the local file.

    Raises:
        DatasetDownloadError: If the file is missing and cannot be downloaded; the message
            says where to put it by hand.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the local file does not have the expected CSV header.
        TypeError: If `filename` is not a plain file name or `work_directory` not a path.
    """
    if not isinstance(filename, str) or not filename or os.path.basename(filename) != filename:
        raise TypeError(
            f"Expected filename to be a file name without folders, e.g. {FILE_NAME!r}. "
            f"Received: filename={filename!r}"
        )
    folder = dataset_folder("titanic", work_directory)
    remote = dataclasses.replace(FILES[FILE_NAME], name=filename)
    path = fetch(remote, folder, dataset="Titanic")
    _check_header(path)
    return str(path)


def load_dataset(
    work_directory: str | os.PathLike[str] | None = None,
) -> tuple[list[list[str]], np.ndarray]:
    """Downloads the CSV file if needed and reads it as tflearn's tutorial does.

    Args:
        work_directory: Folder for `titanic_dataset.csv`. Defaults to `None`:
            `$STACKIT_DATA/titanic`, else `~/.stackit/datasets/titanic`.

    Returns:
        `(data, labels)` as `load_csv(path, target_column=0, categorical_labels=True,
        n_classes=2)` gives them: `data` a list of 1,309 rows of 8 strings (`pclass, name,
        sex, age, sibsp, parch, ticket, fare`), `labels` float32 `(1309, 2)` one-hot
        (column 1 = survived).

    Raises:
        DatasetDownloadError: If the file is missing and cannot be downloaded.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the file is not the Titanic CSV (header, row length, labels).
        TypeError: If `work_directory` is not a path.
    """
    folder = dataset_folder("titanic", work_directory)
    path = fetch(FILES[FILE_NAME], folder, dataset="Titanic")
    _check_header(path)
    try:
        data, labels = load_csv(path, target_column=0, categorical_labels=True, n_classes=2)
    except ValueError as err:
        raise DatasetFormatError(f"{path} is not the Titanic CSV file: {err}") from err
    return data, np.asarray(labels)
