"""tflearn's old MNIST layout (`read_data_sets`): data sets that hand out batches."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["DataSet", "DataSets"]


class DataSet:
    """Arrays that hand out consecutive batches, reshuffled (numpy's global random state) each
    time an epoch is used up, as tflearn's `mnist.DataSet`.

    Args:
        images: `(N, ...)` array.
        labels: `(N, ...)` array.

    Raises:
        ValueError: If images and labels differ in length.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        if len(images) != len(labels):
            raise ValueError(f"DataSet: images and labels must have the same length. Received: "
                             f"{len(images)} images, {len(labels)} labels.")
        self._images, self._labels = images, labels
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self) -> np.ndarray:
        """The images, in their current order."""
        return self._images

    @property
    def labels(self) -> np.ndarray:
        """The labels, in the images' order."""
        return self._labels

    @property
    def num_examples(self) -> int:
        """How many samples it holds."""
        return len(self._images)

    @property
    def epochs_completed(self) -> int:
        """How many times `next_batch` has gone through every sample."""
        return self._epochs_completed

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The next `batch_size` samples `(images, labels)`; when fewer are left in the epoch,
        the samples are reshuffled and the batch starts the next epoch.

        Raises:
            ValueError: If `batch_size` is not an int in [1, num_examples].
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or not 1 <= batch_size <= self.num_examples:
            raise ValueError(f"next_batch: batch_size must be an int in [1, {self.num_examples}]"
                             f". Received: batch_size={batch_size!r}.")
        if self._index_in_epoch + batch_size > self.num_examples:
            self._epochs_completed += 1
            order = np.random.permutation(self.num_examples)
            self._images, self._labels = self._images[order], self._labels[order]
            self._index_in_epoch = 0
        start = self._index_in_epoch
        self._index_in_epoch += int(batch_size)
        return self._images[start:self._index_in_epoch], self._labels[start:self._index_in_epoch]


class DataSets(NamedTuple):
    """`train`, `validation` and `test` `DataSet`s."""

    train: DataSet
    validation: DataSet
    test: DataSet
