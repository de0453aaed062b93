"""Builders for small files in each dataset's exact official format (used by the tests)."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile

import numpy as np


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idx_gz(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes (magic 0x0000080N, big-endian sizes), gzip-compressed."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


def mnist_like(seed: int, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    """Random uint8 images (N, 28, 28) and digit labels, keyed by the official file names."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A gzip-compressed tar archive of regular files (folders are implied by the names)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        folders = sorted({name.rsplit("/", 1)[0] for name in members if "/" in name})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR binary records: label byte(s), then the R, G and B 32x32 planes of each image.

    Args:
        images: uint8 (N, 32, 32, 3), height-width-channel.
        labels: uint8 (N, label_bytes).
    """
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels.astype(np.uint8), planes], axis=1).tobytes()


def cifar_like(seed: int, n: int, label_bytes: int, n_classes: int):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, n_classes, (n, label_bytes), dtype=np.uint8)
    return images, labels


def flower_color(label: int) -> tuple[int, int, int]:
    """A distinct, JPEG-friendly solid colour per class."""
    return (15 * label, 255 - 15 * label, 128 if label % 2 else 16)


def flowers_tgz(size: tuple[int, int] = (6, 5), n_classes: int = 17, per_class: int = 80) -> bytes:
    """17flowers.tgz's layout: jpg/image_0001.jpg ... in class order, plus jpg/files.txt."""
    from PIL import Image

    members = {}
    names = []
    for i in range(n_classes * per_class):
        name = f"image_{i + 1:04d}.jpg"
        buf = io.BytesIO()
        Image.new("RGB", size, flower_color(i // per_class)).save(buf, "JPEG", quality=95)
        members[f"jpg/{name}"] = buf.getvalue()
        names.append(name)
    members["jpg/files.txt"] = ("\n".join(names) + "\n").encode()
    return tar_gz(members)


TITANIC_HEADER = "survived,pclass,name,sex,age,sibsp,parch,ticket,fare"
TITANIC_ROWS = [
    '1,1,"Allen, Miss. Elisabeth Walton",female,29,0,0,24160,211.3375',
    '0,3,"Abbing, Mr. Anthony",male,42,0,0,C.A. 5547,7.55',
    '1,2,"Becker, Miss. Ruth Elizabeth",female,12,2,1,230136,39',
]


def titanic_csv() -> bytes:
    return ("\r\n".join([TITANIC_HEADER, *TITANIC_ROWS])).encode()


def svhn_mat(images: np.ndarray, labels: np.ndarray) -> bytes:
    """An SVHN-style MATLAB file: X (32, 32, 3, N) uint8, y (N, 1) with 10 meaning digit 0."""
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, {"X": images.transpose(1, 2, 3, 0), "y": labels.reshape(-1, 1)})
    return buf.getvalue()


# The aclImdb layout in miniature: {(split, label): {file name: review text}}.
IMDB_REVIEWS = {
    ("train", "pos"): {"0_9.txt": "Great movie. Great cast!", "1_8.txt": "A great<br />film"},
    ("train", "neg"): {"0_2.txt": "Bad movie, bad bad acting.", "1_1.txt": "Not great."},
    ("test", "pos"): {"0_10.txt": "Great acting", "10_7.txt": "movie MOVIE", "2_8.txt": "cast"},
    ("test", "neg"): {"0_3.txt": "Awful movie<br /><br />"},
}


def imdb_members(reviews=IMDB_REVIEWS) -> dict[str, bytes]:
    """aclImdb_v1.tar.gz's files: the reviews, plus files the loader must ignore."""
    members = {
        "aclImdb/README": b"Large Movie Review Dataset v1.0\n",
        "aclImdb/imdb.vocab": b"the\nand\n",
        "aclImdb/train/labeledBow.feat": b"9 0:9 1:1\n",
        "aclImdb/train/unsup/0_0.txt": b"awful awful awful awful",  # unlabelled: not counted
    }
    for (split, label), files in reviews.items():
        for name, text in files.items():
            members[f"aclImdb/{split}/{label}/{name}"] = text.encode("utf-8")
    return members


def imdb_tgz(reviews=IMDB_REVIEWS) -> bytes:
    return tar_gz(imdb_members(reviews))
