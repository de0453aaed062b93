"""Tests for stackit.data_utils.load_csv."""

import numpy as np
import pytest

import stackit.data_utils as du

TITANIC = 'survived,pclass,name,sex\n1,1,"Allen, Miss",female\n\n0,3,Bob,male\n'


@pytest.fixture
def titanic(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(TITANIC)
    return path


def test_load_csv_default_target_is_last_column(titanic):
    data, labels = du.load_csv(titanic)
    assert data == [["1", "1", "Allen, Miss"], ["0", "3", "Bob"]]
    assert labels == ["female", "male"]


def test_load_csv_target_and_ignored_columns_count_in_the_file(titanic):
    # Column 2 is 'name' in the file, whatever the target column is.
    data, labels = du.load_csv(titanic, target_column=0, columns_to_ignore=[2])
    assert data == [["1", "female"], ["3", "male"]]
    assert labels == ["1", "0"]
    data, _ = du.load_csv(titanic, target_column=0, columns_to_ignore=[-1, -2])
    assert data == [["1"], ["3"]]


def test_load_csv_categorical_labels(titanic):
    _, labels = du.load_csv(titanic, target_column=0, categorical_labels=True, n_classes=3)
    assert labels.dtype == np.float32
    np.testing.assert_array_equal(labels, [[0, 1, 0], [1, 0, 0]])
    _, inferred = du.load_csv(titanic, target_column=0, categorical_labels=True)
    np.testing.assert_array_equal(inferred, [[0, 1], [1, 0]])


def test_load_csv_without_header_and_with_bom(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("1,2,0\n3,4,1\n", encoding="utf-8-sig")
    data, labels = du.load_csv(path, target_column=0, has_header=False)
    assert labels == ["1", "3"]
    assert data == [["2", "0"], ["4", "1"]]


def test_load_csv_header_only_gives_empty_lists(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    assert du.load_csv(path) == ([], [])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"target_column": 4}, ValueError, r"\[-4, 4\) for a file with 4 columns.*=4"),
        ({"target_column": -5}, ValueError, r"Received: target_column=-5"),
        ({"target_column": "sex"}, TypeError, r"Received: target_column='sex'"),
        ({"columns_to_ignore": [1, 9]}, ValueError, r"Received: columns_to_ignore\[1\]=9"),
        ({"categorical_labels": True}, ValueError, r"integer class ids.*line 2 label='female'"),
        (
            {"target_column": 0, "categorical_labels": True, "n_classes": 1},
            ValueError,
            r"\[0, 1\)\. Received: y\[0\]=1",
        ),
    ],
)
def test_load_csv_refuses_bad_arguments(titanic, kwargs, error, match):
    with pytest.raises(error, match=match):
        du.load_csv(titanic, **kwargs)


def test_load_csv_names_a_ragged_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1,2,3\n\n4,5\n")
    with pytest.raises(ValueError, match=r"3 fields like the first row\. Received: line 4 with 2"):
        du.load_csv(path)


def test_load_csv_refuses_empty_and_missing_files(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("\n")
    with pytest.raises(ValueError, match=r"empty\. Received: filepath=.*e\.csv"):
        du.load_csv(path)
    with pytest.raises(FileNotFoundError):
        du.load_csv(tmp_path / "missing.csv")
