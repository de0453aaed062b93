"""Mixup and CutMix: training batches mixed pairwise inside the compiled train step.

`fit(X, Y, mix=stackit.Mixup(0.2))` or `fit(X, Y, mix=stackit.CutMix(1.0))`. At every training
step, from the step's PRNG key: `lam ~ Beta(alpha, alpha)` is drawn once for the batch, each
real row `i` is paired with a real row `perm[i]` (a random permutation of the real rows; the
padding rows of a short batch pair among themselves), and

- Mixup: every input becomes `lam * x[i] + (1 - lam) * x[perm[i]]`;
- CutMix: a box of about `(1 - lam) * H * W` pixels of `x[perm[i]]` is pasted into `x[i]`
  (inputs of shape `(H, W, C)`), and `lam` becomes `1 - box area / (H * W)`.

Targets mix with the same `lam`: float targets (one-hot rows, probabilities, regression values,
the one-hot rows of `to_one_hot` labels) linearly, `lam * y[i] + (1 - lam) * y[perm[i]]`;
integer labels of sparse losses through the loss, `lam * loss(y[i]) + (1 - lam) *
loss(y[perm[i]])`. Per-sample loss weights mix linearly too. Evaluation and prediction never mix.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp

if TYPE_CHECKING:
    from stackit.engine.heads import Head

__all__ = ["Mixup", "CutMix", "MixedBatch", "mix_batch", "pair_rows", "step_key", "check_mix",
           "beta_symmetric", "mix_config", "mix_from_config"]

#: Folded into a step's PRNG key to give its mixing key (the key chain itself is untouched,
#: so dropout and augmentation draw the same numbers with or without mixing).
MIX_SALT = 0x6D1C


class MixedBatch(NamedTuple):
    """One mixed training batch.

    Attributes:
        x: The mixed inputs, keyed by input name.
        y: The targets: float ones (and loss weights) mixed linearly; sparse labels as given.
        partner: The partner's labels `y[perm]` for each sparse target key.
        lam: The weight of each row's own sample (a float32 scalar, 1 for a batch left alone).
        perm: Each row's partner (B,) int32; real rows pair with real rows only.
        box: CutMix's box `(top, bottom, left, right)`, end-exclusive, or None for Mixup.
    """

    x: dict
    y: dict
    partner: dict
    lam: jax.Array
    perm: jax.Array
    box: jax.Array | None


@dataclasses.dataclass(frozen=True)
class _Mix:
    """What Mixup and CutMix share: `alpha` and `prob`, checked once, hashable (one compiled
    train step per distinct setting)."""

    alpha: float = 1.0
    prob: float = 1.0

    def __post_init__(self):
        for name in ("alpha", "prob"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{type(self).__name__}: {name} must be a number. "
                                f"Received: {name}={value!r}.")
            object.__setattr__(self, name, float(value))
        if not (self.alpha > 0 and math.isfinite(self.alpha)):
            raise ValueError(f"{type(self).__name__}: alpha must be a finite number > 0 (lambda "
                             f"is drawn from Beta(alpha, alpha)). Received: alpha={self.alpha!r}.")
        if not 0 < self.prob <= 1:
            raise ValueError(f"{type(self).__name__}: prob (the chance that a batch is mixed) "
                             f"must be in (0, 1]. Received: prob={self.prob!r}.")

    def _applied(self, key: jax.Array) -> jax.Array:
        """Whether this batch is mixed: always for `prob=1`, else with probability `prob`."""
        if self.prob >= 1.0:
            return jnp.bool_(True)
        return jax.random.bernoulli(key, self.prob)

    def check_inputs(self, inputs: dict[str, tuple[tuple, str]]) -> None:
        """Checks `{input name: (sample shape, dtype)}`; raises ValueError if they cannot mix."""
        raise NotImplementedError

    def mix_inputs(self, key: jax.Array, x: dict, perm: jax.Array
                   ) -> tuple[dict, jax.Array, jax.Array | None]:
        """Mixes each input with its partner rows `perm`: `(mixed x, lam, box or None)`."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Mixup(_Mix):
    """Mixup (Zhang et al., 2018): `x = lam * x_a + (1 - lam) * x_b`, targets alike.

    Inputs must have a float dtype at the input layer (token ids cannot be averaged); integer
    images (`uint8`) are mixed as float32.

    Args:
        alpha: `lam ~ Beta(alpha, alpha)` per batch; small values keep most samples close to
            one of the pair. Defaults to `0.2`.
        prob: The chance that a batch is mixed (else it trains as it is). Defaults to `1.0`.

    Example:
        >>> model.fit(X, Y, n_epoch=10, mix=stackit.Mixup(0.2))
    """

    alpha: float = 0.2
    prob: float = 1.0

    def check_inputs(self, inputs: dict[str, tuple[tuple, str]]) -> None:
        """Refuses inputs whose input layer has an integer dtype (token ids).

        Raises:
            ValueError: If an input cannot be averaged.
        """
        for name, (_, dtype) in inputs.items():
            if not jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
                raise ValueError(f"Mixup averages the inputs, so each must have a float dtype "
                                 f"at its input_data. Received: input {name!r} with dtype "
                                 f"{dtype} (token ids cannot be averaged). Train this model "
                                 f"without mix=.")

    def mix_inputs(self, key: jax.Array, x: dict, perm: jax.Array
                   ) -> tuple[dict, jax.Array, None]:
        """`lam * x + (1 - lam) * x[perm]` for every input, one `lam` for the batch."""
        k_apply, k_lam = jax.random.split(key)
        lam = jnp.where(self._applied(k_apply), beta_symmetric(k_lam, self.alpha), jnp.float32(1.0))
        return {name: _blend(v, _rows(v, perm), lam) for name, v in x.items()}, lam, None


@dataclasses.dataclass(frozen=True)
class CutMix(_Mix):
    """CutMix (Yun et al., 2019): a box cut from the partner image is pasted into each image.

    With `lam ~ Beta(alpha, alpha)`, the box is `floor(H * sqrt(1 - lam))` by
    `floor(W * sqrt(1 - lam))` pixels centred on a uniformly drawn pixel and clipped to the
    image, the same box for the whole batch; `lam` is then recomputed from the box actually
    pasted, `1 - area / (H * W)`, and the targets mix with it. Every input must be images of
    shape `(H, W, C)` of one height and width.

    Args:
        alpha: `lam ~ Beta(alpha, alpha)` per batch. Defaults to `1.0` (uniform).
        prob: The chance that a batch is mixed (else it trains as it is). Defaults to `1.0`.

    Example:
        >>> model.fit(X, Y, n_epoch=10, mix=stackit.CutMix(1.0))
    """

    alpha: float = 1.0
    prob: float = 1.0

    def check_inputs(self, inputs: dict[str, tuple[tuple, str]]) -> None:
        """Refuses inputs that are not images `(H, W, C)` of one size.

        Raises:
            ValueError: If an input is not an image, or two images differ in size.
        """
        sizes = set()
        for name, (shape, _) in inputs.items():
            if len(shape) != 3 or not all(isinstance(d, int) for d in shape):
                raise ValueError(f"CutMix pastes a box of one image into another, so every "
                                 f"input must hold images of shape (height, width, channels). "
                                 f"Received: input {name!r} of shape {(None, *shape)}. Use "
                                 f"Mixup for other inputs.")
            sizes.add(tuple(shape[:2]))
        if len(sizes) > 1:
            raise ValueError(f"CutMix pastes the same box into every input, so the images must "
                             f"share one (height, width). Received: {sorted(sizes)}.")

    def mix_inputs(self, key: jax.Array, x: dict, perm: jax.Array
                   ) -> tuple[dict, jax.Array, jax.Array]:
        """Pastes the box of `x[perm]` into every input; `lam = 1 - box area / (H * W)`."""
        k_apply, k_lam, k_row, k_col = jax.random.split(key, 4)
        h, w = next(iter(x.values())).shape[1:3]
        side = jnp.sqrt(1.0 - beta_symmetric(k_lam, self.alpha))
        applied = self._applied(k_apply)
        top, bottom = _span(k_row, h, side, applied)
        left, right = _span(k_col, w, side, applied)
        rows, cols = jnp.arange(h), jnp.arange(w)
        inside = (((rows >= top) & (rows < bottom)).reshape(1, h, 1, 1)
                  & ((cols >= left) & (cols < right)).reshape(1, 1, w, 1))
        mixed = {name: jnp.where(inside, _rows(v, perm), v) for name, v in x.items()}
        area = ((bottom - top) * (right - left)).astype(jnp.float32)
        lam = 1.0 - area / jnp.float32(h * w)
        return mixed, lam, jnp.stack([top, bottom, left, right])


#: Proposals per Gamma draw in `beta_symmetric`: all are rejected with probability < 0.05 ** 16.
_TRIES = 16


def beta_symmetric(key: jax.Array, alpha: float) -> jax.Array:
    """One `lam ~ Beta(alpha, alpha)` (float32), as `G1 / (G1 + G2)` with `G ~ Gamma(alpha)`.

    Each Gamma is Marsaglia and Tsang's for `alpha + 1`, times `U ** (1 / alpha)`, in log
    space (so a tiny `alpha` neither underflows nor divides 0 by 0). Their rejection loop is
    unrolled into `_TRIES` proposals taken at once, from one uniform draw: `jax.random.beta`'s
    while loops would double the compile time of a train step on CPU.
    """
    tiny = jnp.finfo(jnp.float32).tiny
    u = jax.random.uniform(key, (2, 2 * _TRIES + 1), jnp.float32, minval=tiny)
    z = jnp.sqrt(2.0) * jax.lax.erf_inv(2.0 * u[:, :_TRIES] - 1.0)  # standard normals
    d = alpha + 2.0 / 3.0  # Marsaglia-Tsang for the shape alpha + 1
    v = (1.0 + z / math.sqrt(9.0 * d)) ** 3
    log_v = jnp.log(jnp.maximum(v, tiny))
    accept = (v > 0) & (jnp.log(u[:, _TRIES:2 * _TRIES]) < 0.5 * z * z + d - d * v + d * log_v)
    first = jnp.argmax(accept, axis=1).reshape(2, 1)
    log_gamma = (math.log(d) + jnp.take_along_axis(log_v, first, axis=1)[:, 0]
                 + jnp.log(u[:, -1]) / alpha)
    return jax.nn.sigmoid(log_gamma[0] - log_gamma[1])


def _span(key: jax.Array, size: int, side: jax.Array, applied: jax.Array
          ) -> tuple[jax.Array, jax.Array]:
    """`[start, end)` of a cut of `floor(size * side)` around a uniform centre, clipped; empty
    when not `applied`."""
    cut = jnp.floor(size * side).astype(jnp.int32)
    centre = jax.random.randint(key, (), 0, size, jnp.int32)
    start = centre - cut // 2
    lo, hi = jnp.clip(start, 0, size), jnp.clip(start + cut, 0, size)
    return lo, jnp.where(applied, hi, lo)


def _rows(v: jax.Array, perm: jax.Array) -> jax.Array:
    return jnp.take(v, perm, axis=0)


def _blend(a: jax.Array, b: jax.Array, lam: jax.Array) -> jax.Array:
    """`lam * a + (1 - lam) * b`, in at least float32 (integer images become float32)."""
    dtype = jnp.promote_types(a.dtype, jnp.float32)
    lam = lam.astype(dtype)
    return lam * a.astype(dtype) + (1 - lam) * b.astype(dtype)


def step_key(key: jax.Array) -> jax.Array:
    """The mixing key of a train step whose key is `key`."""
    return jax.random.fold_in(key, MIX_SALT)


def pair_rows(key: jax.Array, mask: jax.Array) -> jax.Array:
    """A permutation of the batch that pairs real rows (mask 1) with real rows, in random
    order, and leaves padding rows (mask 0) in place."""
    real = mask > 0
    draw = jnp.where(real, jax.random.uniform(key, mask.shape), 2.0)  # padding sorts last
    partners = jnp.argsort(draw, stable=True)  # real rows shuffled, then padding in order
    slots = jnp.argsort(~real, stable=True)  # real rows in order, then padding in order
    return jnp.zeros(mask.shape, jnp.int32).at[slots].set(partners.astype(jnp.int32))


def mix_batch(key: jax.Array, x: dict, y: dict, mask: jax.Array, mix: Mixup | CutMix,
              paired: Collection[str] = ()) -> MixedBatch:
    """Mixes one batch, as the train step does (pure and jittable).

    Args:
        key: The PRNG key (the train step passes `step_key(its key)`).
        x: Inputs `(B, ...)` keyed by input name.
        y: Targets (and per-sample weights) `(B, ...)` keyed by target key.
        mask: (B,) 1 for real rows, 0 for padding.
        mix: A `Mixup` or `CutMix`.
        paired: Target keys holding integer labels of sparse losses: left as they are, with
            the partner's labels in `partner` (the loss mixes them). Defaults to `()`.

    Returns:
        A `MixedBatch`.
    """
    k_pair, k_mix = jax.random.split(key)
    perm = pair_rows(k_pair, mask)
    mixed_x, lam, box = mix.mix_inputs(k_mix, x, perm)
    mixed_y, partner = {}, {}
    for name, v in y.items():
        if name in paired:
            mixed_y[name], partner[name] = v, _rows(v, perm)
        else:
            mixed_y[name] = _blend(v, _rows(v, perm), lam)
    return MixedBatch(mixed_x, mixed_y, partner, lam, perm, box)


def check_mix(mix: Any, inputs: Iterable[Any], heads: Sequence[Head]) -> None:
    """Checks `fit(mix=...)` before anything is compiled.

    Args:
        mix: None, a `Mixup` or a `CutMix`.
        inputs: The network's input nodes (their layers give shape and dtype).
        heads: The model's heads.

    Raises:
        TypeError: If `mix` is not a `Mixup` or `CutMix`.
        ValueError: If an estimator cannot take mixed targets, or the inputs cannot mix.
    """
    if mix is None:
        return
    if not isinstance(mix, (Mixup, CutMix)):
        raise TypeError(f"mix must be stackit.Mixup(alpha), stackit.CutMix(alpha) or None. "
                        f"Received: mix={mix!r}.")
    for head in heads:
        if head.loss is None:
            raise ValueError(f"mix={mix!r}: regression {head.name!r} has a loss tensor of the "
                             f"graph (already a batch mean), which cannot take mixed targets. "
                             f"Give it a loss by name (e.g. loss='categorical_crossentropy'), "
                             f"or train without mix=.")
        if head.target is None:
            raise ValueError(f"mix={mix!r}: regression {head.name!r} takes no targets "
                             f"(placeholder=None), so there is nothing to mix its inputs "
                             f"with. Train without mix=.")
    mix.check_inputs({node.name: (tuple(node.layer.shape), str(node.layer.dtype))
                      for node in inputs})


def mix_config(mix: Mixup | CutMix | None) -> dict | None:
    """`{'type': 'Mixup', 'alpha': ..., 'prob': ...}` for a checkpoint's header; None for None."""
    if mix is None:
        return None
    return {"type": type(mix).__name__, **dataclasses.asdict(mix)}


def mix_from_config(config: Any, where: str) -> Mixup | CutMix | None:
    """The `Mixup` / `CutMix` that `mix_config` described; None for None.

    Raises:
        ValueError: If `config` describes neither (`where` names the file in the message).
    """
    if config is None:
        return None
    kinds: dict[str, type[Mixup] | type[CutMix]] = {"Mixup": Mixup, "CutMix": CutMix}
    if not isinstance(config, dict) or config.get("type") not in kinds \
            or set(config) != {"type", "alpha", "prob"}:
        raise ValueError(f"{where}: mix must be {{'type': 'Mixup' or 'CutMix', 'alpha': ..., "
                         f"'prob': ...}}. Received: {config!r}.")
    try:
        return kinds[config["type"]](alpha=config["alpha"], prob=config["prob"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: mix: {err}") from None
