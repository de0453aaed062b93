"""`SequenceGenerator`: a `DNN` that also writes sequences (tflearn's char-RNN model)."""

from __future__ import annotations

import numbers
import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from stackit._args import check_positive_int, check_seed
from stackit.layers.base import Layer, Tensor
from stackit.model import DNN
from stackit.session import Session

__all__ = ["SequenceGenerator", "reverse_dictionary", "tempered_probabilities"]

#: Mixed with the model's seed so that generation draws a stream of its own (not the one
#: that shuffles the training data).
_SAMPLE_STREAM = 0x5E0


class SequenceGenerator(DNN):
    """A model that predicts the next token of a sequence, and `generate`s sequences with it.

    Everything a `DNN` does (`fit`, `evaluate`, `predict`, `save`/`load`, snapshots under
    `checkpoint_path`, callbacks) works the same way; `generate` is added.

    The network reads a window of `seq_maxlen` tokens, one-hot encoded over the dictionary
    (`input_data([None, seq_maxlen, len(dictionary)])`), or as token indices
    (`input_data([None, seq_maxlen], dtype='int32')`, e.g. before an `embedding`), and outputs
    the next token's probabilities (`fully_connected(..., len(dictionary),
    activation='softmax')`).

    Args:
        network: The network's output tensor (usually from `regression(...)`), as for `DNN`.
        dictionary: Maps each token to its index, e.g. `{'a': 0, 'b': 1, ...}` (the `char_idx`
            of `data_utils.string_to_semi_redundant_sequences`). Indices must be 0 to
            `len(dictionary) - 1`. With `None`, tokens are the indices themselves. Defaults to
            `None`.
        seq_maxlen: The number of tokens the network reads. Defaults to `25`.
        clip_gradients: Clip gradients to this global norm; 0 disables. Defaults to `0.0`.
        tensorboard_verbose: TensorBoard logs, as `DNN`'s. Defaults to `None` (none).
        tensorboard_dir: Folder of the TensorBoard logs, as `DNN`'s. Defaults to `None`.
        checkpoint_path: Prefix of snapshot files (`<prefix>-<step>.npz`). Defaults to `None`.
        max_checkpoints: Snapshots kept under `checkpoint_path`. Defaults to `None` (all).
        session: Another model's `session`, to share its parameter values. Defaults to `None`.
        best_checkpoint_path: As for `DNN`. Defaults to `None`.
        best_val_accuracy: As for `DNN`. Defaults to `0.0`.
        seed: Seed for initialization, shuffling and `generate`'s draws; falls back to
            `stackit.init_graph(seed=...)`, then to a random one. Defaults to `None`.

    Attributes:
        dic: The dictionary (token -> index), or `None`.
        rev_dic: Its reverse (index -> token), or `None`.
        seq_maxlen: The window length.

    Raises:
        ValueError: For a dictionary whose indices are not 0..n-1, or a network whose input
            or output does not fit `seq_maxlen` and the dictionary.
    """

    def __init__(self, network: Tensor | Sequence[Tensor] | Sequence[Layer],
                 dictionary: Mapping[Hashable, int] | None = None, seq_maxlen: int = 25,
                 clip_gradients: float = 0.0, tensorboard_verbose: int | None = None,
                 tensorboard_dir: str | None = None, checkpoint_path: str | None = None,
                 max_checkpoints: int | None = None, session: Session | None = None, *,
                 best_checkpoint_path: str | None = None, best_val_accuracy: float = 0.0,
                 seed: int | None = None):
        check_positive_int("seq_maxlen", seq_maxlen)
        self.dic = _checked_dictionary(dictionary)
        self.rev_dic = reverse_dictionary(self.dic) if self.dic is not None else None
        self.seq_maxlen = int(seq_maxlen)
        super().__init__(network, clip_gradients=clip_gradients,
                         tensorboard_verbose=tensorboard_verbose, tensorboard_dir=tensorboard_dir,
                         checkpoint_path=checkpoint_path, max_checkpoints=max_checkpoints,
                         session=session, best_checkpoint_path=best_checkpoint_path,
                         best_val_accuracy=best_val_accuracy, seed=seed)
        self.sample_rng = np.random.default_rng([_SAMPLE_STREAM, self.seed])
        if self.built:
            self._window_layout()

    def generate(self, seq_length: int, temperature: float = 0.5, seq_seed=None,
                 display: bool = False, *, seed: int | None = None) -> str | list:
        """Extends `seq_seed` by `seq_length` tokens, drawn one at a time.

        Each step feeds the last `seq_maxlen` tokens to the network, reads the next token's
        probabilities `p`, and draws index `i` with probability `p_i ** (1 / temperature)`
        normalized (see `tempered_probabilities`).

        Args:
            seq_length: How many tokens to add.
            temperature: Novelty: near 0 the most likely token is almost always taken (0
                takes it always), 1 draws from the network's probabilities, above 1 flattens
                them. Defaults to `0.5`.
            seq_seed: The first `seq_maxlen` tokens: a string (one token per character) or a
                list of tokens, e.g. `data_utils.random_sequence_from_string(text, maxlen)`.
            display: Print the seed, then each token as it is drawn. Defaults to `False`.
            seed: Seed for this call's draws (the same seed and model give the same text).
                Defaults to `None`: the model's generator, seeded from the model's `seed`,
                which goes on from one call to the next.

        Returns:
            The seed followed by the generated tokens (as tflearn): a string for a string
            seed, a list otherwise.

        Raises:
            ValueError: For a seed of the wrong length or with tokens not in the dictionary,
                a negative `temperature` or `seq_length`, or a network output that is not a
                probability distribution.
            TypeError: For a `seq_seed` that is neither a string nor a list of tokens.
        """
        if isinstance(seq_length, bool) or not isinstance(seq_length, (int, np.integer)) \
                or seq_length < 0:
            raise ValueError(f"seq_length must be an int >= 0. Received: "
                             f"seq_length={seq_length!r}.")
        _check_temperature(temperature)
        check_seed(seed)
        if not self.built and self.dic is not None:  # Keras-style list without an input
            self.build((self.seq_maxlen, len(self.dic)))
        one_hot, n_tokens = self._window_layout()
        tokens, as_text = self._seed_tokens(seq_seed)
        rng = np.random.default_rng(seed) if seed is not None else self.sample_rng
        window = [self._index(t) for t in tokens]
        out = list(tokens)
        show = _display(as_text) if display else None
        if show:
            show(out)
        encode = np.eye(n_tokens, dtype=np.float32) if one_hot else None
        for _ in range(int(seq_length)):
            x = encode[window][None] if encode is not None else np.asarray([window], np.int32)
            index = sample(self.predict(x)[0], temperature, rng)
            token = self.rev_dic[index] if self.rev_dic is not None else index
            out.append(token)
            window = [*window[1:], index]
            if show:
                show([token])
        if show:
            print()
        return "".join(map(str, out)) if as_text else out

    # -- checks --------------------------------------------------------------------------------
    def _window_layout(self) -> tuple[bool, int]:
        """(one-hot input?, token count), after checking the network reads a window of
        `seq_maxlen` tokens and outputs one probability per token."""
        if not self.built:
            self._built_steps()  # raises: build(input_shape) first
        inputs, outputs = self.feeder.predict_inputs, self._outputs
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"SequenceGenerator needs a network with one input and one output. "
                             f"Received: {len(inputs)} inputs, {len(outputs)} outputs.")
        in_shape, out_shape = inputs[0].sample_shape, outputs[0].sample_shape
        n = len(self.dic) if self.dic is not None else (
            in_shape[-1] if len(in_shape) == 2 else out_shape[-1] if out_shape else 0)
        if in_shape not in ((self.seq_maxlen, n), (self.seq_maxlen,)):
            raise ValueError(
                f"SequenceGenerator: the network must read a window of seq_maxlen="
                f"{self.seq_maxlen} tokens, one-hot over the {n} tokens: input_data([None, "
                f"{self.seq_maxlen}, {n}]) (or token indices: input_data([None, "
                f"{self.seq_maxlen}], dtype='int32')). Received: input shape "
                f"{(None, *in_shape)}.")
        if out_shape != (n,):
            raise ValueError(f"SequenceGenerator: the network must output one probability per "
                             f"token, shape (None, {n}) (e.g. fully_connected(net, {n}, "
                             f"activation='softmax')). Received: output shape "
                             f"{(None, *out_shape)}.")
        return len(in_shape) == 2, n

    def _seed_tokens(self, seq_seed) -> tuple[list, bool]:
        """The seed's tokens, and whether it was a string."""
        hint = (f"Pass seq_maxlen={self.seq_maxlen} tokens, e.g. "
                f"data_utils.random_sequence_from_string(text, {self.seq_maxlen}).")
        if seq_seed is None:
            raise ValueError(f"generate needs seq_seed, the sequence to start from. {hint}")
        as_text = isinstance(seq_seed, str)
        if as_text:
            tokens = list(seq_seed)
        elif isinstance(seq_seed, np.ndarray) and seq_seed.ndim == 1:
            tokens = seq_seed.tolist()
        elif isinstance(seq_seed, (list, tuple)):
            tokens = list(seq_seed)
        else:
            raise TypeError(f"seq_seed must be a string or a list of tokens. "
                            f"Received: {type(seq_seed).__name__}.")
        if len(tokens) != self.seq_maxlen:
            raise ValueError(f"seq_seed must hold seq_maxlen={self.seq_maxlen} tokens (the "
                             f"window the network reads). Received: {len(tokens)} tokens. {hint}")
        unknown = [t for t in dict.fromkeys(tokens) if not self._known(t)]
        if unknown:
            if self.dic is None:
                raise ValueError(f"seq_seed: without a dictionary, tokens are indices 0..n-1. "
                                 f"Received: {unknown[:10]!r}.")
            known = sorted(map(repr, self.dic))
            more = ", ..." if len(known) > 40 else ""
            text_hint = " A string seed is read one character at a time; pass a list of " \
                "tokens for this dictionary." if as_text and not _chars_only(self.dic) else ""
            raise ValueError(f"seq_seed holds tokens that are not in the dictionary: "
                             f"{unknown[:10]!r}. Known tokens: {', '.join(known[:40])}{more}."
                             f"{text_hint}")
        return tokens, as_text

    def _known(self, token) -> bool:
        if self.dic is not None:
            return isinstance(token, Hashable) and token in self.dic
        n = self._window_layout()[1]
        return isinstance(token, (int, np.integer)) and not isinstance(token, bool) \
            and 0 <= int(token) < n

    def _index(self, token) -> int:
        return int(self.dic[token]) if self.dic is not None else int(token)


def reverse_dictionary(dic: Mapping[Hashable, int]) -> dict[int, Hashable]:
    """The index -> token map of a token -> index dictionary (tflearn's helper)."""
    return {int(index): token for token, index in dic.items()}


def tempered_probabilities(probs, temperature: float) -> np.ndarray:
    """The distribution `generate` draws from: `q_i = p_i ** (1 / T) / sum_j p_j ** (1 / T)`.

    Computed in float64 as `exp((log p_i - max_j log p_j) / T)`, normalized, so small
    temperatures do not overflow. `T = 1` keeps `p`; as `T -> 0`, `q` tends to the most
    likely token, and `T = 0` gives it exactly (shared equally among ties); large `T`
    flattens `q` toward uniform over the tokens with `p_i > 0`.

    Raises:
        ValueError: If `probs` holds NaN, negative values or only zeros, or `temperature` is
            negative or not finite.
    """
    _check_temperature(temperature)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or not np.any(p > 0):
        raise ValueError("generate samples from the network's output, which must be "
                         "probabilities (end the network with a softmax layer). Received: "
                         f"{np.array2string(p, precision=4, threshold=8)}.")
    if temperature == 0:
        top = p == p.max()
        return top / np.count_nonzero(top)
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    weights = np.exp((logp - logp.max()) / temperature)
    return weights / weights.sum()


def sample(probs, temperature: float, rng: np.random.Generator) -> int:
    """One index drawn from `tempered_probabilities(probs, temperature)` with `rng` (one
    uniform draw, inverted through the cumulative distribution)."""
    cdf = np.cumsum(tempered_probabilities(probs, temperature))
    index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(index, cdf.size - 1)


def _check_temperature(temperature) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not 0 <= float(temperature) < float("inf"):
        raise ValueError(f"temperature must be a finite number >= 0 (0 always takes the most "
                         f"likely token). Received: temperature={temperature!r}.")


def _checked_dictionary(dictionary) -> dict | None:
    if dictionary is None:
        return None
    if not isinstance(dictionary, Mapping) or not dictionary:
        raise TypeError(f"dictionary must be a non-empty dict of token -> index, e.g. "
                        f"{{'a': 0, 'b': 1}}. Received: {dictionary!r:.80}.")
    indices = list(dictionary.values())
    if any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) for i in indices) \
            or sorted(int(i) for i in indices) != list(range(len(indices))):
        raise ValueError(f"dictionary must map its {len(indices)} tokens to the distinct "
                         f"indices 0..{len(indices) - 1}. Received indices: "
                         f"{sorted(indices, key=repr)[:20]!r}.")
    return dict(dictionary)


def _chars_only(dic: Mapping) -> bool:
    return all(isinstance(k, str) and len(k) == 1 for k in dic)


def _display(as_text: bool):
    """Writes tokens to stdout as they come: characters joined, other tokens spaced."""

    def show(tokens: list[Any]) -> None:
        sys.stdout.write("".join(map(str, tokens)) if as_text else "".join(f"{t} " for t in tokens))
        sys.stdout.flush()

    return show
