"""Titanic CSV: tflearn's tutorial calls, verification and format checks."""

from __future__ import annotations

import numpy as np
import pytest

from stackit.data_utils import load_csv
from stackit.datasets import ChecksumMismatchError, DatasetFormatError, titanic
from tests.datasets.formats import TITANIC_ROWS, titanic_csv


def test_tutorial_flow(publish, tmp_path, monkeypatch):
    publish(titanic, titanic.FILE_NAME, titanic_csv())
    monkeypatch.chdir(tmp_path)
    path = titanic.download_dataset("titanic_dataset.csv")
    assert path == "titanic_dataset.csv" or path.endswith("/titanic_dataset.csv")
    assert (tmp_path / "titanic_dataset.csv").read_bytes() == titanic_csv()
    data, labels = load_csv(
        "titanic_dataset.csv", target_column=0, categorical_labels=True, n_classes=2
    )
    assert data[0] == ["1", "Allen, Miss. Elisabeth Walton", "female", "29", "0", "0",
                       "24160", "211.3375"]  # fmt: skip
    np.testing.assert_array_equal(labels, [[0, 1], [1, 0], [0, 1]])


def test_load_dataset_uses_the_cache_folder(publish, isolated_data, server):
    publish(titanic, titanic.FILE_NAME, titanic_csv())
    data, labels = titanic.load_dataset()
    assert len(data) == len(TITANIC_ROWS) and len(data[1]) == 8
    assert data[1][1] == "Abbing, Mr. Anthony"
    np.testing.assert_array_equal(labels.argmax(1), [1, 0, 1])
    assert (isolated_data / "titanic" / "titanic_dataset.csv").is_file()
    titanic.load_dataset()
    assert server.requests == ["titanic_dataset.csv"]


def test_checksum_mismatch(publish, tmp_path):
    publish(titanic, titanic.FILE_NAME, titanic_csv(), sha="f" * 64)
    with pytest.raises(ChecksumMismatchError, match="f" * 64):
        titanic.download_dataset(work_directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_wrong_csv_placed_by_hand(tmp_path, unreachable):
    unreachable(titanic)
    (tmp_path / "titanic_dataset.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(DatasetFormatError, match="header survived,pclass"):
            titanic.load_dataset(work_directory=tmp_path)


def test_filename_must_be_a_plain_name(tmp_path):
    with pytest.raises(TypeError, match="Received: filename='../x.csv'"):
        titanic.download_dataset("../x.csv", tmp_path)
