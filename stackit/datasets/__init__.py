"""Dataset loaders with tflearn's names and layouts: download once, verify, cache, parse.

Each dataset is a module, imported on first use so that `import stackit.datasets` stays
cheap::

    import stackit.datasets.mnist as mnist
    X, Y, testX, testY = mnist.load_data(one_hot=True)

Files live in the folder given to `load_data`, else in `$STACKIT_DATA/<dataset>`, else in
`~/.stackit/datasets/<dataset>`. Every download is checked against the SHA-256 of the
official file. With `STACKIT_OFFLINE=1` nothing is downloaded. See `docs/datasets.md`.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "cifar10",
    "cifar100",
    "fashion_mnist",
    "imdb",
    "mnist",
    "oxflower17",
    "svhn",
    "titanic",
    "DatasetDownloadError",
    "ChecksumMismatchError",
    "DatasetFormatError",
    "UnsafeArchiveError",
]

_MODULES = frozenset(__all__[:8])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in __all__:
        return getattr(importlib.import_module(f"{__name__}._fetch"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
