"""Callbacks for `fit`: the protocol, the progress display, and the built-ins."""

from stackit.callbacks.base import Callback, TrainingState
from stackit.callbacks.progress import PlainLogger, ProgressBar

__all__ = ["Callback", "TrainingState", "ProgressBar", "PlainLogger"]
