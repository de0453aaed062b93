"""tflearn's `helpers` module path. Only the summarizers are here (as no-ops): tflearn's
`Trainer`, `TrainOp` and `Evaluator` drive TensorFlow sessions; in stackit, `regression(...)`
and `DNN` do their work."""

from stackit.helpers import summarizer
from stackit.helpers.summarizer import (
    summarize,
    summarize_activations,
    summarize_all,
    summarize_gradients,
    summarize_variables,
)

__all__ = ["summarizer", "summarize", "summarize_all", "summarize_variables",
           "summarize_activations", "summarize_gradients"]
