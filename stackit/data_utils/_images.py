"""Image loading and image-folder datasets (Pillow is imported on first use, not at import)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from stackit._atomic import save_npz
from stackit.data_utils._arrays import shuffle, to_categorical

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "load_image",
    "resize_image",
    "convert_color",
    "pil_to_nparray",
    "build_image_dataset_from_dir",
]

_CACHE_FORMAT = "stackit.image_dataset.v1"


def _check_pil_image(image: Any, name: str) -> None:
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(
            f"{name} must be a PIL.Image.Image (see load_image). "
            f"Received: {name}={type(image).__name__}"
        )


def load_image(in_image: str | os.PathLike[str]) -> PILImage.Image:
    """Loads and decodes an image file into a `PIL.Image.Image`.

    The pixels are decoded at once and the file is closed before returning, so a broken file
    is reported here, with its name. Unlike tflearn, URLs are not fetched: download the file
    first.

    Example:
        >>> img = load_image('flowers/daisy/001.jpg')
        >>> img.size  # (width, height)
        (500, 375)

    Args:
        in_image: Path of a local image file in any format Pillow reads (JPEG, PNG, ...).

    Returns:
        The decoded image, in the file's own mode (`'RGB'`, `'L'`, `'RGBA'`, ...).

    Raises:
        TypeError: If `in_image` is not a path.
        ValueError: If `in_image` is a URL, or the file cannot be decoded as an image.
        FileNotFoundError: If the file does not exist.
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(in_image, (str, os.PathLike)):
        raise TypeError(
            f"load_image expects a file path. Received: in_image={type(in_image).__name__}"
        )
    path = os.fspath(in_image)
    if path.startswith(("http://", "https://", "ftp://")):
        raise ValueError(
            "load_image reads local files only; download the image first. "
            f"Received: in_image={path!r}"
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found. Received: in_image={path!r}") from None
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(
            f"could not decode the image file {path!r} ({err}). Received: in_image={path!r}"
        ) from err
    return img


def resize_image(
    in_image: PILImage.Image,
    new_width: int,
    new_height: int,
    out_image: str | os.PathLike[str] | None = None,
    resize_mode: int | None = None,
) -> PILImage.Image:
    """Resizes an image to `new_width` x `new_height` pixels.

    Example:
        >>> small = resize_image(load_image('cat.png'), 32, 24)
        >>> small.size
        (32, 24)

    Args:
        in_image: The image to resize.
        new_width: Width of the result, in pixels.
        new_height: Height of the result, in pixels.
        out_image: If given, the resized image is also saved to this path (format from the
            file extension). Defaults to `None`.
        resize_mode: A Pillow resampling filter (`PIL.Image.Resampling.*`). `None` means
            `LANCZOS`, what tflearn's `ANTIALIAS` was. Defaults to `None`.

    Returns:
        The resized image (a new image; `in_image` is unchanged).

    Raises:
        TypeError: If `in_image` is not a PIL image.
        ValueError: If `new_width` or `new_height` is not a positive int.
    """
    from PIL import Image

    _check_pil_image(in_image, "in_image")
    for name, size in (("new_width", new_width), ("new_height", new_height)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{name} must be a positive int. Received: {name}={size!r}")
    if resize_mode is None:
        resize_mode = Image.Resampling.LANCZOS
    img = in_image.resize((int(new_width), int(new_height)), resize_mode)
    if out_image is not None:
        img.save(out_image)
    return img


def convert_color(in_image: PILImage.Image, mode: str) -> PILImage.Image:
    """Converts an image to another Pillow mode, e.g. `'L'` (grayscale) or `'RGB'`.

    Example:
        >>> convert_color(load_image('cat.png'), 'L').mode
        'L'

    Args:
        in_image: The image to convert.
        mode: The Pillow mode to convert to (`'L'`, `'RGB'`, `'RGBA'`, ...).

    Returns:
        The converted image (a new image; `in_image` is unchanged).

    Raises:
        TypeError: If `in_image` is not a PIL image.
        ValueError: If Pillow cannot convert to `mode`.
    """
    _check_pil_image(in_image, "in_image")
    try:
        return in_image.convert(mode)
    except ValueError as err:
        raise ValueError(
            f"cannot convert an image from mode {in_image.mode!r} to {mode!r} ({err}). "
            f"Received: mode={mode!r}"
        ) from err


def pil_to_nparray(pil_image: PILImage.Image) -> np.ndarray:
    """Converts a PIL image to a float32 numpy array of its raw pixel values (0-255).

    Example:
        >>> pil_to_nparray(load_image('cat.png')).shape  # (height, width, channels)
        (24, 32, 3)

    Args:
        pil_image: The image to convert.

    Returns:
        A new, writable float32 array of shape `(height, width)` for single-band images or
        `(height, width, bands)` otherwise. Values are not rescaled.

    Raises:
        TypeError: If `pil_image` is not a PIL image.
    """
    _check_pil_image(pil_image, "pil_image")
    pil_image.load()
    return np.array(pil_image, dtype=np.float32)


def _normalize_extensions(filetypes: Any, name: str) -> tuple[str, ...] | None:
    """Turns `'.jpg'` or `['jpg', '.PNG']` into `('.jpg', '.png')`; `None` stays `None`."""
    if filetypes is None:
        return None
    if isinstance(filetypes, str):
        filetypes = [filetypes]
    if not isinstance(filetypes, (list, tuple, set, frozenset)) or not all(
        isinstance(e, str) and e.strip(".") for e in filetypes
    ):
        raise TypeError(
            f"{name} must be a list of file extensions such as ['.jpg', '.png']. "
            f"Received: {name}={filetypes!r}"
        )
    return tuple("." + e.lower().lstrip(".") for e in filetypes)


def _has_extension(path: str, extensions: tuple[str, ...] | None) -> bool:
    return extensions is None or path.lower().endswith(extensions)


def directory_to_samples(
    directory: str | os.PathLike[str], extensions: tuple[str, ...] | None
) -> tuple[list[str], list[int], list[str]]:
    """Lists `directory/<class>/<file>` samples; class ids follow the sorted folder names.

    Hidden entries (names starting with '.') are skipped; files are sorted within a class.

    Returns:
        `(paths, labels, class_names)`.
    """
    root = os.fspath(directory)
    if not os.path.isdir(root):
        raise ValueError(f"expected an existing directory. Received: directory={root!r}")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise ValueError(
            "expected one sub-folder per class inside the directory, found none. "
            f"Received: directory={root!r}"
        )
    paths: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        class_dir = os.path.join(root, name)
        files = sorted(
            e.name
            for e in os.scandir(class_dir)
            if e.is_file() and not e.name.startswith(".") and _has_extension(e.name, extensions)
        )
        paths.extend(os.path.join(class_dir, f) for f in files)
        labels.extend([label] * len(files))
    if not paths:
        wanted = "" if extensions is None else f" with extension {list(extensions)}"
        raise ValueError(
            f"found no image file{wanted} in the class sub-folders {classes}. "
            f"Received: directory={root!r}"
        )
    return paths, labels, classes


def _parse_size(size: Any, name: str) -> tuple[int, int]:
    """Validates a `(width, height)` pair of positive ints."""
    ok = isinstance(size, (list, tuple)) and len(size) == 2
    ok = ok and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size
    )
    if not ok:
        raise ValueError(
            f"{name} must be a (width, height) pair of positive ints. Received: {name}={size!r}"
        )
    return int(size[0]), int(size[1])


def image_to_array(
    path: str, size: tuple[int, int] | None, grayscale: bool, normalize: bool = True
) -> np.ndarray:
    """Loads one image as a float32 `(height, width, channels)` array (3 channels, or 1)."""
    img = load_image(path)
    if size is not None and img.size != size:
        img = resize_image(img, size[0], size[1])
    mode = "L" if grayscale else "RGB"
    if img.mode != mode:
        img = convert_color(img, mode)
    arr = pil_to_nparray(img)
    if grayscale:
        arr = arr[:, :, None]
    if normalize:
        arr /= 255.0
    return arr


def _read_cache(dataset_file: str, settings: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Returns the cached `(X, Y)` if the file was built with the same settings, else None."""
    try:
        with open(dataset_file, "rb") as f, np.load(f, allow_pickle=False) as data:
            if str(data["settings"]) != settings:
                return None
            return data["X"], data["Y"]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"the dataset cache file {dataset_file!r} exists but is not a readable stackit "
            f"image dataset ({err}); delete it or pass another dataset_file. "
            f"Received: dataset_file={dataset_file!r}"
        ) from err


def _write_cache(dataset_file: str, X: np.ndarray, Y: np.ndarray, settings: str) -> None:
    """Writes the cache atomically: a temporary file, then a rename over the target."""
    save_npz(dataset_file, {"X": X, "Y": Y, "settings": np.array(settings)})


def build_image_dataset_from_dir(
    directory: str | os.PathLike[str],
    dataset_file: str | os.PathLike[str] | None = None,
    resize: Sequence[int] | None = None,
    filetypes: Sequence[str] | str | None = None,
    convert_gray: bool | None = None,
    shuffle_data: bool = False,
    categorical_Y: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads a folder of images, one sub-folder per class, into `(X, Y)` arrays.

    Layout: `directory/<class_name>/<image file>`. Class ids are given by the sorted
    sub-folder names (the first is 0). Hidden files and folders (names starting with '.')
    are skipped. Non-grayscale images are converted to RGB, so every sample has 3 channels
    (1 with `convert_gray`).

    When `dataset_file` is given, the arrays are cached there as an `.npz` file (no pickle)
    together with the settings they were built with; a later call with the same settings
    reads the cache instead of decoding the images again, and a call with other settings
    rebuilds it.

    Example:
        >>> X, Y = build_image_dataset_from_dir('flowers/', resize=(64, 64),
        ...                                     categorical_Y=True)
        >>> X.shape, Y.shape
        ((1360, 64, 64, 3), (1360, 17))

    Args:
        directory: The root folder.
        dataset_file: Path of the cache file. `None` disables caching. Defaults to `None`.
        resize: `(width, height)` to resize every image to (Pillow, LANCZOS). Without it,
            all images must already have the same size. Defaults to `None`.
        filetypes: File extensions to keep, e.g. `['.jpg', '.png']` (case-insensitive).
            `None` keeps every file. Defaults to `None`.
        convert_gray: If true, images are converted to grayscale (1 channel).
            Defaults to `None`.
        shuffle_data: If true, samples are shuffled (numpy's global random state).
            Defaults to `False`.
        categorical_Y: If true, `Y` is one-hot with one column per class sub-folder.
            Defaults to `False`.

    Returns:
        `(X, Y)`: `X` a float32 array of shape `(N, height, width, channels)` with values in
        `[0, 1]`; `Y` an int32 array of shape `(N,)`, or a float32 one-hot array of shape
        `(N, n_classes)` when `categorical_Y`.

    Raises:
        ValueError: If `directory` has no class sub-folder or no image, an image cannot be
            decoded (the message names the file), images differ in size and `resize` is not
            given, `resize` is not a pair of positive ints, or `dataset_file` is unreadable.
        TypeError: If `filetypes` is not a list of extensions.
    """
    size = None if resize is None else _parse_size(resize, "resize")
    extensions = _normalize_extensions(filetypes, "filetypes")
    settings = json.dumps(
        {
            "format": _CACHE_FORMAT,
            "resize": size,
            "filetypes": extensions,
            "convert_gray": bool(convert_gray),
            "shuffle_data": bool(shuffle_data),
            "categorical_Y": bool(categorical_Y),
        },
        sort_keys=True,
    )
    cache = None if dataset_file is None else os.fspath(dataset_file)
    if cache is not None and os.path.exists(cache):
        cached = _read_cache(cache, settings)
        if cached is not None:
            return cached

    paths, labels, classes = directory_to_samples(directory, extensions)
    first = image_to_array(paths[0], size, bool(convert_gray))
    X = np.empty((len(paths),) + first.shape, dtype=np.float32)
    X[0] = first
    for i in range(1, len(paths)):
        arr = image_to_array(paths[i], size, bool(convert_gray))
        if arr.shape != first.shape:
            raise ValueError(
                "all images must have the same size unless resize=(width, height) is given: "
                f"{paths[0]!r} has shape {first.shape} but {paths[i]!r} has shape "
                f"{arr.shape}. Received: resize=None"
            )
        X[i] = arr
    Y = np.asarray(labels, dtype=np.int32)
    if categorical_Y:
        Y = to_categorical(Y, len(classes))
    if shuffle_data:
        X, Y = shuffle(X, Y)
    if cache is not None:
        _write_cache(cache, X, Y, settings)
    return X, Y
