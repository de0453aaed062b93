"""The training engine: heads (what each estimator trains), compiled steps, data placement and
batching, and the host loop. It returns new state; it never writes into a model."""

from stackit.engine.data import DeviceData, Placement, batch_indices, chunk_plan
from stackit.engine.heads import Head, build_heads
from stackit.engine.loop import (
    NonFiniteLossError,
    evaluate_arrays,
    fit_loop,
    predict_arrays,
    train_batch,
)
from stackit.engine.steps import Steps, TrainState

__all__ = ["Head", "build_heads", "Steps", "TrainState", "DeviceData", "Placement",
           "batch_indices", "chunk_plan", "fit_loop", "evaluate_arrays", "predict_arrays",
           "train_batch", "NonFiniteLossError"]
