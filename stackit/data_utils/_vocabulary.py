"""Word vocabularies: `VocabularyProcessor` maps documents to fixed-length rows of word ids.

The behaviour is that of TensorFlow's `tf.contrib.learn` `VocabularyProcessor` and
`CategoricalVocabulary`, which tflearn wrapped: id 0 is the unknown token `'<UNK>'` and also
the padding; with `min_frequency=0` the other ids follow the order in which words are first
seen; with `min_frequency > 0` they follow descending frequency (ties in alphabetical order)
and only words seen more than `min_frequency` times are kept. Saved files are JSON, never
pickles.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

import numpy as np

from stackit._atomic import atomic_write
from stackit.data_utils._categorical_vocabulary import CategoricalVocabulary

__all__ = ["VocabularyProcessor"]

#: What `VocabularyProcessor.save` writes in the file's "format" field.
FILE_FORMAT = "stackit.VocabularyProcessor"
FILE_VERSION = 1

# TensorFlow's default word splitting, so ids match those of tflearn: a run of two or more
# capitals not followed by a lower-case letter ("HTML" in "HTMLParser" is "HTML" + "Parser"),
# a capitalised word directly followed by a capital ("Camel" in "CamelCase"), or a run of
# word characters, apostrophes and hyphens ("don't", "well-known"). Case is kept.
_TOKEN_RE = re.compile(
    r"""
      [A-Z]{2,}(?![a-z])
    | [A-Z][a-z]+(?=[A-Z])
    | [\w'\-]+
    """,
    re.UNICODE | re.VERBOSE,
)

Tokenizer = Callable[[Iterable[Any]], Iterable[Iterable[Hashable]]]


def _default_tokenizer(documents: Iterable[Any]) -> Iterator[list[str]]:
    for i, doc in enumerate(documents):
        if not isinstance(doc, str):
            raise TypeError(
                "each document must be a str (or pass a tokenizer_fn that reads your "
                f"documents). Received: raw_documents[{i}] of type {type(doc).__name__}"
            )
        yield _TOKEN_RE.findall(doc)


def _missing_tokenizer(documents: Iterable[Any]) -> Iterator[list[str]]:
    raise ValueError(
        "this VocabularyProcessor was saved with a custom tokenizer_fn, which a JSON file "
        "cannot hold; pass the same function again: "
        "VocabularyProcessor.restore(filename, tokenizer_fn=my_tokenizer)"
    )


class VocabularyProcessor:
    """Maps documents to rows of word ids, trimmed or padded with 0 to one length.

    Example:
        >>> vp = VocabularyProcessor(max_document_length=4)
        >>> np.array(list(vp.fit_transform(['a cat', 'a dog and a cat'])))
        array([[1, 2, 0, 0],
               [1, 3, 4, 1]])
        >>> list(vp.reverse([[1, 2, 0, 0]]))
        ['a cat <UNK> <UNK>']

    Id 0 is both the unknown word and the padding. Words get ids 1, 2, ... in the order
    they are first seen; with `min_frequency > 0`, only words seen more than
    `min_frequency` times are kept, numbered by descending frequency (ties alphabetically).
    `fit` freezes the vocabulary: fitting again counts known words but adds no new ones.

    Args:
        max_document_length: Length of every row: longer documents are cut, shorter ones
            padded with 0.
        min_frequency: Words seen `min_frequency` times or fewer are left out (so `1` keeps
            the words seen at least twice). Defaults to `0` (keep every word).
        vocabulary: A `CategoricalVocabulary` to start from; a frozen one is used as is.
            Defaults to `None` (a new, empty one).
        tokenizer_fn: A function taking an iterable of documents and yielding one list of
            tokens per document (TensorFlow's contract). Defaults to `None`: words are runs
            of letters, digits, `_`, `'` and `-`; case is kept, and runs of capitals and
            CamelCase words are split ("HTMLParser" -> "HTML", "Parser").

    Attributes:
        vocabulary_: The `CategoricalVocabulary` in use.
    """

    def __init__(
        self,
        max_document_length: int,
        min_frequency: float = 0,
        vocabulary: CategoricalVocabulary | None = None,
        tokenizer_fn: Tokenizer | None = None,
    ) -> None:
        if isinstance(max_document_length, bool) or not isinstance(
            max_document_length, (int, np.integer)
        ):
            raise TypeError(
                f"max_document_length must be a positive int. "
                f"Received: max_document_length={max_document_length!r}"
            )
        if max_document_length < 1:
            raise ValueError(
                f"max_document_length must be >= 1. Received: "
                f"max_document_length={max_document_length}"
            )
        if isinstance(min_frequency, bool) or not isinstance(
            min_frequency, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"min_frequency must be a number. Received: min_frequency={min_frequency!r}"
            )
        if not min_frequency >= 0:
            raise ValueError(f"min_frequency must be >= 0. Received: min_frequency={min_frequency}")
        if vocabulary is not None and not isinstance(vocabulary, CategoricalVocabulary):
            raise TypeError(
                "vocabulary must be a stackit.data_utils.CategoricalVocabulary or None. "
                f"Received: vocabulary of type {type(vocabulary).__name__}"
            )
        if tokenizer_fn is not None and not callable(tokenizer_fn):
            raise TypeError(
                f"tokenizer_fn must be callable. Received: tokenizer_fn={tokenizer_fn!r}"
            )
        self.max_document_length = int(max_document_length)
        self.min_frequency = min_frequency
        self.vocabulary_ = vocabulary if vocabulary is not None else CategoricalVocabulary()
        self._custom_tokenizer = tokenizer_fn is not None
        self._tokenizer: Tokenizer = tokenizer_fn or _default_tokenizer

    def __repr__(self) -> str:
        return (
            f"VocabularyProcessor(max_document_length={self.max_document_length}, "
            f"min_frequency={self.min_frequency}, vocabulary_={self.vocabulary_!r})"
        )

    @staticmethod
    def _documents(raw_documents: Any) -> Iterable[Any]:
        if isinstance(raw_documents, (str, bytes)):
            raise TypeError(
                "raw_documents must be a list (or iterable) of documents, not one string: "
                f"wrap a single document as [doc]. Received: raw_documents={raw_documents!r:.60}"
            )
        if not isinstance(raw_documents, Iterable):
            raise TypeError(
                "raw_documents must be an iterable of documents. "
                f"Received: raw_documents of type {type(raw_documents).__name__}"
            )
        return raw_documents

    def fit(self, raw_documents: Iterable[Any], unused_y: Any = None) -> VocabularyProcessor:
        """Learns the vocabulary of `raw_documents`, then freezes it.

        Args:
            raw_documents: An iterable of documents (strs for the default tokenizer).
            unused_y: Ignored (the estimator signature). Defaults to `None`.

        Returns:
            `self`.

        Raises:
            TypeError: If `raw_documents` is a single string or not iterable, or a document
                is not a str (default tokenizer).
        """
        del unused_y
        for tokens in self._tokenizer(self._documents(raw_documents)):
            for token in tokens:
                self.vocabulary_.add(token)
        if self.min_frequency > 0:
            self.vocabulary_.trim(self.min_frequency)
        self.vocabulary_.freeze()
        return self

    def fit_transform(
        self, raw_documents: Iterable[Any], unused_y: Any = None
    ) -> Iterator[np.ndarray]:
        """Learns the vocabulary, then returns the documents' rows of ids (see `transform`).

        A one-shot iterator of documents is read once and kept in memory for both steps.

        Args:
            raw_documents: An iterable of documents.
            unused_y: Ignored. Defaults to `None`.

        Returns:
            An iterator of int64 arrays of shape `(max_document_length,)`, one per document.
        """
        del unused_y
        docs = list(self._documents(raw_documents))
        self.fit(docs)
        return self.transform(docs)

    def transform(self, raw_documents: Iterable[Any]) -> Iterator[np.ndarray]:
        """Turns documents into rows of word ids; unknown words are 0, rows padded with 0.

        The vocabulary is not changed (TensorFlow's version added unseen words to a
        vocabulary that was not yet frozen).

        Example:
            >>> X = np.array(list(vp.transform(['a new cat'])))  # shape (1, max_document_length)

        Args:
            raw_documents: An iterable of documents.

        Returns:
            An iterator (computed as it is read) of int64 arrays of shape
            `(max_document_length,)`, one per document.

        Raises:
            ValueError: If the vocabulary is empty and was never fitted.
            TypeError: If `raw_documents` is a single string or not iterable; a document
                that is not a str (default tokenizer) raises when it is reached.
        """
        docs = self._documents(raw_documents)
        if len(self.vocabulary_) == 1 and not self.vocabulary_.frozen:
            raise ValueError(
                "the vocabulary is empty: call fit() or fit_transform() first, or pass a "
                "vocabulary. Received: len(vocabulary_)=1 (only the unknown token)"
            )
        return self._transform(docs)

    def _transform(self, docs: Iterable[Any]) -> Iterator[np.ndarray]:
        length, lookup = self.max_document_length, self.vocabulary_._lookup
        for tokens in self._tokenizer(docs):
            ids = np.zeros(length, dtype=np.int64)
            for i, token in enumerate(itertools.islice(tokens, length)):
                ids[i] = lookup(token)
            yield ids

    def reverse(self, documents: Iterable[Iterable[int]]) -> Iterator[str]:
        """Turns rows of ids back into space-separated words (0 gives `'<UNK>'`).

        Args:
            documents: An iterable of id sequences (e.g. rows from `transform`).

        Returns:
            An iterator of strings, one per row.

        Raises:
            ValueError: If an id is not in the vocabulary (raised when its row is reached).
        """
        for row in documents:
            yield " ".join(str(self.vocabulary_.reverse(int(i))) for i in row)

    def save(self, filename: str | os.PathLike[str]) -> None:
        """Writes the processor to a JSON file (atomically; no pickle).

        The tokenizer is not saved: a processor with a custom `tokenizer_fn` needs it again
        in `restore`.

        Args:
            filename: Path of the file to write.

        Raises:
            TypeError: If a token is neither a str nor an int.
        """
        payload = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "max_document_length": self.max_document_length,
            "min_frequency": self.min_frequency,
            "tokenizer": "custom" if self._custom_tokenizer else "default",
            "vocabulary": self.vocabulary_._to_config(),
        }
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        with atomic_write(filename) as handle:
            handle.write(data)

    @classmethod
    def restore(
        cls, filename: str | os.PathLike[str], tokenizer_fn: Tokenizer | None = None
    ) -> VocabularyProcessor:
        """Reads a processor written by `save`.

        Args:
            filename: Path of the JSON file.
            tokenizer_fn: The custom tokenizer the processor was saved with, if any. Without
                it, such a processor can still `reverse`, but `fit` and `transform` raise.
                Defaults to `None`.

        Returns:
            The `VocabularyProcessor`.

        Raises:
            FileNotFoundError: If the file does not exist.
            ValueError: If the file is not a stackit VocabularyProcessor file (a TensorFlow
                pickle, for instance, is refused without being loaded).
        """
        path = os.fspath(filename)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"vocabulary file not found. Received: filename={path!r}"
            ) from None
        try:
            payload = json.loads(raw.decode("utf-8"))
            if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
                raise ValueError("no stackit format field")
            if payload.get("version") != FILE_VERSION:
                raise ValueError(f"unknown version {payload.get('version')!r}")
            vocab = CategoricalVocabulary._from_config(payload["vocabulary"])
            custom = payload["tokenizer"] == "custom"
            processor = cls(
                payload["max_document_length"], payload["min_frequency"], vocab, tokenizer_fn
            )
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"{path!r} is not a file written by VocabularyProcessor.save ({err}). Files "
                "pickled by TensorFlow or tflearn are not loaded (unpickling can run code): "
                "fit a new processor on your documents and save it. "
                f"Received: filename={path!r}"
            ) from None
        if custom and tokenizer_fn is None:
            processor._custom_tokenizer = True
            processor._tokenizer = _missing_tokenizer
        return processor
