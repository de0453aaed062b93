"""Character-level text utilities: one-hot sequences for text generators, random seeds.

tflearn's `string_to_semi_redundant_sequences` family: a text is cut into windows of
`seq_maxlen` characters, one every `redun_step` characters, each paired with the character
that follows it (what a character-level `SequenceGenerator` learns to predict).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "chars_to_dictionary",
    "string_to_semi_redundant_sequences",
    "textfile_to_semi_redundant_sequences",
    "random_sequence_from_string",
    "random_sequence_from_textfile",
]


def _check_text(string: Any) -> str:
    if isinstance(string, bytes):
        raise TypeError(
            "string must be text (str); decode bytes first, e.g. data.decode('utf-8'). "
            f"Received: string of type bytes ({len(string)} bytes)"
        )
    if not isinstance(string, str):
        raise TypeError(f"string must be a str. Received: string of type {type(string).__name__}")
    if not string:
        raise ValueError("string must not be empty. Received: string=''")
    return string


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1. Received: {name}={value}")
    return int(value)


def _check_length(string: str, seq_maxlen: int) -> None:
    if len(string) <= seq_maxlen:
        raise ValueError(
            f"the text must be longer than seq_maxlen: every sequence of seq_maxlen "
            f"characters needs a character after it. Received: len(string)={len(string)}, "
            f"seq_maxlen={seq_maxlen}"
        )


def _read_text(path: str | os.PathLike[str], to_lower_case: bool = False) -> str:
    """Reads a UTF-8 text file; a missing file is a FileNotFoundError naming the path."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"text file not found. Received: path={os.fspath(path)!r}"
        ) from None
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{os.fspath(path)!r} is not UTF-8 text ({err}). Received: path={os.fspath(path)!r}"
        ) from None
    return text.lower() if to_lower_case else text


def chars_to_dictionary(string: str) -> dict[str, int]:
    """Maps each distinct character of `string` to an id, in sorted character order.

    Example:
        >>> chars_to_dictionary('hello')
        {'e': 0, 'h': 1, 'l': 2, 'o': 3}

    Args:
        string: The text.

    Returns:
        A dict `{char: id}` with ids `0 .. n_chars - 1`; the same text always gives the same
        dict.
    """
    return {c: i for i, c in enumerate(sorted(set(string)))}


def _char_codes(string: str, char_idx: Mapping[str, int]) -> tuple[np.ndarray, int]:
    """The id of every character of `string`, and the one-hot width `len(char_idx)`."""
    if not isinstance(char_idx, Mapping):
        raise TypeError(
            "char_idx must be a dict {char: id}, e.g. the one returned with earlier "
            f"sequences. Received: char_idx of type {type(char_idx).__name__}"
        )
    width = len(char_idx)
    for char, idx in char_idx.items():
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or not 0 <= idx < width:
            raise ValueError(
                f"char_idx ids must be ints in [0, len(char_idx)) = [0, {width}). "
                f"Received: char_idx[{char!r}]={idx!r}"
            )
    missing = sorted(set(string) - set(char_idx))
    if missing:
        shown = "".join(missing[:20]) + ("..." if len(missing) > 20 else "")
        raise ValueError(
            f"char_idx has no id for {len(missing)} character(s) of the text: {shown!r}. "
            "Pass char_idx=None to build a dictionary from this text, or extend the "
            f"dictionary. Received: len(char_idx)={width}"
        )
    lookup = {c: int(i) for c, i in char_idx.items()}
    return np.fromiter((lookup[c] for c in string), dtype=np.int64, count=len(string)), width


def string_to_semi_redundant_sequences(
    string: str,
    seq_maxlen: int = 25,
    redun_step: int = 3,
    char_idx: Mapping[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Cuts a text into overlapping one-hot character sequences and next-character targets.

    Sequence `i` is `string[i * redun_step : i * redun_step + seq_maxlen]`; its target is the
    character right after it. Windows start at `0, redun_step, 2 * redun_step, ...` while
    `start < len(string) - seq_maxlen` (tflearn's rule).

    Example:
        >>> X, Y, char_idx = string_to_semi_redundant_sequences('abcabd', seq_maxlen=3,
        ...                                                     redun_step=2)
        >>> X.shape, Y.shape, char_idx
        ((2, 3, 4), (2, 4), {'a': 0, 'b': 1, 'c': 2, 'd': 3})

    Args:
        string: The text (a str, not empty, longer than `seq_maxlen`).
        seq_maxlen: Characters per sequence. Defaults to `25`.
        redun_step: Characters between the starts of two sequences. Defaults to `3`.
        char_idx: A dict `{char: id}` with ids in `[0, len(char_idx))` covering every
            character of `string`, e.g. the one returned for the training text. When `None`,
            it is built with `chars_to_dictionary(string)`. Defaults to `None`.

    Returns:
        `(X, Y, char_idx)`: `X` bool `(n, seq_maxlen, len(char_idx))` one-hot characters,
        `Y` bool `(n, len(char_idx))` one-hot next characters, and the dictionary used.

    Raises:
        TypeError: If `string` is not a str, `seq_maxlen` or `redun_step` not an int, or
            `char_idx` not a dict.
        ValueError: If `string` is empty or not longer than `seq_maxlen`, `seq_maxlen` or
            `redun_step` is < 1, or `char_idx` lacks a character of the text or holds an
            id outside `[0, len(char_idx))`.
    """
    string = _check_text(string)
    seq_maxlen = _positive_int(seq_maxlen, "seq_maxlen")
    redun_step = _positive_int(redun_step, "redun_step")
    _check_length(string, seq_maxlen)
    if char_idx is None:
        char_idx = chars_to_dictionary(string)
    codes, width = _char_codes(string, char_idx)
    starts = np.arange(0, len(string) - seq_maxlen, redun_step)
    n = len(starts)
    positions = starts[:, None] + np.arange(seq_maxlen)[None, :]
    X = np.zeros((n, seq_maxlen, width), dtype=bool)
    X[np.arange(n)[:, None], np.arange(seq_maxlen)[None, :], codes[positions]] = True
    Y = np.zeros((n, width), dtype=bool)
    Y[np.arange(n), codes[starts + seq_maxlen]] = True
    return X, Y, char_idx if isinstance(char_idx, dict) else dict(char_idx)


def textfile_to_semi_redundant_sequences(
    path: str | os.PathLike[str],
    seq_maxlen: int = 25,
    redun_step: int = 3,
    to_lower_case: bool = False,
    pre_defined_char_idx: Mapping[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Reads a UTF-8 text file and cuts it as `string_to_semi_redundant_sequences` does.

    Example:
        >>> X, Y, char_idx = textfile_to_semi_redundant_sequences('shakespeare_input.txt',
        ...                                                       seq_maxlen=25)

    Args:
        path: The text file (read as UTF-8).
        seq_maxlen: Characters per sequence. Defaults to `25`.
        redun_step: Characters between the starts of two sequences. Defaults to `3`.
        to_lower_case: If true, the text is lower-cased first. Defaults to `False`.
        pre_defined_char_idx: A dict `{char: id}` to use instead of building one from the
            text (e.g. the one saved from an earlier run). Defaults to `None`.

    Returns:
        `(X, Y, char_idx)` as `string_to_semi_redundant_sequences` returns them.

    Raises:
        FileNotFoundError: If `path` does not exist.
        TypeError, ValueError: As `string_to_semi_redundant_sequences`, and `ValueError` if
            the file is not UTF-8 text.
    """
    text = _read_text(path, bool(to_lower_case))
    return string_to_semi_redundant_sequences(text, seq_maxlen, redun_step, pre_defined_char_idx)


def random_sequence_from_string(string: str, seq_maxlen: int) -> str:
    """Returns `seq_maxlen` consecutive characters of `string`, at a random position.

    The start is drawn uniformly from `[0, len(string) - seq_maxlen - 1]` with Python's
    `random` module (so `random.seed` makes it repeatable, as in tflearn); the window is
    always followed by at least one character. Use it as the `seq_seed` of a text generator.

    Example:
        >>> seed = random_sequence_from_string(text, 25)
        >>> len(seed)
        25

    Args:
        string: The text; it must be longer than `seq_maxlen`.
        seq_maxlen: Length of the returned sequence.

    Returns:
        A substring of `string` of length `seq_maxlen`.

    Raises:
        TypeError: If `string` is not a str or `seq_maxlen` not an int.
        ValueError: If `string` is empty or not longer than `seq_maxlen`, or `seq_maxlen`
            is < 1.
    """
    string = _check_text(string)
    seq_maxlen = _positive_int(seq_maxlen, "seq_maxlen")
    _check_length(string, seq_maxlen)
    start = random.randint(0, len(string) - seq_maxlen - 1)
    return string[start : start + seq_maxlen]


def random_sequence_from_textfile(path: str | os.PathLike[str], seq_maxlen: int) -> str:
    """Reads a UTF-8 text file and returns `random_sequence_from_string(text, seq_maxlen)`.

    Args:
        path: The text file (read as UTF-8).
        seq_maxlen: Length of the returned sequence.

    Returns:
        A substring of the file's text of length `seq_maxlen`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        TypeError, ValueError: As `random_sequence_from_string`, and `ValueError` if the file
            is not UTF-8 text.
    """
    return random_sequence_from_string(_read_text(path), seq_maxlen)
