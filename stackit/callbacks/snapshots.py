"""The snapshots `fit` writes under `checkpoint_path` / `best_checkpoint_path`."""

from __future__ import annotations

import sys

from stackit.callbacks.base import Callback, TrainingState
from stackit.distributed import is_main_process

__all__ = ["Snapshots"]


class Snapshots(Callback):
    """Writes the model's snapshot files whenever the loop says one is due
    (`state.snapshot_due`): every `snapshot_step` steps and after each epoch when
    `snapshot_epoch`. `fit` adds it first when the model has a checkpoint path."""

    def _write(self, state: TrainingState) -> None:
        if not state.snapshot_due:
            return
        written = self.model.snapshot(state)
        if state.interrupted and written and is_main_process():
            print(f"Saved a snapshot at step {state.step} to {written}; continue with "
                  f"fit(..., resume=True).", file=sys.stderr, flush=True)

    def on_batch_end(self, state: TrainingState) -> None:
        self._write(state)

    def on_epoch_end(self, state: TrainingState) -> None:
        self._write(state)
