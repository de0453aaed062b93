"""CIFAR-10 / CIFAR-100 from their binary archives, and safe extraction."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

import stackit.datasets.cifar10 as cifar10
import stackit.datasets.cifar100 as cifar100
from stackit.datasets import DatasetFormatError, UnsafeArchiveError
from stackit.datasets._archive import extract_tar
from tests.datasets.formats import cifar_like, cifar_records, sha256, tar_gz


def _cifar10_archive(n_per_batch=3):
    members, batches = {}, []
    for i, name in enumerate([*cifar10.TRAIN_FILES, cifar10.TEST_FILE]):
        images, labels = cifar_like(seed=i, n=n_per_batch, label_bytes=1, n_classes=10)
        members[f"cifar-10-batches-bin/{name}"] = cifar_records(images, labels)
        batches.append((images, labels[:, 0]))
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    return tar_gz(members), batches


@pytest.mark.parametrize("one_hot", [False, True])
def test_cifar10_download_extract_parse(one_hot, publish, isolated_data):
    archive, batches = _cifar10_archive()
    publish(cifar10, cifar10.ARCHIVE, archive)
    (X, Y), (testX, testY) = cifar10.load_data(one_hot=one_hot)
    images = np.concatenate([b[0] for b in batches[:5]])
    labels = np.concatenate([b[1] for b in batches[:5]])
    assert X.shape == (15, 32, 32, 3) and X.dtype == np.float32
    np.testing.assert_allclose(X * 255, images, atol=1e-3)  # R, G, B planes -> HWC
    np.testing.assert_allclose(testX * 255, batches[5][0], atol=1e-3)
    got = Y.argmax(1) if one_hot else Y
    np.testing.assert_array_equal(got, labels)
    np.testing.assert_array_equal(testY.argmax(1) if one_hot else testY, batches[5][1])
    folder = isolated_data / "cifar10"
    assert sorted(p.name for p in folder.iterdir()) == sorted([cifar10.ARCHIVE, cifar10.TOP])


def test_cifar_channel_order():
    images = np.zeros((1, 32, 32, 3), np.uint8)
    images[0, 0, 1] = (10, 20, 30)  # row 0, column 1
    raw = cifar_records(images, np.array([[7]], np.uint8))
    assert raw[0] == 7 and raw[1 + 1] == 10 and raw[1 + 1024 + 1] == 20 and raw[1 + 2048 + 1] == 30


@pytest.mark.parametrize("label_mode, column, n_classes", [("fine", 1, 100), ("coarse", 0, 20)])
def test_cifar100_labels(label_mode, column, n_classes, publish):
    images, labels = cifar_like(seed=9, n=4, label_bytes=2, n_classes=20)
    labels[:, 1] = [99, 0, 42, 7]
    test_images, test_labels = cifar_like(seed=10, n=2, label_bytes=2, n_classes=20)
    archive = tar_gz(
        {
            "cifar-100-binary/train.bin": cifar_records(images, labels),
            "cifar-100-binary/test.bin": cifar_records(test_images, test_labels),
        }
    )
    publish(cifar100, cifar100.ARCHIVE, archive)
    (X, Y), (testX, testY) = cifar100.load_data(one_hot=True, label_mode=label_mode)
    assert Y.shape == (4, n_classes) and testY.shape == (2, n_classes)
    np.testing.assert_array_equal(Y.argmax(1), labels[:, column])
    np.testing.assert_allclose(testX * 255, test_images, atol=1e-3)
    with pytest.raises(ValueError, match="Received: label_mode='medium'"):
        cifar100.load_data(label_mode="medium")


def test_truncated_archive_placed_by_hand(tmp_path, unreachable):
    archive, _ = _cifar10_archive()
    unreachable(cifar10, {cifar10.ARCHIVE: sha256(archive)})
    (tmp_path / cifar10.ARCHIVE).write_bytes(archive[: len(archive) // 2])
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(DatasetFormatError, match="truncated"):
            cifar10.load_data(dirname=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [cifar10.ARCHIVE]  # nothing half-done


def test_archive_without_the_expected_files(publish, isolated_data):
    archive = tar_gz({"cifar-10-batches-bin/data_batch_1.bin": b"\0" * 3073})
    publish(cifar10, cifar10.ARCHIVE, archive)
    with pytest.raises(DatasetFormatError, match="data_batch_2.bin"):
        cifar10.load_data()
    assert not (isolated_data / "cifar10" / cifar10.TOP).exists()


def test_extracted_file_of_wrong_size(tmp_path):
    top = tmp_path / cifar10.TOP
    top.mkdir()
    for name in [*cifar10.TRAIN_FILES, cifar10.TEST_FILE]:
        (top / name).write_bytes(b"\0" * 3073)
    (top / "test_batch.bin").write_bytes(b"\0" * 3000)
    with pytest.raises(DatasetFormatError, match="multiple of 3073 bytes. Received: 3000"):
        cifar10.load_data(dirname=tmp_path)


def _evil_tar(kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        ok = tarfile.TarInfo("top/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(
            {"dotdot": "top/../../evil.txt", "absolute": "/tmp/evil.txt"}.get(kind, "top/link")
        )
        if kind in ("dotdot", "absolute"):
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
        else:
            info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
            info.linkname = "/etc/passwd" if kind == "symlink" else "top/ok.txt"
            tar.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink"])
def test_unsafe_archive_is_refused_before_writing(kind, tmp_path):
    folder = tmp_path / "data" / "inner"
    folder.mkdir(parents=True)
    archive = tmp_path / "evil.tgz"
    archive.write_bytes(_evil_tar(kind))
    with pytest.raises(UnsafeArchiveError, match="Refusing to extract"):
        extract_tar(archive, folder, "top")
    assert list(folder.iterdir()) == []  # no staging folder, no "top", nothing else
    assert not (tmp_path / "data" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_unsafe_archive_through_the_loader(publish, isolated_data):
    publish(cifar10, cifar10.ARCHIVE, _evil_tar("dotdot"))
    with pytest.raises(UnsafeArchiveError):
        cifar10.load_data()
    assert not (isolated_data / "evil.txt").exists()


def test_an_archive_larger_than_max_bytes_is_refused_before_writing(tmp_path):
    archive = tmp_path / "bomb.tgz"
    archive.write_bytes(tar_gz({"top/a.bin": b"\0" * 600, "top/b.bin": b"\0" * 600}))
    folder = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"add up to more than max_bytes=1,000 bytes "
                                                 r"\(reached at member 'top/b\.bin'\)"):
        extract_tar(archive, folder, "top", max_bytes=1000)
    assert list(folder.iterdir()) == []  # nothing written, no staging folder left
    extracted = extract_tar(archive, folder, "top", max_bytes=1200)  # exactly at the limit
    assert (extracted / "b.bin").stat().st_size == 600


def test_interrupted_preparation_leaves_no_folder(tmp_path):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(tar_gz({"top/a.txt": b"a"}))

    def prepare(top):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_tar(archive, tmp_path / "out", "top", prepare=prepare)
    assert list((tmp_path / "out").iterdir()) == []
    assert (extract_tar(archive, tmp_path / "out", "top") / "a.txt").read_bytes() == b"a"
