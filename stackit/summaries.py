"""tflearn's `summaries` module path. stackit has no summary ops (its TensorBoard logs come from
`DNN(tensorboard_verbose=...)` / `callbacks.TensorBoard`), so these functions do nothing; each
says so once on the `stackit` logger. A script that calls them runs unchanged."""

from __future__ import annotations

from stackit._noop import noop

__all__ = ["monitor_activation", "get_summary", "add_activations_summary",
           "add_gradients_summary", "add_trainable_vars_summary", "add_loss_summaries",
           "summary_exists"]

_WHY = "stackit has no summary ops (TensorBoard logs come from DNN(tensorboard_verbose=...))"

monitor_activation = noop("tflearn.summaries.monitor_activation", _WHY)
get_summary = noop("tflearn.summaries.get_summary", _WHY)
add_activations_summary = noop("tflearn.summaries.add_activations_summary", _WHY)
add_gradients_summary = noop("tflearn.summaries.add_gradients_summary", _WHY)
add_trainable_vars_summary = noop("tflearn.summaries.add_trainable_vars_summary", _WHY)
add_loss_summaries = noop("tflearn.summaries.add_loss_summaries", _WHY)
summary_exists = noop("tflearn.summaries.summary_exists", _WHY)
