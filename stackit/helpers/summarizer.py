"""tflearn's `helpers.summarizer` module path: the summarize functions do nothing in stackit,
which has no summary ops (its TensorBoard logs come from `DNN(tensorboard_verbose=...)`); each
says so once on the `stackit` logger."""

from __future__ import annotations

from stackit._noop import noop

__all__ = ["summarize", "summarize_all", "summarize_variables", "summarize_activations",
           "summarize_gradients"]

_WHY = "stackit has no summary ops (TensorBoard logs come from DNN(tensorboard_verbose=...))"

summarize = noop("tflearn.summarize", _WHY)
summarize_all = noop("tflearn.summarize_all", _WHY)
summarize_variables = noop("tflearn.summarize_variables", _WHY)
summarize_activations = noop("tflearn.summarize_activations", _WHY)
summarize_gradients = noop("tflearn.summarize_gradients", _WHY)
