"""Safe, all-or-nothing extraction of dataset archives.

Every member is checked before anything is written: only regular files and folders are
accepted, with relative names that stay inside the extraction folder (no `..`, no absolute
path, no symbolic or hard link, no device). The archive is extracted into a hidden temporary
folder next to the destination and renamed into place only once complete (and prepared, see
`prepare`), so an interrupted run never leaves a half-extracted folder that looks finished.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from stackit.datasets._fetch import DatasetFormatError, UnsafeArchiveError

__all__ = ["extract_tar", "MAX_EXTRACTED_BYTES"]

#: The default cap on what one archive may extract to: 1 GiB, over five times the largest
#: dataset extracted (CIFAR-100, ~180 MB; oxflower17 ~60 MB).
MAX_EXTRACTED_BYTES = 1 << 30

# What a damaged archive raises while being read.
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Raises UnsafeArchiveError unless `member` is a plain file or folder inside the target."""
    name = member.name
    problem = None
    if member.issym():
        problem = "is a symbolic link"
    elif member.islnk():
        problem = "is a hard link"
    elif not (member.isfile() or member.isdir()):
        problem = "is a special file (device, pipe, ...)"
    elif name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        problem = "has an absolute path"
    elif ".." in posixpath.normpath(name.replace("\\", "/")).split("/"):
        problem = "points outside the extraction folder ('..')"
    if problem is not None:
        raise UnsafeArchiveError(
            f"Refusing to extract {archive}: member {name!r} {problem}. Dataset archives "
            "contain only plain files and folders; this is not the official file. Delete it "
            "and try again."
        )


def extract_tar(
    archive: Path,
    folder: Path,
    top: str,
    *,
    required: Iterable[str] = (),
    prepare: Callable[[Path], None] | None = None,
    max_bytes: int = MAX_EXTRACTED_BYTES,
) -> Path:
    """Extracts `archive` so that `folder/top` appears complete, or not at all.

    Nothing is done when `folder/top` already exists.

    Args:
        archive: A tar file (plain or gzip-compressed).
        folder: Where `top` is created.
        top: The folder the archive holds its files in (e.g. `'cifar-10-batches-bin'`).
        required: Paths relative to `top` that must be in the archive. Defaults to `()`.
        prepare: Called on the extracted (still temporary) `top` folder before it is renamed
            into place, e.g. to sort files into class folders. Defaults to `None`.
        max_bytes: The most bytes the archive's files may add up to; reading stops, before
            anything is written, as soon as the sizes in the member headers exceed it (a
            decompression bomb). Defaults to `MAX_EXTRACTED_BYTES` (1 GiB).

    Returns:
        The path `folder/top`.

    Raises:
        UnsafeArchiveError: If a member is a link, a special file, or escapes the folder, or
            the files add up to more than `max_bytes`.
        DatasetFormatError: If the archive is truncated or unreadable, or lacks `top` or a
            `required` file.
    """
    final = folder / top
    if final.is_dir():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{top}.extracting-", dir=folder))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members, total = [], 0
                for member in tar:  # reads one header at a time: stops early on a bomb
                    _check_member(member, archive)
                    total += member.size
                    if total > max_bytes:
                        raise UnsafeArchiveError(
                            f"Refusing to extract {archive}: its files add up to more than "
                            f"max_bytes={max_bytes:,} bytes (reached at member "
                            f"{member.name!r}). The dataset's archive is smaller; this is not "
                            "the official file. Delete it and try again."
                        )
                    members.append(member)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, members=members, filter="data")
                else:  # Python < 3.10.12: the checks above are the whole defence.
                    tar.extractall(staging, members=members)
        except _READ_ERRORS as err:
            raise DatasetFormatError(
                f"{archive} is not a complete tar archive ({type(err).__name__}: {err}). "
                "It may be truncated: delete it and try again."
            ) from err
        extracted = staging / top
        missing = [r for r in required if not (extracted / r).is_file()]
        if not extracted.is_dir() or missing:
            what = f"folder {top!r}" if not extracted.is_dir() else f"files {missing[:5]}"
            raise DatasetFormatError(
                f"{archive} does not hold the expected {what}; it is not the official "
                "archive. Delete it and try again."
            )
        if prepare is not None:
            prepare(extracted)
        try:
            os.rename(extracted, final)
        except OSError:
            if not final.is_dir():  # Another process finishing first is fine.
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
