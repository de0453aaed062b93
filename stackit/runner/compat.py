"""tflearn names that have nothing to do in stackit, served to tflearn scripts by the runner's
`tflearn` and `tflearn.config` modules. Each does nothing and says so once."""

from __future__ import annotations

from stackit._noop import noop

__all__ = ["is_training", "init_training_mode"]

is_training = noop("tflearn.is_training", "stackit picks the mode per call (fit trains; "
                   "predict and evaluate do not)")
init_training_mode = noop("tflearn.config.init_training_mode",
                          "stackit has no graph-wide training-mode variable")
