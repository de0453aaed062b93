"""`CategoricalVocabulary`: the token-to-id table behind `VocabularyProcessor`.

TensorFlow's `tf.contrib.learn` class of that name, which tflearn used: id 0 is the unknown
token; new tokens get the next id until the table is frozen; `trim` renumbers by frequency.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

__all__ = ["CategoricalVocabulary"]


class CategoricalVocabulary:
    """A growing mapping from tokens to ids, 0 being the unknown token.

    New tokens get the next id (1, 2, ...) until the vocabulary is frozen; afterwards
    unknown tokens get 0. `trim` renumbers the tokens by descending frequency.

    Args:
        unknown_token: The token id 0 stands for. Defaults to `'<UNK>'`.
        support_reverse: If true, `reverse(id)` gives the token back. Defaults to `True`.
    """

    def __init__(self, unknown_token: str = "<UNK>", support_reverse: bool = True) -> None:
        self._unknown_token = unknown_token
        self._support_reverse = bool(support_reverse)
        self._mapping: dict[Hashable, int] = {unknown_token: 0}
        self._tokens: list[Hashable] = [unknown_token]
        self._freq: dict[Hashable, int] = {}
        self._freeze = False

    def __len__(self) -> int:
        """Number of ids, the unknown token included."""
        return len(self._mapping)

    def __repr__(self) -> str:
        state = "frozen" if self._freeze else "growing"
        return f"CategoricalVocabulary({len(self)} ids, {state})"

    @property
    def unknown_token(self) -> str:
        """The token of id 0."""
        return self._unknown_token

    @property
    def frozen(self) -> bool:
        """Whether unknown tokens map to 0 instead of getting a new id."""
        return self._freeze

    def freeze(self, freeze: bool = True) -> None:
        """Freezes the vocabulary (new tokens map to 0), or unfreezes it with `False`."""
        self._freeze = bool(freeze)

    def get(self, category: Hashable) -> int:
        """Returns the id of `category`, giving it a new id if it is new and not frozen."""
        if category in self._mapping:
            return self._mapping[category]
        if self._freeze:
            return 0
        self._mapping[category] = len(self._tokens)
        self._tokens.append(category)
        return self._mapping[category]

    def add(self, category: Hashable, count: int = 1) -> None:
        """Counts `count` more occurrences of `category` (added first if new and not frozen).

        Occurrences of tokens that map to 0 (unknown, frozen out) are not counted.
        """
        if self.get(category) > 0:
            self._freq[category] = self._freq.get(category, 0) + count

    def trim(self, min_frequency: float, max_frequency: float = -1) -> None:
        """Keeps the tokens counted more than `min_frequency` times, renumbered 1, 2, ...

        Tokens are ordered by descending count, ties alphabetically (ints before strs).

        Args:
            min_frequency: Tokens counted `min_frequency` times or fewer are dropped.
            max_frequency: When > 0, tokens counted `max_frequency` times or more are
                dropped too (e.g. stop words). Defaults to `-1` (no upper bound).
        """
        ranked = sorted(self._freq.items(), key=lambda kv: (isinstance(kv[0], str), kv[0]))
        ranked.sort(key=lambda kv: kv[1], reverse=True)
        kept = [
            (token, count)
            for token, count in ranked
            if count > min_frequency and not (max_frequency > 0 and count >= max_frequency)
        ]
        self._tokens = [self._unknown_token] + [token for token, _ in kept]
        self._mapping = {token: i for i, token in enumerate(self._tokens)}
        self._freq = dict(kept)

    def reverse(self, class_id: int) -> Hashable:
        """Returns the token of id `class_id`.

        Raises:
            ValueError: If the vocabulary was built with `support_reverse=False`, or
                `class_id` is not an id of the vocabulary.
        """
        if not self._support_reverse:
            raise ValueError(
                "this vocabulary was created with support_reverse=False, so ids cannot be "
                "turned back into tokens. Received: support_reverse=False"
            )
        if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)):
            raise TypeError(f"ids must be ints. Received: class_id={class_id!r}")
        if not 0 <= class_id < len(self._tokens):
            raise ValueError(
                f"id {int(class_id)} is not in the vocabulary (ids 0 to "
                f"{len(self._tokens) - 1}). Received: class_id={int(class_id)}"
            )
        return self._tokens[int(class_id)]

    def _lookup(self, category: Hashable) -> int:
        """The id of `category`, 0 if unknown; never changes the vocabulary."""
        return self._mapping.get(category, 0)

    def _to_config(self) -> dict[str, Any]:
        for token in self._tokens:
            if isinstance(token, bool) or not isinstance(token, (str, int)):
                raise TypeError(
                    "only str and int tokens can be saved (the file is JSON). "
                    f"Received: token {token!r} of type {type(token).__name__}"
                )
        return {
            "unknown_token": self._unknown_token,
            "support_reverse": self._support_reverse,
            "frozen": self._freeze,
            "tokens": self._tokens[1:],
            "frequencies": [self._freq.get(token, 0) for token in self._tokens[1:]],
        }

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> CategoricalVocabulary:
        vocab = cls(config["unknown_token"], config["support_reverse"])
        tokens, counts = list(config["tokens"]), list(config["frequencies"])
        if len(tokens) != len(counts) or len(set(tokens)) != len(tokens):
            raise ValueError("tokens and frequencies must be lists of equal length, no repeats")
        vocab._tokens = [vocab._unknown_token, *tokens]
        vocab._mapping = {token: i for i, token in enumerate(vocab._tokens)}
        vocab._freq = {t: int(c) for t, c in zip(tokens, counts, strict=True) if c}
        vocab._freeze = bool(config["frozen"])
        return vocab
