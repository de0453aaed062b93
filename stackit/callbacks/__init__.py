"""Callbacks for `fit`: the protocol, the progress display, and the built-ins."""

from stackit.callbacks.base import Callback, TrainingState
from stackit.callbacks.builtin import EarlyStopping, ModelCheckpoint
from stackit.callbacks.lr_scheduler import LearningRateScheduler
from stackit.callbacks.progress import PlainLogger, ProgressBar
from stackit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from stackit.callbacks.simple import CSVLogger, LambdaCallback
from stackit.callbacks.tensorboard import TensorBoard

__all__ = ["Callback", "TrainingState", "ProgressBar", "PlainLogger", "EarlyStopping",
           "ModelCheckpoint", "CSVLogger", "LambdaCallback", "LearningRateScheduler",
           "ReduceLROnPlateau", "TensorBoard"]
