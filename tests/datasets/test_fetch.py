"""The shared fetcher: download, progress, checksum, retries, interruptions, offline mode."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from stackit.datasets import _fetch
from stackit.datasets._fetch import (
    ChecksumMismatchError,
    DatasetDownloadError,
    RemoteFile,
    dataset_folder,
    fetch,
)
from tests.datasets.formats import sha256

DATA = bytes(range(256)) * 400  # 100 kB, several download chunks.


def _remote(server, faults=(), data=DATA, sha=None):
    url = server.serve("blob.bin", data, faults)
    return RemoteFile("blob.bin", (url,), sha or sha256(data), len(data))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_caches(server, tmp_path):
    folder = tmp_path / "blob"
    path = fetch(_remote(server), folder, dataset="Blob")
    assert path == folder / "blob.bin"
    assert path.read_bytes() == DATA
    assert _leftovers(folder) == ["blob.bin"]  # no .part, no pooch temporary file
    fetch(_remote(server), folder, dataset="Blob")
    assert server.requests == ["blob.bin"]  # the second call used the cached file


def test_progress_bar_reports_size(server, tmp_path, monkeypatch):
    from rich.console import Console

    out = io.StringIO()
    bars = []

    class RecordingBar(_fetch.RichDownloadBar):
        def __init__(self, description):
            super().__init__(description, console=Console(file=out, width=120))
            bars.append(self)

    monkeypatch.setattr(_fetch, "RichDownloadBar", RecordingBar)
    fetch(_remote(server), tmp_path, dataset="Blob")
    (bar,) = bars
    assert bar.total == len(DATA)
    assert bar.completed == len(DATA)
    text = out.getvalue()
    assert "Blob: blob.bin" in text
    assert "102.4" in text  # rich's DownloadColumn: 102.4/102.4 kB


def test_checksum_mismatch_deletes_download(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "DOWNLOAD_RETRIES", 1)
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatchError) as info:
        fetch(_remote(server, sha=wrong), tmp_path / "blob", dataset="Blob")
    message = str(info.value)
    assert wrong in message and sha256(DATA) in message and server.url("blob.bin") in message
    assert _leftovers(tmp_path / "blob") == []
    assert server.requests == ["blob.bin"]  # a wrong file is not fetched again and again


def test_unreachable_host_is_a_clear_error_without_retries(dead_url, tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "DOWNLOAD_RETRIES", 3)  # would wait 1+2+3 s if retried
    remote = RemoteFile("blob.bin", (f"{dead_url}/blob.bin",), sha256(DATA))
    folder = tmp_path / "blob"
    start = time.monotonic()
    with pytest.raises(DatasetDownloadError) as info:
        fetch(remote, folder, dataset="Blob")
    assert time.monotonic() - start < 1.0
    message = str(info.value)
    assert f"{dead_url}/blob.bin" in message
    assert str(folder / "blob.bin") in message  # where to put the file by hand
    assert sha256(DATA) in message
    assert _leftovers(folder) == []


def test_which_connection_errors_are_final():
    import requests
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

    refused = requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "no")))
    dropped = requests.ConnectionError(MaxRetryError(None, "/", ProtocolError("reset")))
    assert _fetch._unreachable(refused)
    assert _fetch._unreachable(requests.ConnectTimeout())
    assert not _fetch._unreachable(dropped)


def test_http_404_is_not_retried(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "DOWNLOAD_RETRIES", 3)
    with pytest.raises(DatasetDownloadError, match="HTTP 404"):
        fetch(_remote(server, faults=("404",)), tmp_path, dataset="Blob")
    assert server.requests == ["blob.bin"]


def test_transient_error_is_retried(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "DOWNLOAD_RETRIES", 1)
    path = fetch(_remote(server, faults=("503",)), tmp_path, dataset="Blob")
    assert path.read_bytes() == DATA
    assert server.requests == ["blob.bin", "blob.bin"]


def test_interrupted_download_is_retried(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "DOWNLOAD_RETRIES", 1)
    path = fetch(_remote(server, faults=("cut",)), tmp_path / "b", dataset="Blob")
    assert path.read_bytes() == DATA
    assert len(server.requests) == 2
    assert _leftovers(tmp_path / "b") == ["blob.bin"]


def test_interrupted_download_leaves_nothing_that_looks_complete(server, tmp_path):
    folder = tmp_path / "blob"
    with pytest.raises(DatasetDownloadError):
        fetch(_remote(server, faults=("cut",)), folder, dataset="Blob")
    assert _leftovers(folder) == []
    assert fetch(_remote(server), folder, dataset="Blob").read_bytes() == DATA


def test_stale_part_file_from_a_killed_run_is_overwritten(server, tmp_path):
    folder = tmp_path / "blob"
    folder.mkdir()
    (folder / "blob.bin.part").write_bytes(b"garbage from a killed run" * 1000)
    path = fetch(_remote(server), folder, dataset="Blob")
    assert path.read_bytes() == DATA
    assert _leftovers(folder) == ["blob.bin"]


def test_mirror_is_tried_after_official_url_fails(server, dead_url, tmp_path):
    url = server.serve("blob.bin", DATA)
    remote = RemoteFile("blob.bin", (f"{dead_url}/blob.bin", url), sha256(DATA))
    assert fetch(remote, tmp_path, dataset="Blob").read_bytes() == DATA


def test_offline_mode_never_touches_the_network(server, tmp_path, monkeypatch):
    monkeypatch.setenv("STACKIT_OFFLINE", "1")
    folder = tmp_path / "blob"
    with pytest.raises(DatasetDownloadError, match="STACKIT_OFFLINE") as info:
        fetch(_remote(server), folder, dataset="Blob")
    assert str(folder / "blob.bin") in str(info.value)
    assert server.requests == []


def test_file_placed_by_hand_is_used_offline(server, tmp_path, monkeypatch):
    monkeypatch.setenv("STACKIT_OFFLINE", "1")
    (tmp_path / "blob.bin").write_bytes(DATA)
    assert fetch(_remote(server), tmp_path, dataset="Blob").read_bytes() == DATA
    assert server.requests == []


def test_file_placed_by_hand_with_other_hash_warns_and_is_kept(server, tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"my own copy")
    with pytest.warns(UserWarning, match="does not have the SHA-256"):
        path = fetch(_remote(server), tmp_path, dataset="Blob")
    assert path.read_bytes() == b"my own copy"
    assert server.requests == []


def test_dataset_folder_resolution(tmp_path, monkeypatch):
    assert dataset_folder("mnist", tmp_path / "mine") == tmp_path / "mine"
    assert dataset_folder("mnist", str(tmp_path)) == tmp_path
    monkeypatch.setenv("STACKIT_DATA", str(tmp_path / "root"))
    assert dataset_folder("mnist") == tmp_path / "root" / "mnist"
    monkeypatch.delenv("STACKIT_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dataset_folder("cifar10") == tmp_path / "home" / ".stackit" / "datasets" / "cifar10"
    with pytest.raises(TypeError, match="Received: data_dir=42"):
        dataset_folder("mnist", 42)


def test_failed_download_never_removes_the_users_folder(dead_url, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    remote = RemoteFile("blob.bin", (f"{dead_url}/blob.bin",), sha256(DATA))
    with pytest.raises(DatasetDownloadError):
        fetch(remote, folder, dataset="Blob")
    assert os.listdir(folder) == ["notes.txt"]
