"""`fit`, `evaluate` and `predict` on an iterable of batches instead of arrays.

A Python generator, a grain `DataLoader`, or any other iterable (that is not an array, a list
or a dict) yielding `(X, Y)` batches, each in a form `fit` takes for arrays. This module
recognizes one, checks the arguments that go with it, and reads its first batch, which builds
a Keras-style model, is checked against the network and fixes the compiled batch size before
anything is compiled. The engine (`stackit.engine.stream`) then reads the rest, checking each
batch as it arrives.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from stackit import inputs
from stackit._args import check_positive_int
from stackit.engine.stream import BatchSource, BatchStream

if TYPE_CHECKING:
    from stackit.engine.loop import Position
    from stackit.model import DNN

__all__ = ["is_batch_source", "fit_stream", "first_batch", "evaluate_stream", "predict_stream",
           "check_resume"]


def is_batch_source(data: Any) -> bool:
    """Whether `data` is an iterable of batches: iterable, and neither an array (numpy, JAX,
    lazy), a list, a tuple, a dict nor a string."""
    if isinstance(data, (str, bytes, list, tuple, dict, np.ndarray)) or inputs.is_lazy(data):
        return False
    if hasattr(data, "__array__"):  # JAX arrays, pandas
        return False
    return isinstance(data, (Iterator, Iterable))


def fit_stream(model: DNN, X: Any, Y: Any, *, steps_per_epoch: int | None,
               batch_size: int | None, shuffle: bool | None, validation_set: Any,
               sample_weight: Any, class_weight: Any) -> BatchStream | None:
    """The stream `fit` trains on when X is an iterable of `(X, Y)` batches, else None.

    The first batch is read here: it builds a Keras-style model, is checked, and its length
    is the compiled batch size unless `batch_size` is given.

    Raises:
        ValueError: For arguments that do not go with a generator (Y, shuffle=True, a
            fractional validation_set, weights), a missing steps_per_epoch, data
            preprocessing that still has statistics to compute, or a first batch that does
            not fit the network.
        TypeError: For a batch that is not an `(X, Y)` pair.
    """
    if not is_batch_source(X):
        if steps_per_epoch is not None:
            raise ValueError(f"steps_per_epoch applies when X is a generator (or another "
                             f"iterable of (X, Y) batches); with arrays an epoch is one pass "
                             f"over them. Received: steps_per_epoch={steps_per_epoch!r} with X "
                             f"of type {type(X).__name__}.")
        return None
    name = _name(X)
    given = {"Y_targets": Y is not None, "sample_weight": sample_weight is not None,
             "class_weight": class_weight is not None}
    for arg, present in given.items():
        if present:
            why = "each batch carries its targets" if arg == "Y_targets" else \
                "weights per sample need the whole training set at hand"
            value = {"Y_targets": Y, "sample_weight": sample_weight}.get(arg, class_weight)
            raise ValueError(f"fit: X is {name}, read as a source of (X, Y) batches (as a "
                             f"generator); {why}, so {arg} must be None. (For data, pass X "
                             f"as an array.) Received: {arg} of type {type(value).__name__}.")
    if shuffle:
        raise ValueError(f"fit(X={name}) reads the batches in the order they come: shuffle "
                         f"inside the generator (a grain DataLoader: its sampler's "
                         f"shuffle=True). Received: shuffle=True.")
    if isinstance(validation_set, (float, int)) and not isinstance(validation_set, bool):
        raise ValueError(f"fit(X={name}): validation_set as a fraction holds out the last rows "
                         f"of arrays, and a generator has none to hold out. Pass "
                         f"validation_set=(X_val, Y_val). Received: "
                         f"validation_set={validation_set!r}.")
    steps = _steps(X, steps_per_epoch, "steps_per_epoch", name)
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)
    source = BatchSource(X, name, "epoch")
    fx, _ = _first(source, _pair)
    model._ensure_built(fx)
    model._heads("fit")
    _refuse_unfitted_preprocessing(model, name)
    source.check = lambda item: model.feeder.train_data(*_pair(item))
    first = source.check_first()
    size = batch_size if batch_size is not None else first[2]
    hint = (f"Yield batches of at most batch_size={batch_size} rows, or pass a larger "
            f"batch_size." if batch_size is not None else
            "By default the first batch's length is the batch size: pass fit(batch_size=<the "
            "largest batch>) (shorter batches are padded and masked).")
    return BatchStream(source, int(size), steps, first, hint)


def first_batch(stream: BatchStream) -> tuple[Any, Any]:
    """The `(X, Y)` of a fit stream's first batch (what `fit` checks as its data)."""
    return _pair(stream.source.peek())


def evaluate_stream(model: DNN, X: Any, Y: Any, steps: int | None,
                    sample_weight: Any = None) -> BatchStream | None:
    """The stream `evaluate` scores when X is an iterable of `(X, Y)` batches, else None.
    The first batch's length is the compiled batch size."""
    if not is_batch_source(X):
        _no_steps(steps, X)
        return None
    name = _name(X)
    for arg, value in (("Y", Y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(f"evaluate(X={name}): each batch carries its targets and no "
                             f"weights, so {arg} must be None. Received: {arg} of type "
                             f"{type(value).__name__}.")
    count = _steps(X, steps, "steps", name, required=False)
    source = BatchSource(X, name, "evaluate")
    fx, _ = _first(source, _pair)
    model._ensure_built(fx)
    model._heads("evaluate")
    source.check = lambda item: model.feeder.train_data(*_pair(item))
    first = source.check_first()
    return BatchStream(source, first[2], count, first, _FIRST_IS_LARGEST)


def predict_stream(model: DNN, X: Any, steps: int | None) -> BatchStream | None:
    """The stream `predict` runs on when X is an iterable of batches (X, or `(X, Y)` tuples
    whose Y is ignored), else None. The first batch's length is the compiled batch size."""
    if not is_batch_source(X):
        _no_steps(steps, X)
        return None
    name = _name(X)
    count = _steps(X, steps, "steps", name, required=False)
    source = BatchSource(X, name, "predict")
    model._ensure_built(_first(source, _inputs_of))

    def check(item: Any) -> tuple[dict, dict, int]:
        x = model.feeder.inputs(_inputs_of(item), "X", model.feeder.predict_inputs)
        return x, {}, inputs.check_same_length(x, "X")

    source.check = check
    first = source.check_first()
    return BatchStream(source, first[2], count, first, _FIRST_IS_LARGEST)


def check_resume(stream: BatchStream | None, position: Position | None, epoch: int) -> None:
    """`fit(resume=True)` with a generator goes on from a snapshot taken at the end of an
    epoch, reading the generator from where it stands; a mid-epoch snapshot is refused.

    Raises:
        ValueError: If `position` says the snapshot was taken inside an epoch.
    """
    if stream is None or position is None:
        return
    raise ValueError(
        f"fit(resume=True) with {stream.source.name} goes on from a snapshot taken at the end "
        f"of an epoch: stackit cannot wind a generator back to the batch where a run stopped. "
        f"The newest snapshot was taken after {position.steps_done} step(s) of epoch "
        f"{epoch + 1}. Load the snapshot of epoch {epoch}'s end with model.load(...) and call "
        f"fit(generator, n_epoch=<epochs left>) with a generator that starts at epoch "
        f"{epoch + 1}'s first batch, or resume with arrays.")


# -- helpers -------------------------------------------------------------------------------------

_FIRST_IS_LARGEST = ("The step is compiled for the first batch's length: yield the largest "
                     "batch first.")


def _name(source: Any) -> str:
    if isinstance(source, types.GeneratorType):
        return "the generator"
    return "the iterator" if isinstance(source, Iterator) else f"the {type(source).__name__}"


def _steps(source: Any, steps: int | None, arg: str, name: str, required: bool = True):
    """Batches per pass: `steps` when given, else `len(source)` when it has one, else None
    (`required`: an error)."""
    if steps is not None:
        check_positive_int(arg, steps)
        return int(steps)
    try:
        return len(source)
    except TypeError:
        if not required:
            return None
        raise ValueError(f"fit(X={name}) needs {arg}=N, the number of batches that make an "
                         f"epoch: {name} has no len(). Received: {arg}=None.") from None


def _no_steps(steps: int | None, X: Any) -> None:
    if steps is not None:
        raise ValueError(f"steps applies when X is a generator (or another iterable of "
                         f"batches); arrays are read whole. Received: steps={steps!r} with X of "
                         f"type {type(X).__name__}.")


def _first(source: BatchSource, unpack: Callable[[Any], Any]) -> Any:
    """`unpack` of the source's first item, its errors naming the batch."""
    item = source.peek()
    try:
        return unpack(item)
    except (ValueError, TypeError) as err:
        raise type(err)(f"Batch 1 from {source.name}: {err}") from None


def _pair(item: Any) -> tuple[Any, Any]:
    """`(X, Y)` from one item of a source."""
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    if isinstance(item, (tuple, list)) and len(item) == 3:
        raise ValueError("expected an (X, Y) pair; (X, Y, sample_weight) triples are not "
                         "supported with a generator. Received: a tuple of 3.")
    got = f"a {type(item).__name__} of {len(item)}" if isinstance(item, (tuple, list)) \
        else type(item).__name__
    raise TypeError(f"expected each batch as an (X, Y) pair (a tuple). Received: {got}.")


def _inputs_of(item: Any) -> Any:
    """The inputs of one item for `predict`: a tuple of two is `(X, Y)` (Y ignored, so a
    training generator serves predict too); anything else is X."""
    return item[0] if isinstance(item, tuple) and len(item) == 2 else item


def _refuse_unfitted_preprocessing(model: DNN, name: str) -> None:
    if model.preprocessing_fitted:
        return
    for node in model.net.inputs:
        prep = node.layer.data_preprocessing  # type: ignore[attr-defined]
        if prep is not None and prep.needs_fit:
            raise ValueError(
                f"input_data {node.name!r} has data_preprocessing whose statistics (mean, std, "
                f"...) the first fit computes from the whole training set, which {name} does "
                f"not hold at once. Give them (e.g. add_featurewise_zero_center(mean=...)), or "
                f"fit once on arrays of a representative sample first.")
