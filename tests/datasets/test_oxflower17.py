"""17 Category Flowers: archive layout, class split, resize, shuffle, one-hot, parsed cache."""

from __future__ import annotations

import numpy as np
import pytest

import stackit.datasets.oxflower17 as oxflower17
from stackit.datasets import DatasetFormatError
from tests.datasets.formats import flower_color, flowers_tgz, sha256, tar_gz


@pytest.fixture(scope="module")
def archive() -> bytes:
    return flowers_tgz()


def _labels_from_pixels(X: np.ndarray) -> np.ndarray:
    """Recovers each image's class from its solid colour (JPEG is off by a few levels)."""
    colors = np.array([flower_color(k) for k in range(17)], np.float32)
    means = X.reshape(len(X), -1, 3).mean(1) * 255
    return np.abs(means[:, None, :] - colors[None]).sum(-1).argmin(1)


def test_download_split_and_parse(archive, publish, isolated_data):
    publish(oxflower17, oxflower17.ARCHIVE, archive)
    np.random.seed(0)
    X, Y = oxflower17.load_data(resize_pics=(8, 4), shuffle=False)
    assert X.shape == (1360, 4, 8, 3) and X.dtype == np.float32  # (width, height) = (8, 4)
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert Y.dtype == np.int64
    np.testing.assert_array_equal(Y, np.repeat(np.arange(17), 80))  # 80 per class, in order
    np.testing.assert_array_equal(_labels_from_pixels(X), Y)
    jpg = isolated_data / "17flowers" / "jpg"
    assert sorted(p.name for p in jpg.iterdir()) == [f"{k:02d}" for k in range(17)]
    assert (jpg / "16" / "image_1360.jpg").is_file() and (jpg / "00" / "image_0080.jpg").is_file()
    assert (jpg / "01" / "image_0081.jpg").is_file()


def test_shuffle_and_one_hot(archive, publish):
    publish(oxflower17, oxflower17.ARCHIVE, archive)
    X, Y = oxflower17.load_data(resize_pics=(4, 4), one_hot=True)
    assert Y.shape == (1360, 17) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y.sum(0), [80] * 17)
    labels = Y.argmax(1)
    assert not np.array_equal(labels, np.sort(labels))  # shuffled...
    np.testing.assert_array_equal(_labels_from_pixels(X), labels)  # ...together


def test_parsed_cache_is_keyed_by_size(archive, publish, isolated_data, monkeypatch, server):
    publish(oxflower17, oxflower17.ARCHIVE, archive)
    X1, Y1 = oxflower17.load_data(resize_pics=(5, 5), shuffle=False)
    folder = isolated_data / "17flowers"
    assert (folder / "17flowers_5x5.npz").is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("the images were decoded again")

    monkeypatch.setattr(oxflower17, "build_image_dataset_from_dir", no_decoding)
    X2, Y2 = oxflower17.load_data(resize_pics=(5, 5), shuffle=False)
    np.testing.assert_array_equal(X2, X1)
    np.testing.assert_array_equal(Y2, Y1)
    with pytest.raises(AssertionError, match="decoded again"):
        oxflower17.load_data(resize_pics=(6, 5))  # another size is another cache entry
    assert server.requests == [oxflower17.ARCHIVE]


def test_archive_missing_images(publish, isolated_data):
    publish(oxflower17, oxflower17.ARCHIVE, flowers_tgz(per_class=2))
    with pytest.raises(DatasetFormatError, match="1360 images"):
        oxflower17.load_data(resize_pics=(4, 4))
    assert sorted(p.name for p in (isolated_data / "17flowers").iterdir()) == ["17flowers.tgz"]


def test_foreign_jpg_folder_is_refused_not_deleted(tmp_path):
    (tmp_path / "jpg" / "0").mkdir(parents=True)
    (tmp_path / "jpg" / "0" / "mine.jpg").write_bytes(b"x")
    with pytest.raises(DatasetFormatError, match="stackit never deletes it"):
        oxflower17.load_data(dirname=tmp_path, resize_pics=(4, 4))
    assert (tmp_path / "jpg" / "0" / "mine.jpg").read_bytes() == b"x"


def test_truncated_archive(archive, tmp_path, unreachable):
    unreachable(oxflower17, {oxflower17.ARCHIVE: sha256(archive)})
    (tmp_path / oxflower17.ARCHIVE).write_bytes(archive[:5000])
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(DatasetFormatError, match="truncated"):
            oxflower17.load_data(dirname=tmp_path, resize_pics=(4, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == [oxflower17.ARCHIVE]


@pytest.mark.parametrize("bad", [None, (0, 4), (4,), "224", (4.0, 4)])
def test_bad_resize_pics(bad):
    with pytest.raises(ValueError, match="Received: resize_pics="):
        oxflower17.load_data(resize_pics=bad)


def test_unsafe_member_in_flowers_archive(publish, isolated_data):
    publish(oxflower17, oxflower17.ARCHIVE, tar_gz({"jpg/../../../escape.jpg": b"x"}))
    with pytest.raises(DatasetFormatError, match="Refusing"):
        oxflower17.load_data(resize_pics=(4, 4))
