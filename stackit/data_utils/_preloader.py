"""Lazy image datasets: `image_preloader` and the array-like preloaders it returns."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from stackit.data_utils._arrays import to_categorical
from stackit.data_utils._images import (
    _has_extension,
    _normalize_extensions,
    _parse_size,
    directory_to_samples,
    image_to_array,
)

__all__ = ["Preloader", "ImagePreloader", "LabelPreloader", "image_preloader"]

_MODES = ("file", "folder")


class Preloader:
    """A read-only, array-like sequence whose items are computed when indexed.

    Indexing follows numpy on the first axis only: `p[i]` returns one item, while a slice, a
    list or array of ints, or a boolean mask returns the selected items stacked into one
    numpy array. Nothing is computed until an item is asked for; `np.asarray(p)` computes
    them all.

    Args:
        array: The sources, one per item (e.g. file paths).
        function: Turns one source into a numpy array (the item).
        item_shape: Shape of every item, used for `shape` and for empty batches.
        dtype: dtype of every item. Defaults to `np.float32`.
    """

    def __init__(
        self,
        array: Sequence[Any] | np.ndarray,
        function: Callable[[Any], np.ndarray],
        item_shape: tuple[int, ...],
        dtype: Any = np.float32,
    ) -> None:
        self.array = list(array)
        self.function = function
        self.item_shape = tuple(item_shape)
        self.dtype = np.dtype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        """`(len(self),) + item_shape`, as for a numpy array."""
        return (len(self.array),) + self.item_shape

    @property
    def ndim(self) -> int:
        """Number of axes, as for a numpy array."""
        return 1 + len(self.item_shape)

    def __len__(self) -> int:
        return len(self.array)

    def _resolve(self, index: Any) -> int | np.ndarray:
        """Turns an index into one position (int) or a 1-D array of positions."""
        n = len(self.array)
        name = type(self).__name__
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            if not -n <= index < n:
                raise IndexError(
                    f"index out of range for {name} of length {n}. Received: index={index}"
                )
            return int(index) % n
        if isinstance(index, slice):
            return np.arange(n)[index]
        if not isinstance(index, (list, np.ndarray, range)):
            raise TypeError(
                f"{name} indices must be an int, a slice, a 1-D list/array of ints or a "
                f"boolean mask (first axis only). Received: index={index!r}"
            )
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(
                    f"a boolean mask must have shape ({n},). Received: index.shape={idx.shape}"
                )
            return np.flatnonzero(idx)
        if idx.size == 0:
            return np.zeros((0,), dtype=np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"{name} indices must be an int, a slice, a 1-D list/array of ints or a "
                f"boolean mask (first axis only). Received: index={index!r}"
            )
        if idx.min() < -n or idx.max() >= n:
            raise IndexError(
                f"index out of range for {name} of length {n}. Received: index={index!r}"
            )
        return idx % n

    def _batch(self, positions: np.ndarray) -> np.ndarray:
        out = np.empty((len(positions),) + self.item_shape, dtype=self.dtype)
        for i, pos in enumerate(positions):
            out[i] = self.function(self.array[int(pos)])
        return out

    def __getitem__(self, index: Any) -> np.ndarray:
        where = self._resolve(index)
        if isinstance(where, int):
            return self.function(self.array[where])
        return self._batch(where)

    def __iter__(self) -> Iterator[np.ndarray]:
        for source in self.array:
            yield self.function(source)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


class ImagePreloader(Preloader):
    """Array-like view of image files, decoded (and resized) only when indexed.

    Items are float32 arrays of shape `(height, width, 3)`, or `(height, width, 1)` when
    `grayscale`.

    Args:
        array: Image file paths.
        image_shape: `(width, height)` every image is resized to.
        normalize: If true, pixel values are divided by 255. Defaults to `True`.
        grayscale: If true, images are converted to 1-channel grayscale, else to RGB.
            Defaults to `False`.
    """

    def __init__(
        self,
        array: Sequence[str],
        image_shape: Sequence[int],
        normalize: bool = True,
        grayscale: bool = False,
    ) -> None:
        size = _parse_size(image_shape, "image_shape")
        self.image_shape = size
        self.normalize = bool(normalize)
        self.grayscale = bool(grayscale)
        super().__init__(array, self._load, (size[1], size[0], 1 if grayscale else 3), np.float32)

    def _load(self, path: str) -> np.ndarray:
        return image_to_array(path, self.image_shape, self.grayscale, self.normalize)


class LabelPreloader(Preloader):
    """Array-like view of labels; one-hot rows are built only for the items indexed.

    Args:
        array: Class ids (or float targets when `categorical_label` is false).
        n_class: Number of classes, the width of a one-hot row; required when
            `categorical_label`. Defaults to `None`.
        categorical_label: If true, items are float32 one-hot rows, else the labels
            themselves. Defaults to `True`.

    Raises:
        ValueError: If `categorical_label` is true and `n_class` is `None`.
    """

    def __init__(
        self,
        array: Sequence[Any] | np.ndarray,
        n_class: int | None = None,
        categorical_label: bool = True,
    ) -> None:
        self.labels = np.asarray(array)
        self.n_class = n_class
        self.categorical_label = bool(categorical_label)
        if categorical_label:
            if n_class is None:
                raise ValueError(
                    "LabelPreloader needs n_class when categorical_label=True. "
                    "Received: n_class=None"
                )
            super().__init__(self.labels, self._one_hot, (int(n_class),), np.float32)
        else:
            super().__init__(self.labels, lambda label: label, (), self.labels.dtype)

    def _one_hot(self, label: Any) -> np.ndarray:
        return to_categorical([label], self.n_class)[0]

    def _batch(self, positions: np.ndarray) -> np.ndarray:
        if self.categorical_label:
            return to_categorical(self.labels[positions], self.n_class)
        return self.labels[positions]


def _read_file_list(
    target_path: str, image_base_path: str, float_labels: bool
) -> tuple[list[str], list[Any]]:
    """Parses a text file of `path label` lines (blank lines skipped)."""
    if not os.path.isfile(target_path):
        raise ValueError(
            "mode='file' expects a text file of 'path label' lines. "
            f"Received: target_path={target_path!r}"
        )
    paths: list[str] = []
    labels: list[Any] = []
    with open(target_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            parts = text.rsplit(maxsplit=1)
            try:
                if len(parts) != 2:
                    raise ValueError
                label = float(parts[1]) if float_labels else int(parts[1])
                if not float_labels and label < 0:
                    raise ValueError
            except ValueError:
                kind = "a number" if float_labels else "a non-negative integer class id"
                raise ValueError(
                    f"each line of {target_path!r} must be 'image_path label' with {kind} as "
                    f"label. Received: line {lineno}={text!r}"
                ) from None
            path = os.path.join(image_base_path, parts[0]) if image_base_path else parts[0]
            if not os.path.isfile(path):
                raise ValueError(
                    f"line {lineno} of {target_path!r} names an image file that does not "
                    f"exist. Received: line {lineno}={text!r}"
                )
            paths.append(path)
            labels.append(label)
    return paths, labels


def _band_count(path: str) -> int:
    """Number of channels of an image, read from its header without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return len(img.getbands())
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(
            f"could not read the image file {path!r} ({err}). Received: path={path!r}"
        ) from err


def image_preloader(
    target_path: str | os.PathLike[str],
    image_shape: Sequence[int],
    mode: str = "file",
    normalize: bool = True,
    grayscale: bool = False,
    categorical_labels: bool = True,
    files_extension: Sequence[str] | str | None = None,
    filter_channel: bool = False,
    image_base_path: str = "",
    float_labels: bool = False,
) -> tuple[ImagePreloader, LabelPreloader]:
    """Builds lazy `(X, Y)` arrays over image files: images are decoded only when indexed.

    `'folder'` mode reads `target_path/<class_name>/<image file>`, class ids following the
    sorted sub-folder names. `'file'` mode reads a text file with one `image_path class_id`
    line per image (the path may contain spaces; the label is the last field; blank lines
    are skipped).

    Nothing is decoded here: `X[i]` decodes one image, `X[idx_array]` or `X[a:b]` decode
    just those and return a stacked batch, so a dataset larger than memory can be used.

    Example:
        >>> X, Y = image_preloader('train.txt', image_shape=(64, 64), mode='file')
        >>> X.shape, Y.shape
        ((5000, 64, 64, 3), (5000, 10))
        >>> batch = X[np.array([3, 17, 42])]  # decodes three images

    Args:
        target_path: The root folder (`'folder'` mode) or the text file (`'file'` mode).
        image_shape: `(width, height)` every image is resized to (tflearn's order: Pillow's
            size). Items have shape `(height, width, channels)`.
        mode: `'file'` or `'folder'`. Defaults to `'file'`.
        normalize: If true, pixel values are divided by 255 (range [0, 1]). Defaults to `True`.
        grayscale: If true, images are converted to grayscale (1 channel), else to RGB
            (3 channels). Defaults to `False`.
        categorical_labels: If true, `Y` items are one-hot rows, with one column per class
            sub-folder (`'folder'`) or `max(label) + 1` columns (`'file'`). Defaults to `True`.
        files_extension: Extensions to keep, e.g. `['.jpg', '.png']` (case-insensitive).
            `None` keeps every file. Defaults to `None`.
        filter_channel: If true, images that do not have exactly 3 channels in the file
            (e.g. grayscale or RGBA) are left out; only their headers are read.
            Defaults to `False`.
        image_base_path: Folder that the paths of the `'file'` list are joined to; with
            `''`, relative paths are taken from the current directory. Defaults to `''`.
        float_labels: `'file'` mode: read labels as floats (regression targets); requires
            `categorical_labels=False`. Defaults to `False`.

    Returns:
        `(X, Y)`: an `ImagePreloader` of shape `(N, height, width, channels)` and a
        `LabelPreloader` of shape `(N, n_classes)` or `(N,)`.

    Raises:
        ValueError: If `mode` is unknown, `image_shape` is not two positive ints, the
            folder has no class sub-folder or no image, a line of the list does not parse or
            names a missing file (the message gives the line), no image is left, or
            `float_labels` is combined with `categorical_labels`. Images that cannot be
            decoded raise `ValueError` naming the file when they are indexed.
        TypeError: If `files_extension` is not a list of extensions.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'file' or 'folder'. Received: mode={mode!r}")
    _parse_size(image_shape, "image_shape")
    if float_labels and categorical_labels:
        raise ValueError(
            "float_labels=True reads regression targets, which cannot be one-hot encoded; "
            "pass categorical_labels=False. Received: categorical_labels=True"
        )
    extensions = _normalize_extensions(files_extension, "files_extension")
    path = os.fspath(target_path)
    n_classes = None
    if mode == "folder":
        paths, labels, classes = directory_to_samples(path, extensions)
        n_classes = len(classes)
    else:
        paths, labels = _read_file_list(path, image_base_path, float_labels)
        keep = [i for i, p in enumerate(paths) if _has_extension(p, extensions)]
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
    if filter_channel:
        keep = [i for i, p in enumerate(paths) if _band_count(p) == 3]
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
    if not paths:
        raise ValueError(
            "no image is left to load (check files_extension and filter_channel). "
            f"Received: target_path={path!r}"
        )
    X = ImagePreloader(paths, image_shape, normalize, grayscale)
    if float_labels:
        Y = LabelPreloader(np.asarray(labels, dtype=np.float32), None, False)
    else:
        n_classes = n_classes or int(max(labels)) + 1
        Y = LabelPreloader(np.asarray(labels, dtype=np.int32), n_classes, categorical_labels)
    return X, Y
