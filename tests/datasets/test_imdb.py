"""IMDB from the official review archive: tokenizing, frequency ids, tflearn's split rules."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

import stackit.datasets.imdb as imdb
from stackit.datasets import (
    ChecksumMismatchError,
    DatasetDownloadError,
    DatasetFormatError,
    UnsafeArchiveError,
)
from tests.datasets.formats import IMDB_REVIEWS, imdb_members, imdb_tgz, sha256

# Hand-computed from IMDB_REVIEWS. Training word counts: great 4, bad 3, movie 2, then
# a, acting, cast, film, not once each (alphabetical) -> ids 2, 3, 4, 5, 6, 7, 8, 9.
INDEX = {"great": 2, "bad": 3, "movie": 4, "a": 5, "acting": 6, "cast": 7, "film": 8, "not": 9}
TRAIN_X = [[2, 4, 2, 7], [5, 2, 8], [3, 4, 3, 3, 6], [9, 2]]  # pos 0, 1, then neg 0, 1
TRAIN_Y = [1, 1, 0, 0]
# Test: pos 0, 2, 10 (numeric order), then neg 0. "awful" is not a training word -> 1.
TEST_X = [[2, 6], [7], [4, 4], [1, 4]]
TEST_Y = [1, 1, 1, 0]


@pytest.fixture
def served(publish):
    return publish(imdb, imdb.ARCHIVE, imdb_tgz())


def _load(**kwargs):
    kwargs.setdefault("sort_by_len", False)
    return imdb.load_data(**kwargs)


def _permuted(seed, x, y, valid_portion):
    np.random.seed(seed)
    order = np.random.permutation(len(x))
    n_train = int(np.round(len(x) * (1 - valid_portion)))
    pick = lambda idx: ([x[i] for i in idx], [y[i] for i in idx])  # noqa: E731
    return pick(order[:n_train]), pick(order[n_train:])


def test_layout_and_frequency_ids(served, isolated_data):
    np.random.seed(0)
    train, valid, test = _load(valid_portion=0.0)
    assert isinstance(train, tuple) and len(train) == 2
    X, Y = train
    assert isinstance(X, list) and all(isinstance(s, list) for s in X)
    assert all(type(w) is int for s in X for w in s) and all(type(y) is int for y in Y)
    expected, _ = _permuted(0, TRAIN_X, TRAIN_Y, 0.0)
    assert train == expected
    assert valid == ([], [])
    assert test == (TEST_X, TEST_Y)
    assert imdb.get_word_index() == INDEX
    folder = isolated_data / "imdb"
    assert sorted(p.name for p in folder.iterdir()) == [imdb.ARCHIVE, imdb.CACHE]


def test_valid_portion_split_follows_numpy_global_state(served):
    np.random.seed(3)
    train, valid, _ = _load(valid_portion=0.25)
    exp_train, exp_valid = _permuted(3, TRAIN_X, TRAIN_Y, 0.25)
    assert (train, valid) == (exp_train, exp_valid)
    assert len(train[0]) == 3 and len(valid[0]) == 1


def test_n_words_maps_rare_ids_to_unknown(served):
    _, _, (test_x, _) = _load(n_words=5)
    assert test_x == [[2, 1], [1], [4, 4], [1, 4]]  # acting (6) and cast (7) -> 1
    train, _, _ = _load(n_words=5, valid_portion=0.0)
    assert sorted(map(tuple, train[0])) == sorted(
        tuple(1 if w >= 5 else w for w in s) for s in TRAIN_X
    )
    assert max(w for s in train[0] for w in s) < 5


def test_maxlen_drops_long_training_reviews_only(served):
    train, valid, test = _load(maxlen=4, valid_portion=0.0)
    assert sorted(train[0]) == sorted([[5, 2, 8], [9, 2]])  # lengths 3 and 2 (< 4) stay
    assert sorted(train[1]) == [0, 1]
    assert test == (TEST_X, TEST_Y)  # tflearn filters the training set only


def test_sort_by_len_is_stable(served):
    train, _, test = imdb.load_data(valid_portion=0.0)
    assert test == ([[7], [2, 6], [4, 4], [1, 4]], [1, 1, 1, 0])
    assert [len(s) for s in train[0]] == [2, 3, 4, 5]
    assert train[1] == [0, 1, 1, 0]


def test_cache_is_reused_without_the_archive(served, server, isolated_data, monkeypatch):
    first = _load(valid_portion=0.0)
    assert server.requests == [imdb.ARCHIVE]
    (isolated_data / "imdb" / imdb.ARCHIVE).unlink()
    monkeypatch.setenv("STACKIT_OFFLINE", "1")
    monkeypatch.setattr(imdb, "_parse", lambda folder: pytest.fail("cache not used"))
    np.random.seed(0)
    again = _load(valid_portion=0.0)
    assert again[2] == first[2] and sorted(again[0][0]) == sorted(first[0][0])
    assert server.requests == [imdb.ARCHIVE]


def test_checksum_mismatch_is_refused(publish, isolated_data):
    publish(imdb, imdb.ARCHIVE, imdb_tgz(), sha="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="expected " + "0" * 64):
        imdb.load_data()
    folder = isolated_data / "imdb"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_offline_message_says_where_to_put_the_archive(served, server, monkeypatch, isolated_data):
    monkeypatch.setenv("STACKIT_OFFLINE", "1")
    with pytest.raises(DatasetDownloadError, match="STACKIT_OFFLINE") as info:
        imdb.load_data()
    assert str(isolated_data / "imdb" / imdb.ARCHIVE) in str(info.value)
    assert imdb.FILES[imdb.ARCHIVE].sha256 in str(info.value)
    assert server.requests == []


def test_archive_placed_by_hand_is_used(tmp_path, unreachable):
    archive = imdb_tgz()
    unreachable(imdb, {imdb.ARCHIVE: sha256(archive)})
    (tmp_path / imdb.ARCHIVE).write_bytes(archive)
    _, _, test = _load(path=tmp_path)
    assert test == (TEST_X, TEST_Y)


def test_extracted_folder_is_read_without_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKIT_OFFLINE", "1")
    for name, data in imdb_members().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    _, _, test = _load(path=str(tmp_path))
    assert test == (TEST_X, TEST_Y)
    assert imdb.get_word_index(tmp_path) == INDEX


def test_existing_tflearn_pickle_is_refused_not_loaded(tmp_path, monkeypatch, isolated_data):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "imdb.pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="never loads tflearn's imdb.pkl") as info:
        imdb.load_data(path=tmp_path / "imdb.pkl")
    assert "Pass path=None for the default folder" in str(info.value)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="is a file"):
        imdb.load_data(path="imdb.pkl", n_words=10000)  # tflearn's example call
    assert not marker.exists()


def test_missing_pickle_name_means_the_default_folder(served, isolated_data, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    _load(path="imdb.pkl")
    assert (isolated_data / "imdb" / imdb.CACHE).is_file()
    assert _load(path=None)[2] == (TEST_X, TEST_Y)
    assert list(work.iterdir()) == []  # nothing written to the working directory


def test_archive_without_a_review_folder(publish):
    reviews = {k: v for k, v in IMDB_REVIEWS.items() if k != ("test", "neg")}
    publish(imdb, imdb.ARCHIVE, imdb_tgz(reviews))
    with pytest.raises(DatasetFormatError, match="no review in aclImdb/test/neg/"):
        imdb.load_data()


def test_truncated_archive_placed_by_hand(tmp_path, unreachable):
    archive = imdb_tgz()
    unreachable(imdb, {imdb.ARCHIVE: sha256(archive)})
    (tmp_path / imdb.ARCHIVE).write_bytes(archive[: len(archive) // 2])
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(DatasetFormatError, match="truncated"):
            imdb.load_data(path=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [imdb.ARCHIVE]  # no cache written


def test_link_member_is_refused(publish):
    buf = io.BytesIO(imdb_tgz())
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=buf, mode="r:gz") as src,
        tarfile.open(fileobj=out, mode="w:gz") as dst,
    ):
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        link = tarfile.TarInfo("aclImdb/train/pos/5_5.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        dst.addfile(link)
    publish(imdb, imdb.ARCHIVE, out.getvalue())
    with pytest.raises(UnsafeArchiveError, match="'aclImdb/train/pos/5_5.txt' is a symbolic link"):
        imdb.load_data()


def test_tokenize():
    text = "Great film!<br /><br />Don't MISS it<BR>- 10/10"
    assert imdb.tokenize(text) == ["great", "film", "don", "t", "miss", "it", "10", "10"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_words": 2}, ValueError, r"n_words must be >= 3.*Received: n_words=2"),
        ({"n_words": 10.0}, TypeError, r"Received: n_words=10\.0"),
        ({"valid_portion": 1.0}, ValueError, r"\[0, 1\)\. Received: valid_portion=1\.0"),
        ({"valid_portion": "0.1"}, TypeError, r"Received: valid_portion='0\.1'"),
        ({"maxlen": 0}, ValueError, r"maxlen must be >= 1 or None\. Received: maxlen=0"),
        ({"maxlen": 2.5}, TypeError, r"Received: maxlen=2\.5"),
        ({"path": 3}, TypeError, r"Received: path=3"),
    ],
)
def test_bad_arguments_are_refused_before_any_download(kwargs, error, match, server):
    with pytest.raises(error, match=match):
        imdb.load_data(**kwargs)
    assert server.requests == []
