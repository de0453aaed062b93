"""The Large Movie Review Dataset (IMDB): 50,000 reviews labelled positive or negative.

A. L. Maas, R. E. Daly, P. T. Pham, D. Huang, A. Y. Ng, C. Potts, "Learning Word Vectors for
Sentiment Analysis", ACL 2011. 25,000 training and 25,000 test reviews, half positive (rated
7-10) and half negative (rated 1-4). Source: http://ai.stanford.edu/~amaas/data/sentiment/,
file `aclImdb_v1.tar.gz` (84,125,825 bytes). Licence: none stated; the authors ask that the
paper be cited.

tflearn downloaded a pickle (`imdb.pkl`, made by the Theano LSTM tutorial); stackit never
unpickles anything, so it reads the review texts from the official archive and indexes them
the same way: id 0 is left for padding, 1 is the unknown word, and the words of the
training reviews get ids 2, 3, ... by descending frequency. The parsed reviews are cached as
`imdb_v1.npz` (no pickle) in the dataset folder, so only the first call reads the archive.

Example (tflearn's `examples/nlp/lstm.py`, unchanged but for the package name):
    >>> from stackit.datasets import imdb
    >>> train, test, _ = imdb.load_data(path='imdb.pkl', n_words=10000, valid_portion=0.1)
    >>> trainX, trainY = train
"""

from __future__ import annotations

import os
import re
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from stackit.datasets import _standin
from stackit.datasets._archive import _READ_ERRORS, MAX_EXTRACTED_BYTES, _check_member
from stackit.datasets._cache import read_npz, write_npz
from stackit.datasets._fetch import (
    DatasetFormatError,
    RemoteFile,
    UnsafeArchiveError,
    dataset_folder,
    fetch,
)

__all__ = ["load_data", "get_word_index", "tokenize", "PAD_ID", "UNK_ID", "INDEX_FROM"]

ARCHIVE = "aclImdb_v1.tar.gz"
TOP = "aclImdb"
CACHE = "imdb_v1.npz"
_CACHE_VERSION = 1

#: Id of the padding (never produced by `load_data`; `pad_sequences` fills with it).
PAD_ID = 0
#: Id of a word outside the vocabulary (not in the training reviews, or rarer than `n_words`).
UNK_ID = 1
#: Id of the most frequent training word; the next most frequent is `INDEX_FROM + 1`, ...
INDEX_FROM = 2

# SHA-256 and size as recorded by tensorflow-datasets (url_checksums/imdb_reviews.txt).
FILES: dict[str, RemoteFile] = {
    ARCHIVE: RemoteFile(
        ARCHIVE,
        ("http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
        "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
        84125825,
    )
}

_GROUPS = (("train", "pos"), ("train", "neg"), ("test", "pos"), ("test", "neg"))
_REVIEW = re.compile(r"(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_\d+\.txt")
#: The longest official review is about 14 kB; anything far larger is not a review.
_MAX_REVIEW_BYTES = 1 << 20
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# A `path` with one of these endings names tflearn's pickle, not a folder.
_PICKLE_NAMES = (".pkl", ".pkl.gz", ".pickle")


def tokenize(text: str) -> list[str]:
    """Splits a review into words as `load_data` does.

    The text is lower-cased, its `<br />` line-break tags are removed, and words are the runs
    of letters, digits and `_` (so "don't" is "don", "t").

    Example:
        >>> tokenize("Great film!<br /><br />Don't miss it.")
        ['great', 'film', 'don', 't', 'miss', 'it']

    Args:
        text: One review.

    Returns:
        The list of words.
    """
    return _WORD.findall(_LINE_BREAK.sub(" ", text).lower())


# ----------------------------------------------------------------------------- reading


def _archive_reviews(archive: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """Yields `(split, label, review id, raw text)` from the tar file, one pass, nothing
    written to disk. Members are checked as `extract_tar` checks them."""
    total = 0
    try:
        with tarfile.open(archive, "r|*") as tar:
            for member in tar:
                _check_member(member, archive)
                total += member.size
                if total > MAX_EXTRACTED_BYTES:
                    raise UnsafeArchiveError(
                        f"Refusing to read {archive}: its files add up to more than "
                        f"{MAX_EXTRACTED_BYTES:,} bytes; the official archive is smaller. "
                        "Delete it and try again."
                    )
                match = _REVIEW.fullmatch(member.name)
                if match is None or not member.isfile():
                    continue
                if member.size > _MAX_REVIEW_BYTES:
                    raise DatasetFormatError(
                        f"{archive}: {member.name} has {member.size:,} bytes, too many for "
                        "a review; this is not the official archive. Delete it and try again."
                    )
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                yield match[1], match[2], int(match[3]), data
    except _READ_ERRORS as err:
        raise DatasetFormatError(
            f"{archive} is not a complete tar archive ({type(err).__name__}: {err}). "
            "It may be truncated: delete it and try again."
        ) from err


def _folder_reviews(top: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """Yields the reviews of an extracted `aclImdb/` folder."""
    for split, label in _GROUPS:
        for path in sorted((top / split / label).glob("*.txt")):
            match = _REVIEW.fullmatch(f"{TOP}/{split}/{label}/{path.name}")
            if match is not None and path.is_file():
                yield split, label, int(match[3]), path.read_bytes()


def _read_reviews(
    reviews: Iterator[tuple[str, str, int, bytes]], source: Path
) -> dict[tuple[str, str], list[list[str]]]:
    """Tokenized reviews per (split, label), in the order of their ids."""
    groups: dict[tuple[str, str], list[tuple[int, list[str]]]] = {g: [] for g in _GROUPS}
    for split, label, review_id, data in reviews:
        groups[(split, label)].append((review_id, tokenize(data.decode("utf-8", "replace"))))
    empty = [f"{TOP}/{split}/{label}/" for (split, label), items in groups.items() if not items]
    if empty:
        raise DatasetFormatError(
            f"{source} holds no review in {', '.join(empty)}; it is not the official IMDB "
            "archive. Delete it and try again."
        )
    return {g: [words for _, words in sorted(items)] for g, items in groups.items()}


def _flatten(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    flat = np.fromiter((w for s in seqs for w in s), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


def _parse(folder: Path) -> dict[str, np.ndarray]:
    """Reads the reviews (from `aclImdb/` if extracted there, else from the archive),
    indexes the words and writes the cache."""
    top = folder / TOP
    if all((top / split / label).is_dir() for split, label in _GROUPS):
        groups = _read_reviews(_folder_reviews(top), top)
    else:
        archive = fetch(FILES[ARCHIVE], folder, dataset="IMDB")
        groups = _read_reviews(_archive_reviews(archive), archive)
    counts = Counter(
        word for label in ("pos", "neg") for review in groups[("train", label)] for word in review
    )
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    index = {word: i + INDEX_FROM for i, word in enumerate(ranked)}
    arrays: dict[str, np.ndarray] = {"version": np.array(_CACHE_VERSION)}
    for split in ("train", "test"):
        pos, neg = groups[(split, "pos")], groups[(split, "neg")]  # tflearn's order
        ids, lengths = _flatten([[index.get(w, UNK_ID) for w in review] for review in pos + neg])
        arrays[f"{split}_ids"], arrays[f"{split}_lengths"] = ids, lengths
        arrays[f"{split}_labels"] = np.repeat(np.array([1, 0], np.int8), [len(pos), len(neg)])
    arrays["words"] = np.frombuffer("\n".join(ranked).encode("utf-8"), dtype=np.uint8)
    write_npz(folder / CACHE, **arrays)
    return arrays


_KEYS = ("version", "words") + tuple(
    f"{split}_{key}" for split in ("train", "test") for key in ("ids", "lengths", "labels")
)


def _parsed(folder: Path) -> dict[str, np.ndarray]:
    cached = read_npz(folder / CACHE, _KEYS)
    if cached is not None and int(cached["version"]) == _CACHE_VERSION:
        return cached
    return _parse(folder)


# ----------------------------------------------------------------------------- arguments


def _folder(path: Any) -> Path:
    """The dataset folder named by `path`; tflearn's pickle file name means the default."""
    if path is None:
        return dataset_folder("imdb")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a folder path (str or os.PathLike) or None. Received: path={path!r}"
        )
    given = Path(path).expanduser()
    if given.is_file():
        raise ValueError(
            f"{given} is a file. stackit never loads tflearn's imdb.pkl (a pickle: loading "
            f"one can run arbitrary code); it reads the official review archive {ARCHIVE} "
            "instead, which it downloads and verifies itself. Pass path=None for the default "
            "folder ($STACKIT_DATA/imdb, else ~/.stackit/datasets/imdb) or pass path=<a "
            "folder>; or move the pickle away to keep path='imdb.pkl'. "
            f"Received: path={os.fspath(path)!r}"
        )
    if given.name.endswith(_PICKLE_NAMES) and not given.is_dir():
        return dataset_folder("imdb")
    return given


def _check_args(n_words: Any, valid_portion: Any, maxlen: Any) -> None:
    if isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer)):
        raise TypeError(f"n_words must be an int. Received: n_words={n_words!r}")
    if n_words < INDEX_FROM + 1:
        raise ValueError(
            f"n_words must be >= {INDEX_FROM + 1} (ids 0 and 1 are padding and unknown; "
            f"word ids start at {INDEX_FROM}). Received: n_words={n_words}"
        )
    if isinstance(valid_portion, bool) or not isinstance(
        valid_portion, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"valid_portion must be a float. Received: valid_portion={valid_portion!r}")
    if not 0.0 <= valid_portion < 1.0:
        raise ValueError(
            f"valid_portion must be in [0, 1). Received: valid_portion={valid_portion}"
        )
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)):
            raise TypeError(f"maxlen must be an int or None. Received: maxlen={maxlen!r}")
        if maxlen < 1:
            raise ValueError(f"maxlen must be >= 1 or None. Received: maxlen={maxlen}")


def _split(ids: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    flat = ids.tolist()
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    return [flat[a:b] for a, b in zip(starts, ends, strict=True)]


def _by_length(x: list[list[int]], y: list[int]) -> tuple[list[list[int]], list[int]]:
    order = sorted(range(len(x)), key=lambda i: len(x[i]))  # stable: ties keep their order
    return [x[i] for i in order], [y[i] for i in order]


# ----------------------------------------------------------------------------- public


Split = tuple[list[list[int]], list[int]]


def _standin_reviews(n_words: int, valid_portion: float, maxlen: int | None,
                     sort_by_len: bool) -> tuple[Split, Split, Split]:
    """`load_data`'s layout on stand-in reviews (`_standin`), announced by a warning."""
    n_train, n_test = _standin.sizes()
    longest = 80 if maxlen is None else max(min(80, maxlen - 1), 1)
    _standin.warn("imdb.load_data", "the IMDB reviews",
                  f"{n_train} training and {n_test} test reviews of random word ids",
                  stacklevel=4)
    train_x, train_y = _standin.sequences(n_train, n_words, longest, "imdbtrain")
    n_keep = int(np.round(n_train * (1.0 - valid_portion)))
    train, valid = (train_x[:n_keep], train_y[:n_keep]), (train_x[n_keep:], train_y[n_keep:])
    test = _standin.sequences(n_test, n_words, longest, "imdbtest")
    if sort_by_len:
        test, valid, train = _by_length(*test), _by_length(*valid), _by_length(*train)
    return train, valid, test


def load_data(
    path: str | os.PathLike[str] | None = "imdb.pkl",
    n_words: int = 100000,
    valid_portion: float = 0.1,
    maxlen: int | None = None,
    sort_by_len: bool = True,
) -> tuple[Split, Split, Split]:
    """Loads the IMDB reviews as word-id sequences, downloading the archive on first use.

    Word ids follow tflearn's pickle: 1 is the unknown word, and the words of the 25,000
    training reviews get 2, 3, ... by descending count (ties alphabetically); test words
    never seen in training are 1. Ids `>= n_words` are replaced by 1, so every id is below
    `n_words` (the `input_dim` of an embedding). 0 never appears: it is left for padding.

    As in tflearn: `maxlen` drops the training reviews of `maxlen` words or more (the test
    reviews are all kept); the rest of the training set is split at random (numpy's global
    random state, so `numpy.random.seed` makes it repeatable) into `1 - valid_portion` for
    training and `valid_portion` for validation; `sort_by_len` orders each set by length.

    Args:
        path: Folder for `aclImdb_v1.tar.gz` and the `imdb_v1.npz` cache (an extracted
            `aclImdb/` folder there is read instead of the archive). tflearn's pickle file
            name (the default, `'imdb.pkl'`) stands for the default folder,
            `$STACKIT_DATA/imdb`, else `~/.stackit/datasets/imdb`, as does `None`. An
            existing file (tflearn's pickle) is refused, never loaded. Defaults to
            `'imdb.pkl'`.
        n_words: Ids from `n_words` up become 1 (unknown). Defaults to `100000`.
        valid_portion: Fraction of the training reviews held out for validation, in
            `[0, 1)`. Defaults to `0.1`.
        maxlen: Keep only training reviews shorter than `maxlen` words; `None` keeps all.
            Defaults to `None`.
        sort_by_len: If true, each set is sorted by review length (ties keep the
            positive-then-negative file order). Defaults to `True`.

    Returns:
        `(train, valid, test)`, each `(X, Y)`: `X` a list of reviews, each a list of int word
        ids; `Y` a list of int labels, 1 positive and 0 negative. Sizes: 25,000 test reviews;
        22,500 training and 2,500 validation reviews with the defaults.

    Raises:
        ValueError: If `path` names an existing file (e.g. tflearn's `imdb.pkl`), or an
            argument is out of range.
        TypeError: If an argument has the wrong type.
        DatasetDownloadError: If the archive is missing and cannot be downloaded; the message
            says where to put it by hand.
        ChecksumMismatchError: If the download does not have the official SHA-256.
        DatasetFormatError: If the archive is truncated or lacks the review folders.
        UnsafeArchiveError: If the archive holds links or paths leaving its folder.
    """
    _check_args(n_words, valid_portion, maxlen)
    if _standin.requested():
        return _standin_reviews(int(n_words), float(valid_portion), maxlen, sort_by_len)
    data = _parsed(_folder(path))
    n_words = int(n_words)
    sets = {}
    for name in ("train", "test"):
        ids = data[f"{name}_ids"]
        ids = np.where(ids >= n_words, UNK_ID, ids)
        sets[name] = (_split(ids, data[f"{name}_lengths"]), data[f"{name}_labels"].tolist())
    train_x, train_y = sets["train"]
    if maxlen is not None:
        keep = [i for i, x in enumerate(train_x) if len(x) < maxlen]
        train_x, train_y = [train_x[i] for i in keep], [train_y[i] for i in keep]
    order = np.random.permutation(len(train_x))
    n_train = int(np.round(len(train_x) * (1.0 - float(valid_portion))))
    valid = ([train_x[i] for i in order[n_train:]], [train_y[i] for i in order[n_train:]])
    train = ([train_x[i] for i in order[:n_train]], [train_y[i] for i in order[:n_train]])
    test = sets["test"]
    if sort_by_len:
        test, valid, train = _by_length(*test), _by_length(*valid), _by_length(*train)
    return train, valid, test


def get_word_index(path: str | os.PathLike[str] | None = "imdb.pkl") -> dict[str, int]:
    """Returns the `{word: id}` index `load_data` uses (ids from 2, most frequent first).

    Example:
        >>> index = imdb.get_word_index()
        >>> words = {i: w for w, i in index.items()}
        >>> ' '.join(words.get(i, '?') for i in trainX[0])

    Args:
        path: As in `load_data`. Defaults to `'imdb.pkl'` (the default folder).

    Returns:
        A dict from each word of the training reviews to its id, before the `n_words` cut.

    Raises:
        As `load_data`.
    """
    if _standin.requested():
        _standin.warn("imdb.get_word_index", "the IMDB word index", "made-up words")
        return {f"word{i}": i for i in range(INDEX_FROM, INDEX_FROM + 1000)}
    data = _parsed(_folder(path))
    text = data["words"].tobytes().decode("utf-8")
    words = text.split("\n") if text else []
    return {word: i + INDEX_FROM for i, word in enumerate(words)}
