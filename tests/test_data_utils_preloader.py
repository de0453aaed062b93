"""Tests for stackit.data_utils.image_preloader: lazy, array-like image datasets."""

import os

import numpy as np
import pytest
from PIL import Image

import stackit.data_utils as du
from stackit.data_utils import _images

# One distinct grey level per image makes every decoded image identifiable.
LEVELS = [10, 60, 110, 160, 210]


def make_image(path, size=(4, 3), color=0, mode="L"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, size, color).save(path)
    return str(path)


@pytest.fixture
def folder(tmp_path):
    """d/a/0.png, d/a/1.png (class 0) and d/b/2.png, d/b/3.png, d/b/4.png (class 1)."""
    root = tmp_path / "d"
    for i, level in enumerate(LEVELS):
        make_image(root / ("a" if i < 2 else "b") / f"{i}.png", size=(5 + i, 3), color=level)
    return root


@pytest.fixture
def load_counter(monkeypatch):
    """Records every path that the image loader decodes."""
    loaded = []
    original = _images.load_image

    def counting(path):
        loaded.append(os.path.basename(path))
        return original(path)

    monkeypatch.setattr(_images, "load_image", counting)
    return loaded


def rgb(level):
    return np.full((3, 4, 3), level / 255, dtype=np.float32)


def test_folder_mode_shapes_labels_and_values(folder):
    X, Y = du.image_preloader(folder, image_shape=(4, 3), mode="folder")
    assert len(X) == len(Y) == 5
    assert X.shape == (5, 3, 4, 3) and X.ndim == 4 and X.dtype == np.float32
    assert Y.shape == (5, 2)
    np.testing.assert_allclose(X[3], rgb(LEVELS[3]), atol=1e-6)  # resized from 8x3
    np.testing.assert_array_equal(Y[3], [0, 1])
    np.testing.assert_array_equal(Y[0], [1, 0])


def test_indexing_with_arrays_slices_masks_and_negatives(folder):
    X, Y = du.image_preloader(folder, (4, 3), mode="folder", categorical_labels=False)
    batch = X[np.array([4, 0, 4])]
    assert isinstance(batch, np.ndarray) and batch.shape == (3, 3, 4, 3)
    for row, i in zip(batch, [4, 0, 4], strict=True):
        np.testing.assert_allclose(row, rgb(LEVELS[i]), atol=1e-6)
    np.testing.assert_array_equal(Y[np.array([4, 0, 4])], [1, 0, 1])
    np.testing.assert_allclose(X[1:4:2][1], rgb(LEVELS[3]), atol=1e-6)
    np.testing.assert_array_equal(Y[1:4], [0, 1, 1])
    mask = np.array([False, True, False, False, True])
    np.testing.assert_allclose(X[mask][0], rgb(LEVELS[1]), atol=1e-6)
    np.testing.assert_allclose(X[-1], rgb(LEVELS[4]), atol=1e-6)
    np.testing.assert_allclose(X[[2]][0], X[2], atol=0)
    assert X[5:].shape == (0, 3, 4, 3)
    assert Y[-1] == 1


def test_indexing_decodes_only_the_requested_images(folder, load_counter):
    X, Y = du.image_preloader(folder, (4, 3), mode="folder")
    assert load_counter == []  # building the preloader decodes nothing
    X[np.array([3, 1])]
    assert load_counter == ["3.png", "1.png"]
    X[4]
    assert load_counter[2:] == ["4.png"]
    Y[np.array([0, 1, 2])]
    assert len(load_counter) == 3


def test_files_not_indexed_are_never_opened(folder):
    X, _ = du.image_preloader(folder, (4, 3), mode="folder")
    os.remove(folder / "b" / "2.png")
    assert X[np.array([0, 1, 3, 4])].shape == (4, 3, 4, 3)
    with pytest.raises(FileNotFoundError, match=r"2\.png"):
        X[2]


def test_undecodable_image_is_reported_when_indexed(folder):
    (folder / "a" / "5.png").write_bytes(b"not a png")
    X, _ = du.image_preloader(folder, (4, 3), mode="folder")  # construction reads no pixels
    X[0]
    with pytest.raises(ValueError, match=r"could not decode the image file .*5\.png"):
        X[np.array([0, 2])]


def test_asarray_iteration_grayscale_and_no_normalization(folder):
    X, _ = du.image_preloader(folder, (4, 3), mode="folder", grayscale=True, normalize=False)
    assert X.shape == (5, 3, 4, 1)
    full = np.asarray(X)
    assert full.shape == (5, 3, 4, 1)
    np.testing.assert_allclose(full[:, 0, 0, 0], LEVELS, atol=1)
    assert [float(x[0, 0, 0]) for x in X] == pytest.approx(LEVELS, abs=1)


def test_file_mode_reads_path_label_lines(tmp_path):
    a = make_image(tmp_path / "img" / "a b.png", color=LEVELS[0])  # a space in the name
    make_image(tmp_path / "img" / "c.jpg", color=LEVELS[1])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{a} 2\n\n  img/c.jpg   0  \n")
    X, Y = du.image_preloader(listing, (4, 3), image_base_path=str(tmp_path))
    assert X.shape == (2, 3, 4, 3) and Y.shape == (2, 3)  # labels 0..2 -> 3 classes
    np.testing.assert_array_equal(Y[np.array([0, 1])], [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(X[1], rgb(LEVELS[1]), atol=3 / 255)


def test_file_mode_float_labels_and_extension_filter(tmp_path):
    a = make_image(tmp_path / "a.png", color=1)
    b = make_image(tmp_path / "b.jpg", color=2)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{a} 0.25\n{b} 1.5\n")
    X, Y = du.image_preloader(listing, (4, 3), categorical_labels=False, float_labels=True)
    assert Y.shape == (2,) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y[:], [0.25, 1.5])
    X2, Y2 = du.image_preloader(
        listing, (4, 3), categorical_labels=False, float_labels=True, files_extension=[".JPG"]
    )
    assert len(X2) == 1 and Y2[0] == 1.5


def test_folder_mode_extension_and_channel_filters(tmp_path):
    root = tmp_path / "d"
    make_image(root / "a" / "rgb.png", mode="RGB", color=(1, 2, 3))
    make_image(root / "a" / "gray.png", mode="L", color=5)
    make_image(root / "a" / "rgba.png", mode="RGBA", color=(1, 2, 3, 4))
    make_image(root / "b" / "rgb.jpg", mode="RGB", color=(9, 9, 9))
    X, Y = du.image_preloader(root, (4, 3), mode="folder", filter_channel=True)
    assert len(X) == 2
    np.testing.assert_array_equal(Y[:], [[1, 0], [0, 1]])
    X2, _ = du.image_preloader(root, (4, 3), mode="folder", files_extension=["png"])
    assert len(X2) == 3


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        ("{a} 0\n{a}\n", r"'image_path label'.*Received: line 2="),
        ("{a} cat\n", r"integer class id as label\. Received: line 1='.*a\.png cat'"),
        ("{a} -1\n", r"non-negative.*Received: line 1="),
        ("{a} 1.5\n", r"Received: line 1="),
        ("{a} 0\n\nmissing.png 1\n", r"does not exist\. Received: line 3='missing\.png 1'"),
    ],
)
def test_file_mode_names_the_bad_line(tmp_path, lines, match):
    a = make_image(tmp_path / "a.png")
    listing = tmp_path / "list.txt"
    listing.write_text(lines.format(a=a))
    with pytest.raises(ValueError, match=match):
        du.image_preloader(listing, (4, 3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "zip"}, ValueError, r"'file' or 'folder'\. Received: mode='zip'"),
        ({"image_shape": (0, 4)}, ValueError, r"Received: image_shape=\(0, 4\)"),
        ({"image_shape": None}, ValueError, r"Received: image_shape=None"),
        ({"float_labels": True}, ValueError, r"Received: categorical_labels=True"),
        ({"files_extension": 3}, TypeError, r"Received: files_extension=3"),
        ({"files_extension": [".gif"]}, ValueError, r"no image is left"),
    ],
)
def test_image_preloader_refuses_bad_arguments(tmp_path, kwargs, error, match):
    a = make_image(tmp_path / "a.png")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{a} 0\n")
    args = {"image_shape": (4, 3), **kwargs}
    with pytest.raises(error, match=match):
        du.image_preloader(listing, **args)


def test_image_preloader_refuses_missing_sources(tmp_path):
    with pytest.raises(ValueError, match=r"'path label' lines\. Received: target_path=.*nope"):
        du.image_preloader(tmp_path / "nope.txt", (4, 3))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"one sub-folder per class"):
        du.image_preloader(tmp_path / "empty", (4, 3), mode="folder")


def test_preloader_refuses_bad_indices(folder):
    X, Y = du.image_preloader(folder, (4, 3), mode="folder")
    with pytest.raises(IndexError, match=r"length 5\. Received: index=5"):
        X[5]
    with pytest.raises(IndexError, match=r"length 5\. Received: index=-6"):
        Y[-6]
    with pytest.raises(IndexError, match=r"Received: index=array\(\[ 0, 99\]\)"):
        X[np.array([0, 99])]
    with pytest.raises(IndexError, match=r"boolean mask must have shape \(5,\)"):
        X[np.array([True, False])]
    for bad in (1.5, (0, 1), "0", None, np.array([[0, 1]]), np.array([0.0])):
        with pytest.raises(TypeError, match=r"first axis only"):
            X[bad]


def test_label_preloader_needs_n_class_for_one_hot():
    with pytest.raises(ValueError, match=r"needs n_class.*Received: n_class=None"):
        du.LabelPreloader([0, 1], None, True)


def test_folder_mode_one_hot_has_a_column_per_class_folder(folder):
    (folder / "c_empty").mkdir()
    _, Y = du.image_preloader(folder, (4, 3), mode="folder")
    assert Y.shape == (5, 3)
    np.testing.assert_array_equal(Y[np.array([0, 4])], [[1, 0, 0], [0, 1, 0]])
