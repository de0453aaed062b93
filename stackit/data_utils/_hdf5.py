"""`build_hdf5_image_dataset`: an image folder (or list) decoded once into an HDF5 file.

h5py is optional (`pip install 'stackit[hdf5]'`) and imported on first use.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import numpy as np

from stackit.data_utils._arrays import to_categorical
from stackit.data_utils._images import (
    _has_extension,
    _normalize_extensions,
    _parse_size,
    directory_to_samples,
    image_to_array,
)
from stackit.data_utils._preloader import _read_file_list

__all__ = ["build_hdf5_image_dataset"]

_MODES = ("file", "folder")
# Images decoded before each write: few h5py calls, little memory.
_BLOCK = 64


def build_hdf5_image_dataset(
    target_path: str | os.PathLike[str],
    image_shape: Sequence[int],
    output_path: str | os.PathLike[str] = "dataset.h5",
    mode: str = "file",
    categorical_labels: bool = True,
    normalize: bool = True,
    grayscale: bool = False,
    files_extension: Sequence[str] | str | None = None,
    chunks: bool = False,
    image_base_path: str = "",
    float_labels: bool = False,
) -> str:
    """Decodes and resizes every image once into an HDF5 file with datasets `'X'` and `'Y'`.

    The file can hold more images than fit in memory: images are written a few at a time.
    Opened with h5py, its datasets are lazy arrays that `fit`, `evaluate` and `predict` read
    one chunk of rows at a time (a shuffled chunk included), with no decoding left to do.

    `'folder'` mode reads `target_path/<class_name>/<image file>`, class ids following the
    sorted sub-folder names; `'file'` mode reads a text file of `image_path class_id` lines
    (see `image_preloader`).

    Example:
        >>> build_hdf5_image_dataset('train.txt', image_shape=(64, 64), mode='file',
        ...                          output_path='dataset.h5')
        >>> import h5py
        >>> h5f = h5py.File('dataset.h5', 'r')
        >>> model.fit(h5f['X'], h5f['Y'], n_epoch=10, shuffle=True)

    Args:
        target_path: The root folder (`'folder'` mode) or the text file (`'file'` mode).
        image_shape: `(width, height)` every image is resized to (Pillow's order, as
            tflearn). `X` rows have shape `(height, width, channels)`.
        output_path: The HDF5 file to write; an existing file is replaced, only once the new
            one is complete. Defaults to `'dataset.h5'`.
        mode: `'file'` or `'folder'`. Defaults to `'file'`.
        categorical_labels: Store `Y` as float32 one-hot rows (one column per class folder in
            `'folder'` mode, `max(label) + 1` in `'file'` mode), else as the labels (int32,
            or float32 with `float_labels`). Defaults to `True`.
        normalize: Divide pixel values by 255. Defaults to `True`.
        grayscale: Convert images to grayscale (1 channel), else to RGB (3). Defaults to
            `False`.
        files_extension: Extensions to keep, e.g. `['.jpg', '.png']` (case-insensitive);
            `None` keeps every file. Defaults to `None`.
        chunks: Store the datasets in HDF5 chunks of one image (and one label) each, which
            suits reading shuffled rows from a large file; else contiguously. Defaults to
            `False`.
        image_base_path: Folder the paths of the `'file'` list are joined to. Defaults to `''`.
        float_labels: `'file'` mode: read labels as floats (regression targets); requires
            `categorical_labels=False`. Defaults to `False`.

    Returns:
        The path of the file written.

    Raises:
        ImportError: If h5py is not installed.
        ValueError: As `image_preloader`, for a bad `mode` or `image_shape`, an empty folder,
            a list line that does not parse, or an image that cannot be decoded (naming it).
        TypeError: If `files_extension` is not a list of extensions.
    """
    try:
        import h5py
    except ImportError:
        raise ImportError("build_hdf5_image_dataset needs h5py: pip install h5py (or "
                          "'stackit[hdf5]').") from None
    if mode not in _MODES:
        raise ValueError(f"mode must be 'file' or 'folder'. Received: mode={mode!r}")
    size = _parse_size(image_shape, "image_shape")
    if float_labels and categorical_labels:
        raise ValueError("float_labels=True reads regression targets, which cannot be one-hot "
                         "encoded; pass categorical_labels=False. Received: "
                         "categorical_labels=True")
    extensions = _normalize_extensions(files_extension, "files_extension")
    source = os.fspath(target_path)
    if mode == "folder":
        paths, labels, classes = directory_to_samples(source, extensions)
        n_classes = len(classes)
    else:
        paths, labels = _read_file_list(source, image_base_path, float_labels)
        keep = [i for i, p in enumerate(paths) if _has_extension(p, extensions)]
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
        if not paths:
            raise ValueError(f"no image is left to load (check files_extension). "
                             f"Received: target_path={source!r}")
        n_classes = 0 if float_labels else int(max(labels)) + 1
    n = len(paths)
    x_shape = (n, size[1], size[0], 1 if grayscale else 3)
    if categorical_labels:
        y_values = to_categorical(np.asarray(labels, np.int64), n_classes).astype(np.float32)
    else:
        y_values = np.asarray(labels, np.float32 if float_labels else np.int32)
    target = os.fspath(output_path)
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-", suffix=".h5", dir=folder)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as out:
            X = out.create_dataset("X", x_shape, dtype=np.float32,
                                   chunks=(1, *x_shape[1:]) if chunks else None)
            out.create_dataset("Y", data=y_values,
                               chunks=(1, *y_values.shape[1:]) if chunks else None)
            for start in range(0, n, _BLOCK):
                block = paths[start:start + _BLOCK]
                X[start:start + len(block)] = np.stack(
                    [image_to_array(p, size, grayscale, normalize) for p in block])
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return target
