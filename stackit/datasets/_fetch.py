"""Download, verify and cache dataset files: the one fetcher every dataset module uses.

pooch does the heavy lifting (HTTP streaming, SHA-256 verification, retries with backoff,
moving a verified file into place). This module adds what pooch does not do:

- a stable cache folder per dataset (`data_dir` argument, else `$STACKIT_DATA/<name>`, else
  `~/.stackit/datasets/<name>`);
- several URLs per file (the official one first, then mirrors);
- a `<file>.part` download file, so an interrupted download is recognisable and simply
  overwritten by the next run;
- errors that say what to do: the URL, the file name and the folder where the file can be
  put by hand when the machine is offline (`STACKIT_OFFLINE=1` skips the network entirely);
- no retries on errors that cannot heal (unknown host, refused connection, HTTP 404);
- a rich progress bar (size, speed, time left) driven through pooch's `progressbar` hook.

pooch, requests and rich are imported on first download, not when this module is imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

__all__ = [
    "RemoteFile",
    "DatasetDownloadError",
    "ChecksumMismatchError",
    "DatasetFormatError",
    "UnsafeArchiveError",
    "dataset_folder",
    "fetch",
    "is_offline",
]

#: Extra attempts after a failed download (pooch waits 1 s, then 2 s, ... between them).
DOWNLOAD_RETRIES = 2
#: (connect, read) timeouts in seconds for each HTTP request.
DOWNLOAD_TIMEOUT = (5.0, 30.0)
#: HTTP statuses worth retrying; any other 4xx fails at once.
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_OFFLINE_VALUES = frozenset({"1", "true", "yes", "on"})


class DatasetDownloadError(OSError):
    """A dataset file is missing locally and could not be downloaded (offline, URL gone...).

    Attributes:
        summary: The cause in one sentence, without the how-to-install-by-hand advice.
    """

    summary: str = ""


class ChecksumMismatchError(OSError):
    """A downloaded file does not have the SHA-256 recorded for the official file."""


class DatasetFormatError(ValueError):
    """A local dataset file is not in the expected format (truncated, wrong file, ...)."""


class UnsafeArchiveError(DatasetFormatError):
    """An archive has a member that would land outside the extraction folder, or a link."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset, as published.

    Attributes:
        name: File name on disk (the official one, e.g. `'train-images-idx3-ubyte.gz'`).
        urls: Where to download it: the official URL first, then mirrors.
        sha256: SHA-256 of the official file (lower-case hex).
        size: Size of the official file in bytes, when known (for messages and docs).
    """

    name: str
    urls: tuple[str, ...]
    sha256: str
    size: int | None = None


def is_offline() -> bool:
    """Whether `$STACKIT_OFFLINE` asks for no network access (`1`, `true`, `yes`, `on`)."""
    return os.environ.get("STACKIT_OFFLINE", "").strip().lower() in _OFFLINE_VALUES


def dataset_folder(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding a dataset's files.

    Args:
        name: Dataset name, used as the sub-folder of the default location.
        data_dir: Folder chosen by the user; used as is when given. Defaults to `None`:
            `$STACKIT_DATA/<name>` when `$STACKIT_DATA` is set, else
            `~/.stackit/datasets/<name>`.

    Returns:
        The folder (not created here).

    Raises:
        TypeError: If `data_dir` is not a path.
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(
                f"Expected data_dir to be a folder path (str or os.PathLike) or None. "
                f"Received: data_dir={data_dir!r}"
            )
        return Path(data_dir).expanduser()
    root = os.environ.get("STACKIT_DATA") or os.path.join("~", ".stackit", "datasets")
    return Path(root).expanduser() / name


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, as lower-case hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _by_hand(remote: RemoteFile, folder: Path, dataset: str) -> str:
    return (
        f"To install {dataset} by hand, download {remote.urls[0]} on a machine with internet "
        f"access and put it at {folder / remote.name} (the file name must be "
        f"{remote.name!r}; expected SHA-256 {remote.sha256})."
    )


def fetch(remote: RemoteFile, folder: Path, *, dataset: str) -> Path:
    """Returns the local path of `remote`, downloading and verifying it if needed.

    A file already in `folder` is used without any download. When its SHA-256 differs from
    the official one a warning says so, and the file is still used (the dataset parser then
    checks its format); a download never replaces a file that is already there.

    Args:
        remote: The file to get.
        folder: The dataset folder (created if needed).
        dataset: Human-readable dataset name, for messages.

    Returns:
        Path of the file inside `folder`.

    Raises:
        DatasetDownloadError: If the file is missing and cannot be downloaded (offline,
            `$STACKIT_OFFLINE` set, every URL failed). The message says where to put the
            file by hand.
        ChecksumMismatchError: If a download completed but its SHA-256 is wrong (the
            partial file is deleted).
    """
    target = folder / remote.name
    if target.is_file():
        actual = sha256_of(target)
        if actual != remote.sha256:
            warnings.warn(
                f"{target} does not have the SHA-256 of the official {dataset} file "
                f"(expected {remote.sha256}, got {actual}). It is used anyway because it "
                "was already there; delete it to download the official file.",
                UserWarning,
                stacklevel=3,
            )
        return target
    if is_offline():
        raise _download_error(
            f"{dataset}: {remote.name!r} is not in {folder} and STACKIT_OFFLINE is set, so "
            f"it was not downloaded from {remote.urls[0]}.",
            _by_hand(remote, folder, dataset),
        )
    folder.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    mismatch: ChecksumMismatchError | None = None
    for url in remote.urls:
        try:
            _download(url, remote, folder, dataset)
            return target
        except ChecksumMismatchError as err:
            mismatch = mismatch or err
            failures.append(f"{url}: {err}")
        except DatasetDownloadError as err:
            failures.append(f"{url}: {err}")
    if mismatch is not None:
        if len(failures) == 1:
            raise mismatch
        raise ChecksumMismatchError(f"{dataset}: {'; '.join(failures)}") from mismatch
    raise _download_error(
        f"{dataset}: could not download {remote.name!r} ({'; '.join(failures)}).",
        _by_hand(remote, folder, dataset),
    )


def _download_error(summary: str, hint: str) -> DatasetDownloadError:
    err = DatasetDownloadError(f"{summary} {hint}")
    err.summary = summary
    return err


def _download(url: str, remote: RemoteFile, folder: Path, dataset: str) -> None:
    """Downloads one URL into `folder/remote.name` through pooch, or raises."""
    import pooch
    import requests

    store = pooch.create(
        path=folder,
        base_url="",
        registry={remote.name: f"sha256:{remote.sha256}"},
        urls={remote.name: url},
        retry_if_failed=DOWNLOAD_RETRIES,
    )
    bar = RichDownloadBar(f"{dataset}: {remote.name}")
    downloader = _PartFileDownloader(
        pooch.HTTPDownloader(progressbar=bar, timeout=DOWNLOAD_TIMEOUT),
        folder / f"{remote.name}.part",
        remote.sha256,
    )
    try:
        store.fetch(remote.name, downloader=downloader)
    except requests.RequestException as err:
        raise DatasetDownloadError(f"{type(err).__name__}: {err}") from err
    except ValueError as err:  # pooch's own hash check; ours runs first, so rarely here.
        raise ChecksumMismatchError(f"{remote.name} from {url}: {err}") from err
    finally:
        bar.close()


class _HashingWriter:
    """A write-only file wrapper that hashes and counts the bytes going through it."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


class _PartFileDownloader:
    """pooch downloader: streams into `<name>.part`, checks SHA-256, hands the file to pooch.

    pooch calls it with a temporary file name of its own; the data goes to the `.part` file
    first (overwriting what an interrupted run left), and is moved onto pooch's temporary
    file only when complete and verified. Errors that retrying cannot fix are raised as
    `DatasetDownloadError`, which pooch does not retry.
    """

    def __init__(self, http: Any, part: Path, sha256: str) -> None:
        self._http = http
        self._part = part
        self._sha256 = sha256

    def __call__(self, url: str, output_file: str, pooch_obj: Any) -> None:
        import requests

        try:
            with open(self._part, "wb") as f:
                writer = _HashingWriter(f)
                self._http(url, writer, pooch_obj)
        except requests.HTTPError as err:
            self._part.unlink(missing_ok=True)
            status = err.response.status_code if err.response is not None else None
            if status in _TRANSIENT_STATUS:
                raise
            raise DatasetDownloadError(f"HTTP {status}") from err
        except requests.ConnectionError as err:
            self._part.unlink(missing_ok=True)
            if _unreachable(err):
                raise DatasetDownloadError(f"cannot reach the server ({_reason(err)})") from err
            raise
        except BaseException:
            self._part.unlink(missing_ok=True)
            raise
        actual = writer.digest.hexdigest()
        if actual != self._sha256:
            self._part.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"the file downloaded from {url} ({writer.size} bytes) has SHA-256 {actual}, "
                f"expected {self._sha256}. The partial file was deleted; the server may have "
                "sent an error page or a changed file. Try again later or from another network."
            )
        os.replace(self._part, output_file)


def _unreachable(err: Exception) -> bool:
    """Whether a requests ConnectionError means the host cannot be reached at all.

    Unknown host, refused connection, no route, and connection time-outs (a firewall that
    drops packets) are not retried: retrying would only make an offline user wait longer.
    """
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(err, requests.ConnectTimeout):
        return True
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, NewConnectionError)


def _reason(err: Exception) -> str:
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return str(reason or err)


class RichDownloadBar:
    """A rich progress bar (size, speed, time left) with the interface pooch drives.

    pooch sets `total`, calls `update(n)` per chunk, then `reset()`, `update(total)` and
    `close()`. The bar writes to stderr and appears only once `total` is known.
    """

    def __init__(self, description: str, console: Any = None) -> None:
        self.description = description
        self.completed = 0
        self._total: int | None = None
        self._console = console
        self._progress: Any = None
        self._task: Any = None

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = int(value) or None
        self.completed = 0
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self._console or Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self._total)
        else:
            self._progress.reset(self._task, total=self._total)

    def update(self, n: int) -> None:
        self.completed += int(n)
        if self._progress is not None:
            self._progress.update(self._task, completed=self.completed)

    def reset(self) -> None:
        self.completed = 0
        if self._progress is not None:
            self._progress.reset(self._task, total=self._total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
